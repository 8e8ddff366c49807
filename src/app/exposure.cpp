// Who carries a package: the latest scan of every subject folded from its stored layers,
// judged against a constraint or OSV advisories, each finding traced to the image whose
// own layers installed it (the shortest scanned image whose layers are a prefix of the
// subject's and include the layer the package appeared in).
#include <algorithm>
#include <fstream>
#include <set>

#include "cascade/exposure.hpp"
#include "exposure_internal.hpp"

namespace cascade::app {

using nlohmann::json;

std::string PackageQuestion::label() const {
  if (constraint) return advisory::to_string(*constraint);
  std::string text;
  for (const auto& item : advisories) text += (text.empty() ? "" : ", ") + item.id;
  return text;
}

Expected<PackageQuestion, Failure> advisory_question_from_texts(const std::vector<std::string>& texts,
                                                                const std::string& where) {
  PackageQuestion question;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto parsed = advisory::parse_osv(texts[i]);
    std::string name = texts.size() == 1 ? where : where + " #" + std::to_string(i + 1);
    if (!parsed) return unexpected(Failure::bad_input(name + ": " + parsed.error().str()));
    for (auto& item : *parsed) question.advisories.push_back(std::move(item));
    question.documents.push_back(texts[i]);
  }
  if (question.advisories.empty()) return unexpected(Failure::bad_input(where + ": no advisory in it"));
  return question;
}

Expected<PackageQuestion, Failure> advisory_question(const std::vector<std::string>& files) {
  PackageQuestion question;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return unexpected(Failure::bad_input("cannot read advisory file " + file));
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto one = advisory_question_from_texts({text}, file);
    if (!one) return unexpected(one.error());
    for (auto& item : one->advisories) question.advisories.push_back(std::move(item));
    question.documents.push_back(std::move(text));
  }
  return question;
}

json question_json(const PackageQuestion& question) {
  auto names = detail::package_names(question);
  json out = {{"label", question.label()}, {"packages", std::vector<std::string>(names.begin(), names.end())},
              {"documents", question.documents}};
  if (question.constraint) out["constraint"] = advisory::to_string(*question.constraint);
  return out;
}

Expected<PackageQuestion, Failure> stored_question(const store::TriggerRecord& trigger, const store::PlanRecord& plan) {
  if (trigger.package) return package_question(*trigger.package);
  PackageQuestion question;
  for (const auto& document : plan.advisory_documents) {
    auto parsed = advisory::parse_osv(document);
    if (!parsed) return unexpected(Failure::bad_input("stored advisory: " + parsed.error().str()));
    for (auto& item : *parsed) question.advisories.push_back(std::move(item));
    question.documents.push_back(document);
  }
  if (question.advisories.empty()) return unexpected(Failure::bad_input("the run kept no advisory to ask again"));
  return question;
}

Expected<PackageQuestion, Failure> package_question(const std::string& text) {
  auto constraint = advisory::parse_constraint(text);
  if (!constraint) return unexpected(Failure::bad_input("--package '" + text + "': " + constraint.error()));
  PackageQuestion question;
  question.constraint = std::move(*constraint);
  return question;
}

namespace detail {

std::set<std::string> package_names(const PackageQuestion& question) {
  std::set<std::string> names;
  if (question.constraint) names.insert(question.constraint->name);
  for (const auto& item : question.advisories)
    for (const auto& affected : item.affected) names.insert(affected.package);
  return names;
}

std::vector<Finding> judge(const packages::ImageContents& contents, const PackageQuestion& question) {
  std::vector<Finding> findings;
  for (std::size_t index = 0; index < contents.packages.size(); ++index) {
    const auto& item = contents.packages[index];
    if (question.constraint) {
      const auto& wanted = *question.constraint;
      bool by_name = item.package.name == wanted.name;
      bool by_source = item.format != packages::Format::rpm && item.package.source_name == wanted.name;
      if (!by_name && !by_source) continue;
      const std::string& version = by_name ? item.package.version : item.package.source_version;
      if (advisory::satisfies(wanted, packages::scheme_of(item.format), version))
        findings.push_back({index, advisory::to_string(wanted), std::nullopt});
      continue;
    }
    if (!contents.os) continue;
    for (const auto& entry : question.advisories) {
      auto verdict = advisory::evaluate(entry, *contents.os, item.format, item.package);
      if (verdict && verdict->vulnerable) findings.push_back({index, entry.id, verdict->fixed});
    }
  }
  return findings;
}

}  // namespace detail

