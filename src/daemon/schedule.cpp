// The cron schedule: each `triggers.schedule` entry fires a refresh (resolve every external
// base, cascade those that changed), a rebuild (of a selection, even if nothing changed) or
// a scan (index the installed packages of the fleet and its workloads) into the
// coordinator. Each firing is stored (an event, and the entry's last time as a setting)
// before it is acted on, so a time missed while the daemon was down fires once at the next
// start, and a restart never fires one time twice. The event stays pending until the
// coordinator settles it, when its work is done (the run it started, or the refresh or scan
// finished, or nothing to do); a firing still pending at start (the daemon was killed or
// stopped before its work was done) is replayed once.
#include <algorithm>
#include <ctime>

#include "cascade/daemon.hpp"
#include "internal.hpp"

namespace cascade::daemon {

namespace {

std::optional<cron::Time> parse_iso_utc(const std::string& text) {
  std::tm utc{};
  if (!strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc)) return std::nullopt;
  return cron::Time(std::chrono::seconds(timegm(&utc)));
}

std::string setting_key(const pipeline::ScheduleEntry& entry) { return "schedule." + entry.name + ".last"; }

const char* action_name(pipeline::ScheduleEntry::Action action) {
  switch (action) {
    case pipeline::ScheduleEntry::Action::refresh: return "refresh";
    case pipeline::ScheduleEntry::Action::rebuild: return "rebuild";
    case pipeline::ScheduleEntry::Action::scan: return "scan";
  }
  return "refresh";
}

store::EventAction event_action(pipeline::ScheduleEntry::Action action) {
  switch (action) {
    case pipeline::ScheduleEntry::Action::refresh: return store::EventAction::refresh;
    case pipeline::ScheduleEntry::Action::rebuild: return store::EventAction::rebuild;
    case pipeline::ScheduleEntry::Action::scan: return store::EventAction::scan;
  }
  return store::EventAction::refresh;
}

app::Trigger::Action trigger_action(pipeline::ScheduleEntry::Action action) {
  switch (action) {
    case pipeline::ScheduleEntry::Action::refresh: return app::Trigger::Action::refresh;
    case pipeline::ScheduleEntry::Action::rebuild: return app::Trigger::Action::rebuild;
    case pipeline::ScheduleEntry::Action::scan: return app::Trigger::Action::scan;
  }
  return app::Trigger::Action::refresh;
}

/// The coordinator's trigger for a firing of `entry`, carrying its stored event.
Queued firing_trigger(const pipeline::ScheduleEntry& entry, store::EventId event) {
  Queued queued;
  queued.trigger.action = trigger_action(entry.action);
  queued.trigger.source = store::TriggerKind::schedule;
  queued.trigger.actor = "schedule:" + entry.name;
  queued.trigger.globs = entry.images;
  queued.events = {event};  // settled by the coordinator once the work is done
  return queued;
}

cron::Time now_seconds() { return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()); }

}  // namespace

nlohmann::json schedule_json(const pipeline::Pipeline& pipeline, store::Store& store, cron::Time now) {
  nlohmann::json entries = nlohmann::json::array();
  if (pipeline.triggers)
    for (const auto& entry : pipeline.triggers->schedule) {
      nlohmann::json item = {{"name", entry.name},
                             {"cron", entry.cron},
                             {"timezone", entry.timezone},
                             {"action", action_name(entry.action)},
                             {"images", entry.images},
                             {"next", nullptr},
                             {"last", nullptr}};
      if (auto schedule = cron::Schedule::parse(entry.cron, entry.timezone))
        if (auto next = schedule->next(now)) item["next"] = cron::format_local(*next, entry.timezone);
      if (auto last = store.get_setting(setting_key(entry)); last && *last)
        if (auto at = parse_iso_utc(**last)) item["last"] = cron::format_local(*at, entry.timezone);
      entries.push_back(std::move(item));
    }
  return {{"schedule", entries}};
}

nlohmann::json schedule_status(const pipeline::Pipeline& pipeline, store::Store& store) {
  return schedule_json(pipeline, store, now_seconds());
}

ScheduleClock::ScheduleClock(const pipeline::Pipeline& pipeline, store::Store& store, Coordinator& coordinator, Logger& log,
                     Metrics& metrics)
    : pipeline_(pipeline), store_(store), coordinator_(coordinator), log_(log), metrics_(metrics) {}

