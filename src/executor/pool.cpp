// The build workers of a run (see pool.hpp).
#include "pool.hpp"

#include <algorithm>

namespace cascade::executor {

bool matches(const Worker& worker, const graph::WorkerChoice& choice) {
  if (!choice.name.empty() && choice.name != worker.name) return false;
  for (const auto& [key, value] : choice.labels) {
    auto found = worker.labels.find(key);
    if (found == worker.labels.end() || found->second != value) return false;
  }
  return true;
}

}  // namespace cascade::executor

namespace cascade::executor::detail {

WorkerPool::WorkerPool(const std::vector<Worker>& workers, std::chrono::milliseconds down_for, bool prefer_parents)
    : down_for_(down_for), prefer_parents_(prefer_parents) {
  for (const auto& worker : workers) states_.push_back({&worker, 0, {}, {}, {}});
}

bool WorkerPool::can(const Worker& worker, BuildNeeds needs) {
  return (!needs.multi_platform || worker.multi_platform) && (!needs.tests || worker.runs_tests);
}

std::size_t WorkerPool::missing(const State& state, const std::vector<std::string>& parents) const {
  std::size_t count = 0;
  for (const auto& parent : parents) count += state.holds.count(parent) ? 0 : 1;
  return count;
}

std::optional<std::size_t> WorkerPool::take(const graph::WorkerChoice& choice, const std::string& image,
                                            const std::vector<std::string>& parents, BuildNeeds needs) {
  std::optional<std::size_t> best;
  std::size_t best_missing = 0, best_free = 0;
  for (std::size_t i = 0; i < states_.size(); ++i) {
    const State& state = states_[i];
    if (!matches(*state.worker, choice) || !can(*state.worker, needs) || !up(state) ||
        state.running >= state.worker->capacity)
      continue;
    std::size_t miss = prefer_parents_ ? missing(state, parents) : 0;
    std::size_t free = state.worker->capacity - state.running;
    if (!best || miss < best_missing || (miss == best_missing && free > best_free)) {
      best = i;
      best_missing = miss;
      best_free = free;
    }
  }
  if (!best) return std::nullopt;
  State& chosen = states_[*best];
  ++chosen.running;
  parent_pulls_ += missing(chosen, parents);
  chosen.holds.insert(parents.begin(), parents.end());
  chosen.holds.insert(image);
  return best;
}

void WorkerPool::hold(const std::string& name, const std::string& image) {
  for (auto& state : states_)
    if (state.worker->name == name) state.holds.insert(image);
}

void WorkerPool::release(std::size_t index) {
  if (states_[index].running > 0) --states_[index].running;
}

void WorkerPool::mark_down(std::size_t index, const std::string& reason) {
  states_[index].down_until = Clock::now() + down_for_;
  states_[index].down_reason = reason;
}

std::optional<std::string> WorkerPool::unplaceable(const graph::WorkerChoice& choice, BuildNeeds needs) const {
  std::string why;
  bool any_match = false;
  for (const auto& state : states_) {
    if (!matches(*state.worker, choice)) continue;
    any_match = true;
    if (!can(*state.worker, needs)) continue;
    if (up(state)) return std::nullopt;
    why += (why.empty() ? "" : "; ") + state.worker->name + " is down (" + state.down_reason + ")";
  }
  if (why.empty() && any_match && needs.multi_platform)
    return "it is built for several platforms, and no worker its builder choice matches pushes an image index "
           "(docker and buildkit workers build one platform): give it a buildah worker";
  if (why.empty() && any_match && needs.tests)
    return "it has `test:` commands, and no worker its builder choice matches can run the image before the push "
           "(buildkit workers push from inside BuildKit): give it a buildah or docker worker";
  if (why.empty()) return "no worker matches its builder choice";
  return why;
}

std::size_t WorkerPool::capacity() const {
  std::size_t total = 0;
  for (const auto& state : states_) total += state.worker->capacity;
  return total;
}

std::size_t WorkerPool::running() const {
  std::size_t total = 0;
  for (const auto& state : states_) total += state.running;
  return total;
}

}  // namespace cascade::executor::detail
