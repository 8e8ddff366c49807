// What the subcommands share: options every command takes, loading the fleet, messages.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "cascade/app.hpp"
#include "cascade/fleet.hpp"
#include "cascade/store.hpp"

namespace cascade::cli {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kBadInput = 2;

/// The exit code for an application failure of kind `kind`: kBadInput for what the caller
/// can fix (bad input, not found, a conflict with the state), kFailed for the rest.
int exit_code_for(app::Failure::Kind kind);

struct Common {
  std::string pipeline_file;
  std::string format = "text";
};

/// Prints "cascade: message" on stderr.
void fail(const std::string& message);

/// The pipeline file from -p or $CASCADE_PIPELINE; prints what to do and returns nullopt when none.
std::optional<std::string> pipeline_file(const Common& common);

/// Loads the pipeline file; prints where it is wrong and returns nullopt on failure.
std::optional<pipeline::Pipeline> load_pipeline(const Common& common);

/// Loads and scans the fleet; prints every problem and returns nullopt on failure.
std::optional<fleet::Fleet> load_fleet(const Common& common);

/// load_fleet() wired to its store, registry, builder and scanner; prints why not.
std::optional<app::Wiring> wire_fleet(const Common& common);

void add_pipeline_option(CLI::App* command, Common& common);
void add_format_option(CLI::App* command, Common& common, std::vector<std::string> formats);

struct PatchArgs {
  std::string image;
  bool dry_run = false;
  bool no_deploy = false;
  std::size_t parallel = 2;
  long long resume = 0;  // a run to resume; 0: none
  std::string server;    // a `cascade serve` URL: ask it to run the patch instead
  bool urgent = false;   // skip approvals and windows where the pipeline allows it (recorded)
};

/// approve, reject and release (release_commands.cpp).
struct ReleaseArgs {
  long long run = 0;
  std::string target;   // empty: the whole run
  std::string actor;    // --as; empty: "cli:$USER"
  std::string comment;
  bool urgent = false;
};
struct ReleaseCommandArgs {
  ReleaseArgs approve, reject, release;
};
void add_release_commands(CLI::App& app, Common& common, ReleaseCommandArgs& args, int& exit_code);
/// The CLI's progress lines on stderr (patch_commands.cpp).
void print_progress(const executor::Progress& progress);
/// Prints run `run` (text or JSON) and returns its exit code: 0 succeeded or awaiting, 1 else.
int report_run(app::Wiring& wiring, const Common& common, store::RunId run);
/// How long the CLI's release passes may wait for the clock: the longest wave soak (then the
/// run is left awaiting for `cascade serve` or `cascade release`).
std::chrono::milliseconds cli_release_wait(const pipeline::Pipeline& pipeline);

/// What plan, patch and status parse their arguments into; owned by run().
/// --package NAME[OP VERSION] or --advisory FILE... (affected, plan, patch).
struct PackageArgs {
  std::string package;
  std::vector<std::string> advisories;
  bool given() const { return !package.empty() || !advisories.empty(); }
};

struct PatchCommandArgs {
  std::string plan_image;
  PackageArgs plan_package;
  PackageArgs patch_package;
  PatchArgs patch;
  long long status_run = 0;
  std::string status_server;
  std::string deploy_image;
  std::string quarantine_action = "list";
  std::string quarantine_image;
};

/// plan, patch and status (patch_commands.cpp).
void add_patch_commands(CLI::App& app, Common& common, PatchCommandArgs& args, int& exit_code);

/// serve (serve_commands.cpp).
void add_serve_command(CLI::App& app, Common& common, int& exit_code);
/// `patch --server URL`: POST /api/patch, then follow the run until it ends.
int remote_patch(const Common& common, const PatchArgs& args);
/// `status --server URL [RUN]`.
int remote_status(const Common& common, const std::string& server, long long run);
/// The schedule's next times for `status` (nothing when the pipeline has none).
void print_schedule(const Common& common, const pipeline::Pipeline& pipeline, store::Store& store);

}  // namespace cascade::cli