void ScheduleClock::fire(const pipeline::ScheduleEntry& entry, cron::Time at, bool missed) {
  store::Event event;
  event.sender = "schedule:" + entry.name;
  event.dedupe_key = event.sender + ":" + util::iso_utc(at);
  std::string action = action_name(entry.action);
  bool rebuild = entry.action == pipeline::ScheduleEntry::Action::rebuild;
  event.image = rebuild ? "rebuild:" + std::to_string(entry.images.size()) : action;  // shown, never read back
  event.action = event_action(entry.action);
  event.source = store::TriggerKind::schedule;
  if (rebuild) event.globs = entry.images;
  auto recorded = store_.record_event(event);
  (void)store_.put_setting(setting_key(entry), util::iso_utc(at));
  if (!recorded) {
    log_.error("schedule: cannot store the firing", {{"schedule", entry.name}, {"error", recorded.error().message}});
    return;
  }
  if (!recorded->is_new) return;  // this time already fired before a restart
  metrics_.add("cascade_triggers_total", {event.sender, "accepted"});
  log_.info(missed ? "schedule: firing a time missed while the daemon was down" : "schedule: firing",
            {{"schedule", entry.name}, {"action", action}, {"time", util::iso_utc(at)}});
  coordinator_.add(firing_trigger(entry, recorded->id), std::chrono::milliseconds(0));
}

void ScheduleClock::replay_unsettled() {
  auto pending = store_.pending_events();
  if (!pending) {
    log_.error("schedule: cannot read the unsettled firings", {{"error", pending.error().message}});
    return;
  }
  const std::string prefix = "schedule:";  // the sender of a firing: "schedule:NAME"
  for (const auto& event : *pending) {
    if (event.source != store::TriggerKind::schedule) continue;
    std::string name = event.sender.substr(std::min(prefix.size(), event.sender.size()));
    const auto& entries = pipeline_.triggers->schedule;
    auto entry = std::find_if(entries.begin(), entries.end(), [&](const auto& each) { return each.name == name; });
    if (entry == entries.end()) {
      (void)store_.settle_event(event.id, "not replayed: the pipeline file has no schedule entry '" + name + "' any more");
      continue;
    }
    log_.info("schedule: replaying a firing whose work the daemon stopped before finishing",
              {{"schedule", name}, {"action", action_name(entry->action)}, {"event", event.id},
               {"firing", event.dedupe_key.substr(event.sender.size() + 1)}});
    metrics_.add("cascade_triggers_total", {event.sender, "replayed"});
    coordinator_.add(firing_trigger(*entry, event.id), std::chrono::milliseconds(0));
  }
}

void ScheduleClock::run(std::stop_token stop) {
  if (!pipeline_.triggers || pipeline_.triggers->schedule.empty()) return;
  struct Entry {
    const pipeline::ScheduleEntry* config;
    cron::Schedule schedule;
    std::optional<cron::Time> next;
  };
  std::vector<Entry> entries;
  replay_unsettled();  // before any new firing: only the ones a stop or a crash left pending
  auto now = now_seconds();
  for (const auto& config : pipeline_.triggers->schedule) {
    auto schedule = cron::Schedule::parse(config.cron, config.timezone);
    if (!schedule) continue;  // the pipeline file was validated; cannot happen
    // Missed while down: the last due time is after the last firing on record.
    auto last = store_.get_setting(setting_key(config));
    std::optional<cron::Time> last_time;
    if (last && *last) last_time = parse_iso_utc(**last);
    if (!last_time) (void)store_.put_setting(setting_key(config), util::iso_utc(now));  // first start: nothing missed
    else if (auto due = schedule->previous(now); due && *due > *last_time) fire(config, *due, true);
    entries.push_back({&config, *schedule, schedule->next(now)});
  }
  std::mutex mutex;
  std::condition_variable_any wake;
  while (!stop.stop_requested()) {
    auto soonest = std::min_element(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.next.value_or(cron::Time::max()) < b.next.value_or(cron::Time::max());
    });
    if (soonest == entries.end() || !soonest->next) return;
    {
      std::unique_lock lock(mutex);
      // Wake at least once a minute: the wall clock may jump (NTP, suspend).
      auto until = std::min<std::chrono::system_clock::time_point>(*soonest->next,
                                                                    std::chrono::system_clock::now() + std::chrono::minutes(1));
      wake.wait_until(lock, stop, until, [] { return false; });
    }
    if (stop.stop_requested()) return;
    now = now_seconds();
    for (auto& entry : entries)
      if (entry.next && *entry.next <= now) {
        fire(*entry.config, *entry.next, false);
        entry.next = entry.schedule.next(now);
      }
  }
}

}  // namespace cascade::daemon
