// SqliteStore: latest digests, build durations, trigger events, rollout steps, quarantine.
#include "sqlite_store.hpp"

namespace cascade::store {

using sql::Failure;

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

Expected<RecordedEvent, Error> SqliteStore::record_event(const Event& event) {
  return locked(describe("record_event", event.dedupe_key), [&] {
    sql::Transaction transaction(db_);
    db_.prepare("INSERT INTO events (dedupe_key, sender, event_id, image, digest, received_at, run_id) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (dedupe_key) DO NOTHING")
        .bind_all(event.dedupe_key, event.sender, event.event_id, event.image, event.digest, now_ms(),
                  to_column(event.run))
        .run();
    RecordedEvent recorded;
    recorded.is_new = db_.changes() == 1;
    auto row = db_.prepare("SELECT id, run_id FROM events WHERE dedupe_key = ?1");
    if (!row.bind(1, event.dedupe_key).step()) throw Failure(ErrorCode::io, "the event vanished");
    recorded.id = row.int64(0);
    recorded.run = row.optional_int64(1);
    transaction.commit();
    return recorded;
  });
}

Expected<void, Error> SqliteStore::attach_event(EventId event, RunId run) {
  return locked(describe("attach_event", std::to_string(event) + ", run " + std::to_string(run)), [&] {
    sql::Transaction transaction(db_);
    run_state(run);
    db_.prepare("UPDATE events SET run_id = ?2 WHERE id = ?1").bind_all(event, run).run();
    if (db_.changes() == 0) throw Failure(ErrorCode::not_found, "no event " + std::to_string(event));
    transaction.commit();
  });
}

Expected<std::vector<Event>, Error> SqliteStore::pending_events() {
  return locked("pending_events", [&] {
    std::vector<Event> events;
    auto rows = db_.prepare("SELECT dedupe_key, sender, event_id, image, digest, id, received_at FROM events "
                            "WHERE run_id IS NULL ORDER BY id");
    while (rows.step())
      events.push_back(Event{rows.text(0), rows.text(1), rows.optional_text(2), rows.text(3), rows.optional_text(4),
                             std::nullopt, rows.int64(5), to_time(rows.int64(6))});
    return events;
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
