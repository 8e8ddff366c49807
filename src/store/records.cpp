// SqliteStore: latest digests, build durations, trigger events, the daemon's settings,
// rollout steps, quarantine; and a run's trigger arguments and plan record as stored,
// with the one conversion of the runs an older cascade wrote (plan_version 0).
#include "sqlite_store.hpp"

#include <nlohmann/json.hpp>

namespace cascade::store {

using sql::Failure;

// ---- run records --------------------------------------------------------------------

namespace {

using nlohmann::json;

/// "a, b,c" -> {"a", "b", "c"}: split at `separator`, spaces around each item dropped,
/// empty items skipped.
std::vector<std::string> split_list(const std::string& text, char separator) {
  std::vector<std::string> items;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t end = std::min(text.find(separator, start), text.size());
    std::string item = text.substr(start, end - start);
    std::size_t first = item.find_first_not_of(' ');
    if (first != std::string::npos) items.push_back(item.substr(first, item.find_last_not_of(' ') - first + 1));
    start = end + 1;
  }
  return items;
}

bool starts_with(const std::string& text, std::string_view prefix) { return text.rfind(prefix, 0) == 0; }

/// The action and arguments an older cascade kept in trigger_image: "rebuild:a/*,b/*" (or
/// "rebuild:*": every fleet image), "advisory:ID, ID", "package:CONSTRAINT"; anything else
/// is a patch of that image. (Its deploy runs read as patches: nothing but the display
/// JSON told them apart, and a patch is how that cascade resumed them.)
void legacy_trigger(TriggerRecord& trigger) {
  const std::string& image = trigger.image;
  if (starts_with(image, "rebuild:")) {
    trigger.action = TriggerAction::rebuild;
    std::string selection = image.substr(8);
    if (selection != "*") trigger.globs = split_list(selection, ',');
  } else if (starts_with(image, "advisory:")) {
    trigger.action = TriggerAction::fix;
    trigger.advisories = split_list(image.substr(9), ',');
  } else if (starts_with(image, "package:")) {
    trigger.action = TriggerAction::fix;
    trigger.package = image.substr(8);
  } else {
    trigger.action = TriggerAction::patch;
  }
}

/// The record of an older cascade's plan JSON: {"query", "trigger": {image: digest},
/// "steps": [{"image", "depth", ...}], "question": {"documents": [OSV text], ...}}. Lenient
/// as that cascade's resume was: a missing part is empty.
PlanRecord legacy_plan(const std::string& text) {
  PlanRecord plan;
  plan.version = 0;
  json stored = json::parse(text, nullptr, false);
  if (!stored.is_object()) return plan;
  if (auto query = stored.find("query"); query != stored.end() && query->is_string()) plan.query = *query;
  if (auto trigger = stored.find("trigger"); trigger != stored.end() && trigger->is_object())
    for (const auto& [image, digest] : trigger->items())
      if (digest.is_string()) plan.trigger_digests[image] = digest.get<std::string>();
  if (auto steps = stored.find("steps"); steps != stored.end() && steps->is_array())
    for (const auto& step : *steps)
      if (step.is_object() && step.value("depth", 1) == 0 && step.contains("image") && step["image"].is_string())
        plan.rebuilt_starts.push_back(step["image"].get<std::string>());
  if (auto question = stored.find("question"); question != stored.end() && question->is_object())
    if (auto documents = question->find("documents"); documents != question->end() && documents->is_array())
      for (const auto& document : *documents)
        if (document.is_string()) plan.advisory_documents.push_back(document.get<std::string>());
  return plan;
}

}  // namespace

std::optional<std::string> trigger_args_column(const TriggerRecord& trigger) {
  json args = json::object();
  if (!trigger.globs.empty()) args["globs"] = trigger.globs;
  if (!trigger.advisories.empty()) args["advisories"] = trigger.advisories;
  if (trigger.package) args["package"] = *trigger.package;
  if (args.empty()) return std::nullopt;
  return args.dump();
}

