// The SQLite implementation of store::Store: one connection guarded by a mutex (every
// public method locks it for its whole transaction), WAL mode, IMMEDIATE write
// transactions. Other processes may use the same file; they wait up to busy_timeout.
#pragma once

#include <mutex>
#include <string>
#include <type_traits>
#include <utility>

#include "cascade/store.hpp"
#include "sqlite.hpp"

namespace cascade::store {

/// Milliseconds since the Unix epoch as a Time.
inline Time to_time(std::int64_t milliseconds) { return Time(Duration(milliseconds)); }
inline std::optional<Time> to_time(std::optional<std::int64_t> milliseconds) {
  if (!milliseconds) return std::nullopt;
  return to_time(*milliseconds);
}

/// Parses a name read from column `column` with `parse` (parse_run_state, ...); a name
/// the CHECK constraints should have kept out means a damaged file: throws Failure (io).
template <typename Parse>
auto stored(Parse parse, const std::string& text, const char* column) {
  auto value = parse(text);
  if (!value) throw sql::Failure(ErrorCode::io, "unknown value '" + text + "' in column " + column);
  return *value;
}

// ---- run records (records.cpp): what the runs columns trigger_action, trigger_args,
// plan_version and plan_json hold (schema version 5), and the rows an older cascade wrote.

/// trigger_args of `trigger`: its globs, advisories and package as a JSON object; nullopt
/// when it has none.
std::optional<std::string> trigger_args_column(const TriggerRecord& trigger);
/// Sets `trigger`'s action and arguments from its row's trigger_action and trigger_args; for
/// a row of plan_version 0 (an older cascade's), from its image ("rebuild:a/*,b/*",
/// "advisory:ID, ID", "package:CONSTRAINT"; else a patch). trigger.image must be read first.
void read_trigger_columns(TriggerRecord& trigger, const std::string& action, const std::optional<std::string>& args,
                          std::int64_t plan_version);
/// plan_json of `plan`; throws Failure (invalid_argument) unless its version is kPlanVersion.
std::string plan_column(const PlanRecord& plan);
/// The record in a row's plan_json at `version`; version 0: converted from an older cascade's
/// plan JSON. Throws Failure (schema) for a version newer than kPlanVersion.
PlanRecord plan_from_column(std::int64_t version, const std::string& text);

/// Sets the action, source and arguments of an event an older cascade stored (its action
/// and source columns 'legacy', schema version 6) from its image and sender as that cascade
/// wrote them: image "rebuild:GLOBS" ("rebuild:*": every image; a schedule firing's
/// "rebuild:N" counted its entry's globs, left empty), "refresh", "scan", "advisory:ID, ID",
/// anything else an image to patch; sender "schedule:NAME" (source schedule), "api" (api),
/// anything else a webhook's. The one reading of those markers.
void legacy_event(Event& event);

class SqliteStore final : public Store {
 public:
  /// Opens the connection, sets the pragmas and migrates; throws sql::Failure.
  SqliteStore(std::string path, StoreOptions options);

  Expected<RunId, Error> create_run(const NewRun& run) override;
  Expected<void, Error> set_run_state(RunId run, RunState state, const std::string& detail) override;
  Expected<void, Error> add_tasks(RunId run, const std::vector<TaskSpec>& tasks) override;
  Expected<Task, Error> transition_task(RunId run, const std::string& image, TaskState state,
                                        const std::string& detail, const TaskUpdate& update) override;
  Expected<void, Error> set_task_verdict(RunId run, const std::string& image, const std::string& verdict) override;
  Expected<Run, Error> get_run(RunId run) override;
  Expected<PlanRecord, Error> get_plan(RunId run) override;
  Expected<std::vector<Run>, Error> list_runs(std::size_t limit) override;
  Expected<std::vector<Task>, Error> get_tasks(RunId run) override;
  Expected<std::vector<Transition>, Error> get_transitions(RunId run) override;
  Expected<std::vector<Run>, Error> unfinished_runs() override;

  Expected<void, Error> record_digest(const std::string& image, const std::string& digest, DigestSource source,
                                      std::optional<RunId> run) override;
  Expected<std::optional<DigestRecord>, Error> latest_digest(const std::string& image) override;
  Expected<void, Error> record_duration(const std::string& image, Duration duration,
                                        std::optional<RunId> run) override;
  Expected<std::optional<Duration>, Error> expected_duration(const std::string& image) override;

  Expected<RecordedEvent, Error> record_event(const Event& event) override;
  Expected<void, Error> attach_event(EventId event, RunId run) override;
  Expected<std::vector<RecordedEvent>, Error> record_events(const std::vector<Event>& events) override;
  Expected<void, Error> settle_event(EventId event, const std::string& outcome) override;
  Expected<std::vector<Event>, Error> pending_events() override;
  Expected<std::vector<Event>, Error> recent_events(std::size_t limit) override;

  Expected<void, Error> put_setting(const std::string& key, const std::string& value) override;
  Expected<std::optional<std::string>, Error> get_setting(const std::string& key) override;

