// The package-question commands (package_commands.cpp): scan, affected --package /
// --advisory, and the planning half of plan / patch --package / --advisory.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cascade/exposure.hpp"
#include "common.hpp"

namespace cascade::cli {

/// A fix planned from a package question, with the bases no fix exists for upstream yet.
struct FixPlan {
  app::Wiring wiring;
  app::PlannedPatch planned;
  std::vector<std::string> unfixed;
};

/// Adds --package and --advisory to `command`.
void add_package_options(CLI::App* command, PackageArgs& args);

/// The question the arguments ask; prints why not and gives the exit code otherwise.
Expected<app::PackageQuestion, int> read_question(const PackageArgs& args);

/// `cascade scan`: every fleet image, external base and workload digest into the store.
int scan_command(const Common& common);
/// The text answer of `affected --package|--advisory`, escaped for a terminal (package
/// names and versions come from image contents).
std::string exposure_text(const app::ExposureReport& report);
/// `cascade affected --package|--advisory`.
int affected_package_command(const Common& common, const PackageArgs& args);
/// The fix as a plan (prints what is not fixed upstream yet); the exit code on failure.
Expected<FixPlan, int> plan_fix_command(const Common& common, const PackageArgs& args, bool deploy);

}  // namespace cascade::cli