void read_trigger_columns(TriggerRecord& trigger, const std::string& action, const std::optional<std::string>& args,
                          std::int64_t plan_version) {
  if (plan_version == 0) return legacy_trigger(trigger);
  trigger.action = stored(parse_trigger_action, action, "runs.trigger_action");
  if (!args) return;
  json stored_args = json::parse(*args);
  if (auto globs = stored_args.find("globs"); globs != stored_args.end())
    trigger.globs = globs->get<std::vector<std::string>>();
  if (auto advisories = stored_args.find("advisories"); advisories != stored_args.end())
    trigger.advisories = advisories->get<std::vector<std::string>>();
  if (auto package = stored_args.find("package"); package != stored_args.end())
    trigger.package = package->get<std::string>();
}

std::string plan_column(const PlanRecord& plan) {
  if (plan.version != kPlanVersion)
    throw Failure(ErrorCode::invalid_argument, "plan record version " + std::to_string(plan.version) +
                                                   ": this cascade writes version " + std::to_string(kPlanVersion));
  return json{{"query", plan.query},
              {"trigger_digests", plan.trigger_digests},
              {"rebuilt_starts", plan.rebuilt_starts},
              {"advisory_documents", plan.advisory_documents}}
      .dump();
}

PlanRecord plan_from_column(std::int64_t version, const std::string& text) {
  if (version == 0) return legacy_plan(text);
  if (version != kPlanVersion)
    throw Failure(ErrorCode::schema, "plan record version " + std::to_string(version) +
                                         " is newer than this cascade reads (" + std::to_string(kPlanVersion) +
                                         "); use a newer cascade binary");
  json stored_plan = json::parse(text);
  PlanRecord plan;
  plan.version = kPlanVersion;
  plan.query = stored_plan.at("query").get<std::string>();
  plan.trigger_digests = stored_plan.at("trigger_digests").get<std::map<std::string, std::string>>();
  plan.rebuilt_starts = stored_plan.at("rebuilt_starts").get<std::vector<std::string>>();
  plan.advisory_documents = stored_plan.at("advisory_documents").get<std::vector<std::string>>();
  return plan;
}

namespace {

/// Build durations kept per image (older ones are deleted): a few windows of history.
constexpr std::int64_t kKeptDurations = 4 * static_cast<std::int64_t>(kRecentDurations);

std::optional<std::int64_t> to_column(std::optional<RunId> run) { return run; }

std::string describe(const char* operation, const std::string& subject) {
  return std::string(operation) + "(" + subject + ")";
}

std::string image_at(const std::string& image, const std::string& digest) { return image + "@" + digest; }

}  // namespace

// ---- digests and durations ----------------------------------------------------------

Expected<void, Error> SqliteStore::record_digest(const std::string& image, const std::string& digest,
                                                 DigestSource source, std::optional<RunId> run) {
  return locked(describe("record_digest", image_at(image, digest)), [&] {
    db_.prepare("INSERT INTO image_digests (image, digest, observed_at, source, run_id) VALUES (?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT (image) DO UPDATE SET digest = excluded.digest, observed_at = excluded.observed_at, "
                "source = excluded.source, run_id = excluded.run_id")
        .bind_all(image, digest, now_ms(), to_string(source), to_column(run))
        .run();
  });
}

Expected<std::optional<DigestRecord>, Error> SqliteStore::latest_digest(const std::string& image) {
  return locked(describe("latest_digest", image), [&]() -> std::optional<DigestRecord> {
    auto row = db_.prepare("SELECT digest, observed_at, source, run_id FROM image_digests WHERE image = ?1");
    row.bind(1, image);
    if (!row.step()) return std::nullopt;
    return DigestRecord{image, row.text(0), to_time(row.int64(1)),
                        stored(parse_digest_source, row.text(2), "image_digests.source"), row.optional_int64(3)};
  });
}

