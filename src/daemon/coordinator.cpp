// The coordinator: the daemon's queue in front of app::handle(). Triggers wait out their
// debounce window per key, then run one at a time; app::decide() says whether a trigger
// joins the run in progress (a notice of its own image and digest, or of an image it
// builds) or follows it. The sources are read again before a cascade is planned, and when
// idle every Config::fleet_refresh. At start, unfinished runs are finished and stored
// events nothing acted on are queued again. What a trigger comes to (settling its events,
// retrying a transient failure) is in coordinator_process.cpp.
#include <algorithm>
#include <iterator>
#include <sstream>

#include "internal.hpp"

namespace cascade::daemon {

Coordinator::Coordinator(app::Wiring& wiring, Config config, Metrics& metrics, Logger& log)
    : wiring_(wiring), config_(config), metrics_(metrics), log_(log) {
  view_.fleet = wiring_.fleet.get();
  view_.generation = 1;
  metrics_.set("cascade_broken_recipes", static_cast<double>(wiring_.fleet->broken.size()));
  metrics_.add("cascade_fleet_scans_total", {}, 0);
}

void Coordinator::add(Queued queued, std::chrono::milliseconds delay) {
  auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  if (app::decide(active_, queued.trigger) == app::Decision::join) {
    store::RunId run = active_->run;
    lock.unlock();
    for (auto event : queued.events)
      if (auto attached = wiring_.store->attach_event(event, run); !attached)
        log_.error("cannot attach an event to its run", {{"event", event}, {"run", run}, {"error", attached.error().message}});
    metrics_.add("cascade_triggers_total", {queued.trigger.actor, "joined"}, static_cast<double>(queued.events.size()));
    log_.info("trigger joined the running cascade",
              {{"image", queued.trigger.image}, {"run", run}, {"sender", queued.trigger.actor}});
    Answer outcome{202, run, "joined run " + std::to_string(run)};
    for (auto& done : queued.done) done(outcome);
    return;
  }
  std::string key = queued.trigger.key();
  auto [at, inserted] = waiting_.try_emplace(key, Waiting{{}, now, now + delay});
  Waiting& waiting = at->second;
  if (inserted) {
    waiting.queued = std::move(queued);
  } else {  // the same image again within the window: one cascade, of the newest digest
    auto& held = waiting.queued;
    if (queued.trigger.digest) held.trigger.digest = queued.trigger.digest;
    held.trigger.exact = held.trigger.exact || queued.trigger.exact;
    held.attempt = std::max(held.attempt, queued.attempt);
    if (queued.trigger.question) held.trigger.question = queued.trigger.question;  // the advisories as stored last
    held.events.insert(held.events.end(), queued.events.begin(), queued.events.end());
    for (auto& done : queued.done) held.done.push_back(std::move(done));
    waiting.due = std::min(now + delay, waiting.first + 5 * std::max(delay, std::chrono::milliseconds(1)));
  }
  metrics_.set("cascade_queue_depth", static_cast<double>(waiting_.size()));
  wake_.notify_all();
}

void Coordinator::wake() { wake_.notify_all(); }

std::size_t Coordinator::queued() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

std::optional<Coordinator::Active> Coordinator::active() const {
  std::lock_guard lock(mutex_);
  return active_;
}

FleetView Coordinator::fleet() const {
  std::lock_guard lock(mutex_);
  return view_;
}

std::size_t Coordinator::pending_events() const {
  std::lock_guard lock(mutex_);
  std::size_t events = 0;
  for (const auto& [key, waiting] : waiting_) events += waiting.queued.events.size();
  return events;
}

std::map<store::EventId, Coordinator::Retry> Coordinator::retrying() const {
  std::lock_guard lock(mutex_);
  return retrying_;
}

void Coordinator::run(std::stop_token stop, std::stop_token cancel) {
  cancel_ = cancel;
  std::stop_callback wake_on_stop(stop, [this] { wake_.notify_all(); });
  resume_unfinished(stop, cancel);
  update_behind();
  while (!stop.stop_requested()) {
    std::unique_lock lock(mutex_);
    auto ready = waiting_.end();
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it)
      if (ready == waiting_.end() || it->second.due < ready->second.due) ready = it;
    auto now = std::chrono::steady_clock::now();
    auto rescan_at = scanned_at_ + config_.fleet_refresh;  // idle: new recipes in git become known
    if (now >= rescan_at && (ready == waiting_.end() || ready->second.due > now)) {
      lock.unlock();
      refresh_fleet();
      continue;
    }
    if (ready == waiting_.end()) {
      wake_.wait_until(lock, rescan_at, [&] { return stop.stop_requested() || !waiting_.empty(); });
      continue;
    }
    if (ready->second.due > now) {
      wake_.wait_until(lock, std::min(ready->second.due, rescan_at));
      continue;
    }
    Queued queued = std::move(ready->second.queued);
    waiting_.erase(ready);
    metrics_.set("cascade_queue_depth", static_cast<double>(waiting_.size()));
    lock.unlock();
    process(queued, stop, cancel);
  }
}

