// Pruning a backend's build storage after a run: every image the recent runs did not build or
// build on goes, with buildah's leftover working containers and the Docker Engine's build
// cache that no image left uses. A prune runs when no build does; it still leaves working
// containers younger than a minute, and images any remaining container uses.
//
// What a prune keeps is decided in detail::images_to_keep (pure, tested on inline listings);
// the two backends only list, ask and remove through their own command-line programs.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "internal.hpp"
#include "storage.hpp"

namespace cascade::builder {

namespace fs = std::filesystem;
using nlohmann::json;

namespace detail {

namespace {

constexpr const char* kLabelBases = "io.cascade.bases";  // executor::kLabelBases: base image -> digest

std::string text_of(const json& object, const char* key) {
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::vector<std::string> strings_of(const json& object, const char* key) {
  std::vector<std::string> out;
  auto found = object.find(key);
  if (found == object.end() || !found->is_array()) return out;
  for (const auto& item : *found)
    if (item.is_string()) out.push_back(item.get<std::string>());
  return out;
}

// A JSON array (null or nothing: empty) or why not.
Expected<json, std::string> parse_array(std::string_view text, const char* what) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::array();
  auto parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded()) return unexpected(std::string(what) + ": not JSON");
  if (parsed.is_null()) return json::array();
  if (!parsed.is_array()) return unexpected(std::string(what) + ": not a JSON array");
  return parsed;
}

std::string with_sha256(std::string id) { return id.rfind("sha256:", 0) == 0 ? id : "sha256:" + id; }

std::string digest_of_name(std::string_view name) {
  auto at = name.find('@');
  return at == std::string_view::npos ? std::string() : std::string(name.substr(at + 1));
}

}  // namespace

std::optional<std::int64_t> parse_utc_seconds(std::string_view text) {
  // "2026-12-05T23:21:33.539439879Z" or "...+01:00" (RFC 3339).
  auto number = [&](std::size_t at, std::size_t width) -> std::optional<int> {
    if (at + width > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = at; i < at + width; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  auto year = number(0, 4), month = number(5, 2), day = number(8, 2);
  auto hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != ' ') || text[13] != ':' || text[16] != ':')
    return std::nullopt;
  std::chrono::year_month_day date{std::chrono::year(*year), std::chrono::month(static_cast<unsigned>(*month)),
                                   std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;
  std::size_t at = 19;
  while (at < text.size() && (text[at] == '.' || (text[at] >= '0' && text[at] <= '9'))) ++at;
  std::int64_t offset = 0;
  if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    auto hours = number(at + 1, 2), minutes = number(at + 4, 2);
    if (!hours || !minutes) return std::nullopt;
    offset = (text[at] == '+' ? 1 : -1) * (*hours * 3600 + *minutes * 60);
  }
  auto days = std::chrono::sys_days(date).time_since_epoch().count();
  return static_cast<std::int64_t>(days) * 86400 + *hour * 3600 + *minute * 60 + *second - offset;
}

std::optional<std::uint64_t> parse_human_size(std::string_view text) {
  // docker's units.HumanSize: "0B", "43B", "1.982MB", "12.5kB" (powers of 1000).
  std::size_t end = 0;
  while (end < text.size() && ((text[end] >= '0' && text[end] <= '9') || text[end] == '.')) ++end;
  if (end == 0) return std::nullopt;
  double value = std::strtod(std::string(text.substr(0, end)).c_str(), nullptr);
  std::string_view unit = text.substr(end, text.find_first_of(" (", end) - end);
  static const std::pair<std::string_view, double> kUnits[] = {
      {"B", 1}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15}};
  for (const auto& [name, factor] : kUnits)
    if (unit == name) return static_cast<std::uint64_t>(value * factor + 0.5);
  return std::nullopt;
}