Expected<void, Error> SqliteStore::record_duration(const std::string& image, Duration duration,
                                                   std::optional<RunId> run) {
  return locked(describe("record_duration", image), [&] {
    if (duration.count() < 0) throw Failure(ErrorCode::invalid_argument, "negative duration");
    sql::Transaction transaction(db_);
    db_.prepare("INSERT INTO build_durations (image, duration_ms, recorded_at, run_id) VALUES (?1, ?2, ?3, ?4)")
        .bind_all(image, static_cast<std::int64_t>(duration.count()), now_ms(), to_column(run))
        .run();
    db_.prepare("DELETE FROM build_durations WHERE image = ?1 AND id NOT IN "
                "(SELECT id FROM build_durations WHERE image = ?1 ORDER BY id DESC LIMIT ?2)")
        .bind_all(image, kKeptDurations)
        .run();
    transaction.commit();
  });
}

Expected<std::optional<Duration>, Error> SqliteStore::expected_duration(const std::string& image) {
  return locked(describe("expected_duration", image), [&] {
    std::vector<Duration> newest_first;
    auto rows = db_.prepare("SELECT duration_ms FROM build_durations WHERE image = ?1 ORDER BY id DESC LIMIT ?2");
    rows.bind_all(image, static_cast<std::int64_t>(kRecentDurations));
    while (rows.step()) newest_first.emplace_back(rows.int64(0));
    return estimate_duration(std::vector<Duration>(newest_first.rbegin(), newest_first.rend()));
  });
}

// ---- events -------------------------------------------------------------------------

namespace {

const char* const kEventColumns =
    "SELECT dedupe_key, sender, event_id, image, digest, run_id, outcome, id, received_at, action, source, args "
    "FROM events ";

/// What the action and source columns of a row an older cascade wrote hold (schema version 6).
constexpr std::string_view kLegacyEvent = "legacy";

/// args of `event`: its globs and advisories as a JSON object; nullopt when it has none.
std::optional<std::string> event_args_column(const Event& event) {
  json args = json::object();
  if (!event.globs.empty()) args["globs"] = event.globs;
  if (!event.advisories.empty()) args["advisories"] = event.advisories;
  if (args.empty()) return std::nullopt;
  return args.dump();
}

}  // namespace

void legacy_event(Event& event) {
  const std::string& image = event.image;
  if (starts_with(event.sender, "schedule:")) event.source = TriggerKind::schedule;
  else if (event.sender == "api") event.source = TriggerKind::api;
  else event.source = TriggerKind::webhook;
  event.globs.clear();
  event.advisories.clear();
  if (starts_with(image, "rebuild:")) {
    event.action = EventAction::rebuild;
    std::string selection = image.substr(8);
    // A schedule firing kept the number of its entry's globs ("rebuild:2"), not the globs.
    bool count = !selection.empty() && selection.find_first_not_of("0123456789") == std::string::npos;
    if (selection != "*" && !(count && event.source == TriggerKind::schedule)) event.globs = split_list(selection, ',');
  } else if (image == "refresh") {
    event.action = EventAction::refresh;
  } else if (image == "scan") {
    event.action = EventAction::scan;
  } else if (starts_with(image, "advisory:")) {
    event.action = EventAction::fix;
    event.advisories = split_list(image.substr(9), ',');
  } else {
    event.action = EventAction::patch;
  }
}

namespace {

Event event_from(const sql::Statement& row) {
  Event event;
  event.dedupe_key = row.text(0);
  event.sender = row.text(1);
  event.event_id = row.optional_text(2);
  event.image = row.text(3);
  event.digest = row.optional_text(4);
  event.run = row.optional_int64(5);
  event.outcome = row.optional_text(6);
  event.id = row.int64(7);
  event.received_at = to_time(row.int64(8));
  std::string action = row.text(9);
  if (action == kLegacyEvent) {
    legacy_event(event);
    return event;
  }
  event.action = stored(parse_event_action, action, "events.action");
  event.source = stored(parse_trigger_kind, row.text(10), "events.source");
  if (auto args = row.optional_text(11)) {
    json stored_args = json::parse(*args);
    if (auto globs = stored_args.find("globs"); globs != stored_args.end())
      event.globs = globs->get<std::vector<std::string>>();
    if (auto advisories = stored_args.find("advisories"); advisories != stored_args.end())
      event.advisories = advisories->get<std::vector<std::string>>();
  }
  return event;
}

}  // namespace

