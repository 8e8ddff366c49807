// Helpers shared by the store tests: a fake clock, sample runs and tasks, raw SQLite
// queries on a store's file, and a consistency check of a run's tasks and history.
#pragma once

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cascade/store.hpp"

namespace cascade::test {

namespace st = cascade::store;
using namespace std::chrono_literals;

/// A clock starting at 2026-01-01T00:00:00Z that advances 1 ms per reading.
inline std::function<st::Time()> stepping_clock() {
  auto ticks = std::make_shared<std::atomic<std::int64_t>>(0);
  return [ticks] { return st::Time(1'767'225'600'000ms + st::Duration(ticks->fetch_add(1))); };
}

inline st::StoreOptions test_options() {
  st::StoreOptions options;
  options.clock = stepping_clock();
  return options;
}

/// Opens the store or fails the test with the store's message.
inline std::unique_ptr<st::Store> open_store(const std::string& path, st::StoreOptions options = test_options()) {
  auto store = st::open_sqlite(path, std::move(options));
  if (!store) FAIL(store.error().message);
  return std::move(store).value();
}

/// The value of `result`, failing the test with its message when it is an error.
template <typename T>
T ok(cascade::Expected<T, st::Error> result) {
  if (!result) FAIL(result.error().message);
  return std::move(result).value();
}
inline void ok(cascade::Expected<void, st::Error> result) {
  if (!result) FAIL(result.error().message);
}

inline st::NewRun sample_run(const std::string& image = "docker.io/library/debian:12") {
  st::PlanRecord plan;
  plan.query = image;
  plan.trigger_digests[image] = "sha256:" + std::string(64, 'a');
  return st::NewRun{{st::TriggerKind::cli, image, "sha256:" + std::string(64, 'a'), "cli:test"},
                    "/pipelines/fleet.yaml", plan};
}

/// `count` tasks img-0 .. img-N-1, each depending on the one before.
inline std::vector<st::TaskSpec> chain_tasks(int count, const std::string& prefix = "r.example.com/img-") {
  std::vector<st::TaskSpec> tasks;
  for (int i = 0; i < count; ++i) {
    st::TaskSpec task{prefix + std::to_string(i), "src", "Dockerfile", std::string(40, 'c'), {}, std::nullopt};
    if (i > 0) task.dependencies.push_back(prefix + std::to_string(i - 1));
    tasks.push_back(task);
  }
  return tasks;
}

/// Walks a task through building and pushing to pushed.
inline void push_task(st::Store& store, st::RunId run, const std::string& image) {
  ok(store.transition_task(run, image, st::TaskState::building, "attempt"));
  ok(store.transition_task(run, image, st::TaskState::pushing, "built"));
  st::TaskUpdate update;
  update.new_digest = "sha256:" + std::string(64, 'f');
  update.base_digests = std::map<std::string, std::string>{{"docker.io/library/debian:12", "sha256:base"}};
  ok(store.transition_task(run, image, st::TaskState::pushed, "pushed", update));
}

/// A read-only SQLite connection of its own on `path`, for looking under the API.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
      throw std::runtime_error("cannot open " + path);
    sqlite3_busy_timeout(db_, 10'000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  /// Every row of `sql` with its columns joined by '|'; throws on an error.
  std::vector<std::string> rows(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
    std::vector<std::string> result;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::string row;
      for (int column = 0; column < sqlite3_column_count(stmt); ++column) {
        if (column) row += "|";
        auto text = sqlite3_column_text(stmt, column);
        row += text ? reinterpret_cast<const char*>(text) : "NULL";
      }
      result.push_back(row);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db_));
    return result;
  }
  std::string one(const std::string& sql) {
    auto all = rows(sql);
    return all.empty() ? "" : all.front();
  }
  void exec(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_ = nullptr;
};

/// `text` as an SQL string literal.
inline std::string sql_text(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return quoted + "'";
}

/// The plan JSON a cascade before schema version 5 stored for a patch of `image`: the CLI's
/// plan JSON, no steps.
inline std::string legacy_plan_json(const std::string& image = "docker.io/library/debian:12") {
  return R"({"query":")" + image + R"(","trigger":{},"steps":[]})";
}

/// Stores a run as a cascade before schema version 5 did (today's create_run writes the
/// version 5 columns): trigger_image says what was asked, plan_json is the CLI's plan JSON.
inline st::RunId insert_legacy_run(RawDb& raw, const std::string& trigger_image = "docker.io/library/debian:12",
                                   const std::string& plan_json = legacy_plan_json(),
                                   const std::string& state = "planned") {
  raw.exec("INSERT INTO runs (trigger_kind, trigger_image, trigger_digest, trigger_actor, pipeline_path, state, "
           "created_at, plan_json) VALUES ('cli', " + sql_text(trigger_image) + ", 'sha256:" + std::string(64, 'a') +
           "', 'cli:test', '/pipelines/fleet.yaml', " + sql_text(state) + ", 1767225600000, " + sql_text(plan_json) + ")");
  std::string id = raw.one("SELECT max(id) FROM runs");
  raw.exec("INSERT INTO transitions (run_id, image, from_state, to_state, detail, at) VALUES (" + id +
           ", NULL, NULL, 'planned', '', 1767225600000)");
  if (state != "planned")
    raw.exec("INSERT INTO transitions (run_id, image, from_state, to_state, detail, at) VALUES (" + id +
             ", NULL, 'planned', " + sql_text(state) + ", '', 1767225600001)");
  return std::stoll(id);
}

/// Stores a trigger event as a cascade before schema version 6 did (today's record_event
/// writes the version 6 columns): what was asked only in image and sender.
inline st::EventId insert_legacy_event(RawDb& raw, const std::string& key, const std::string& sender,
                                       const std::string& image, const std::optional<std::string>& event_id = {},
                                       const std::optional<std::string>& digest = {}) {
  auto value = [](const std::optional<std::string>& text) { return text ? sql_text(*text) : std::string("NULL"); };
  raw.exec("INSERT INTO events (dedupe_key, sender, event_id, image, digest, received_at) VALUES (" + sql_text(key) +
           ", " + sql_text(sender) + ", " + value(event_id) + ", " + sql_text(image) + ", " + value(digest) +
           ", 1767225600000)");
  return std::stoll(raw.one("SELECT max(id) FROM events"));
}

/// Checks that the run's tasks agree with its history: each task's state is the `to` of
/// its last transition, each transition starts where the one before ended, attempts
/// counts the entries into building, and a pushed task has its new digest.
inline void check_consistent(st::Store& store, st::RunId run) {
  auto run_row = ok(store.get_run(run));
  auto tasks = ok(store.get_tasks(run));
  auto transitions = ok(store.get_transitions(run));
  std::map<std::string, std::string> last;  // image ("" for the run) -> state
  std::map<std::string, int> builds;
  for (const auto& transition : transitions) {
    std::string key = transition.image.value_or("");
    auto before = last.find(key);
    CHECK(transition.from == (before == last.end() ? std::nullopt : std::optional(before->second)));
    last[key] = transition.to;
    if (transition.to == "building") ++builds[key];
  }
  CHECK(last[""] == std::string(st::to_string(run_row.state)));
  CHECK(run_row.summary.total == static_cast<int>(tasks.size()));
  CHECK(last.size() == tasks.size() + 1);
  for (const auto& task : tasks) {
    INFO("task " << task.image);
    CHECK(last[task.image] == std::string(st::to_string(task.state)));
    CHECK(task.attempts == builds[task.image]);
    if (task.state == st::TaskState::pushed) CHECK(task.new_digest.has_value());
  }
}

}  // namespace cascade::test