Expected<std::vector<StoredImage>, std::string> parse_buildah_images(std::string_view text) {
  auto parsed = parse_array(text, "buildah images");
  if (!parsed) return unexpected(parsed.error());
  std::vector<StoredImage> images;
  for (const auto& item : *parsed) {
    if (!item.is_object() || text_of(item, "id").empty()) return unexpected(std::string("buildah images: an entry has no id"));
    StoredImage image;
    image.id = with_sha256(text_of(item, "id"));
    image.names = strings_of(item, "names");
    if (std::string digest = text_of(item, "digest"); !digest.empty()) image.digests.push_back(digest);
    if (auto created = item.find("created"); created != item.end() && created->is_number_integer())
      image.created = created->get<std::int64_t>();
    images.push_back(std::move(image));
  }
  return images;
}

Expected<std::vector<StoredContainer>, std::string> parse_buildah_containers(std::string_view text) {
  auto parsed = parse_array(text, "buildah containers");
  if (!parsed) return unexpected(parsed.error());
  std::vector<StoredContainer> containers;
  for (const auto& item : *parsed) {
    if (!item.is_object() || text_of(item, "id").empty())
      return unexpected(std::string("buildah containers: an entry has no id"));
    StoredContainer container;
    container.id = text_of(item, "id");
    container.name = text_of(item, "containername");
    container.image_id = text_of(item, "imageid").empty() ? "" : with_sha256(text_of(item, "imageid"));
    container.builder = item.value("builder", false);
    containers.push_back(std::move(container));
  }
  return containers;
}

std::map<std::string, std::int64_t> parse_container_times(std::string_view text) {
  std::map<std::string, std::int64_t> times;
  auto parsed = json::parse(text, nullptr, false);
  if (!parsed.is_array()) return times;
  for (const auto& item : parsed)
    if (item.is_object())
      if (auto created = parse_utc_seconds(text_of(item, "created")); created && !text_of(item, "id").empty())
        times[text_of(item, "id")] = *created;
  return times;
}

Expected<std::vector<StoredImage>, std::string> parse_docker_images(std::string_view text) {
  auto parsed = parse_array(text, "docker image inspect");
  if (!parsed) return unexpected(parsed.error());
  std::vector<StoredImage> images;
  for (const auto& item : *parsed) {
    if (!item.is_object() || text_of(item, "Id").empty())
      return unexpected(std::string("docker image inspect: an entry has no Id"));
    StoredImage image;
    image.id = text_of(item, "Id");
    image.names = strings_of(item, "RepoTags");
    for (const auto& name : strings_of(item, "RepoDigests")) {
      image.names.push_back(name);
      image.digests.push_back(digest_of_name(name));
    }
    image.created = parse_utc_seconds(text_of(item, "Created")).value_or(0);
    images.push_back(std::move(image));
  }
  return images;
}

std::optional<std::map<std::string, std::string>> parse_buildah_labels(std::string_view text) {
  auto parsed = json::parse(text, nullptr, false);
  if (!parsed.is_object()) return std::nullopt;
  std::map<std::string, std::string> labels;
  for (const char* format : {"Docker", "OCIv1"}) {
    auto config = parsed.find(format);
    if (config == parsed.end() || !config->is_object()) continue;
    auto inner = config->find("config");
    if (inner == config->end() || !inner->is_object()) continue;
    auto found = inner->find("Labels");
    if (found == inner->end() || !found->is_object()) continue;
    for (const auto& [key, value] : found->items())
      if (value.is_string()) labels[key] = value.get<std::string>();
  }
  return labels;
}

std::set<std::string> kept_digests(const std::set<std::string>& keep) {
  std::set<std::string> digests;
  for (const auto& entry : keep) {
    if (entry.rfind("sha256:", 0) == 0) digests.insert(entry);
    else if (std::string digest = digest_of_name(entry); !digest.empty()) digests.insert(digest);
  }
  return digests;
}

std::string repository_of(std::string_view name) {
  if (auto at = name.find('@'); at != std::string_view::npos) return std::string(name.substr(0, at));
  auto slash = name.rfind('/');
  auto colon = name.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) name = name.substr(0, colon);
  return std::string(name);
}

