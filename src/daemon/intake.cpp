// Group commit of trigger events: every delivery that arrives while a commit runs joins the
// next commit, so a burst of webhooks costs one disk sync per group, not one per delivery,
// and each sender is still answered only after its events are durable. RecentDeliveries
// holds the webhook deliveries of the last seconds, the window their dedupe looks back over.
#include "internal.hpp"

namespace cascade::daemon {

namespace {
constexpr std::size_t kMaxGroup = 512;  // events per transaction
}

Intake::Intake(store::Store& store) : store_(store), thread_([this] { loop(); }) {}

Intake::~Intake() { stop(); }

void Intake::submit(std::vector<store::Event> events, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.emplace_back(std::move(events), std::move(done));
      wake_.notify_one();
      return;
    }
  }
  done(unexpected(store::Error{store::ErrorCode::io, "the daemon is stopping"}));
}

void Intake::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Intake::loop() {
  for (;;) {
    std::vector<std::pair<std::vector<store::Event>, Done>> group;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      std::size_t events = 0, taken = 0;
      while (taken < queue_.size() && (taken == 0 || events + queue_[taken].first.size() <= kMaxGroup))
        events += queue_[taken++].first.size();
      group.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + taken));
      queue_.erase(queue_.begin(), queue_.begin() + taken);
    }
    std::vector<store::Event> all;
    for (auto& [events, done] : group) all.insert(all.end(), events.begin(), events.end());
    auto recorded = store_.record_events(all);
    ++commits_;
    std::size_t offset = 0;
    for (auto& [events, done] : group) {
      if (!recorded) {
        done(unexpected(recorded.error()));
        continue;
      }
      std::vector<store::RecordedEvent> mine(recorded->begin() + offset, recorded->begin() + offset + events.size());
      offset += events.size();
      done(std::move(mine));
    }
  }
}

}  // namespace cascade::daemon

namespace cascade::daemon {

bool RecentDeliveries::first_time(const std::string& key, std::chrono::steady_clock::duration window) {
  auto now = Clock::now();
  std::lock_guard lock(mutex_);
  while (!by_expiry_.empty() && (by_expiry_.begin()->first <= now || by_expiry_.size() >= kMaxRecentDeliveries)) {
    expiry_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
  if (expiry_.count(key)) return false;
  expiry_.emplace(key, now + window);
  by_expiry_.emplace(now + window, key);
  return true;
}

void RecentDeliveries::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto found = expiry_.find(key);
  if (found == expiry_.end()) return;
  auto [first, last] = by_expiry_.equal_range(found->second);
  for (auto it = first; it != last; ++it)
    if (it->second == key) {
      by_expiry_.erase(it);
      break;
    }
  expiry_.erase(found);
}

}  // namespace cascade::daemon