void Coordinator::resume_unfinished(std::stop_token stop, std::stop_token cancel) {
  std::vector<store::RunId> runs;
  if (auto unfinished = wiring_.store->unfinished_runs())
    for (const auto& run : *unfinished) runs.push_back(run.id);
  if (auto recent = wiring_.store->list_runs(50))
    for (const auto& run : *recent)
      if (run.state == store::RunState::interrupted && run.trigger.kind != store::TriggerKind::cli &&
          std::find(runs.begin(), runs.end(), run.id) == runs.end())
        runs.push_back(run.id);
  for (auto id : runs) {
    if (stop.stop_requested()) return;
    auto stored = wiring_.store->get_run(id);
    if (!stored) continue;
    Queued queued;
    queued.trigger.action = app::Trigger::Action::resume;
    queued.trigger.run = id;
    queued.trigger.source = stored->trigger.kind;
    queued.trigger.actor = stored->trigger.actor;
    queued.trigger.image = stored->trigger.image;  // what a notice joining the run is compared with
    queued.trigger.digest = stored->trigger.digest;
    log_.info("resuming an unfinished run", {{"run", id}, {"trigger", stored->trigger.image}});
    process(queued, stop, cancel);
  }
  requeue_pending();
}

namespace {

/// The trigger a stored event (not a fix: requeue_fix) asks for again.
app::Trigger::Action requeued_action(store::EventAction action) {
  switch (action) {
    case store::EventAction::patch: return app::Trigger::Action::patch;
    case store::EventAction::rebuild: return app::Trigger::Action::rebuild;
    case store::EventAction::refresh: return app::Trigger::Action::refresh;
    case store::EventAction::scan: return app::Trigger::Action::scan;
    case store::EventAction::fix: return app::Trigger::Action::fix;
  }
  return app::Trigger::Action::patch;
}

}  // namespace

void Coordinator::requeue_pending() {
  load_retries();
  std::map<store::EventId, Retry> kept;
  if (auto pending = wiring_.store->pending_events())
    for (const auto& event : *pending) {
      if (event.source == store::TriggerKind::schedule) continue;  // the scheduler replays its unsettled firings
      if (event.action == store::EventAction::fix) {
        requeue_fix(event);
        continue;
      }
      Queued queued;
      queued.trigger.action = requeued_action(event.action);
      queued.trigger.source = event.source;
      queued.trigger.actor = event.sender;
      queued.trigger.image = event.image;
      queued.trigger.digest = event.digest;
      queued.trigger.globs = event.globs;
      // POST /api/patch stores its query as asked ("IMAGE@sha256:..."): patched exactly, as
      // before the restart, never swapped for what the tag points at now.
      queued.trigger.exact = event.action == store::EventAction::patch && event.source == store::TriggerKind::api;
      queued.events = {event.id};
      auto delay = config_.debounce;
      if (auto retry = retrying_.find(event.id); retry != retrying_.end()) {
        kept.insert(*retry);
        queued.attempt = retry->second.attempt;
        auto left = retry->second.due - std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
        delay = std::clamp<std::chrono::milliseconds>(left, std::chrono::milliseconds(0), kRetryMaxDelay);
      }
      add(std::move(queued), delay);
    }
  {
    std::lock_guard lock(mutex_);
    retrying_ = std::move(kept);  // settled meanwhile: forgotten
  }
  save_retries();
}

void Coordinator::refresh_fleet() {
  fleet::Options options;
  options.partial = true;  // a bad Dockerfile breaks its recipe, not the daemon's view of the fleet
  options.stop = cancel_;   // a fetch from a git server that stalls ends when the stop cancels
  ++fleet_scans_;
  metrics_.add("cascade_fleet_scans_total");
  {
    std::lock_guard lock(mutex_);
    scanned_at_ = std::chrono::steady_clock::now();
  }
  auto current = wiring_.fleet.get();
  auto scanned = fleet::scan(current->pipeline, options);
  if (!scanned) {
    log_.error("cannot read the fleet; keeping the last good graph",
               {{"problem", scanned.error().empty() ? "" : scanned.error().front().str()}});
    return;
  }
  bool changed = scanned->graph.recipes().size() != current->graph.recipes().size();
  for (std::size_t i = 0; !changed && i < scanned->sources.size() && i < current->sources.size(); ++i)
    changed = scanned->sources[i].commit != current->sources[i].commit;
  if (!changed) return;
  scanned->pipeline = current->pipeline;  // the pipeline file as the daemon started with it
  for (const auto& broken : scanned->broken)
    log_.error("broken recipe: left out of the graph until its Dockerfile is fixed",
               {{"image", broken.image}, {"source", broken.source}, {"dockerfile", broken.dockerfile},
                {"problem", broken.problem.str()}});
  metrics_.set("cascade_broken_recipes", static_cast<double>(scanned->broken.size()));
  wiring_.fleet.set(std::move(*scanned));  // readers holding the old snapshot keep it until they let go
  std::lock_guard lock(mutex_);
  view_.fleet = wiring_.fleet.get();
  ++view_.generation;
  log_.info("the fleet changed in git; graph rescanned", {{"generation", view_.generation}});
}

}  // namespace cascade::daemon
