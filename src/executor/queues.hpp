// The two queues a run's loop drives. The build queue holds the plan's scheduler (longest
// remaining path first), the digests pushed in this run (each child builds on its parents'
// exact digests) and the blocked chains recorded when a build fails; the deploy queue holds
// the rollouts waiting for one of a bounded number of slots. Each has small start and
// complete methods; neither starts a thread or waits: executor.cpp does.
#pragma once

#include <cstddef>
#include <deque>
#include <utility>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cascade/executor.hpp"
#include "pool.hpp"
#include "rollout.hpp"
#include "step.hpp"

namespace cascade::executor::detail {

/// A store write refused: what it was and why (the run stops on it).
using StoreError = std::optional<std::string>;

class BuildQueue {
 public:
  /// `tasks`: the run's tasks as stored (pending, or final when resumed); `durations`: the
  /// expected seconds per image, for the longest-path choice.
  BuildQueue(const Services& services, const graph::Graph& graph, const plan::Plan& plan, store::RunId run,
             std::string run_dir, std::map<std::string, store::Task> tasks, const std::map<std::string, double>& durations);

  /// Records the plan's skipped steps still pending in the store.
  [[nodiscard]] StoreError record_skips();
  /// The next step to build, with its inputs and the worker `pool` gave it, now running;
  /// nullopt when none is ready or no worker is free for the ready ones. A step pushed
  /// before a resume is finished on the way and handed to `pushed`; a step no worker can
  /// take (every matching one down) fails, and `error` says when that could not be recorded.
  std::optional<StepInput> start(const std::function<void(const std::string& image, const std::string& digest)>& pushed,
                                 WorkerPool& pool, StoreError& error);
  /// A started step's worker went away: the step is ready again, for another worker.
  void requeue(const StepInput& input) { scheduler_.requeue(input.index); }
  /// A build ended. A failure blocks its descendants (recorded with the chain that reaches
  /// each); a cancelled build or a refused write leaves them pending, for a resume.
  [[nodiscard]] StoreError complete(const StepInput& input, const StepResult& result);

  std::size_t running() const { return scheduler_.running(); }
  bool done() const { return scheduler_.done(); }
  bool any_failed() const { return any_failed_; }
  bool cancelled() const { return cancelled_; }

 private:
  /// "failed -> child -> ... -> step": how the failure reaches a blocked step.
  std::string chain(std::size_t failed, std::size_t step) const;
  [[nodiscard]] StoreError record_blocked(std::size_t failed);
  /// A step pushed before a resume: finished without a build.
  bool finish_pushed_before(std::size_t index,
                            const std::function<void(const std::string& image, const std::string& digest)>& pushed,
                            WorkerPool& pool);
  /// A step no worker can take: failed, its descendants blocked.
  [[nodiscard]] StoreError fail_unplaceable(std::size_t index, const std::string& why);
  StepInput input_for(std::size_t index, std::size_t worker) const;

  const Services& services_;
  const graph::Graph& graph_;
  const plan::Plan& plan_;
  store::RunId run_;
  std::string run_dir_;
  std::map<std::string, store::Task> tasks_;
  plan::Scheduler scheduler_;
  std::map<std::string, std::string> digest_of_;  // image -> digest pushed in this run
  std::vector<bool> reported_;                    // blocked steps already recorded
  bool any_failed_ = false;
  bool cancelled_ = false;
};

/// A rollout waiting for a slot.
struct PendingDeploy {
  std::string image;
  std::string digest;
  const Deployment* deployment = nullptr;
};

class DeployQueue {
 public:
  DeployQueue(const std::map<std::string, std::vector<Deployment>>& deployments, std::size_t max_parallel)
      : deployments_(deployments), max_parallel_(std::max<std::size_t>(1, max_parallel)) {}

  /// Queues a rollout of image@digest to every workload that runs `image` (a held deployment
  /// goes aside for take_held(), unless the workload runs the digest already).
  void add(const std::string& image, const std::string& digest);
  /// The held deployments added since the last call.
  std::vector<PendingDeploy> take_held() { return std::exchange(held_, {}); }
  /// The next rollout, now running, when a slot is free; nullopt otherwise.
  std::optional<PendingDeploy> start();
  void complete(const executor::RolloutOutcome& outcome);

  std::size_t running() const { return running_; }
  bool waiting() const { return !queue_.empty(); }
  bool any_failed() const { return any_failed_; }

 private:
  const std::map<std::string, std::vector<Deployment>>& deployments_;
  std::size_t max_parallel_;
  std::deque<PendingDeploy> queue_;
  std::vector<PendingDeploy> held_;
  std::size_t running_ = 0;
  bool any_failed_ = false;
};

}  // namespace cascade::executor::detail