bool named_by(const StoredImage& image, const std::set<std::string>& keep, const std::set<std::string>& digests) {
  if (digests.count(image.id)) return true;
  for (const auto& digest : image.digests)
    if (digests.count(digest)) return true;
  for (const auto& name : image.names)
    if (keep.count(name) || digests.count(digest_of_name(name))) return true;
  return false;
}

namespace {

// True when the labels say cascade built the image on bases whose digests are all in `digests`.
bool built_on_kept_bases(const std::map<std::string, std::string>& labels, const std::set<std::string>& digests) {
  auto found = labels.find(kLabelBases);
  if (found == labels.end()) return false;
  auto bases = json::parse(found->second, nullptr, false);
  if (!bases.is_object()) return false;
  for (const auto& [base, digest] : bases.items())
    if (!digest.is_string() || !digests.count(digest.get<std::string>())) return false;
  return true;
}

}  // namespace

std::set<std::string> images_to_keep(const std::vector<StoredImage>& images, const std::set<std::string>& keep,
                                     const std::set<std::string>& in_use, const LabelReader& labels) {
  const std::set<std::string> digests = kept_digests(keep);
  std::set<std::string> kept;
  std::set<std::string> known;  // every digest some image is known by
  for (const auto& image : images) {
    if (named_by(image, keep, digests) || in_use.count(image.id)) kept.insert(image.id);
    known.insert(image.id);
    known.insert(image.digests.begin(), image.digests.end());
    for (const auto& name : image.names) known.insert(digest_of_name(name));
  }
  if (!labels) return kept;
  std::map<std::string, int> wanted;  // repository -> its kept references no image is known by
  for (const auto& entry : keep) {
    std::string digest = digest_of_name(entry);
    if (!digest.empty() && entry.find('@') > 0 && !known.count(digest)) ++wanted[repository_of(entry)];
  }
  for (const auto& [repository, count] : wanted) {
    std::vector<const StoredImage*> tagged;  // images tagged in the repository, newest first
    for (const auto& image : images)
      if (std::any_of(image.names.begin(), image.names.end(), [&](const std::string& name) {
            return name.find('@') == std::string::npos && repository_of(name) == repository;
          }))
        tagged.push_back(&image);
    std::stable_sort(tagged.begin(), tagged.end(), [](auto* a, auto* b) { return a->created > b->created; });
    int left = count;
    for (const StoredImage* image : tagged) {
      if (left == 0) break;
      if (kept.count(image->id)) continue;
      auto found = labels(*image);
      if (found && !built_on_kept_bases(*found, digests)) continue;  // (labels unreadable: kept, to be safe)
      kept.insert(image->id);
      --left;
    }
  }
  return kept;
}

}  // namespace detail

namespace {

using detail::StoredImage;
constexpr std::int64_t kYoungContainerSeconds = 60;
constexpr std::chrono::minutes kCommandTimeout{10};
constexpr std::size_t kCacheIdsPerPrune = 50;

// The last non-empty line a program printed (stderr first): what it says went wrong.
std::string failure_line(const process::Result& result) {
  std::string line = detail::last_error_line(result.err);
  if (line.empty()) line = detail::last_error_line(result.out);
  return line.empty() ? "exit " + std::to_string(result.exit_code) : line;
}

std::string describe(const StoredImage& image) {
  std::string text = image.id.substr(0, 19);
  if (!image.names.empty()) text += " (" + image.names.front() + ")";
  return text;
}

// Runs the backend's program with its global arguments, for one prune.
class Runner {
 public:
  Runner(std::vector<std::string> global, std::map<std::string, std::string> env, const CancelToken& cancel,
         std::chrono::milliseconds kill_grace, std::string what, bool has_daemon)
      : global_(std::move(global)), env_(std::move(env)), cancel_(cancel), kill_grace_(kill_grace),
        what_(std::move(what)), has_daemon_(has_daemon) {}

