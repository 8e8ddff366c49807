// The build workers of a run: how many builds each runs now, which are down and why, which
// images of this run each already holds (it built them, or built on them and so pulled
// them), and the choice of a worker for a ready build: one that matches the recipe's
// graph::WorkerChoice, has a free slot and is up; among those, the one missing the fewest of
// the build's parents (each missing parent is a pull), then the one with the most free
// slots, then the first declared.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cascade/executor.hpp"

namespace cascade::executor::detail {

/// What a build asks of its worker beyond its builder choice.
struct BuildNeeds {
  bool multi_platform = false;  // several platforms: only a worker whose builder pushes an index
  bool tests = false;           // `test:` commands: only a worker that can run the image before the push
};

class WorkerPool {
 public:
  using Clock = std::chrono::steady_clock;

  WorkerPool(const std::vector<Worker>& workers, std::chrono::milliseconds down_for, bool prefer_parents = true);

  /// A worker for the build of `image` asking for `choice`, now counted as running one more
  /// build and holding `image` and `parents` (the images of this run it is built on);
  /// nullopt when every matching worker is busy or down. `needs`: only a worker that can do
  /// what the build needs matches (see BuildNeeds).
  std::optional<std::size_t> take(const graph::WorkerChoice& choice, const std::string& image,
                                  const std::vector<std::string>& parents, BuildNeeds needs = {});
  /// Worker `name` holds `image` (built before a resume).
  void hold(const std::string& name, const std::string& image);
  /// The build on worker `index` ended.
  void release(std::size_t index);
  /// Worker `index` failed for an infrastructure reason: no build goes to it for a while.
  void mark_down(std::size_t index, const std::string& reason);
  /// Why no worker can ever take a build asking for `choice` right now: every matching
  /// worker is down (with each one's reason); nullopt when one is up.
  std::optional<std::string> unplaceable(const graph::WorkerChoice& choice, BuildNeeds needs = {}) const;

  const Worker& worker(std::size_t index) const { return *states_[index].worker; }
  std::size_t capacity() const;  // builds at once over every worker
  std::size_t running() const;
  /// Parents of this run's builds their worker did not hold yet: the pulls placement caused.
  std::size_t parent_pulls() const { return parent_pulls_; }

 private:
  static bool can(const Worker& worker, BuildNeeds needs);
  struct State {
    const Worker* worker = nullptr;
    std::size_t running = 0;
    Clock::time_point down_until{};
    std::string down_reason;
    std::set<std::string> holds;  // images of this run in its storage
  };
  std::size_t missing(const State& state, const std::vector<std::string>& parents) const;
  bool up(const State& state) const { return Clock::now() >= state.down_until; }

  std::vector<State> states_;
  std::chrono::milliseconds down_for_;
  bool prefer_parents_;
  std::size_t parent_pulls_ = 0;
};

}  // namespace cascade::executor::detail