RecordedEvent SqliteStore::insert_event(const Event& event) {
  db_.prepare("INSERT INTO events (dedupe_key, sender, event_id, image, digest, received_at, run_id, action, "
              "source, args) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (dedupe_key) DO NOTHING")
      .bind_all(event.dedupe_key, event.sender, event.event_id, event.image, event.digest, now_ms(),
                to_column(event.run), to_string(event.action), to_string(event.source), event_args_column(event))
      .run();
  if (db_.changes() == 1) return RecordedEvent{db_.last_insert_rowid(), true, event.run};
  auto row = db_.prepare("SELECT id, run_id FROM events WHERE dedupe_key = ?1");
  if (!row.bind(1, event.dedupe_key).step()) throw Failure(ErrorCode::io, "the event vanished");
  return RecordedEvent{row.int64(0), false, row.optional_int64(1)};
}

std::pair<std::optional<RunId>, std::optional<std::string>> SqliteStore::event_fate(EventId event) {
  auto row = db_.prepare("SELECT run_id, outcome FROM events WHERE id = ?1");
  if (!row.bind(1, event).step()) throw Failure(ErrorCode::not_found, "no event " + std::to_string(event));
  return {row.optional_int64(0), row.optional_text(1)};
}

Expected<RecordedEvent, Error> SqliteStore::record_event(const Event& event) {
  return locked(describe("record_event", event.dedupe_key), [&] {
    sql::Transaction transaction(db_);
    RecordedEvent recorded = insert_event(event);
    transaction.commit();
    return recorded;
  });
}

Expected<std::vector<RecordedEvent>, Error> SqliteStore::record_events(const std::vector<Event>& events) {
  return locked(describe("record_events", std::to_string(events.size()) + " events"), [&] {
    std::vector<RecordedEvent> recorded;
    if (events.empty()) return recorded;
    recorded.reserve(events.size());
    sql::Transaction transaction(db_);
    for (const Event& event : events) {
      try {
        recorded.push_back(insert_event(event));
      } catch (const Failure& failure) {
        throw Failure(failure.code(), "event " + event.dedupe_key + ": " + failure.what());
      }
    }
    transaction.commit();
    return recorded;
  });
}

Expected<void, Error> SqliteStore::attach_event(EventId event, RunId run) {
  return locked(describe("attach_event", std::to_string(event) + ", run " + std::to_string(run)), [&] {
    sql::Transaction transaction(db_);
    run_state(run);
    std::optional<std::string> outcome = event_fate(event).second;
    if (outcome)
      throw Failure(ErrorCode::illegal_transition, "event " + std::to_string(event) + " was settled: " + *outcome);
    db_.prepare("UPDATE events SET run_id = ?2 WHERE id = ?1").bind_all(event, run).run();
    transaction.commit();
  });
}

Expected<void, Error> SqliteStore::settle_event(EventId event, const std::string& outcome) {
  return locked(describe("settle_event", std::to_string(event)), [&] {
    sql::Transaction transaction(db_);
    std::optional<RunId> joined = event_fate(event).first;
    if (joined)
      throw Failure(ErrorCode::illegal_transition,
                    "event " + std::to_string(event) + " joined run " + std::to_string(*joined));
    db_.prepare("UPDATE events SET outcome = ?2 WHERE id = ?1").bind_all(event, outcome).run();
    transaction.commit();
  });
}

Expected<std::vector<Event>, Error> SqliteStore::pending_events() {
  return locked("pending_events", [&] {
    std::vector<Event> events;
    auto rows = db_.prepare(std::string(kEventColumns) + "WHERE run_id IS NULL AND outcome IS NULL ORDER BY id");
    while (rows.step()) events.push_back(event_from(rows));
    return events;
  });
}

Expected<std::vector<Event>, Error> SqliteStore::recent_events(std::size_t limit) {
  return locked("recent_events", [&] {
    std::vector<Event> events;
    auto rows = db_.prepare(std::string(kEventColumns) + "ORDER BY id DESC LIMIT ?1");
    rows.bind(1, static_cast<std::int64_t>(limit));
    while (rows.step()) events.push_back(event_from(rows));
    return events;
  });
}

// ---- settings -----------------------------------------------------------------------