  /// Any exit code; fails with Cancelled, or Setup when the program cannot start.
  Expected<process::Result, Error> operator()(const std::vector<std::string>& args) const {
    if (cancel_.stop_requested()) return unexpected(Error{Error::Kind::cancelled, what_ + ": prune cancelled"});
    std::vector<std::string> argv = global_;
    argv.insert(argv.end(), args.begin(), args.end());
    process::Options options;
    options.env = env_;
    options.cancel = cancel_;
    options.kill_grace = kill_grace_;
    options.timeout = kCommandTimeout;
    auto result = process::run(argv, options);
    if (!result) return unexpected(Error{Error::Kind::setup, what_ + ": " + result.error()});
    if (result->cancelled) return unexpected(Error{Error::Kind::cancelled, what_ + ": prune cancelled"});
    return std::move(result).value();
  }

  /// The output of a listing that must succeed; its failure ends the prune.
  Expected<std::string, Error> listing(const std::vector<std::string>& args) const {
    auto result = (*this)(args);
    if (!result) return unexpected(result.error());
    if (result->exit_code == 0) return std::move(result->out);
    std::string line = failure_line(*result);
    return unexpected(Error{unreachable(line) ? Error::Kind::worker_unavailable : Error::Kind::setup,
                            what_ + ": " + args.front() + " " + args.at(1) + " failed: " + line});
  }

 private:
  bool unreachable(const std::string& line) const {
    if (!has_daemon_) return false;  // buildah: no daemon to be unreachable
    for (const char* phrase : {"Cannot connect to the Docker daemon", "error during connect", "connection refused",
                               "connection reset", "i/o timeout", "tls:", "x509:"})
      if (line.find(phrase) != std::string::npos) return true;
    return false;
  }

  std::vector<std::string> global_;
  std::map<std::string, std::string> env_;
  const CancelToken& cancel_;
  std::chrono::milliseconds kill_grace_;
  std::string what_;
  bool has_daemon_;
};

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// When each working container was made, from containers/storage's own record of them
// (<root>/<driver>-containers/containers.json, volatile ones in the runroot's
// volatile-containers.json): buildah's listing does not say.
std::map<std::string, std::int64_t> container_times(const std::vector<std::string>& folders) {
  std::map<std::string, std::int64_t> times;
  for (const auto& folder : folders) {
    std::error_code ec;
    for (fs::directory_iterator entry(folder, ec), end; !ec && entry != end; entry.increment(ec)) {
      if (!entry->path().filename().string().ends_with("-containers")) continue;
      for (const char* file : {"containers.json", "volatile-containers.json"})
        times.merge(detail::parse_container_times(detail::read_trimmed((entry->path() / file).string())));
    }
  }
  return times;
}

}  // namespace

