// SqliteStore: opening the file, runs, tasks and their transitions.
#include "sqlite_store.hpp"

#include <filesystem>
#include <thread>
#include <nlohmann/json.hpp>

#include "schema.hpp"

namespace cascade::store {

using sql::Failure;

namespace {

const char* const kRunColumns =
    "SELECT id, trigger_kind, trigger_image, trigger_digest, trigger_actor, pipeline_path, state, "
    "created_at, started_at, finished_at, trigger_action, trigger_args, plan_version, urgent FROM runs ";

const char* const kTaskColumns =
    "SELECT run_id, position, image, source, dockerfile, recipe_commit, dependencies, state, reason, "
    "old_digest, new_digest, base_digests, attempts, started_at, finished_at, duration_ms, build_log, verdict, "
    "worker FROM tasks ";

const char* const kInsertTransition =
    "INSERT INTO transitions (run_id, image, from_state, to_state, detail, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

std::string describe(const char* operation, RunId run) {
  return std::string(operation) + "(run " + std::to_string(run) + ")";
}

std::string describe(const char* operation, RunId run, const std::string& image) {
  return std::string(operation) + "(run " + std::to_string(run) + ", " + image + ")";
}

Run run_from(const sql::Statement& row) {
  Run run;
  run.id = row.int64(0);
  run.trigger.kind = stored(parse_trigger_kind, row.text(1), "runs.trigger_kind");
  run.trigger.image = row.text(2);
  run.trigger.digest = row.optional_text(3);
  run.trigger.actor = row.text(4);
  run.pipeline_path = row.text(5);
  run.state = stored(parse_run_state, row.text(6), "runs.state");
  run.created_at = to_time(row.int64(7));
  run.started_at = to_time(row.optional_int64(8));
  run.finished_at = to_time(row.optional_int64(9));
  read_trigger_columns(run.trigger, row.text(10), row.optional_text(11), row.int64(12));
  run.trigger.urgent = row.int64(13) != 0;  // 0 for the runs stored before schema version 8
  return run;
}

Task task_from(const sql::Statement& row) {
  Task task;
  task.run = row.int64(0);
  task.position = static_cast<int>(row.int64(1));
  task.image = row.text(2);
  task.source = row.text(3);
  task.dockerfile = row.text(4);
  task.commit = row.text(5);
  task.dependencies = nlohmann::json::parse(row.text(6)).get<std::vector<std::string>>();
  task.state = stored(parse_task_state, row.text(7), "tasks.state");
  task.reason = row.text(8);
  task.old_digest = row.optional_text(9);
  task.new_digest = row.optional_text(10);
  task.base_digests = nlohmann::json::parse(row.text(11)).get<std::map<std::string, std::string>>();
  task.attempts = static_cast<int>(row.int64(12));
  task.started_at = to_time(row.optional_int64(13));
  task.finished_at = to_time(row.optional_int64(14));
  if (auto duration = row.optional_int64(15)) task.duration = Duration(*duration);
  task.build_log = row.optional_text(16);
  task.verdict = row.optional_text(17);
  task.worker = row.optional_text(18).value_or("");
  return task;
}

void add_to(Summary& summary, TaskState state, int count) {
  summary.total += count;
  switch (state) {
    case TaskState::pending: summary.pending += count; break;
    case TaskState::building: summary.building += count; break;
    case TaskState::pushing: summary.pushing += count; break;
    case TaskState::pushed: summary.pushed += count; break;
    case TaskState::skipped: summary.skipped += count; break;
    case TaskState::failed: summary.failed += count; break;
    case TaskState::blocked: summary.blocked += count; break;
  }
}

/// The folder of `path` exists afterwards (SQLite creates the file, not its folders).
const std::string& with_folder(const std::string& path) {
  auto folder = std::filesystem::path(path).parent_path();
  if (!folder.empty()) std::filesystem::create_directories(folder);
  return path;
}

/// Switches the file to WAL mode (a no-op once it is). SQLite does not wait on the busy
/// handler here when another process switches the same new file at the same moment, so
/// this retries until `timeout`.
void enable_wal(sql::Connection& db, Duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      std::string mode = db.query_text("PRAGMA journal_mode = WAL");
      if (mode != "wal") throw Failure(ErrorCode::io, "cannot use WAL mode (journal_mode stays " + mode + ")");
      return;
    } catch (const Failure& failure) {
      if (!failure.busy() || std::chrono::steady_clock::now() > deadline)
        throw Failure(failure.code(), std::string("WAL: ") + failure.what());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

int latest_schema_version() { return schema::latest_version(); }

Expected<std::unique_ptr<Store>, Error> open_sqlite(const std::string& path, StoreOptions options) {
  try {
    return std::unique_ptr<Store>(std::make_unique<SqliteStore>(path, std::move(options)));
  } catch (const Failure& failure) {
    return unexpected(Error{failure.code(), "store " + path + ": open: " + failure.what()});
  } catch (const std::filesystem::filesystem_error& failure) {
    return unexpected(Error{ErrorCode::io, "store " + path + ": open: " + failure.what()});
  }
}

SqliteStore::SqliteStore(std::string path, StoreOptions options)
    : path_(std::move(path)), options_(std::move(options)), db_(with_folder(path_)) {
  db_.set_busy_timeout(static_cast<int>(options_.busy_timeout.count()));
  enable_wal(db_, options_.busy_timeout);
  db_.exec("PRAGMA foreign_keys = ON");
  db_.exec(options_.sync == StoreOptions::Sync::full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  schema::migrate(db_, options_.schema_version);
}

std::int64_t SqliteStore::now_ms() const {
  Time now = options_.clock ? options_.clock()
                            : std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  return now.time_since_epoch().count();
}

RunState SqliteStore::run_state(RunId run) {
  auto row = db_.prepare("SELECT state FROM runs WHERE id = ?1");
  row.bind(1, run);
  if (!row.step()) throw Failure(ErrorCode::not_found, "no run " + std::to_string(run));
  return stored(parse_run_state, row.text(0), "runs.state");
}

Summary SqliteStore::summary(RunId run) {
  Summary summary;
  auto rows = db_.prepare("SELECT state, count(*) FROM tasks WHERE run_id = ?1 GROUP BY state");
  rows.bind(1, run);
  while (rows.step())
    add_to(summary, stored(parse_task_state, rows.text(0), "tasks.state"), static_cast<int>(rows.int64(1)));
  auto vulnerable = db_.prepare("SELECT count(*) FROM tasks WHERE run_id = ?1 AND verdict LIKE 'vulnerable%'");
  vulnerable.bind(1, run);
  if (vulnerable.step()) summary.vulnerable = static_cast<int>(vulnerable.int64(0));
  return summary;
}

std::vector<Run> SqliteStore::query_runs(const std::string& where_order_limit, std::optional<std::int64_t> parameter) {
  std::vector<Run> runs;
  sql::Transaction snapshot(db_, sql::Transaction::Mode::read);
  {
    auto rows = db_.prepare(kRunColumns + where_order_limit);
    if (parameter) rows.bind(1, *parameter);
    while (rows.step()) runs.push_back(run_from(rows));
  }
  for (Run& run : runs) run.summary = summary(run.id);
  snapshot.commit();
  return runs;
}

Task SqliteStore::read_task(RunId run, const std::string& image) {
  auto row = db_.prepare(std::string(kTaskColumns) + "WHERE run_id = ?1 AND image = ?2");
  row.bind_all(run, image);
  if (!row.step()) throw Failure(ErrorCode::not_found, "no task " + image + " in run " + std::to_string(run));
  return task_from(row);
}

Expected<RunId, Error> SqliteStore::create_run(const NewRun& run) {
  return locked("create_run", [&] {
    sql::Transaction transaction(db_);
    std::int64_t now = now_ms();
    db_.prepare("INSERT INTO runs (trigger_kind, trigger_image, trigger_digest, trigger_actor, pipeline_path, "
                "state, created_at, plan_json, trigger_action, trigger_args, plan_version, urgent) "
                "VALUES (?1, ?2, ?3, ?4, ?5, 'planned', ?6, ?7, ?8, ?9, ?10, ?11)")
        .bind_all(to_string(run.trigger.kind), run.trigger.image, run.trigger.digest, run.trigger.actor,
                  run.pipeline_path, now, plan_column(run.plan), to_string(run.trigger.action),
                  trigger_args_column(run.trigger), static_cast<std::int64_t>(kPlanVersion), run.trigger.urgent ? 1 : 0)
        .run();
    RunId id = db_.last_insert_rowid();
    db_.prepare(kInsertTransition).bind_all(id, std::nullopt, std::nullopt, "planned", "", now).run();
    transaction.commit();
    return id;
  });
}

Expected<void, Error> SqliteStore::set_run_state(RunId run, RunState state, const std::string& detail) {
  return locked(describe("set_run_state", run), [&] {
    sql::Transaction transaction(db_);
    RunState from = run_state(run);
    if (!can_transition(from, state))
      throw Failure(ErrorCode::illegal_transition,
                    "illegal transition " + std::string(to_string(from)) + " -> " + std::string(to_string(state)));
    std::int64_t now = now_ms();
    bool finished = state == RunState::succeeded || state == RunState::failed || state == RunState::interrupted;
    db_.prepare("UPDATE runs SET state = ?2, started_at = CASE WHEN ?2 = 'running' THEN coalesce(started_at, ?3) "
                "ELSE started_at END, finished_at = ?4 WHERE id = ?1")
        .bind_all(run, to_string(state), now, finished ? std::optional<std::int64_t>(now) : std::nullopt)
        .run();
    db_.prepare(kInsertTransition).bind_all(run, std::nullopt, to_string(from), to_string(state), detail, now).run();
    transaction.commit();
  });
}

Expected<void, Error> SqliteStore::add_tasks(RunId run, const std::vector<TaskSpec>& tasks) {
  return locked(describe("add_tasks", run), [&] {
    sql::Transaction transaction(db_);
    run_state(run);
    std::int64_t position = 0;
    {
      auto next = db_.prepare("SELECT coalesce(max(position) + 1, 0) FROM tasks WHERE run_id = ?1");
      if (next.bind(1, run).step()) position = next.int64(0);
    }
    std::int64_t now = now_ms();
    for (const TaskSpec& task : tasks) {
      try {
        db_.prepare("INSERT INTO tasks (run_id, image, position, source, dockerfile, recipe_commit, dependencies, "
                    "state, reason, old_digest, base_digests, attempts) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', '', ?8, '{}', 0)")
            .bind_all(run, task.image, position++, task.source, task.dockerfile, task.commit,
                      nlohmann::json(task.dependencies).dump(), task.old_digest)
            .run();
      } catch (const Failure& failure) {
        throw Failure(failure.code(), "task " + task.image + ": " + failure.what());
      }
      db_.prepare(kInsertTransition).bind_all(run, task.image, std::nullopt, "pending", "planned", now).run();
    }
    transaction.commit();
  });
}

Expected<Task, Error> SqliteStore::transition_task(RunId run, const std::string& image, TaskState state,
                                                   const std::string& detail, const TaskUpdate& update) {
  return locked(describe("transition_task", run, image), [&] {
    sql::Transaction transaction(db_);
    Task current = read_task(run, image);
    if (!can_transition(current.state, state))
      throw Failure(ErrorCode::illegal_transition, "illegal transition " + std::string(to_string(current.state)) +
                                                       " -> " + std::string(to_string(state)));
    if (state == TaskState::pushed && !update.new_digest && !current.new_digest)
      throw Failure(ErrorCode::invalid_argument, "pushed needs the new digest");
    std::int64_t now = now_ms();
    std::optional<std::int64_t> started;
    if (current.started_at) started = current.started_at->time_since_epoch().count();
    if (state == TaskState::building) started = now;
    bool finished = !(state == TaskState::pending || state == TaskState::building || state == TaskState::pushing);
    bool timed = (state == TaskState::pushed || state == TaskState::failed) && started;
    std::optional<std::string> base_digests;
    if (update.base_digests) base_digests = nlohmann::json(*update.base_digests).dump();
    db_.prepare("UPDATE tasks SET state = ?3, reason = ?4, attempts = attempts + ?5, started_at = ?6, "
                "finished_at = ?7, duration_ms = ?8, old_digest = coalesce(?9, old_digest), "
                "new_digest = coalesce(?10, new_digest), base_digests = coalesce(?11, base_digests), "
                "build_log = coalesce(?12, build_log), worker = coalesce(?13, worker) WHERE run_id = ?1 AND image = ?2")
        .bind_all(run, image, to_string(state), detail, state == TaskState::building ? 1 : 0, started,
                  finished ? std::optional<std::int64_t>(now) : std::nullopt,
                  timed ? std::optional<std::int64_t>(now - *started) : std::nullopt, update.old_digest,
                  update.new_digest, base_digests, update.build_log, update.worker)
        .run();
    db_.prepare(kInsertTransition)
        .bind_all(run, image, to_string(current.state), to_string(state), detail, now)
        .run();
    Task task = read_task(run, image);
    transaction.commit();
    return task;
  });
}

Expected<Run, Error> SqliteStore::get_run(RunId run) {
  return locked(describe("get_run", run), [&] {
    auto runs = query_runs("WHERE id = ?1", run);
    if (runs.empty()) throw Failure(ErrorCode::not_found, "no run " + std::to_string(run));
    return std::move(runs.front());
  });
}

Expected<PlanRecord, Error> SqliteStore::get_plan(RunId run) {
  return locked(describe("get_plan", run), [&] {
    auto row = db_.prepare("SELECT plan_version, plan_json FROM runs WHERE id = ?1");
    row.bind(1, run);
    if (!row.step()) throw Failure(ErrorCode::not_found, "no run " + std::to_string(run));
    return plan_from_column(row.int64(0), row.text(1));
  });
}

Expected<std::vector<Run>, Error> SqliteStore::list_runs(std::size_t limit) {
  return locked("list_runs", [&] {
    return query_runs("ORDER BY id DESC LIMIT ?1", static_cast<std::int64_t>(limit));
  });
}

Expected<std::vector<Run>, Error> SqliteStore::unfinished_runs() {
  return locked("unfinished_runs", [&] {
    return query_runs("WHERE state IN ('planned', 'running') ORDER BY id", std::nullopt);
  });
}

Expected<std::vector<Task>, Error> SqliteStore::get_tasks(RunId run) {
  return locked(describe("get_tasks", run), [&] {
    std::vector<Task> tasks;
    auto rows = db_.prepare(std::string(kTaskColumns) + "WHERE run_id = ?1 ORDER BY position");
    rows.bind(1, run);
    while (rows.step()) tasks.push_back(task_from(rows));
    return tasks;
  });
}

Expected<std::vector<Transition>, Error> SqliteStore::get_transitions(RunId run) {
  return locked(describe("get_transitions", run), [&] {
    std::vector<Transition> transitions;
    auto rows = db_.prepare("SELECT id, run_id, image, from_state, to_state, detail, at FROM transitions "
                            "WHERE run_id = ?1 ORDER BY id");
    rows.bind(1, run);
    while (rows.step())
      transitions.push_back(Transition{rows.int64(0), rows.int64(1), rows.optional_text(2), rows.optional_text(3),
                                       rows.text(4), rows.text(5), to_time(rows.int64(6))});
    return transitions;
  });
}

}  // namespace cascade::store
