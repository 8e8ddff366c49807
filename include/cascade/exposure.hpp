// The security team's question, answered from the state store: which images (fleet images,
// external bases) and running workloads carry a package matching a constraint
// (`bash<5.2.15-2+deb12u1`) or an OSV advisory, with the installed version, the
// distribution, and where the package enters (the image whose own layers installed it).
// Also: scanning the fleet into the store, planning the fix as one run, and verifying each
// pushed image before it is rolled out. Part of the application layer (module app).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cascade/advisory.hpp"
#include "cascade/app.hpp"
#include "cascade/scan.hpp"

namespace cascade::app {

/// What to look for: OSV advisories, or one package constraint.
struct PackageQuestion {
  std::vector<advisory::Advisory> advisories;
  std::vector<std::string> documents;  // the OSV texts the advisories came from
  std::optional<advisory::Constraint> constraint;
  /// "x_EXAMPLE-2026-0001", "DSA-1, DSA-2" or "bash<5.2.15-2+deb12u1".
  std::string label() const;
};

/// {"label", "packages": [names], "documents": [OSV texts], "constraint"}: a plan's and a
/// run's question as `cascade plan` and `cascade status` show it.
nlohmann::json question_json(const PackageQuestion& question);
/// The question of a stored fix run: its trigger's package constraint, or the advisories its
/// plan kept (PlanRecord::advisory_documents); fails (exit 2) when they no longer parse or
/// the run kept none.
Expected<PackageQuestion, Failure> stored_question(const store::TriggerRecord& trigger, const store::PlanRecord& plan);

/// The before/after table of a run: per task, the versions of `packages` (names) in its
/// old and new digest as scanned: [{"image", "package", "before", "after"}].
Expected<nlohmann::json, Failure> package_versions_json(store::Store& store, const std::vector<store::Task>& tasks,
                                                        const nlohmann::json& packages);

/// The question of OSV files (JSON: one advisory, an array, or {"vulns": [...]}); fails
/// (exit 2) naming the file and the JSON path.
Expected<PackageQuestion, Failure> advisory_question(const std::vector<std::string>& files);
/// The same for OSV texts given directly (an API body); `where` names them in errors.
Expected<PackageQuestion, Failure> advisory_question_from_texts(const std::vector<std::string>& texts,
                                                                const std::string& where);
/// A constraint from the command line; fails (exit 2) saying what to write instead.
Expected<PackageQuestion, Failure> package_question(const std::string& constraint);

/// One image or workload that carries a matching package.
struct Exposure {
  store::ScanRole role = store::ScanRole::fleet;
  std::string subject;   // the image reference, or "target/workload"
  std::string image;     // the image reference it was scanned as
  std::string digest;
  std::string distro;    // "debian 12", "alpine 3.20"
  packages::Format format = packages::Format::dpkg;
  packages::Package package;
  std::string matched_by;            // the advisory id, or the constraint as written
  std::optional<std::string> fixed;  // the lowest fixed version above the installed one, when known
  std::string enters;                // the image whose own layers installed it
  store::ScanRole enters_role = store::ScanRole::fleet;
};

/// A subject whose packages could not be judged.
struct Unjudged {
  std::string subject;
  std::string reason;  // "var/lib/rpm/Packages: rpm BerkeleyDB database: not indexed", "no package database"
};

/// An external base and whether its current scan still carries the package.
struct BaseStatus {
  std::string image;
  std::string digest;
  std::string package;         // "bash 5.2.15-2+b2"
  std::string matched_by;
  bool exposed = false;
  std::optional<std::string> fixed;
};

struct ExposureReport {
  std::string question;
  std::vector<Exposure> images;     // fleet images and external bases, by subject
  std::vector<Exposure> workloads;  // by subject
  std::vector<BaseStatus> bases;    // external bases that carry a package of the question at all
  std::vector<Unjudged> unjudged;
  std::size_t images_checked = 0;
  std::size_t workloads_checked = 0;
};

/// Answers `question` from the store alone: the latest scan of every subject, folded from
/// its stored layers. Fails (exit 1) when the store fails.
Expected<ExposureReport, Failure> exposure(store::Store& store, const PackageQuestion& question);

/// {"question", "advisories": [{"id", "aliases", "summary"}], "images": [...], "workloads": [...],
///  "bases": [...], "unjudged": [...], "checked": {"images", "workloads"}}
nlohmann::json exposure_json(const ExposureReport& report, const PackageQuestion& question);

/// What `cascade scan` did.
struct ScanReport {
  std::size_t images = 0;     // fleet images and external bases scanned
  std::size_t workloads = 0;  // workload digests scanned
  std::vector<Unjudged> failed;  // subjects that could not be scanned, and why
  scan::Stats stats;
  double seconds = 0;
};

/// Scans every fleet image and external base at its current digest, and (with deploy
/// targets and `workloads`) every digest a workload runs, recording each scan. A subject
/// that fails is reported, the rest still scanned. Fails (exit 1) only when the store fails.
Expected<ScanReport, Failure> scan_fleet(Wiring& wiring, bool workloads,
                                         const std::function<void(std::size_t done, std::size_t total)>& progress = {});

/// Scans what every deploy target runs now (the inventory) and forgets workloads gone.
Expected<ScanReport, Failure> scan_workloads(Wiring& wiring);

/// The fix as one plan: external bases whose current upstream digest is fixed are cascaded
/// as a base patch; fleet images that install the package in their own layers are rebuilt
/// without cache, with everything downstream. `unfixed` receives the bases with no fixed
/// version upstream yet ("docker.io/library/debian:12 at sha256:... still has bash
/// 5.2.15-2+b2; fixed in 5.2.15-2+b7"). Rescans the fleet first. With nothing to rebuild
/// the plan has no start and no step (the caller says why); fails (exit 1) on store failures.
Expected<PlannedPatch, Failure> plan_fix(Wiring& wiring, const PackageQuestion& question, bool deploy,
                                         std::vector<std::string>& unfixed);

/// The executor's check of a pushed image: scans it (its new layers only), records the scan
/// (role fleet), and with a question judges it: clean, or "vulnerable: bash 5.2.26-r0 (fixed
/// in 5.2.26-r1, ADVISORY)". A scan failure is "not verified: ..." and counts as clean only
/// without a question.
executor::Verdict verify_pushed(Wiring& wiring, const PackageQuestion* question, const std::string& image,
                                const std::string& digest);

}  // namespace cascade::app