namespace {

using detail::Finding;

std::string joined(const std::vector<std::string>& layers, std::size_t count) {
  std::string key;
  for (std::size_t i = 0; i < count; ++i) key += layers[i] + ",";
  return key;
}

// Scanned fleet images and external bases by their exact layer lists (every digest ever
// scanned): where a package enters is the shortest of them that holds its layer.
class Origins {
 public:
  Origins(const std::vector<store::ImageScan>& history, const std::map<std::string, store::ImageLayers>& layers) {
    for (const auto& scan : history) {
      if (scan.role == store::ScanRole::workload) continue;
      auto found = layers.find(scan.digest);
      if (found == layers.end()) continue;
      std::string key = joined(found->second.layers, found->second.layers.size());
      auto [at, added] = by_layers_.emplace(key, std::pair{scan.subject, scan.role});
      if (!added && scan.role == store::ScanRole::external) at->second = {scan.subject, scan.role};
    }
  }

  /// The image whose own layers hold layer `layer` of `layers`, or `fallback`.
  std::pair<std::string, store::ScanRole> of(const std::vector<std::string>& layers, std::size_t layer,
                                             std::pair<std::string, store::ScanRole> fallback) const {
    std::string key = joined(layers, std::min(layer, layers.size()));
    for (std::size_t count = layer + 1; count <= layers.size(); ++count) {
      key += layers[count - 1] + ",";
      if (auto found = by_layers_.find(key); found != by_layers_.end()) return found->second;
    }
    return fallback;
  }

 private:
  std::map<std::string, std::pair<std::string, store::ScanRole>> by_layers_;
};

void add_base_status(ExposureReport& report, const store::ImageScan& scan, const packages::ImageContents& contents,
                     const std::set<std::string>& names, const std::vector<Finding>& findings) {
  for (std::size_t index = 0; index < contents.packages.size(); ++index) {
    const auto& package = contents.packages[index].package;
    if (!names.count(package.name) && !names.count(package.source_name)) continue;
    BaseStatus status{scan.image, scan.digest, package.name + " " + package.version, "", false, std::nullopt};
    for (const auto& finding : findings)
      if (finding.package == index) status = {scan.image, scan.digest, status.package, finding.matched_by, true, finding.fixed};
    report.bases.push_back(std::move(status));
  }
}

}  // namespace

Expected<ExposureReport, Failure> exposure(store::Store& store, const PackageQuestion& question) {
  auto names = detail::package_names(question);
  auto latest = store.image_scans(false);
  auto history = store.image_scans(true);
  auto images = store.all_image_layers();
  auto stored_layers = store.all_layer_indexes(std::vector<std::string>(names.begin(), names.end()));
  if (!latest || !history || !images || !stored_layers)
    return unexpected(Failure::failed(!latest ? latest.error().message : !history ? history.error().message
                                          : !images ? images.error().message : stored_layers.error().message));
  std::map<std::string, store::ImageLayers> by_digest;
  for (auto& image : *images) by_digest.emplace(image.digest, std::move(image));
  const auto& layers = *stored_layers;
  Origins origins(*history, by_digest);
  ExposureReport report;
  report.question = question.label();
  for (const auto& scan : *latest) {
    bool workload = scan.role == store::ScanRole::workload;
    ++(workload ? report.workloads_checked : report.images_checked);
    auto contents = detail::contents_of(scan.digest, by_digest, layers);
    if (!contents) {
      report.unjudged.push_back({scan.subject, contents.error()});
      continue;
    }
    for (const auto& problem : contents->problems) report.unjudged.push_back({scan.subject, problem});
    if (!contents->has_database) report.unjudged.push_back({scan.subject, "no package database"});
    else if (!contents->os && !question.constraint) report.unjudged.push_back({scan.subject, "no os-release"});
    auto findings = detail::judge(*contents, question);
    const auto& layer_list = by_digest.at(scan.digest).layers;
    for (const auto& finding : findings) {
      const auto& item = contents->packages[finding.package];
      auto [enters, enters_role] = origins.of(layer_list, item.layer, {scan.subject, scan.role});
      Exposure exposed{scan.role, scan.subject, scan.image, scan.digest,
                       contents->os ? packages::distro_name(*contents->os) : "unknown",
                       item.format, item.package, finding.matched_by, finding.fixed, enters, enters_role};
      (workload ? report.workloads : report.images).push_back(std::move(exposed));
    }
    if (scan.role == store::ScanRole::external) add_base_status(report, scan, *contents, names, findings);
  }
  return report;
}

namespace detail {

Expected<packages::ImageContents, std::string> contents_of(const std::string& digest,
                                                           const std::map<std::string, store::ImageLayers>& images,
                                                           const std::map<std::string, packages::LayerIndex>& layers) {
  auto image = images.find(digest);
  if (image == images.end()) return unexpected(std::string("not indexed: " + digest + " was never scanned"));
  std::vector<const packages::LayerIndex*> stack;
  for (const auto& layer : image->second.layers) {
    auto found = layers.find(layer);
    if (found == layers.end()) return unexpected("not indexed: layer " + layer + " was never read");
    stack.push_back(&found->second);
  }
  return packages::fold(stack);
}

}  // namespace detail