Expected<void, Error> SqliteStore::put_setting(const std::string& key, const std::string& value) {
  return locked(describe("put_setting", key), [&] {  // the value stays out of messages
    db_.prepare("INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at")
        .bind_all(key, value, now_ms())
        .run();
  });
}

Expected<std::optional<std::string>, Error> SqliteStore::get_setting(const std::string& key) {
  return locked(describe("get_setting", key), [&]() -> std::optional<std::string> {
    auto row = db_.prepare("SELECT value FROM settings WHERE key = ?1");
    if (!row.bind(1, key).step()) return std::nullopt;
    return row.text(0);
  });
}

// ---- rollouts and quarantine --------------------------------------------------------

Expected<std::int64_t, Error> SqliteStore::record_rollout_step(const RolloutStep& step) {
  return locked(describe("record_rollout_step", "run " + std::to_string(step.run) + ", " + step.workload), [&] {
    db_.prepare("INSERT INTO rollout_steps (run_id, target, workload, image, from_digest, to_digest, state, detail, "
                "at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
        .bind_all(step.run, step.target, step.workload, step.image, step.from_digest, step.to_digest,
                  to_string(step.state), step.detail, now_ms())
        .run();
    return db_.last_insert_rowid();
  });
}

Expected<std::vector<RolloutStep>, Error> SqliteStore::get_rollout_steps(RunId run) {
  return locked(describe("get_rollout_steps", "run " + std::to_string(run)), [&] {
    std::vector<RolloutStep> steps;
    auto rows = db_.prepare("SELECT run_id, target, workload, image, from_digest, to_digest, state, detail, id, at "
                            "FROM rollout_steps WHERE run_id = ?1 ORDER BY id");
    rows.bind(1, run);
    while (rows.step())
      steps.push_back(RolloutStep{rows.int64(0), rows.text(1), rows.text(2), rows.text(3), rows.optional_text(4),
                                  rows.text(5), stored(parse_rollout_state, rows.text(6), "rollout_steps.state"),
                                  rows.text(7), rows.int64(8), to_time(rows.int64(9))});
    return steps;
  });
}

Expected<void, Error> SqliteStore::quarantine(const std::string& image, const std::string& digest,
                                              const std::string& reason, std::optional<RunId> run) {
  return locked(describe("quarantine", image_at(image, digest)), [&] {
    db_.prepare("INSERT INTO quarantine (image, digest, reason, run_id, quarantined_at) VALUES (?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT (image, digest) DO UPDATE SET reason = excluded.reason, run_id = excluded.run_id, "
                "quarantined_at = excluded.quarantined_at")
        .bind_all(image, digest, reason, to_column(run), now_ms())
        .run();
  });
}

Expected<bool, Error> SqliteStore::clear_quarantine(const std::string& image, const std::string& digest) {
  return locked(describe("clear_quarantine", image_at(image, digest)), [&] {
    db_.prepare("DELETE FROM quarantine WHERE image = ?1 AND digest = ?2").bind_all(image, digest).run();
    return db_.changes() > 0;
  });
}

Expected<bool, Error> SqliteStore::is_quarantined(const std::string& image, const std::string& digest) {
  return locked(describe("is_quarantined", image_at(image, digest)), [&] {
    auto row = db_.prepare("SELECT 1 FROM quarantine WHERE image = ?1 AND digest = ?2");
    return row.bind_all(image, digest).step();
  });
}

Expected<std::vector<Quarantined>, Error> SqliteStore::list_quarantined(const std::string& image) {
  return locked(describe("list_quarantined", image), [&] {
    std::vector<Quarantined> entries;
    auto rows = db_.prepare("SELECT image, digest, reason, run_id, quarantined_at FROM quarantine "
                            "WHERE ?1 = '' OR image = ?1 ORDER BY quarantined_at DESC, rowid DESC");
    rows.bind(1, image);
    while (rows.step())
      entries.push_back(Quarantined{rows.text(0), rows.text(1), rows.text(2), rows.optional_int64(3),
                                    to_time(rows.int64(4))});
    return entries;
  });
}

}  // namespace cascade::store
