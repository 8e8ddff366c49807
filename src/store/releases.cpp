// SqliteStore: release control. The rollouts a gated run holds (releases), the decisions
// people made on it (approvals), the runs awaiting them, and the outbox of notifications.
#include "sqlite_store.hpp"

namespace cascade::store {

using sql::Failure;

namespace {

// (Names of their own: a unity build puts every file's anonymous namespace in one unit.)
std::string on_run(const char* operation, RunId run) {
  return std::string(operation) + "(run " + std::to_string(run) + ")";
}

std::string on_notification(const char* operation, const std::string& destination, const std::string& event_id) {
  return std::string(operation) + "(" + destination + ", " + event_id + ")";
}

std::int64_t time_column(Time time) { return time.time_since_epoch().count(); }

std::int64_t flag_column(bool value) { return value ? 1 : 0; }

// ---- releases and approvals ---------------------------------------------------------

const char* const kReleaseColumns =
    "SELECT run_id, target, workload, image, from_digest, to_digest, wave, policy, state, detail, id, created_at, "
    "updated_at, finished_at FROM releases ";

Release release_from(const sql::Statement& row) {
  Release release;
  release.run = row.int64(0);
  release.target = row.text(1);
  release.workload = row.text(2);
  release.image = row.text(3);
  release.from_digest = row.optional_text(4);
  release.to_digest = row.text(5);
  release.wave = static_cast<int>(row.int64(6));
  release.policy = row.text(7);
  release.state = stored(parse_release_state, row.text(8), "releases.state");
  release.detail = row.text(9);
  release.id = row.int64(10);
  release.created_at = to_time(row.int64(11));
  release.updated_at = to_time(row.int64(12));
  release.finished_at = to_time(row.optional_int64(13));
  return release;
}

Approval approval_from(const sql::Statement& row) {
  Approval approval;
  approval.run = row.int64(0);
  approval.target = row.text(1);
  approval.actor = row.text(2);
  approval.approved = row.int64(3) != 0;
  approval.comment = row.text(4);
  approval.urgent = row.int64(5) != 0;
  approval.id = row.int64(6);
  approval.at = to_time(row.int64(7));
  return approval;
}

// ---- notifications ------------------------------------------------------------------

const char* const kNotificationColumns =
    "SELECT destination, event_id, event, body, attempts, next_at, delivered_at, last_error, created_at "
    "FROM notifications ";

Notification notification_from(const sql::Statement& row) {
  Notification notification;
  notification.destination = row.text(0);
  notification.event_id = row.text(1);
  notification.event = row.text(2);
  notification.body = row.text(3);
  notification.attempts = static_cast<int>(row.int64(4));
  notification.next_at = to_time(row.int64(5));
  notification.delivered_at = to_time(row.optional_int64(6));
  notification.last_error = row.text(7);
  notification.created_at = to_time(row.int64(8));
  return notification;
}

}  // namespace

Expected<void, Error> SqliteStore::add_releases(RunId run, const std::vector<Release>& releases) {
  return locked(on_run("add_releases", run), [&] {
    sql::Transaction transaction(db_);
    run_state(run);
    std::int64_t now = now_ms();
    for (const Release& release : releases) {
      std::optional<std::int64_t> finished;
      if (is_final(release.state)) finished = now;
      try {
        db_.prepare("INSERT INTO releases (run_id, target, workload, image, from_digest, to_digest, wave, policy, "
                    "state, detail, created_at, updated_at, finished_at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)")
            .bind_all(run, release.target, release.workload, release.image, release.from_digest, release.to_digest,
                      release.wave, release.policy, to_string(release.state), release.detail, now, finished)
            .run();
      } catch (const Failure& failure) {
        throw Failure(failure.code(), "release " + release.target + "/" + release.workload + ": " + failure.what());
      }
    }
    transaction.commit();
  });
}

Expected<std::vector<Release>, Error> SqliteStore::get_releases(RunId run) {
  return locked(on_run("get_releases", run), [&] {
    std::vector<Release> releases;
    auto rows = db_.prepare(std::string(kReleaseColumns) + "WHERE run_id = ?1 ORDER BY id");
    rows.bind(1, run);
    while (rows.step()) releases.push_back(release_from(rows));
    return releases;
  });
}

Expected<void, Error> SqliteStore::set_release_state(std::int64_t release, ReleaseState state,
                                                     const std::string& detail) {
  return locked("set_release_state(release " + std::to_string(release) + ")", [&] {
    sql::Transaction transaction(db_);
    ReleaseState current;
    {
      auto row = db_.prepare("SELECT state FROM releases WHERE id = ?1");
      if (!row.bind(1, release).step()) throw Failure(ErrorCode::not_found, "no release " + std::to_string(release));
      current = stored(parse_release_state, row.text(0), "releases.state");
    }
    if (is_final(current))
      throw Failure(ErrorCode::illegal_transition, "illegal transition " + std::string(to_string(current)) + " -> " +
                                                       std::string(to_string(state)) + ": the release is final");
    std::int64_t now = now_ms();
    std::optional<std::int64_t> finished;
    if (is_final(state)) finished = now;
    db_.prepare("UPDATE releases SET state = ?2, detail = ?3, updated_at = ?4, finished_at = ?5 WHERE id = ?1")
        .bind_all(release, to_string(state), detail, now, finished)
        .run();
    transaction.commit();
  });
}

Expected<std::int64_t, Error> SqliteStore::record_approval(const Approval& approval) {
  return locked(on_run("record_approval", approval.run), [&] {
    sql::Transaction transaction(db_);
    run_state(approval.run);
    db_.prepare("INSERT INTO approvals (run_id, target, actor, approved, comment, urgent, at) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .bind_all(approval.run, approval.target, approval.actor, flag_column(approval.approved), approval.comment,
                  flag_column(approval.urgent), now_ms())
        .run();
    std::int64_t id = db_.last_insert_rowid();
    transaction.commit();
    return id;
  });
}

Expected<std::vector<Approval>, Error> SqliteStore::get_approvals(RunId run) {
  return locked(on_run("get_approvals", run), [&] {
    std::vector<Approval> approvals;
    auto rows = db_.prepare("SELECT run_id, target, actor, approved, comment, urgent, id, at FROM approvals "
                            "WHERE run_id = ?1 ORDER BY id");
    rows.bind(1, run);
    while (rows.step()) approvals.push_back(approval_from(rows));
    return approvals;
  });
}

Expected<std::vector<Run>, Error> SqliteStore::awaiting_runs() {
  return locked("awaiting_runs", [&] { return query_runs("WHERE state = 'awaiting' ORDER BY id", std::nullopt); });
}

Expected<void, Error> SqliteStore::set_run_urgent(RunId run) {
  return locked(on_run("set_run_urgent", run), [&] {
    db_.prepare("UPDATE runs SET urgent = 1 WHERE id = ?1").bind(1, run).run();
    if (db_.changes() == 0) throw Failure(ErrorCode::not_found, "no run " + std::to_string(run));
  });
}

// ---- the outbox ---------------------------------------------------------------------

Expected<void, Error> SqliteStore::enqueue_notifications(const std::vector<Notification>& notifications) {
  return locked("enqueue_notifications(" + std::to_string(notifications.size()) + " notifications)", [&] {
    if (notifications.empty()) return;
    sql::Transaction transaction(db_);
    std::int64_t now = now_ms();
    for (const Notification& notification : notifications) {
      try {
        db_.prepare("INSERT INTO notifications (destination, event_id, event, body, attempts, next_at, last_error, "
                    "created_at) VALUES (?1, ?2, ?3, ?4, 0, ?5, '', ?6) "
                    "ON CONFLICT (destination, event_id) DO NOTHING")
            .bind_all(notification.destination, notification.event_id, notification.event, notification.body,
                      time_column(notification.next_at), now)
            .run();
      } catch (const Failure& failure) {
        throw Failure(failure.code(), "notification " + notification.destination + "/" + notification.event_id +
                                          ": " + failure.what());
      }
    }
    transaction.commit();
  });
}

Expected<std::vector<Notification>, Error> SqliteStore::due_notifications(Time now, std::size_t limit) {
  return locked("due_notifications", [&] {
    std::vector<Notification> due;
    auto rows = db_.prepare(std::string(kNotificationColumns) +
                            "WHERE delivered_at IS NULL AND next_at <= ?1 ORDER BY next_at, id LIMIT ?2");
    rows.bind_all(time_column(now), static_cast<std::int64_t>(limit));
    while (rows.step()) due.push_back(notification_from(rows));
    return due;
  });
}

Expected<std::vector<Notification>, Error> SqliteStore::list_notifications(const std::string& destination) {
  return locked("list_notifications(" + destination + ")", [&] {
    std::vector<Notification> notifications;
    auto rows = db_.prepare(std::string(kNotificationColumns) + "WHERE ?1 = '' OR destination = ?1 ORDER BY id");
    rows.bind(1, destination);
    while (rows.step()) notifications.push_back(notification_from(rows));
    return notifications;
  });
}

Expected<void, Error> SqliteStore::mark_delivered(const std::string& destination, const std::string& event_id) {
  return locked(on_notification("mark_delivered", destination, event_id), [&] {
    db_.prepare("UPDATE notifications SET delivered_at = coalesce(delivered_at, ?3) "
                "WHERE destination = ?1 AND event_id = ?2")
        .bind_all(destination, event_id, now_ms())
        .run();
    if (db_.changes() == 0) throw Failure(ErrorCode::not_found, "no notification " + event_id + " for " + destination);
  });
}

Expected<void, Error> SqliteStore::mark_attempt_failed(const std::string& destination, const std::string& event_id,
                                                       Time next_at, const std::string& error) {
  return locked(on_notification("mark_attempt_failed", destination, event_id), [&] {
    db_.prepare("UPDATE notifications SET attempts = attempts + 1, next_at = ?3, last_error = ?4 "
                "WHERE destination = ?1 AND event_id = ?2")
        .bind_all(destination, event_id, time_column(next_at), error)
        .run();
    if (db_.changes() == 0) throw Failure(ErrorCode::not_found, "no notification " + event_id + " for " + destination);
  });
}

}  // namespace cascade::store
