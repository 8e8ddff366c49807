// What a trigger comes to in the daemon: app::handle() plans and runs it; here its events
// are attached to the run or settled with the reason, a transient failure keeps them
// pending and retries with backoff (persisted, a restart continues), the callers waiting
// on it hear the outcome, and the metrics and log say what happened.
#include <algorithm>
#include <sstream>

#include "internal.hpp"
#include "status.hpp"

namespace cascade::daemon {

namespace {

// The metric outcome of a patch that failed: a malformed reference, an image the fleet
// does not build on, or a failure.
std::string_view patch_failure_of(const fleet::Fleet& fleet, const app::Trigger& trigger) {
  auto ref = reference::parse(trigger.image);
  if (!ref) return "malformed";
  return fleet.graph.match(*ref).empty() ? "not_in_fleet" : "failed";
}

}  // namespace

void Coordinator::process(Queued& queued, std::stop_token stop, std::stop_token cancel) {
  using Result = app::Handled::Result;
  auto started_at = std::chrono::steady_clock::now();
  bool ran = false;
  auto options = handle_options(queued, stop, cancel);
  auto on_run = options.run.on_run;
  options.run.on_run = [&](store::RunId run, const app::PlannedPatch& planned) {
    ran = true;
    on_run(run, planned);
  };
  auto handled = app::handle(wiring_, queued.trigger, options);
  if (ran) {
    std::lock_guard lock(mutex_);
    active_.reset();
  }
  if (ran) metrics_.set("cascade_runs_active", 0);
  if (!handled) {
    const auto& failure = handled.error();
    if (ran) log_.error("run failed", {{"trigger", queued.trigger.label()}, {"error", failure.message}});
    if (queued.trigger.action == app::Trigger::Action::resume)
      return log_.error("cannot resume run", {{"run", queued.trigger.run}, {"error", failure.message}});
    bool patch = queued.trigger.action == app::Trigger::Action::patch;
    if (failure.transient() && patch && !queued.trigger.exact) return retry_later(queued, failure.message);
    return settle(queued, {http_status(failure), {}, failure.message}, patch ? patch_failure_of(*wiring_.fleet.get(), queued.trigger) : "failed");
  }
  for (const auto& line : handled->unfixed)
    log_.warn("fix: not fixed upstream yet", {{"question", queued.trigger.label()}, {"base", line}});
  for (const auto& [subject, why] : handled->problems)
    log_.warn("cannot check", {{"subject", subject}, {"reason", why}});
  switch (handled->result) {
    case Result::ran: {
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
      std::string state(store::to_string(handled->run->state));
      if (handled->run->state == store::RunState::awaiting) {  // counted when the releaser ends it
        log_.info("run awaits its release", {{"run", handled->run->run}, {"waiting", handled->run->waiting},
                                             {"seconds", seconds}});
        update_behind();
        return;
      }
      metrics_.add("cascade_runs_total", {state});
      metrics_.observe("cascade_run_duration_seconds", seconds);
      log_.info("run finished", {{"run", handled->run->run}, {"state", state}, {"seconds", seconds}});
      update_behind();
      return;
    }
    case Result::up_to_date:
      return settle(queued, {200, handled->by, handled->message, handled->unfixed}, "up_to_date");
    case Result::done:
      if (queued.trigger.action == app::Trigger::Action::refresh)
        return follow_up(queued, std::move(handled->follow_ups), handled->message);
      return settle(queued, {200, {}, handled->message}, handled->problems.empty() ? "scanned" : "scanned_partly");
  }
}

app::HandleOptions Coordinator::handle_options(Queued& queued, std::stop_token stop, std::stop_token cancel) {
  app::HandleOptions options;
  options.deploy = config_.deploy;
  options.refresh_fleet = [this] { refresh_fleet(); };
  options.may_retry = !queued.events.empty() && !queued.trigger.exact;
  options.attempt = queued.attempt;
  options.catch_up_tries = kTagCatchUpTries;
  options.note = [this, &queued](const std::string& note) {
    log_.info(note, {{"image", queued.trigger.label()}, {"sender", queued.trigger.actor}});
  };
  auto finishing = std::make_shared<bool>(false);
  options.finishing = [finishing](store::RunId) { *finishing = true; };
  auto& run = options.run;
  run.parallel = config_.parallel;
  run.deploy = config_.deploy;
  run.kind = queued.trigger.source;
  run.actor = queued.trigger.actor;
  run.stop = stop;
  run.cancel = cancel;
  run.progress = [this](const executor::Progress& progress) { on_progress(progress); };
  bool resuming = queued.trigger.action == app::Trigger::Action::resume;
  run.on_run = [this, &queued, finishing, resuming](store::RunId id, const app::PlannedPatch& planned) {
    started(queued, id, planned, resuming || *finishing);
  };
  return options;
}

void Coordinator::started(Queued& queued, store::RunId run, const app::PlannedPatch& planned, bool finishing) {
  Active active{run, queued.trigger.image, queued.trigger.digest, {}};
  if (queued.trigger.action == app::Trigger::Action::patch && !queued.trigger.exact && !planned.plan.trigger_digests.empty())
    active.digest = planned.plan.trigger_digests.begin()->second;  // the confirmed digest a notice cascades
  for (const auto& step : planned.plan.steps)
    if (step.action == plan::Action::build) active.images.insert(step.image);
  {
    std::lock_guard lock(mutex_);
    active_ = std::move(active);
  }
  metrics_.set("cascade_runs_active", 1);
  if (queued.trigger.action == app::Trigger::Action::resume) return;  // no events, nobody waiting
  for (auto event : queued.events)
    if (auto attached = wiring_.store->attach_event(event, run); !attached)
      log_.error("cannot attach an event to its run", {{"event", event}, {"run", run}, {"error", attached.error().message}});
  forget_retries(queued.events);
  metrics_.add("cascade_triggers_total", {queued.trigger.actor, "cascaded"}, std::max<double>(1, queued.events.size()));
  log_.info("run started", {{"run", run}, {"trigger", planned.origin.query}, {"sender", queued.trigger.actor},
                            {"steps", planned.plan.steps.size()}});
  Answer outcome{202, run, (finishing ? "finishing run " : "started run ") + std::to_string(run), planned.unfixed};
  for (auto& done : queued.done) done(outcome);
  queued.done.clear();
}

void Coordinator::follow_up(Queued& queued, std::vector<app::Trigger> patches, const std::string& message) {
  log_.info("refresh: resolved the external bases", {{"schedule", queued.trigger.actor}, {"changed", patches.size()}});
  std::vector<Queued> follow_ups;
  for (auto& patch : patches) follow_ups.push_back(Queued{std::move(patch), {}, 0, {}});
  if (!follow_ups.empty() && !queued.events.empty()) {
    auto left = std::make_shared<std::atomic<std::size_t>>(follow_ups.size());
    for (auto& follow : follow_ups)
      follow.done.push_back([this, left, events = queued.events, message](const Answer&) {
        if (--*left == 0 && !cancel_.stop_requested())
          for (auto event : events)
            if (auto settled = wiring_.store->settle_event(event, message); !settled)
              log_.error("cannot settle a firing", {{"event", event}, {"error", settled.error().message}});
      });
    queued.events.clear();
  }
  settle(queued, {200, {}, message}, follow_ups.empty() ? "up_to_date" : "cascaded");
  for (auto& follow : follow_ups) add(std::move(follow), std::chrono::milliseconds(0));
}

void Coordinator::on_progress(const executor::Progress& progress) {
  using K = executor::Progress::Kind;
  if (!progress.worker.empty()) {
    if (progress.kind == K::pushed) metrics_.add("cascade_worker_builds_total", {progress.worker, "pushed"});
    if (progress.kind == K::failed) metrics_.add("cascade_worker_builds_total", {progress.worker, "failed"});
    if (progress.kind == K::retrying && progress.detail.rfind("worker ", 0) == 0)
      metrics_.add("cascade_worker_builds_total", {progress.worker, "unavailable"});
  }
  switch (progress.kind) {
    case K::pushed:
      metrics_.add("cascade_builds_total", {"pushed"});
      metrics_.observe("cascade_build_duration_seconds", progress.seconds);
      break;
    case K::failed:
      metrics_.add("cascade_builds_total", {"failed"});
      metrics_.observe("cascade_build_duration_seconds", progress.seconds);
      break;
    case K::skipped: metrics_.add("cascade_builds_total", {"skipped"}); break;
    case K::blocked: metrics_.add("cascade_builds_total", {"blocked"}); break;
    case K::deployed: metrics_.add("cascade_deploys_total", {"healthy"}); break;
    case K::rolled_back: metrics_.add("cascade_deploys_total", {"rolled_back"}); break;
    default: break;
  }
  static const char* names[] = {"build started", "build retried", "pushed",   "build failed", "blocked",
                                "skipped",       "interrupted",   "deploying", "deployed",    "rolled back",
                                "verified",      "still vulnerable", "the state store refused a write",
                                "pruned builder storage", "rollout held for release"};
  static_assert(std::size(names) == static_cast<std::size_t>(executor::Progress::Kind::held) + 1);
  if (progress.kind == K::store_error) {
    log_.error(names[static_cast<int>(progress.kind)], {{"image", progress.image}, {"detail", progress.detail}});
    return;
  }
  if (progress.worker.empty())
    log_.info(names[static_cast<int>(progress.kind)],
              {{"image", progress.image}, {"detail", progress.detail}, {"seconds", progress.seconds}});
  else
    log_.info(names[static_cast<int>(progress.kind)], {{"image", progress.image},
                                                       {"detail", progress.detail},
                                                       {"seconds", progress.seconds},
                                                       {"worker", progress.worker}});
}

void Coordinator::requeue_fix(const store::Event& event) {
  std::optional<app::PackageQuestion> question;
  std::string why = "it names no advisory";  // no ids would ask for every stored advisory
  if (!event.advisories.empty()) {
    auto stored = stored_advisories(*wiring_.store, event.advisories);
    if (!stored) why = stored.error().message;
    else if (!*stored) why = "its advisories are no longer stored";
    else question = std::move(**stored);
  }
  if (!question) {
    if (auto settled = wiring_.store->settle_event(event.id, "not resumed: " + why + "; POST /api/advisories again");
        !settled)
      log_.error("cannot settle an event", {{"event", event.id}, {"error", settled.error().message}});
    return;
  }
  Queued queued;
  queued.trigger.action = app::Trigger::Action::fix;
  queued.trigger.source = event.source;
  queued.trigger.actor = event.sender;
  queued.trigger.image = event.image;
  queued.trigger.question = std::make_shared<const app::PackageQuestion>(std::move(*question));
  queued.events = {event.id};
  add(std::move(queued), std::chrono::milliseconds(0));
}

void Coordinator::settle(Queued& queued, Answer outcome, std::string_view metric_outcome) {
  // An event joins a run only when that run acts on it; otherwise it is settled with the
  // reason (an up-to-date notice names the run that made it so in the reason, not as a join).
  // Once the daemon cancels (its stop grace is over), an outcome may be the cancellation's
  // doing: the events stay pending, and the next start acts on them again.
  bool interrupted = cancel_.stop_requested() && !(outcome.status == 202 && outcome.run);
  const app::Trigger& trigger = queued.trigger;
  if (interrupted) log_.info("trigger interrupted by the stop; the next start takes it up again",
                             {{"image", trigger.label()}, {"sender", trigger.actor}});
  for (auto event : queued.events) {
    if (interrupted) break;
    auto written = outcome.status == 202 && outcome.run ? wiring_.store->attach_event(event, *outcome.run)
                                                        : wiring_.store->settle_event(event, outcome.message);
    if (!written)  // the event stays pending: the next start acts on it again
      log_.error("cannot settle an event", {{"event", event}, {"error", written.error().message}});
  }
  forget_retries(queued.events);
  metrics_.add("cascade_triggers_total", {trigger.actor, std::string(metric_outcome)},
               std::max<double>(1, queued.events.size()));
  log_.write(outcome.status >= 400 ? "warn" : "info", "trigger settled",
             {{"image", trigger.label()}, {"sender", trigger.actor}, {"outcome", outcome.message}});
  for (auto& done : queued.done) done(outcome);
  queued.done.clear();
}

void Coordinator::retry_later(Queued& queued, const std::string& reason) {
  if (queued.trigger.exact || queued.events.empty() || queued.attempt + 1 >= kRetryAttempts) {
    std::string why = queued.attempt > 0 ? reason + " (gave up after " + std::to_string(queued.attempt + 1) + " tries)"
                                         : reason;
    return settle(queued, {502, {}, why}, "failed");
  }
  ++queued.attempt;
  auto delay = std::min<std::chrono::milliseconds>(kRetryFirstDelay * (1LL << std::min(queued.attempt - 1, 20)),
                                                   kRetryMaxDelay);
  auto due = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) + delay;
  {
    std::lock_guard lock(mutex_);
    for (auto event : queued.events) retrying_[event] = Retry{queued.attempt, due};
  }
  save_retries();
  metrics_.add("cascade_triggers_total", {queued.trigger.actor, "retried"}, static_cast<double>(queued.events.size()));
  log_.warn("transient failure: the trigger stays pending and is tried again",
            {{"image", queued.trigger.image}, {"sender", queued.trigger.actor}, {"attempt", queued.attempt},
             {"retry_in_seconds", std::chrono::duration<double>(delay).count()}, {"error", reason}});
  add(std::move(queued), delay);
}

