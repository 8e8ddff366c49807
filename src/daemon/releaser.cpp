// The daemon's release control: the releaser moves awaiting runs on (approvals, windows,
// waves), the notifier delivers the stored notifications. Both read their work from the
// store, so a restart loses nothing.
#include <algorithm>

#include "cascade/notify.hpp"
#include "internal.hpp"

namespace cascade::daemon {

Releaser::Releaser(app::Wiring& wiring, Coordinator& coordinator, Metrics& metrics, Logger& log)
    : wiring_(wiring), coordinator_(coordinator), metrics_(metrics), log_(log) {}

void Releaser::wake() {
  std::lock_guard lock(mutex_);
  wake_ = true;
  woken_.notify_all();
}

void Releaser::run(std::stop_token stop, std::stop_token cancel) {
  while (!stop.stop_requested()) {
    auto next = std::chrono::system_clock::now() + kPoll;
    auto runs = wiring_.store->awaiting_runs();
    if (!runs) log_.error("cannot list the runs awaiting their release", {{"error", runs.error().message}});
    std::size_t awaiting = 0;
    for (const auto& run : runs ? *runs : std::vector<store::Run>{}) {
      if (stop.stop_requested()) break;
      app::RunOptions options;
      options.stop = stop;
      options.cancel = cancel;
      options.progress = [this](const executor::Progress& progress) { coordinator_.on_progress(progress); };
      auto result = app::advance_release(wiring_, run.id, options);
      if (!result) {
        if (result.error().kind != app::Failure::Kind::conflict)  // conflict: its own run is on it now
          log_.error("release pass failed", {{"run", run.id}, {"error", result.error().message}});
        continue;
      }
      if (result->state != store::RunState::awaiting) {
        log_.info("run released", {{"run", run.id}, {"state", store::to_string(result->state)}});
        metrics_.add("cascade_runs_total", {std::string(store::to_string(result->state))});
        told_.erase(run.id);
        continue;
      }
      ++awaiting;
      if (told_[run.id] != result->waiting) {
        log_.info("run awaits its release", {{"run", run.id}, {"waiting", result->waiting}});
        told_[run.id] = result->waiting;
      }
      if (result->wake)
        next = std::min(next, std::chrono::system_clock::time_point(result->wake->time_since_epoch()));
    }
    if (runs) metrics_.set("cascade_runs_awaiting", static_cast<double>(awaiting));
    std::unique_lock lock(mutex_);
    woken_.wait_until(lock, stop, next, [this] { return wake_; });
    wake_ = false;
  }
}

void Notifier::run(std::stop_token stop) {
  const auto& destinations = wiring_.fleet->pipeline.notify;
  if (destinations.empty()) return;
  notify::Deliverer deliverer(*wiring_.store, destinations);
  std::mutex mutex;
  std::condition_variable_any never;
  while (!stop.stop_requested()) {
    auto report = deliverer.deliver_due(stop);
    if (report.failed > 0)
      log_.warn("notifications not delivered; retrying with backoff",
                {{"delivered", report.delivered}, {"failed", report.failed}});
    // New notifications are looked for every second; while a destination is down and its
    // next try is later, the backlog is not read again before then (at most 30 s apart).
    auto pause = std::chrono::milliseconds(1000);
    if (report.failed > 0)
      if (auto due = deliverer.next_due()) {
        auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
        pause = std::clamp<std::chrono::milliseconds>(*due - now, std::chrono::milliseconds(1000), std::chrono::seconds(30));
      }
    std::unique_lock lock(mutex);
    never.wait_for(lock, stop, pause, [] { return false; });
  }
}

}  // namespace cascade::daemon
