// The coordinator: triggers wait out their debounce window per image, then run one at a
// time. A trigger for the image and digest being cascaded, or for an image the running run
// builds (the registry reporting cascade's own pushes), joins that run; any other trigger
// follows it. Before planning, a webhook's digest is confirmed with the registry: payloads
// are hints, and the tag may have moved on since. A scan (schedule) and an advisory's fix
// (POST /api/advisories with "patch": true) take the same queue, one at a time with the runs.
// A push is checked against the fleet as last scanned before anything else (an unknown image
// costs no git fetch); the sources are read again before a cascade is planned, and when idle
// every Config::fleet_refresh. A transient failure (registry unreachable, 5xx, 429) keeps the
// events pending and retries with backoff; only a permanent one settles them failed.
#include <algorithm>
#include <iterator>
#include <sstream>

#include "internal.hpp"

namespace cascade::daemon {

std::string Trigger::key() const {
  switch (kind) {
    case Kind::patch: return "patch:" + image;
    case Kind::refresh: return "refresh";
    case Kind::scan: return "scan";
    case Kind::fix: return "fix:" + (question ? question->label() : image);
    case Kind::rebuild: {
      std::string key = "rebuild:";
      for (const auto& glob : globs) key += glob + ",";
      return key;
    }
  }
  return image;
}

Coordinator::Coordinator(app::Wiring& wiring, Config config, Metrics& metrics, Logger& log)
    : wiring_(wiring), config_(config), metrics_(metrics), log_(log) {
  view_.fleet = std::make_shared<const fleet::Fleet>(wiring_.fleet);
  view_.generation = 1;
  metrics_.set("cascade_broken_recipes", static_cast<double>(wiring_.fleet.broken.size()));
  metrics_.add("cascade_fleet_scans_total", {}, 0);
}

void Coordinator::add(Trigger trigger, std::chrono::milliseconds delay) {
  auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  if (active_ && trigger.kind == Trigger::Kind::patch && !trigger.exact) {
    bool same = trigger.image == active_->image && (!trigger.digest || trigger.digest == active_->digest);
    if (same || active_->images.count(trigger.image)) {
      store::RunId run = active_->run;
      lock.unlock();
      for (auto event : trigger.events) (void)wiring_.store->attach_event(event, run);
      metrics_.add("cascade_triggers_total", {trigger.sender, "joined"}, static_cast<double>(trigger.events.size()));
      log_.info("trigger joined the running cascade", {{"image", trigger.image}, {"run", run}, {"sender", trigger.sender}});
      Outcome outcome{202, run, "joined run " + std::to_string(run)};
      for (auto& done : trigger.done) done(outcome);
      return;
    }
  }
  std::string key = trigger.key();
  auto [at, inserted] = waiting_.try_emplace(key, Waiting{{}, now, now + delay});
  Waiting& waiting = at->second;
  if (inserted) {
    waiting.trigger = std::move(trigger);
  } else {  // the same image again within the window: one cascade, of the newest digest
    auto& queued = waiting.trigger;
    if (trigger.digest) queued.digest = trigger.digest;
    queued.exact = queued.exact || trigger.exact;
    queued.attempt = std::max(queued.attempt, trigger.attempt);
    if (trigger.question) queued.question = trigger.question;  // the advisories as stored last
    queued.events.insert(queued.events.end(), trigger.events.begin(), trigger.events.end());
    for (auto& done : trigger.done) queued.done.push_back(std::move(done));
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
  for (const auto& [key, waiting] : waiting_) events += waiting.trigger.events.size();
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
    Trigger trigger = std::move(ready->second.trigger);
    waiting_.erase(ready);
    metrics_.set("cascade_queue_depth", static_cast<double>(waiting_.size()));
    lock.unlock();
    process(trigger, stop, cancel);
  }
}

void Coordinator::process(Trigger& trigger, std::stop_token stop, std::stop_token cancel) {
  switch (trigger.kind) {
    case Trigger::Kind::refresh: return process_refresh(trigger);
    case Trigger::Kind::scan: return process_scan(trigger);
    case Trigger::Kind::fix: return process_fix(trigger, stop, cancel);
    case Trigger::Kind::patch: return process_patch(trigger, stop, cancel);
    case Trigger::Kind::rebuild: {
      refresh_fleet();
      auto planned = app::plan_rebuild(wiring_, trigger.globs, config_.deploy);
      if (!planned) return settle(trigger, {http_status(planned.error()), {}, planned.error().message}, "failed");
      execute(trigger, *planned, stop, cancel);
      return;
    }
  }
}

void Coordinator::process_patch(Trigger& trigger, std::stop_token stop, std::stop_token cancel) {
  auto ref = reference::parse(trigger.image);
  if (!ref) return settle(trigger, {400, {}, "'" + trigger.image + "' is not an image reference"}, "malformed");
  if (trigger.exact) refresh_fleet();  // a person asked: the Dockerfiles as they are now
  // Against the fleet as last scanned: a notice of an unknown image costs no git fetch.
  if (wiring_.fleet.graph.match(*ref).empty())
    return settle(trigger, {400, {}, "no image in the fleet matches " + trigger.image}, "not_in_fleet");
  if (trigger.exact) {  // as the CLI does: the query, with its digest when it has one
    auto planned = app::plan_patch(wiring_, trigger.image, {}, config_.deploy);
    if (!planned) return settle(trigger, {http_status(planned.error()), {}, planned.error().message}, "failed");
    // As the CLI: an unfinished cascade of the same image and digest is finished, not repeated.
    execute(trigger, *planned, stop, cancel, app::unfinished_run_for(wiring_, *planned));
    return;
  }

  // A push notice is a hint: the registry says what the tag points at now.
  std::string digest;
  auto resolved = wiring_.registry->resolve_digest(ref->without_digest());
  if (resolved) {
    digest = *resolved;
    // docker-registry notifies a push before it moves the tag (found by bench/chaos): a tag
    // not yet at the notified digest is asked again (after 1 s, 2 s, 4 s) before the notice
    // counts as overtaken by a later push.
    if (trigger.digest && *trigger.digest != digest && trigger.attempt < kTagCatchUpTries && !trigger.events.empty())
      return retry_later(trigger, "the tag " + trigger.image + " is at " + digest.substr(0, 19) +
                                      ", not yet at the notified " + trigger.digest->substr(0, 19));
    if (trigger.digest && *trigger.digest != digest)
      log_.info("the tag moved on since the notice; cascading its current digest",
                {{"image", trigger.image}, {"reported", *trigger.digest}, {"current", digest}});
  } else if (resolved.error().transient()) {  // the registry is briefly away: the event waits
    return retry_later(trigger, "cannot resolve " + trigger.image + ": " + resolved.error().str());
  } else if (trigger.digest) {
    digest = *trigger.digest;
    log_.warn("cannot confirm the digest with the registry; using the reported one",
              {{"image", trigger.image}, {"error", resolved.error().str()}});
  } else {
    return settle(trigger, {502, {}, "cannot resolve " + trigger.image + ": " + resolved.error().str()}, "failed");
  }
  auto latest = wiring_.store->latest_digest(ref->without_digest().str());
  if (latest && *latest && (*latest)->digest == digest) {
    std::string by = (*latest)->run ? " (run " + std::to_string(*(*latest)->run) + ")" : "";
    Outcome outcome{200, (*latest)->run, trigger.image + " is already at " + digest.substr(0, 19) + by};
    return settle(trigger, outcome, "up_to_date");
  }
  refresh_fleet();  // a cascade is planned on the Dockerfiles as they are now
  if (wiring_.fleet.graph.match(*ref).empty())
    return settle(trigger, {400, {}, "no image in the fleet matches " + trigger.image}, "not_in_fleet");
  auto planned = app::plan_patch(wiring_, ref->without_digest().str() + "@" + digest, {}, config_.deploy);
  if (!planned && planned.error().transient()) return retry_later(trigger, planned.error().message);
  if (!planned) return settle(trigger, {http_status(planned.error()), {}, planned.error().message}, "failed");
  bool builds = std::any_of(planned->plan.steps.begin(), planned->plan.steps.end(),
                            [](const plan::Step& step) { return step.action == plan::Action::Build; });
  if (!builds) {
    (void)wiring_.store->record_digest(ref->without_digest().str(), digest, store::DigestSource::registry);
    return settle(trigger, {200, {}, "nothing to rebuild: every image is already built on " + digest.substr(0, 19)},
                  "up_to_date");
  }
  trigger.digest = digest;
  auto result = execute(trigger, *planned, stop, cancel);
  if (result && result->state == store::RunState::succeeded)  // the next notice of this digest is up to date
    (void)wiring_.store->record_digest(ref->without_digest().str(), digest, store::DigestSource::registry, result->run);
}

void Coordinator::process_refresh(Trigger& trigger) {
  refresh_fleet();
  const auto& graph = wiring_.fleet.graph;
  std::size_t changed = 0;
  std::vector<Trigger> patches;
  for (auto id : graph.external()) {
    const std::string& image = graph.node(id).image;
    auto ref = reference::parse(image);
    if (!ref || !ref->digest.empty()) continue;  // a base pinned by digest never changes
    auto digest = wiring_.registry->resolve_digest(*ref);
    if (!digest) {
      log_.warn("refresh: cannot resolve a base", {{"image", image}, {"error", digest.error().str()}});
      continue;
    }
    auto latest = wiring_.store->latest_digest(image);
    if (latest && *latest && (*latest)->digest == *digest) continue;
    ++changed;
    Trigger patch;
    patch.source = store::TriggerKind::schedule;
    patch.sender = trigger.sender;
    patch.image = image;
    patch.digest = *digest;
    patches.push_back(std::move(patch));
  }
  log_.info("refresh: resolved the external bases", {{"schedule", trigger.sender}, {"changed", changed}});
  std::string message = std::to_string(changed) + " bases changed";
  if (!patches.empty() && !trigger.events.empty()) {
    // The firing is settled when the last cascade it queued has started its run (resumable
    // from then on) or settled; until then a restart replays it.
    auto left = std::make_shared<std::atomic<std::size_t>>(patches.size());
    for (auto& patch : patches)
      patch.done.push_back([this, left, events = trigger.events, message](const Outcome&) {
        if (--*left == 0 && !cancel_.stop_requested())
          for (auto event : events) (void)wiring_.store->settle_event(event, message);
      });
    trigger.events.clear();
  }
  settle(trigger, {200, {}, message}, changed ? "cascaded" : "up_to_date");
  for (auto& patch : patches) add(std::move(patch), std::chrono::milliseconds(0));
}

void Coordinator::process_scan(Trigger& trigger) {
  refresh_fleet();
  auto report = app::scan_fleet(wiring_, true);
  if (!report) {
    log_.error("scan: cannot index the fleet", {{"schedule", trigger.sender}, {"error", report.error().message}});
    return settle(trigger, {502, {}, "scan failed: " + report.error().message}, "failed");
  }
  constexpr std::size_t kNamed = 20;  // a fleet-wide outage names a few subjects, then counts
  for (std::size_t i = 0; i < report->failed.size() && i < kNamed; ++i)
    log_.warn("scan: cannot scan", {{"subject", report->failed[i].subject}, {"reason", report->failed[i].reason}});
  const auto& stats = report->stats;
  log_.info("scan: indexed the fleet", {{"schedule", trigger.sender}, {"images", report->images},
                                        {"workloads", report->workloads}, {"failed", report->failed.size()},
                                        {"layers_read", stats.layers_read}, {"layers_known", stats.layers_known},
                                        {"bytes_read", stats.bytes_read}, {"seconds", report->seconds}});
  settle(trigger, {200, {}, "scanned " + std::to_string(report->images) + " images and " +
                                std::to_string(report->workloads) + " workloads, " +
                                std::to_string(report->failed.size()) + " failed"},
         report->failed.empty() ? "scanned" : "scanned_partly");
}

void Coordinator::process_fix(Trigger& trigger, std::stop_token stop, std::stop_token cancel) {
  refresh_fleet();
  std::string label = trigger.question->label();
  std::vector<std::string> unfixed;
  auto planned = app::plan_fix(wiring_, *trigger.question, config_.deploy, unfixed);
  for (const auto& line : unfixed) log_.warn("fix: not fixed upstream yet", {{"question", label}, {"base", line}});
  for (auto& done : trigger.done)  // every answer names the bases not fixed upstream
    done = [inner = std::move(done), unfixed](const Outcome& outcome) {
      Outcome with = outcome;
      with.unfixed = unfixed;
      inner(with);
    };
  if (!planned) return settle(trigger, {http_status(planned.error()), {}, planned.error().message}, "failed");
  bool builds = std::any_of(planned->plan.steps.begin(), planned->plan.steps.end(),
                            [](const plan::Step& step) { return step.action == plan::Action::Build; });
  if (!builds) {
    std::string why = unfixed.empty() ? "nothing to rebuild: no image is exposed to " + label
                                      : "nothing to rebuild yet: the exposure to " + label +
                                            " enters through bases not fixed upstream";
    return settle(trigger, {200, {}, why}, "up_to_date");
  }
  // As for an exact patch: an unfinished fix of the same question is finished, not repeated.
  execute(trigger, *planned, stop, cancel, app::unfinished_run_for(wiring_, *planned));
}

void Coordinator::requeue_fix(const store::Event& event) {
  std::vector<std::string> ids;  // "advisory:A, B"
  std::string rest = event.image.substr(event.image.find(':') + 1);
  for (std::size_t start = 0; start < rest.size();) {
    auto comma = std::min(rest.find(", ", start), rest.size());
    ids.push_back(rest.substr(start, comma - start));
    start = comma + 2;
  }
  auto question = stored_advisories(*wiring_.store, ids);
  if (!question || !*question) {
    std::string why = !question ? question.error().message : "its advisories are no longer stored";
    (void)wiring_.store->settle_event(event.id, "not resumed: " + why + "; POST /api/advisories again");
    return;
  }
  Trigger trigger;
  trigger.kind = Trigger::Kind::fix;
  trigger.source = store::TriggerKind::api;
  trigger.sender = event.sender;
  trigger.image = event.image;
  trigger.question = std::make_shared<const app::PackageQuestion>(std::move(**question));
  trigger.events = {event.id};
  add(std::move(trigger), std::chrono::milliseconds(0));
}

app::RunOptions Coordinator::run_options(const Trigger& trigger, std::stop_token stop, std::stop_token cancel) {
  app::RunOptions options;
  options.parallel = config_.parallel;
  options.deploy = config_.deploy;
  options.kind = trigger.source;
  options.actor = trigger.sender;
  options.stop = stop;
  options.cancel = cancel;
  options.progress = [this](const executor::Progress& progress) {
    using K = executor::Progress::Kind;
    switch (progress.kind) {
      case K::Pushed:
        metrics_.add("cascade_builds_total", {"pushed"});
        metrics_.observe("cascade_build_duration_seconds", progress.seconds);
        break;
      case K::Failed:
        metrics_.add("cascade_builds_total", {"failed"});
        metrics_.observe("cascade_build_duration_seconds", progress.seconds);
        break;
      case K::Skipped: metrics_.add("cascade_builds_total", {"skipped"}); break;
      case K::Blocked: metrics_.add("cascade_builds_total", {"blocked"}); break;
      case K::Deployed: metrics_.add("cascade_deploys_total", {"healthy"}); break;
      case K::RolledBack: metrics_.add("cascade_deploys_total", {"rolled_back"}); break;
      default: break;
    }
    static const char* names[] = {"build started", "build retried", "pushed",   "build failed", "blocked",
                                  "skipped",       "interrupted",   "deploying", "deployed",    "rolled back",
                                  "verified",      "still vulnerable", "the state store refused a write"};
    static_assert(std::size(names) == static_cast<std::size_t>(executor::Progress::Kind::StoreError) + 1);
    if (progress.kind == K::StoreError) {
      log_.error(names[static_cast<int>(progress.kind)], {{"image", progress.image}, {"detail", progress.detail}});
      return;
    }
    log_.info(names[static_cast<int>(progress.kind)],
              {{"image", progress.image}, {"detail", progress.detail}, {"seconds", progress.seconds}});
  };
  return options;
}

std::optional<app::RunResult> Coordinator::execute(Trigger& trigger, const app::PlannedPatch& planned,
                                                  std::stop_token stop, std::stop_token cancel,
                                                  std::optional<store::RunId> resume) {
  auto options = run_options(trigger, stop, cancel);
  auto started = std::chrono::steady_clock::now();
  options.on_run = [&](store::RunId run) {
    Active active{run, trigger.image, trigger.digest, {}};
    for (const auto& step : planned.plan.steps)
      if (step.action == plan::Action::Build) active.images.insert(step.image);
    {
      std::lock_guard lock(mutex_);
      active_ = std::move(active);
    }
    metrics_.set("cascade_runs_active", 1);
    for (auto event : trigger.events) (void)wiring_.store->attach_event(event, run);
    forget_retries(trigger.events);
    metrics_.add("cascade_triggers_total", {trigger.sender, "cascaded"}, std::max<double>(1, trigger.events.size()));
    log_.info("run started", {{"run", run}, {"trigger", planned.trigger.query}, {"sender", trigger.sender},
                              {"steps", planned.plan.steps.size()}});
    Outcome outcome{202, run, (resume ? "finishing run " : "started run ") + std::to_string(run)};
    for (auto& done : trigger.done) done(outcome);
    trigger.done.clear();
  };
  auto result = resume ? app::resume(wiring_, *resume, options) : app::run_patch(wiring_, planned, options);
  {
    std::lock_guard lock(mutex_);
    active_.reset();
  }
  metrics_.set("cascade_runs_active", 0);
  if (!result) {
    log_.error("run failed to start", {{"trigger", planned.trigger.query}, {"error", result.error().message}});
    settle(trigger, {http_status(result.error()), {}, result.error().message}, "failed");
    return std::nullopt;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string state(store::to_string(result->state));
  metrics_.add("cascade_runs_total", {state});
  metrics_.observe("cascade_run_duration_seconds", seconds);
  log_.info("run finished", {{"run", result->run}, {"state", state}, {"seconds", seconds}});
  update_behind();
  return *result;
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
    Trigger trigger;
    trigger.source = stored->trigger.kind;
    trigger.sender = stored->trigger.actor;
    trigger.image = stored->trigger.image;
    trigger.digest = stored->trigger.digest;
    log_.info("resuming an unfinished run", {{"run", id}, {"trigger", stored->trigger.image}});
    auto options = run_options(trigger, stop, cancel);
    options.on_run = [&](store::RunId run) {
      std::lock_guard lock(mutex_);
      active_ = Active{run, trigger.image, trigger.digest, {}};
    };
    auto result = app::resume(wiring_, id, options);
    {
      std::lock_guard lock(mutex_);
      active_.reset();
    }
    if (!result) log_.error("cannot resume run", {{"run", id}, {"error", result.error().message}});
    else log_.info("run finished", {{"run", id}, {"state", store::to_string(result->state)}});
  }
  // Events that were stored but never acted on (the daemon stopped in their window, or
  // while they waited to retry a transient failure: they go on where they were).
  load_retries();
  std::map<store::EventId, Retry> kept;
  if (auto pending = wiring_.store->pending_events())
    for (const auto& event : *pending) {
      Trigger trigger;
      trigger.source = event.sender == "api" ? store::TriggerKind::api
                       : event.sender.rfind("schedule", 0) == 0 ? store::TriggerKind::schedule
                                                                : store::TriggerKind::webhook;
      trigger.sender = event.sender;
      trigger.image = event.image;
      trigger.digest = event.digest;
      // POST /api/patch stores its query as asked ("IMAGE@sha256:..."): patched exactly, as
      // before the restart, never swapped for what the tag points at now.
      trigger.exact = trigger.source == store::TriggerKind::api;
      trigger.events = {event.id};
      if (event.image.rfind("rebuild:", 0) == 0 || event.image == "refresh" || event.image == "scan")
        continue;  // schedule markers
      if (event.image.rfind("advisory:", 0) == 0) {
        requeue_fix(event);
        continue;
      }
      auto delay = config_.debounce;
      if (auto retry = retrying_.find(event.id); retry != retrying_.end()) {
        kept.insert(*retry);
        trigger.attempt = retry->second.attempt;
        auto left = retry->second.due - std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
        delay = std::clamp<std::chrono::milliseconds>(left, std::chrono::milliseconds(0), kRetryMaxDelay);
      }
      add(std::move(trigger), delay);
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
  auto scanned = fleet::scan(wiring_.fleet.pipeline, options);
  if (!scanned) {
    log_.error("cannot read the fleet; keeping the last good graph",
               {{"problem", scanned.error().empty() ? "" : scanned.error().front().str()}});
    return;
  }
  // Keep wiring_.fleet.pipeline in place: deploy targets point into it.
  bool changed = scanned->graph.recipes().size() != wiring_.fleet.graph.recipes().size();
  for (std::size_t i = 0; !changed && i < scanned->sources.size() && i < wiring_.fleet.sources.size(); ++i)
    changed = scanned->sources[i].commit != wiring_.fleet.sources[i].commit;
  if (!changed) return;
  wiring_.fleet.graph = std::move(scanned->graph);
  wiring_.fleet.sources = std::move(scanned->sources);
  wiring_.fleet.warnings = std::move(scanned->warnings);
  wiring_.fleet.broken = std::move(scanned->broken);
  metrics_.set("cascade_broken_recipes", static_cast<double>(wiring_.fleet.broken.size()));
  for (const auto& broken : wiring_.fleet.broken)
    log_.error("broken recipe: left out of the graph until its Dockerfile is fixed",
               {{"image", broken.image}, {"source", broken.source}, {"dockerfile", broken.dockerfile},
                {"problem", broken.problem.str()}});
  auto view = std::make_shared<const fleet::Fleet>(wiring_.fleet);
  std::lock_guard lock(mutex_);
  view_.fleet = std::move(view);
  ++view_.generation;
  log_.info("the fleet changed in git; graph rescanned", {{"generation", view_.generation}});
}

void Coordinator::settle(Trigger& trigger, Outcome outcome, std::string_view metric_outcome) {
  // An event joins a run only when that run acts on it; otherwise it is settled with the
  // reason (an up-to-date notice names the run that made it so in the reason, not as a join).
  // Once the daemon cancels (its stop grace is over), an outcome may be the cancellation's
  // doing: the events stay pending, and the next start acts on them again.
  bool interrupted = cancel_.stop_requested() && !(outcome.status == 202 && outcome.run);
  if (interrupted) log_.info("trigger interrupted by the stop; the next start takes it up again",
                             {{"image", trigger.image.empty() ? trigger.key() : trigger.image}, {"sender", trigger.sender}});
  for (auto event : trigger.events) {
    if (interrupted) break;
    if (outcome.status == 202 && outcome.run) (void)wiring_.store->attach_event(event, *outcome.run);
    else (void)wiring_.store->settle_event(event, outcome.message);
  }
  forget_retries(trigger.events);
  metrics_.add("cascade_triggers_total", {trigger.sender, std::string(metric_outcome)},
               std::max<double>(1, trigger.events.size()));
  log_.write(outcome.status >= 400 ? "warn" : "info", "trigger settled",
             {{"image", trigger.image.empty() ? trigger.key() : trigger.image}, {"sender", trigger.sender},
              {"outcome", outcome.message}});
  for (auto& done : trigger.done) done(outcome);
  trigger.done.clear();
}

void Coordinator::retry_later(Trigger& trigger, const std::string& reason) {
  if (trigger.exact || trigger.events.empty() || trigger.attempt + 1 >= kRetryAttempts) {
    std::string why = trigger.attempt > 0 ? reason + " (gave up after " + std::to_string(trigger.attempt + 1) + " tries)"
                                          : reason;
    return settle(trigger, {502, {}, why}, "failed");
  }
  ++trigger.attempt;
  auto delay = std::min<std::chrono::milliseconds>(kRetryFirstDelay * (1LL << std::min(trigger.attempt - 1, 20)),
                                                   kRetryMaxDelay);
  auto due = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) + delay;
  {
    std::lock_guard lock(mutex_);
    for (auto event : trigger.events) retrying_[event] = Retry{trigger.attempt, due};
  }
  save_retries();
  metrics_.add("cascade_triggers_total", {trigger.sender, "retried"}, static_cast<double>(trigger.events.size()));
  log_.warn("transient failure: the trigger stays pending and is tried again",
            {{"image", trigger.image}, {"sender", trigger.sender}, {"attempt", trigger.attempt},
             {"retry_in_seconds", std::chrono::duration<double>(delay).count()}, {"error", reason}});
  add(std::move(trigger), delay);
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
  if (wiring_.fleet.pipeline.deploy.empty()) return;
  auto inventory = app::inventory_json(wiring_);
  if (!inventory) return;
  double behind = 0;
  for (const auto& target : (*inventory)["targets"])
    for (const auto& workload : target.value("workloads", nlohmann::json::array()))
      if (workload.value("behind", false)) ++behind;
  metrics_.set("cascade_workloads_behind", behind);
}

}  // namespace cascade::daemon
