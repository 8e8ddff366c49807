// Scanning into the store: every fleet image and external base at its current digest,
// every digest a deploy target runs, and each image a run pushes (judged before rollout).
#include <chrono>

#include "cascade/exposure.hpp"
#include "exposure_internal.hpp"

namespace cascade::app {

namespace {

struct Subject {
  store::ScanRole role;
  std::string subject;
  reference::Reference image;
};

// Scans `subjects` and records each scan; failures go to the report.
Expected<void, Failure> scan_subjects(Wiring& wiring, const std::vector<Subject>& subjects, ScanReport& report,
                                      const std::function<void(std::size_t, std::size_t)>& progress) {
  std::vector<reference::Reference> refs;
  for (const auto& subject : subjects) refs.push_back(subject.image);
  auto results = wiring.scanner->scan_all(refs, progress, false);  // the packages are folded when asked about
  std::vector<store::ImageScan> scans;
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    const Subject& subject = subjects[i];
    if (!results[i]) {
      report.failed.push_back({subject.subject, results[i].error().message});
      continue;
    }
    scans.push_back({subject.role, subject.subject, subject.image.without_digest().str(), results[i]->digest, {}});
    ++(subject.role == store::ScanRole::workload ? report.workloads : report.images);
  }
  if (auto recorded = wiring.store->record_image_scans(scans); !recorded)
    return unexpected(Failure::failed(recorded.error().message));
  return {};
}

std::vector<Subject> fleet_subjects(const graph::Graph& graph) {
  std::vector<Subject> subjects;
  for (std::size_t id = 0; id < graph.nodes().size(); ++id) {
    const auto& node = graph.nodes()[id];
    auto ref = reference::parse(node.image);
    if (!ref) continue;
    auto role = node.recipe ? store::ScanRole::fleet : store::ScanRole::external;
    subjects.push_back({role, node.image, std::move(*ref)});
  }
  return subjects;
}

Expected<std::vector<Subject>, Failure> workload_subjects(Wiring& wiring, ScanReport& report) {
  if (auto connected = connect_targets(wiring); !connected) return unexpected(connected.error());
  std::vector<Subject> subjects;
  for (const auto& entry : wiring.targets) {
    auto workloads = entry.target->inventory(std::nullopt);
    if (!workloads) {
      report.failed.push_back({entry.config.name, "inventory: " + workloads.error().str()});
      continue;
    }
    for (const auto& workload : *workloads) {
      std::string subject = entry.config.name + "/" + workload.name;
      auto ref = reference::parse(workload.image);
      if (!ref || !workload.digest) {
        report.failed.push_back({subject, "the engine does not say which registry digest it runs"});
        continue;
      }
      ref->digest = *workload.digest;
      subjects.push_back({store::ScanRole::workload, subject, std::move(*ref)});
    }
  }
  return subjects;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Expected<ScanReport, Failure> scan_workloads(Wiring& wiring) {
  auto started = std::chrono::steady_clock::now();
  ScanReport report;
  auto subjects = workload_subjects(wiring, report);
  if (!subjects) return unexpected(subjects.error());
  std::vector<std::string> keep;
  for (const auto& subject : *subjects) keep.push_back(subject.subject);
  if (report.failed.empty())  // forget workloads gone only when every target answered
    if (auto retained = wiring.store->retain_image_scans(store::ScanRole::workload, keep); !retained)
      return unexpected(Failure::failed(retained.error().message));
  if (auto scanned = scan_subjects(wiring, *subjects, report, {}); !scanned) return unexpected(scanned.error());
  report.stats = wiring.scanner->stats();
  report.seconds = seconds_since(started);
  return report;
}

Expected<ScanReport, Failure> scan_fleet(Wiring& wiring, bool workloads,
                                         const std::function<void(std::size_t, std::size_t)>& progress) {
  auto started = std::chrono::steady_clock::now();
  ScanReport report;
  std::vector<Subject> subjects = fleet_subjects(wiring.fleet->graph);
  if (auto scanned = scan_subjects(wiring, subjects, report, progress); !scanned) return unexpected(scanned.error());
  if (workloads && !wiring.fleet->pipeline.deploy.empty()) {
    auto running = scan_workloads(wiring);
    if (!running) return unexpected(running.error());
    report.workloads = running->workloads;
    report.failed.insert(report.failed.end(), running->failed.begin(), running->failed.end());
  }
  report.stats = wiring.scanner->stats();
  report.seconds = seconds_since(started);
  return report;
}

executor::Verdict verify_pushed(Wiring& wiring, const PackageQuestion* question, const std::string& image,
                                const std::string& digest) {
  auto ref = reference::parse(image);
  if (!ref) return {question == nullptr, "not verified: " + image + " is not a reference"};
  ref->digest = digest;
  auto scanned = wiring.scanner->scan(*ref);
  if (!scanned) return {question == nullptr, "not verified: " + scanned.error().message};
  store::ImageScan scan{store::ScanRole::fleet, image, image, digest, {}};
  if (auto recorded = wiring.store->record_image_scan(scan); !recorded)
    return {question == nullptr, "not verified: " + recorded.error().message};
  if (!question) return {true, "scanned: " + std::to_string(scanned->contents.packages.size()) + " packages"};
  auto findings = detail::judge(scanned->contents, *question);
  if (findings.empty()) return {true, "clean: no package matches " + question->label()};
  std::string detail = "vulnerable:";
  for (const auto& finding : findings) {
    const auto& package = scanned->contents.packages[finding.package].package;
    detail += " " + package.name + " " + package.version + " (" + finding.matched_by +
              (finding.fixed ? ", fixed in " + *finding.fixed : "") + ")";
  }
  return {false, detail};
}

}  // namespace cascade::app