Expected<json, Failure> package_versions_json(store::Store& store, const std::vector<store::Task>& tasks,
                                              const json& packages) {
  std::set<std::string> names;
  for (const auto& name : packages)
    if (name.is_string()) names.insert(name.get<std::string>());
  auto images = store.all_image_layers();
  auto layers = store.all_layer_indexes(std::vector<std::string>(names.begin(), names.end()));
  if (!images || !layers) return unexpected(Failure::failed(!images ? images.error().message : layers.error().message));
  std::map<std::string, store::ImageLayers> by_digest;
  for (auto& image : *images) by_digest.emplace(image.digest, std::move(image));
  const auto& relevant = *layers;
  auto versions_in = [&](const std::optional<std::string>& digest) {
    std::map<std::string, std::string> found;  // package -> version
    if (!digest) return found;
    auto contents = detail::contents_of(*digest, by_digest, relevant);
    if (!contents) return found;
    for (const auto& item : contents->packages)
      if (names.count(item.package.name)) found[item.package.name] = item.package.version;
    return found;
  };
  json rows = json::array();
  for (const auto& task : tasks) {
    auto before = versions_in(task.old_digest);
    auto after = versions_in(task.new_digest);
    std::set<std::string> seen;
    for (const auto& [name, version] : before) seen.insert(name);
    for (const auto& [name, version] : after) seen.insert(name);
    for (const auto& name : seen)
      rows.push_back({{"image", task.image}, {"package", name},
                      {"before", before.count(name) ? json(before[name]) : json(nullptr)},
                      {"after", after.count(name) ? json(after[name]) : json(nullptr)}});
  }
  return rows;
}

namespace {

json exposure_item(const Exposure& item) {
  return {{"subject", item.subject},
          {"role", store::to_string(item.role)},
          {"image", item.image},
          {"digest", item.digest},
          {"distro", item.distro},
          {"format", packages::to_string(item.format)},
          {"package", item.package.name},
          {"version", item.package.version},
          {"source", item.package.source_name},
          {"source_version", item.package.source_version},
          {"matched_by", item.matched_by},
          {"fixed", item.fixed ? json(*item.fixed) : json(nullptr)},
          {"enters", item.enters},
          {"enters_role", store::to_string(item.enters_role)}};
}

}  // namespace

json exposure_json(const ExposureReport& report, const PackageQuestion& question) {
  json advisories = json::array();
  for (const auto& item : question.advisories)
    advisories.push_back({{"id", item.id}, {"aliases", item.aliases}, {"summary", item.summary}});
  json images = json::array(), workloads = json::array(), bases = json::array(), unjudged = json::array();
  for (const auto& item : report.images) images.push_back(exposure_item(item));
  for (const auto& item : report.workloads) workloads.push_back(exposure_item(item));
  for (const auto& base : report.bases)
    bases.push_back({{"image", base.image}, {"digest", base.digest}, {"package", base.package},
                     {"matched_by", base.matched_by}, {"exposed", base.exposed},
                     {"fixed", base.fixed ? json(*base.fixed) : json(nullptr)}});
  for (const auto& item : report.unjudged) unjudged.push_back({{"subject", item.subject}, {"reason", item.reason}});
  for (auto& entry : advisories) {  // per advisory: who it exposes, and its bases' state now
    json exposed_images = json::array(), exposed_workloads = json::array(), base_states = json::array();
    for (const auto& item : report.images)
      if (item.matched_by == entry["id"]) exposed_images.push_back({{"subject", item.subject}, {"enters", item.enters}});
    for (const auto& item : report.workloads)
      if (item.matched_by == entry["id"]) exposed_workloads.push_back({{"subject", item.subject}, {"enters", item.enters}});
    for (const auto& base : report.bases)
      if (!base.exposed || base.matched_by == entry["id"])
        base_states.push_back({{"image", base.image}, {"digest", base.digest}, {"package", base.package},
                               {"fixed_upstream", !base.exposed}});
    entry["images"] = exposed_images;
    entry["workloads"] = exposed_workloads;
    entry["bases"] = base_states;
  }
  return {{"question", report.question},
          {"advisories", advisories},
          {"images", images},
          {"workloads", workloads},
          {"bases", bases},
          {"unjudged", unjudged},
          {"checked", {{"images", report.images_checked}, {"workloads", report.workloads_checked}}}};
}

}  // namespace cascade::app