  Expected<std::int64_t, Error> record_rollout_step(const RolloutStep& step) override;
  Expected<std::vector<RolloutStep>, Error> get_rollout_steps(RunId run) override;
  Expected<void, Error> quarantine(const std::string& image, const std::string& digest, const std::string& reason,
                                   std::optional<RunId> run) override;
  Expected<bool, Error> clear_quarantine(const std::string& image, const std::string& digest) override;
  Expected<bool, Error> is_quarantined(const std::string& image, const std::string& digest) override;
  Expected<std::vector<Quarantined>, Error> list_quarantined(const std::string& image) override;

  Expected<void, Error> add_releases(RunId run, const std::vector<Release>& releases) override;
  Expected<std::vector<Release>, Error> get_releases(RunId run) override;
  Expected<void, Error> set_release_state(std::int64_t release, ReleaseState state, const std::string& detail) override;
  Expected<std::int64_t, Error> record_approval(const Approval& approval) override;
  Expected<std::vector<Approval>, Error> get_approvals(RunId run) override;
  Expected<std::vector<Run>, Error> awaiting_runs() override;
  Expected<void, Error> set_run_urgent(RunId run) override;
  Expected<void, Error> enqueue_notifications(const std::vector<Notification>& notifications) override;
  Expected<std::vector<Notification>, Error> due_notifications(Time now, std::size_t limit) override;
  Expected<std::vector<Notification>, Error> list_notifications(const std::string& destination) override;
  Expected<void, Error> mark_delivered(const std::string& destination, const std::string& event_id) override;
  Expected<void, Error> mark_attempt_failed(const std::string& destination, const std::string& event_id, Time next_at,
                                            const std::string& error) override;

  Expected<void, Error> put_layer_index(const packages::LayerIndex& layer) override;
  Expected<std::vector<std::string>, Error> known_layers(const std::vector<std::string>& digests) override;
  Expected<std::map<std::string, packages::LayerIndex>, Error> get_layer_indexes(
      const std::vector<std::string>& digests) override;
  Expected<std::map<std::string, packages::LayerIndex>, Error> all_layer_indexes(
      const std::optional<std::vector<std::string>>& package_names) override;
  Expected<void, Error> put_image_layers(const ImageLayers& image) override;
  Expected<std::optional<ImageLayers>, Error> get_image_layers(const std::string& digest) override;
  Expected<std::vector<ImageLayers>, Error> all_image_layers() override;
  Expected<void, Error> record_image_scan(const ImageScan& scan) override;
  Expected<void, Error> record_image_scans(const std::vector<ImageScan>& scans) override;
  Expected<void, Error> retain_image_scans(ScanRole role, const std::vector<std::string>& keep) override;
  Expected<std::vector<ImageScan>, Error> image_scans(bool history) override;

 private:
  /// Runs `body` under the lock; a thrown sql::Failure becomes an Error naming the file
  /// and `operation`.
  template <typename Body>
  auto locked(const std::string& operation, Body&& body) -> Expected<std::invoke_result_t<Body>, Error>;

  std::int64_t now_ms() const;
  /// The run's state; throws Failure (not_found) when there is no such run.
  RunState run_state(RunId run);
  Summary summary(RunId run);
  std::vector<Run> query_runs(const std::string& where_order_limit, std::optional<std::int64_t> parameter);
  Task read_task(RunId run, const std::string& image);
  /// Inserts the event unless its dedupe_key is stored (inside the caller's transaction).
  RecordedEvent insert_event(const Event& event);
  /// The event's run and outcome; throws Failure (not_found) when there is no such event.
  std::pair<std::optional<RunId>, std::optional<std::string>> event_fate(EventId event);

  /// Reads the layers whose digest `where` selects (a WHERE clause on layers.digest, with
  /// `digests` bound as a JSON list to ?1 when given).
  std::map<std::string, packages::LayerIndex> read_layers(const std::string& where, const std::string& digests_json,
                                                          const std::string& names_json = "");
  /// Inserts a layer's rows unless its digest is stored (inside the caller's transaction).
  void insert_layer(const packages::LayerIndex& layer);
  /// Runs `body` in a write transaction synced at checkpoints only (cache tables).
  template <typename Body>
  void cache_write(Body&& body);

  std::string path_;
  StoreOptions options_;
  std::mutex mutex_;
  sql::Connection db_;
};

template <typename Body>
void SqliteStore::cache_write(Body&& body) {
  bool full = options_.sync == StoreOptions::Sync::full;
  if (full) db_.exec("PRAGMA synchronous = NORMAL");
  try {
    sql::Transaction transaction(db_);
    body();
    transaction.commit();
  } catch (...) {
    if (full) db_.exec("PRAGMA synchronous = FULL");
    throw;
  }
  if (full) db_.exec("PRAGMA synchronous = FULL");
}

template <typename Body>
auto SqliteStore::locked(const std::string& operation, Body&& body)
    -> Expected<std::invoke_result_t<Body>, Error> {
  using Result = std::invoke_result_t<Body>;
  std::lock_guard lock(mutex_);
  try {
    if constexpr (std::is_void_v<Result>) {
      body();
      return {};
    } else {
      return body();
    }
  } catch (const sql::Failure& failure) {
    return unexpected(Error{failure.code(), "store " + path_ + ": " + operation + ": " + failure.what()});
  } catch (const std::exception& failure) {  // a corrupt JSON column, out of memory
    return unexpected(Error{ErrorCode::io, "store " + path_ + ": " + operation + ": " + failure.what()});
  }
}

}  // namespace cascade::store
