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
  for (const auto& worker : workers) states_.push_back({&worker, 0, {}, {}});
}

std::optional<std::size_t> WorkerPool::take(const graph::WorkerChoice& choice, const std::vector<std::string>& parents) {
  std::optional<std::size_t> best;
  bool best_local = false;
  for (std::size_t i = 0; i < states_.size(); ++i) {
    const State& state = states_[i];
    if (!matches(*state.worker, choice) || !up(state) || state.running >= state.worker->capacity) continue;
    bool local = prefer_parents_ && std::find(parents.begin(), parents.end(), state.worker->name) != parents.end();
    std::size_t free = state.worker->capacity - state.running;
    if (!best || (local && !best_local) ||
        (local == best_local && free > states_[*best].worker->capacity - states_[*best].running)) {
      best = i;
      best_local = local;
    }
  }
  if (best) {
    ++states_[*best].running;
    if (best_local) ++local_parent_hits_;
  }
  return best;
}

void WorkerPool::release(std::size_t index) {
  if (states_[index].running > 0) --states_[index].running;
}

void WorkerPool::mark_down(std::size_t index, const std::string& reason) {
  states_[index].down_until = Clock::now() + down_for_;
  states_[index].down_reason = reason;
}

std::optional<std::string> WorkerPool::unplaceable(const graph::WorkerChoice& choice) const {
  std::string why;
  for (const auto& state : states_) {
    if (!matches(*state.worker, choice)) continue;
    if (up(state)) return std::nullopt;
    why += (why.empty() ? "" : "; ") + state.worker->name + " is down (" + state.down_reason + ")";
  }
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
