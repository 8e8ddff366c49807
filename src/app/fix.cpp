// The fix for a package question as one run. After a fresh scan: an exposure that enters
// through an external base is cascaded from that base's current upstream digest when that
// digest is clean, and reported as unfixed when it is not; an exposure that enters in a
// fleet image's own layers rebuilds that image without cache. Everything downstream follows.
#include <algorithm>
#include <set>

#include "cascade/exposure.hpp"
#include "exposure_internal.hpp"

namespace cascade::app {

namespace {

std::string short_digest(const std::string& digest) { return digest.substr(0, std::min<std::size_t>(digest.size(), 19)); }

struct Starts {
  std::map<std::string, std::string> bases;                  // external base -> clean upstream digest
  std::map<std::string, std::string> forced;                 // fleet image -> reason
  std::map<std::string, std::vector<std::string>> because;   // start image -> what put it there
};

// The latest scan of each subject that is itself exposed, by subject.
std::map<std::string, const Exposure*> exposed_subjects(const ExposureReport& report) {
  std::map<std::string, const Exposure*> subjects;
  for (const auto& item : report.images) subjects.emplace(item.subject, &item);
  return subjects;
}

std::string describe(const Exposure& item) {
  return item.package.name + " " + item.package.version + " (" + item.matched_by +
         (item.fixed ? ", fixed in " + *item.fixed : "") + ")";
}

Starts start_points(const ExposureReport& report, std::vector<std::string>& unfixed) {
  Starts starts;
  auto exposed = exposed_subjects(report);
  std::map<std::string, std::string> latest_digest;
  for (const auto& base : report.bases) latest_digest[base.image] = base.digest;
  std::set<std::string> told;
  for (const auto& item : report.images) {
    std::string why = item.subject + " has " + describe(item) + ", entering at " + item.enters;
    if (item.enters_role == store::ScanRole::fleet) {
      starts.forced.emplace(item.enters, "installs " + describe(item) + " in its own layers: rebuilt without cache");
      starts.because[item.enters].push_back(why);
      continue;
    }
    if (auto still = exposed.find(item.enters); still != exposed.end()) {
      const Exposure& base = *still->second;
      if (told.insert(item.enters).second)
        unfixed.push_back(base.image + " at " + short_digest(base.digest) + " still has " + base.package.name + " " +
                          base.package.version + (base.fixed ? "; fixed in " + *base.fixed : "; no fixed version known") +
                          " (" + base.matched_by + ")");
      continue;
    }
    if (auto digest = latest_digest.find(item.enters); digest != latest_digest.end()) {
      starts.bases[item.enters] = digest->second;
      starts.because[item.enters].push_back(why);
    }
  }
  return starts;
}

}  // namespace

Expected<PlannedPatch, Failure> plan_fix(Wiring& wiring, const PackageQuestion& question, bool deploy,
                                         std::vector<std::string>& unfixed) {
  auto scanned = scan_fleet(wiring, false);
  if (!scanned) return unexpected(scanned.error());
  auto report = exposure(*wiring.store, question);
  if (!report) return unexpected(report.error());
  Starts starts = start_points(*report, unfixed);
  auto fleet = wiring.fleet.get();  // one snapshot while it is read
  const auto& graph = fleet->graph;
  PlannedPatch planned;
  planned.action = store::TriggerAction::fix;
  planned.question = std::make_shared<const PackageQuestion>(question);
  planned.origin.query = (question.constraint ? "package:" : "advisory:") + question.label();
  for (const auto& [image, digest] : starts.bases)
    if (auto id = graph.find(image)) {
      planned.origin.start.push_back(*id);
      planned.origin.digests[*id] = digest;
    }
  std::vector<graph::NodeId> forced;
  for (const auto& [image, reason] : starts.forced)
    if (auto id = graph.find(image)) {
      planned.origin.forced[*id] = reason;
      forced.push_back(*id);
    }
  // A forced image downstream of another start is planned there (after its bases); the rest start.
  std::vector<graph::NodeId> all_starts = planned.origin.start;
  all_starts.insert(all_starts.end(), forced.begin(), forced.end());
  for (auto id : forced) {
    std::vector<graph::NodeId> others;
    for (auto other : all_starts)
      if (other != id) others.push_back(other);
    auto below = graph.downstream(others);
    bool downstream = std::any_of(below.begin(), below.end(), [&](const auto& item) { return item.node == id; });
    if (!downstream) planned.origin.start.push_back(id);
  }
  planned.because = std::move(starts.because);
  if (planned.origin.start.empty()) return planned;  // nothing to rebuild: the caller says why
  return plan_trigger(wiring, std::move(planned), deploy);
}

}  // namespace cascade::app