void Coordinator::forget_retries(const std::vector<store::EventId>& events) {
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    for (auto event : events) changed = retrying_.erase(event) > 0 || changed;
  }
  if (changed) save_retries();
}

// The retry state is the setting "events.retrying": one line per event, "ID ATTEMPT DUE_MS"
// (DUE_MS: milliseconds since the epoch).
void Coordinator::save_retries() {
  std::ostringstream text;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [event, retry] : retrying_)
      text << event << ' ' << retry.attempt << ' ' << retry.due.time_since_epoch().count() << '\n';
  }
  if (auto saved = wiring_.store->put_setting("events.retrying", text.str()); !saved)
    log_.error("cannot store the retry state", {{"error", saved.error().message}});
}

void Coordinator::load_retries() {
  auto text = wiring_.store->get_setting("events.retrying");
  if (!text || !*text) return;
  std::istringstream lines(**text);
  std::map<store::EventId, Retry> loaded;
  store::EventId event = 0;
  long long attempt = 0, due_ms = 0;
  while (lines >> event >> attempt >> due_ms)
    loaded[event] = Retry{static_cast<int>(std::clamp<long long>(attempt, 0, kRetryAttempts)),
                          std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(due_ms))};
  std::lock_guard lock(mutex_);
  retrying_ = std::move(loaded);
}

void Coordinator::update_behind() {
  if (wiring_.fleet->pipeline.deploy.empty()) return;
  auto inventory = app::inventory_json(wiring_);
  if (!inventory) return;
  double behind = 0;
  for (const auto& target : (*inventory)["targets"])
    for (const auto& workload : target.value("workloads", nlohmann::json::array()))
      if (workload.value("behind", false)) ++behind;
  metrics_.set("cascade_workloads_behind", behind);
}

}  // namespace cascade::daemon