Expected<PruneReport, Error> Buildah::prune(const std::set<std::string>& keep, const CancelToken& cancel) {
  Runner run(global_argv(), {}, cancel, options_.kill_grace, "buildah (" + options_.root + ")", false);
  const std::uint64_t before = detail::disk_usage(options_.root);
  PruneReport report;

  auto listed_containers = run.listing({"containers", "--all", "--json"});
  if (!listed_containers) return unexpected(listed_containers.error());
  auto containers = detail::parse_buildah_containers(*listed_containers);
  if (!containers) return unexpected(Error{Error::Kind::setup, containers.error()});
  const auto created = container_times({options_.root, options_.runroot});
  std::set<std::string> in_use;  // image ids the remaining containers use
  for (const auto& container : *containers) {
    auto made = created.find(container.id);
    bool old = made != created.end() && now_seconds() - made->second >= kYoungContainerSeconds;
    if (!container.builder || !old) {  // podman's, or perhaps a build's that is still running
      in_use.insert(container.image_id);
      continue;
    }
    auto removed = run({"rm", container.id});
    if (!removed) return unexpected(removed.error());
    if (removed->exit_code != 0) {
      report.problems.push_back("working container " + container.name + ": buildah rm failed: " + failure_line(*removed));
      in_use.insert(container.image_id);
    }
  }

  auto listed_images = run.listing({"images", "--all", "--json", "--no-trunc"});
  if (!listed_images) return unexpected(listed_images.error());
  auto images = detail::parse_buildah_images(*listed_images);
  if (!images) return unexpected(Error{Error::Kind::setup, images.error()});
  auto labels = [&](const StoredImage& image) -> std::optional<std::map<std::string, std::string>> {
    auto inspected = run({"inspect", "--type", "image", image.id});
    if (!inspected || inspected->exit_code != 0) return std::nullopt;
    return detail::parse_buildah_labels(inspected->out);
  };
  const auto kept = detail::images_to_keep(*images, keep, in_use, labels);
  for (const auto& image : *images) {
    if (kept.count(image.id)) continue;
    std::vector<std::string> args = {"rmi"};  // by name (a name of a pushed base is its digest)
    if (image.names.empty()) args.push_back(image.id);
    else args.insert(args.end(), image.names.begin(), image.names.end());
    auto removed = run(args);
    if (!removed) return unexpected(removed.error());
    if (removed->exit_code == 0) ++report.removed;
    else report.problems.push_back(describe(image) + ": buildah rmi failed: " + failure_line(*removed));
  }
  report.kept = images->size() - report.removed;
  const std::uint64_t after = detail::disk_usage(options_.root);
  report.bytes_freed = before > after ? before - after : 0;
  return report;
}

namespace {

// The bytes `docker system df` says the engine's images, containers, volumes and build
// cache take (its sizes are rounded to 4 digits).
std::optional<std::uint64_t> docker_disk_total(const Runner& run) {
  auto listed = run({"system", "df", "--format", "{{json .}}"});
  if (!listed || listed->exit_code != 0) return std::nullopt;
  std::uint64_t total = 0;
  std::size_t start = 0;
  const std::string& out = listed->out;
  while (start < out.size()) {
    std::size_t end = std::min(out.find('\n', start), out.size());
    auto row = json::parse(out.substr(start, end - start), nullptr, false);
    start = end + 1;
    if (!row.is_object()) continue;
    auto size = detail::parse_human_size(row.value("Size", std::string()));
    if (!size) return std::nullopt;
    total += *size;
  }
  return total;
}

// Removes the engine's build cache records that no image shares a layer with (after the
// images not kept are gone: the cache of the kept images is what they share), by id.
// dockerd 20.10 cannot filter on sharing itself: its CLI turns --filter shared=false into
// BuildKit's "shared==false", which never matches (BuildKit's shared and private are
// presence fields), and a bare --filter private is refused; `until=` would go by age, not
// by use. So the records are listed (`docker system df -v`) and pruned by exact id.
void prune_private_cache(const Runner& run, PruneReport& report) {
  auto listed = run({"system", "df", "--verbose", "--format", "{{json .BuildCache}}"});
  if (!listed) return;
  if (listed->exit_code != 0) {
    report.problems.push_back("build cache not pruned: docker system df failed: " + failure_line(*listed));
    return;
  }
  auto records = json::parse(listed->out, nullptr, false);
  std::vector<std::string> ids;
  if (records.is_array())
    for (const auto& record : records)
      if (record.is_object() && record.value("Shared", "") == "false" && record.value("InUse", "") == "false" &&
          !record.value("ID", "").empty())
        ids.push_back(record.value("ID", ""));
  for (std::size_t first = 0; first < ids.size(); first += kCacheIdsPerPrune) {
    std::string pattern;
    for (std::size_t i = first; i < std::min(ids.size(), first + kCacheIdsPerPrune); ++i)
      pattern += (pattern.empty() ? "" : "|") + ids[i];
    auto pruned = run({"builder", "prune", "--force", "--filter", "id=^(" + pattern + ")$"});
    if (!pruned) return;
    if (pruned->exit_code != 0) report.problems.push_back("docker builder prune failed: " + failure_line(*pruned));
  }
}

// Every whitespace-separated word of `text`, once, in order.
std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = text.find_first_not_of(" \t\r\n");
  while (start != std::string::npos) {
    std::size_t end = text.find_first_of(" \t\r\n", start);
    std::string word = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (std::find(out.begin(), out.end(), word) == out.end()) out.push_back(word);
    start = end == std::string::npos ? end : text.find_first_not_of(" \t\r\n", end);
  }
  return out;
}

}  // namespace

