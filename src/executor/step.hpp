// One build step of a run: prepare the inputs, pin the bases, build and push with
// retries, and record every transition. Runs on a worker thread of the executor.
#pragma once

#include <map>
#include <optional>
#include <stop_token>
#include <string>

#include "cascade/executor.hpp"

namespace cascade::executor::detail {

struct StepResult {
  bool succeeded = false;
  bool cancelled = false;  // stopped on request: the task stays pending, to resume
  std::string digest;      // pushed digest when succeeded
  std::string error;       // why it failed
  double seconds = 0;
  std::string store_error;         // a store write failed: the run stops (the task stays where it was)
  bool worker_unavailable = false;  // the worker failed, not the build: pending again, for another worker
};

struct StepInput {
  std::size_t index = 0;  // in the plan
  store::RunId run = 0;
  const plan::Step* step = nullptr;
  const graph::Recipe* recipe = nullptr;
  std::map<std::string, std::string> base_digests;  // every base of the recipe -> digest to build on
  std::string work_dir;                             // this step's own folder
  std::string log_path;
  std::size_t worker = 0;                           // index into Services::workers
};

/// Builds and pushes one step; the store is updated at every state change, and a write the
/// store refuses ends the step at once with StepResult::store_error.
StepResult run_step(const Services& services, const Options& options, const StepInput& input, std::stop_token stop,
                    std::stop_token cancel);

/// The platforms of a multi-platform step (input.step->platforms), each labelled with the
/// bases' manifests for that platform (services.platforms_of); an error message when a base
/// lacks one of them or its platforms cannot be read. `final_base`: the base the target stage
/// is built on, whose platform manifest becomes org.opencontainers.image.base.digest.
Expected<std::vector<builder::PlatformBuild>, std::string> platform_builds(
    const Services& services, const StepInput& input, const std::optional<std::string>& final_base);

/// Reports progress to services.progress, when there is a listener.
void tell(const Services& services, Progress::Kind kind, const std::string& image, const std::string& detail,
          double seconds = 0, const std::string& worker = "");

}  // namespace cascade::executor::detail
