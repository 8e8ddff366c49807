// The command deploy target: runs a program (an Ansible playbook, a script) with an argument
// vector, never a shell, to roll the images matching the target's `images:` globs. It knows
// no workloads: inventory() is empty, and the caller hands rollout() a Workload it made for
// the repository (image = the repository, digest = the digest running before, if known).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cascade/deploy.hpp"

namespace cascade::deploy {

struct CommandOptions {
  std::string name = "command";    // the target's name in records
  std::vector<std::string> argv;   // placeholders {image} {digest} {old_digest} {run} {repository}; "{{" "}}" literal
  std::map<std::string, std::string> env;  // added to the inherited environment
  std::string run;                 // the run id for {run} and CASCADE_RUN; one target per run
  std::chrono::milliseconds timeout{600'000};
  std::size_t tail_lines = 20;     // lines of output quoted in a failure's reason
};

/// Substitutes the placeholders of one argument; fails with the reason on an unknown or
/// unclosed placeholder or a stray '}'.
Expected<std::string, std::string> substitute(std::string_view argument, const std::map<std::string, std::string>& values);

/// Runs a program per rollout: exit 0 is healthy, anything else (or the timeout) failed with
/// the last lines of its output; there is nothing to roll back, and nothing to recover.
class CommandTarget final : public Target {
 public:
  /// Fails (invalid) on an empty argv or a bad placeholder.
  static Expected<std::unique_ptr<CommandTarget>, Error> create(CommandOptions options);

  std::string name() const override;
  /// Always empty: a command target deploys the images its `images:` globs select.
  Expected<std::vector<Workload>, Error> inventory(const std::optional<reference::Reference>& repository) override;
  /// Runs the program with the arguments and CASCADE_* variables for `new_image`; the result
  /// is healthy or failed (reason "cancelled" when a stop ended it; `policy` is unused). Fails
  /// (invalid) when `new_image` has no digest or the program cannot be started, (cancelled)
  /// when the stop was requested before it started.
  Expected<RolloutResult, Error> rollout(const Workload& workload, const reference::Reference& new_image,
                                         const RolloutPolicy& policy, const StepSink& record,
                                         std::stop_token stop) override;
  /// Nothing is ever left half-done by a command target: succeeds at once.
  Expected<void, Error> recover(const std::string& run_tag, const RolloutPolicy& policy,
                                const StepSink& record) override;

 private:
  explicit CommandTarget(CommandOptions options) : options_(std::move(options)) {}
  CommandOptions options_;
};

}  // namespace cascade::deploy