Expected<PruneReport, Error> DockerBuild::prune(const std::set<std::string>& keep, const CancelToken& cancel) {
  std::map<std::string, std::string> env;
  if (!options_.docker_config_dir.empty()) env["DOCKER_CONFIG"] = options_.docker_config_dir;
  const char* default_host = std::getenv("DOCKER_HOST");
  std::string endpoint = !options_.host.empty() ? options_.host : default_host ? default_host : "the default engine";
  Runner run(global_argv(), env, cancel, options_.kill_grace, "docker (" + endpoint + ")", true);
  PruneReport report;
  auto before = docker_disk_total(run);

  auto containers = run.listing({"container", "ls", "--all", "--quiet", "--no-trunc"});
  if (!containers) return unexpected(containers.error());
  std::set<std::string> in_use;
  if (auto ids = words(*containers); !ids.empty()) {
    std::vector<std::string> args = {"container", "inspect", "--format", "{{.Image}}"};
    args.insert(args.end(), ids.begin(), ids.end());
    auto images = run.listing(args);
    if (!images) return unexpected(images.error());
    for (const auto& id : words(*images)) in_use.insert(id);
  }

  auto ids = run.listing({"image", "ls", "--all", "--quiet", "--no-trunc"});
  if (!ids) return unexpected(ids.error());
  std::vector<StoredImage> images;
  if (auto unique = words(*ids); !unique.empty()) {
    std::vector<std::string> args = {"image", "inspect"};
    args.insert(args.end(), unique.begin(), unique.end());
    auto inspected = run.listing(args);
    if (!inspected) return unexpected(inspected.error());
    auto parsed = detail::parse_docker_images(*inspected);
    if (!parsed) return unexpected(Error{Error::Kind::setup, parsed.error()});
    images = std::move(parsed).value();
  }
  // The engine records the digest it pushed in RepoDigests: names are exact, no fallback.
  const auto kept = detail::images_to_keep(images, keep, in_use, {});
  for (const auto& image : images) {
    if (kept.count(image.id)) continue;
    // By its tags: removing the last one removes the image with its digest names. By digest
    // names when it has no tag, by id when it has no name (not forced: an image a container
    // took meanwhile stays).
    std::vector<std::string> args = {"image", "rm"};
    for (const auto& name : image.names)
      if (name.find('@') == std::string::npos) args.push_back(name);
    if (args.size() == 2) args.insert(args.end(), image.names.begin(), image.names.end());
    if (args.size() == 2) args.push_back(image.id);
    auto removed = run(args);
    if (!removed) return unexpected(removed.error());
    if (removed->exit_code == 0) ++report.removed;
    else if (failure_line(*removed).find("dependent child images") == std::string::npos)  // a kept image's parent
      report.problems.push_back(describe(image) + ": docker image rm failed: " + failure_line(*removed));
  }
  report.kept = images.size() - report.removed;
  prune_private_cache(run, report);
  if (cancel.stop_requested()) return unexpected(Error{Error::Kind::cancelled, "docker (" + endpoint + "): prune cancelled"});
  auto after = docker_disk_total(run);
  if (before && after && *before > *after) report.bytes_freed = *before - *after;
  return report;
}

}  // namespace cascade::builder
