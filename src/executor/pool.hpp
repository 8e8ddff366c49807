// The build workers of a run: how many builds each runs now, which are down and why, and
// the choice of a worker for a ready build (one that matches the recipe's graph::WorkerChoice,
// has a free slot and is up; the one that built a parent in this run first, since the
// parent's layers are already in its storage; else the one with the most free slots).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "cascade/executor.hpp"

namespace cascade::executor::detail {

class WorkerPool {
 public:
  using Clock = std::chrono::steady_clock;

  WorkerPool(const std::vector<Worker>& workers, std::chrono::milliseconds down_for, bool prefer_parents = true);

  /// A worker for a build asking for `choice`, now counted as running one more build;
  /// nullopt when every matching worker is busy or down. `parents`: the workers that
  /// built the step's parents in this run (preferred, in that order).
  std::optional<std::size_t> take(const graph::WorkerChoice& choice, const std::vector<std::string>& parents);
  /// The build on worker `index` ended.
  void release(std::size_t index);
  /// Worker `index` failed for an infrastructure reason: no build goes to it for a while.
  void mark_down(std::size_t index, const std::string& reason);
  /// Why no worker can ever take a build asking for `choice` right now: every matching
  /// worker is down (with each one's reason); nullopt when one is up.
  std::optional<std::string> unplaceable(const graph::WorkerChoice& choice) const;

  const Worker& worker(std::size_t index) const { return *states_[index].worker; }
  std::size_t capacity() const;  // builds at once over every worker
  std::size_t running() const;
  /// Builds placed on a worker that built one of their parents in this run.
  std::size_t local_parent_hits() const { return local_parent_hits_; }

 private:
  struct State {
    const Worker* worker = nullptr;
    std::size_t running = 0;
    Clock::time_point down_until{};
    std::string down_reason;
  };
  bool up(const State& state) const { return Clock::now() >= state.down_until; }

  std::vector<State> states_;
  std::chrono::milliseconds down_for_;
  bool prefer_parents_;
  std::size_t local_parent_hits_ = 0;
};

}  // namespace cascade::executor::detail
