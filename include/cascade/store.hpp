// The durable state of cascade: runs, their tasks and every task's state history, the
// latest digest per image, build durations, trigger events, rollout steps and quarantined
// digests. Everything a write returns is committed: a crash right after it loses nothing.
//
// `Store` is the interface the executor, the daemon and `cascade status` use; it holds no
// SQL. `open_sqlite` gives the SQLite implementation (one file, WAL mode). A PostgreSQL
// backend would be a second implementation of the same interface.
//
// Times are UTC with millisecond precision, taken by the store from its clock when a row
// is written (StoreOptions::clock lets tests pick them).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/layer_index.hpp"
#include "cascade/util/expected.hpp"

namespace cascade::store {

using Time = std::chrono::sys_time<std::chrono::milliseconds>;
using Duration = std::chrono::milliseconds;
using RunId = std::int64_t;
using EventId = std::int64_t;

// ---- states -------------------------------------------------------------------------

/// What started a run.
enum class TriggerKind { cli, webhook, schedule, api };

/// What a run was asked to do: patch an image (cascade its new digest), rebuild a selection
/// of fleet images by globs, fix an advisory's (or a package constraint's) exposure, or deploy
/// an image the fleet already pushed.
enum class TriggerAction { patch, rebuild, fix, deploy };

/// What a stored trigger event asks the daemon to do: patch (an image's new digest: a
/// registry's push, POST /api/patch), a schedule firing's rebuild (of `globs`), refresh or
/// scan, or a fix (of `advisories`: POST /api/advisories with "patch": true). Its own enum,
/// not TriggerAction: refresh and scan start no run (a run never has them), and no event
/// asks for a deploy.
enum class EventAction { patch, rebuild, refresh, scan, fix };

/// A run's life: planned -> running -> [awaiting ->] succeeded | failed | interrupted.
///   planned:     the plan is stored, nothing started yet
///   running:     the executor works on it (after a crash the row still says running)
///   awaiting:    its builds are done (or, with `approval: {before: build}`, not started) and
///                releases wait for an approval, a change window or an earlier wave; the
///                daemon or `cascade approve|release` moves it on

///   succeeded:   every task pushed or skipped
///   failed:      at least one task failed or was blocked; final
///   interrupted: stopped on purpose (signal, cancel); may be resumed (-> running)
/// Legal changes: planned -> running|awaiting|succeeded|failed|interrupted,
/// running -> awaiting|succeeded|failed|interrupted, interrupted -> running|failed,
/// awaiting -> running|succeeded|failed.
enum class RunState { planned, running, succeeded, failed, interrupted, awaiting };

/// A task's life (one task per affected image of a run):
///   pending:  waits for its dependencies or for a build slot
///   building: a build is running (attempts counts entries into this state)
///   pushing:  built; the image is being pushed
///   pushed:   pushed, new_digest is set; final
///   skipped:  nothing to do, reason says why ("already built on sha256:..."); final
///   failed:   the build or push failed, reason says why; may be retried (-> pending)
///   blocked:  a dependency failed ("blocked by X"); may be retried (-> pending)
/// Legal changes: pending -> building|skipped|blocked|failed,
/// building -> pushing|failed|pending, pushing -> pushed|failed|pending,
/// failed -> pending, blocked -> pending. (-> pending from building/pushing: requeued
/// after an interruption.)
enum class TaskState { pending, building, pushing, pushed, skipped, failed, blocked };

/// A held rollout's life (one release per workload a gated run would move):
///   held:      waits for an approval, a change window, an earlier wave or its soak
///   rolling:   its rollout runs (after a crash: rolled again, the target's rollout is idempotent)
///   done:      the workload runs to_digest and is healthy; final
///   failed:    the rollout failed or rolled back; final
///   rejected:  a person rejected the run (or its target); the workload stays behind; final
///   expired:   the approval timed out; the workload stays behind; final
///   stopped:   an earlier wave failed; final
///   monitored: the workload's policy is `monitor`: reported, never touched; final
enum class ReleaseState { held, rolling, done, failed, rejected, expired, stopped, monitored };

/// Where a latest digest was learned.
enum class DigestSource { pushed, registry };

/// One step of rolling a workload to a new digest:
///   updating: the workload is being moved to to_digest
///   healthy:  it runs to_digest and passed its health gate
///   failed:   the update or the health gate failed
///   rolled_back: it runs from_digest again
enum class RolloutState { updating, healthy, failed, rolled_back };

std::string_view to_string(TriggerKind kind);
std::string_view to_string(TriggerAction action);
std::string_view to_string(EventAction action);
std::string_view to_string(RunState state);
std::string_view to_string(TaskState state);
std::string_view to_string(DigestSource source);
std::string_view to_string(RolloutState state);
std::string_view to_string(ReleaseState state);
/// The state named `text` ("pushed"); nullopt for an unknown name.
std::optional<TriggerKind> parse_trigger_kind(std::string_view text);
std::optional<TriggerAction> parse_trigger_action(std::string_view text);
std::optional<EventAction> parse_event_action(std::string_view text);
std::optional<RunState> parse_run_state(std::string_view text);
std::optional<TaskState> parse_task_state(std::string_view text);
std::optional<DigestSource> parse_digest_source(std::string_view text);
std::optional<RolloutState> parse_rollout_state(std::string_view text);
std::optional<ReleaseState> parse_release_state(std::string_view text);

/// Whether a run or task may change from `from` to `to` (the tables above).
bool can_transition(RunState from, RunState to);
bool can_transition(TaskState from, TaskState to);
/// True for pushed and skipped, the states a task never leaves.
bool is_final(TaskState state);
/// True for every release state but held and rolling.
bool is_final(ReleaseState state);

/// The estimate expected_duration() gives for recent successful build durations (oldest
/// first): the median of the last kRecentDurations; nullopt when there are none.
inline constexpr std::size_t kRecentDurations = 5;
std::optional<Duration> estimate_duration(const std::vector<Duration>& oldest_first);

// ---- records ------------------------------------------------------------------------

/// Who started a run (kind, actor) and what was asked (action and its arguments).
struct TriggerRecord {
  TriggerKind kind = TriggerKind::cli;
  // The image whose change started the run (patch, deploy: as asked, "debian:12",
  // "x@sha256:..."); for a rebuild or a fix, the run's name as users see it ("rebuild:apps/*",
  // "advisory:GHSA-x, CVE-y"), never read back: the fields below say what was asked.
  std::string image;
  std::optional<std::string> digest;  // its new digest, when the trigger named one
  std::string actor;                  // who or what: "cli:alice", "webhook:harbor", ...
  TriggerAction action = TriggerAction::patch;
  std::vector<std::string> globs{};       // rebuild: globs on repositories; empty: every fleet image
  std::vector<std::string> advisories{};  // fix: the ids of the advisories asked about
  std::optional<std::string> package{};   // fix by a package constraint: "bash<5.2.15-2+deb12u1"
  // `--urgent`: skips approvals and windows on the deploy targets that allow it (`urgent: true`)
  bool urgent = false;

  bool operator==(const TriggerRecord&) const = default;
};

/// The layout version of a PlanRecord this binary writes; 0 names a plan an older cascade
/// stored as its display JSON (converted when read).
inline constexpr int kPlanVersion = 1;

/// What a run keeps of its plan: what resume needs to plan it again (not the plan itself:
/// resume asks the registry again, and the tasks are stored on their own).
struct PlanRecord {
  int version = kPlanVersion;  // create_run() writes kPlanVersion only
  std::string query;           // the trigger as planned: a patch or deploy is planned again from it
  std::map<std::string, std::string> trigger_digests{};  // start image -> the digest the run started from
  std::vector<std::string> rebuilt_starts{};  // the plan's depth-0 images: a pushed one's new digest is
                                              // the start digest on resume
  std::vector<std::string> advisory_documents{};  // fix: the OSV texts asked, to ask them again

  bool operator==(const PlanRecord&) const = default;
};

/// What create_run() stores.
struct NewRun {
  TriggerRecord trigger;
  std::string pipeline_path;  // the pipeline file the run was planned from
  PlanRecord plan{};
};

/// Tasks of a run counted by state.
struct Summary {
  int total = 0;
  int pending = 0, building = 0, pushing = 0, pushed = 0, skipped = 0, failed = 0, blocked = 0;
  int vulnerable = 0;  // pushed, but the scan found a vulnerable version: not rolled out
};

struct Run {
  RunId id = 0;  // increasing, never reused
  TriggerRecord trigger;
  std::string pipeline_path;
  RunState state = RunState::planned;
  Time created_at{};
  std::optional<Time> started_at;   // first entry into running
  std::optional<Time> finished_at;  // last entry into succeeded/failed/interrupted; cleared on resume
  Summary summary;                  // computed from the tasks when read
};

/// One affected image as the plan has it; add_tasks() stores it in state pending.
struct TaskSpec {
  std::string image;                      // normalized reference; unique within the run
  std::string source;                     // recipe: pipeline source name
  std::string dockerfile;                 // recipe: path in the repository
  std::string commit;                     // recipe: commit the Dockerfile was read at
  std::vector<std::string> dependencies;  // images of this run it waits for
  std::optional<std::string> old_digest;  // the image's digest before the run, when known
};

struct Task {
  RunId run = 0;
  int position = 0;  // order in the plan (0-based, as given to add_tasks)
  std::string image, source, dockerfile, commit;
  std::vector<std::string> dependencies;
  TaskState state = TaskState::pending;
  std::string reason;                     // detail of the latest transition
  std::optional<std::string> old_digest;
  std::optional<std::string> new_digest;  // set when pushed
  std::map<std::string, std::string> base_digests;  // base image -> digest the build used
  int attempts = 0;                       // entries into building
  std::optional<Time> started_at;         // latest entry into building
  std::optional<Time> finished_at;        // entry into pushed/skipped/failed/blocked
  std::optional<Duration> duration;       // finished_at - started_at, for pushed/failed
  std::optional<std::string> build_log;   // path of the build log
  // What the scan of the pushed image found: "clean", or "vulnerable: bash 5.2.26-r0 (fixed
  // in 5.2.26-r1, x_EXAMPLE-1)" (then it was not rolled out); nullopt when not verified.
  std::optional<std::string> verdict;
  std::string worker;  // the build worker of its latest build; empty when never started
};

/// Fields transition_task() sets besides the state; empty ones are left unchanged.
struct TaskUpdate {
  std::optional<std::string> old_digest;
  std::optional<std::string> new_digest;
  std::optional<std::map<std::string, std::string>> base_digests;
  std::optional<std::string> build_log;
  std::optional<std::string> worker;
};

/// One state change of a run or of one of its tasks (append-only history).
struct Transition {
  std::int64_t id = 0;               // increasing: the order changes were committed in
  RunId run = 0;
  std::optional<std::string> image;  // the task's image; nullopt for the run's own state
  std::optional<std::string> from;   // state name before; nullopt when the row was created
  std::string to;                    // state name after (a RunState or TaskState name)
  std::string detail;
  Time at{};
};

struct DigestRecord {
  std::string image;
  std::string digest;
  Time observed_at{};
  DigestSource source = DigestSource::registry;
  std::optional<RunId> run;  // the run that pushed it (source pushed)
};

/// A received trigger event. record_event() reads the fields up to `run`; the store sets
/// id and received_at. An event an older cascade stored (schema version 5 or before: no
/// action or source columns) is read with its action, source and arguments taken from its
/// image and sender as that cascade wrote them ("rebuild:...", "refresh", "scan",
/// "advisory:ID, ID"; sender "schedule:NAME", "api"; anything else a registry's push).
struct Event {
  std::string dedupe_key;              // unique: a second event with this key is a duplicate
  std::string sender;                  // who sent it: "harbor", "schedule:nightly", "api", ...
  std::optional<std::string> event_id; // the sender's own id, when it has one
  // patch: the image pushed or asked for; other actions: what users see of the event
  // ("rebuild:2", "refresh", "advisory:GHSA-x, CVE-y"), never read back.
  std::string image;
  std::optional<std::string> digest;
  EventAction action = EventAction::patch;
  TriggerKind source = TriggerKind::webhook;  // who asked: a webhook, the schedule, the API
  std::vector<std::string> globs{};           // rebuild: globs on repositories (empty: every fleet image)
  std::vector<std::string> advisories{};      // fix: the ids of the advisories asked about
  std::optional<RunId> run{};          // the run it joined; nullopt while waiting
  std::optional<std::string> outcome{};  // set by settle_event(): why it needs no run ("up to date", ...)
  EventId id = 0;
  Time received_at{};
};

struct RecordedEvent {
  EventId id = 0;
  bool is_new = false;       // false: a duplicate of the event with this id
  std::optional<RunId> run;  // the run the (first) event joined, if any
};

/// One rollout step. record_rollout_step() reads all but id and at.
struct RolloutStep {
  RunId run = 0;
  std::string target;    // deploy target name
  std::string workload;  // workload within the target
  std::string image;
  std::optional<std::string> from_digest;
  std::string to_digest;
  RolloutState state = RolloutState::updating;
  std::string detail;
  std::int64_t id = 0;
  Time at{};
};

/// A rollout a gated run holds (approval, window, wave): what would move, from which digest to
/// which. add_releases() reads all but id and the times.
struct Release {
  RunId run = 0;
  std::string target;    // deploy target name
  std::string workload;  // workload within the target
  std::string image;     // the fleet image it runs
  std::optional<std::string> from_digest;  // what it runs now, when known
  std::string to_digest;
  int wave = -1;          // index into the pipeline's `waves`; -1 in none
  std::string policy;     // the workload's io.cascade.policy: "", "hold" or "monitor"
  ReleaseState state = ReleaseState::held;
  std::string detail;     // why it waits ("awaiting approval 0/1", "window opens ..."), or how it ended
  std::int64_t id = 0;
  Time created_at{};
  Time updated_at{};
  std::optional<Time> finished_at;  // entry into a final state
};

/// A person's decision on a run awaiting approval.
struct Approval {
  RunId run = 0;
  std::string target;    // the deploy target it is for; empty: every target of the run
  std::string actor;     // "alice", "cli:root", "api"
  bool approved = true;  // false: rejected
  std::string comment;
  bool urgent = false;   // recorded as the urgent override (a run marked urgent after the fact)
  std::int64_t id = 0;
  Time at{};
};

/// One outbound notification: an event for one destination, stored before it is sent and kept
/// until delivered (retried with backoff, across restarts). The (destination, event_id) pair
/// is unique: storing it again changes nothing.
struct Notification {
  std::string destination;  // the `notify:` entry's name
  std::string event_id;     // unique per event; what the receiver sees (X-Cascade-Delivery)
  std::string event;        // "run-started", "awaiting-approval", ...
  std::string body;         // the event as JSON
  int attempts = 0;
  Time next_at{};           // when to try (again)
  std::optional<Time> delivered_at;
  std::string last_error;   // never a secret
  Time created_at{};
};

struct Quarantined {
  std::string image;
  std::string digest;
  std::string reason;
  std::optional<RunId> run;  // the run that quarantined it
  Time at{};
};

/// What a digest an image reference pointed to is made of (immutable: kept forever).
struct ImageLayers {
  std::string digest;                // the manifest or index digest the reference pointed to
  std::string image_digest;          // the platform's image manifest
  std::vector<std::string> layers;   // layer digests, bottom first
};

/// Why an image was scanned: the fleet builds it, it is an external base, or a deploy target
/// runs it.
enum class ScanRole { fleet, external, workload };
std::string_view to_string(ScanRole role);
std::optional<ScanRole> parse_scan_role(std::string_view text);

/// The latest scan of one subject. record_image_scan() reads all but at.
struct ImageScan {
  ScanRole role = ScanRole::fleet;
  std::string subject;  // the image reference; "target/workload" for a workload
  std::string image;    // the image reference scanned (for a workload: the image it runs)
  std::string digest;   // what it pointed to then (an ImageLayers::digest)
  Time at{};
};

// ---- errors -------------------------------------------------------------------------

enum class ErrorCode {
  io,                  // the database failed (disk, locking, corruption, constraint)
  not_found,           // no such run or task
  illegal_transition,  // the state change is not allowed (see the state tables)
  invalid_argument,    // a value the store refuses (duplicate image, invalid JSON, ...)
  schema,              // the file's schema is newer than this binary, or not a cascade store
};

struct Error {
  ErrorCode code = ErrorCode::io;
  std::string message;  // "store /var/lib/cascade/state.db: transition_task(run 3, a:1): ..."
};

// ---- the interface ------------------------------------------------------------------

/// Thread-safe: any method may be called from any thread.
class Store {
 public:
  virtual ~Store() = default;

  // runs and tasks
  /// Stores a run in state planned; fails when its plan's version is not kPlanVersion or on I/O.
  virtual Expected<RunId, Error> create_run(const NewRun& run) = 0;
  /// Changes a run's state and records the transition; fails when the run is unknown or
  /// the change is illegal.
  virtual Expected<void, Error> set_run_state(RunId run, RunState state, const std::string& detail = "") = 0;
  /// Adds tasks in state pending, all or none; fails on a duplicate image or unknown run.
  virtual Expected<void, Error> add_tasks(RunId run, const std::vector<TaskSpec>& tasks) = 0;
  /// Changes one task's state (reason := detail), sets `update`'s fields and records the
  /// transition, all in one transaction; returns the task after the change. Fails when
  /// the task is unknown or the change is illegal (nothing is written then).
  virtual Expected<Task, Error> transition_task(RunId run, const std::string& image, TaskState state,
                                                const std::string& detail, const TaskUpdate& update = {}) = 0;
  /// Records what the scan of the task's pushed image found (Task::verdict); fails when the
  /// task is unknown.
  virtual Expected<void, Error> set_task_verdict(RunId run, const std::string& image, const std::string& verdict) = 0;
  /// The run; fails with not_found when there is none. A run an older cascade stored has
  /// its trigger's action and arguments read from its image ("rebuild:a/*", "advisory:ID").
  virtual Expected<Run, Error> get_run(RunId run) = 0;
  /// The run's plan as given to create_run (a run an older cascade stored: converted from its
  /// plan JSON, version 0); fails with not_found when there is none.
  virtual Expected<PlanRecord, Error> get_plan(RunId run) = 0;
  /// At most `limit` runs, newest first.
  virtual Expected<std::vector<Run>, Error> list_runs(std::size_t limit) = 0;
  /// The run's tasks in plan order (empty for an unknown run).
  virtual Expected<std::vector<Task>, Error> get_tasks(RunId run) = 0;
  /// The run's and its tasks' transitions in commit order (empty for an unknown run).
  virtual Expected<std::vector<Transition>, Error> get_transitions(RunId run) = 0;
  /// Runs in state planned or running, oldest first: what to resume after a crash.
  virtual Expected<std::vector<Run>, Error> unfinished_runs() = 0;

  // digests and durations
  /// Stores `digest` as the latest known digest of `image`.
  virtual Expected<void, Error> record_digest(const std::string& image, const std::string& digest,
                                              DigestSource source, std::optional<RunId> run = std::nullopt) = 0;
  /// The latest known digest of `image`, nullopt when none was recorded.
  virtual Expected<std::optional<DigestRecord>, Error> latest_digest(const std::string& image) = 0;
  /// Records the duration of a successful build of `image`; fails on a negative duration.
  virtual Expected<void, Error> record_duration(const std::string& image, Duration duration,
                                                std::optional<RunId> run = std::nullopt) = 0;
  /// estimate_duration() over the image's recent builds; nullopt when none is known.
  virtual Expected<std::optional<Duration>, Error> expected_duration(const std::string& image) = 0;

  // trigger events
  /// Stores the event unless one with its dedupe_key exists; durable when it returns, so
  /// the caller may acknowledge the sender then.
  virtual Expected<RecordedEvent, Error> record_event(const Event& event) = 0;
  /// Notes that the event joined `run`; fails when either is unknown.
  virtual Expected<void, Error> attach_event(EventId event, RunId run) = 0;
  /// record_event() for many events in one transaction (one disk sync): the results in the
  /// same order. A key repeated within the batch is new only the first time.
  virtual Expected<std::vector<RecordedEvent>, Error> record_events(const std::vector<Event>& events) = 0;
  /// Notes that the event needs no run, and why ("up to date", "not in the fleet"); it is
  /// then no longer pending. Fails when the event is unknown.
  virtual Expected<void, Error> settle_event(EventId event, const std::string& outcome) = 0;
  /// Events that joined no run and were not settled, oldest first (debounce state after a restart).
  virtual Expected<std::vector<Event>, Error> pending_events() = 0;
  /// The newest `limit` events, newest first (for the API and the dashboard).
  virtual Expected<std::vector<Event>, Error> recent_events(std::size_t limit) = 0;

  // small durable settings of the daemon ("schedule.nightly.last" -> "2026-11-28T03:00:00Z")
  virtual Expected<void, Error> put_setting(const std::string& key, const std::string& value) = 0;
  virtual Expected<std::optional<std::string>, Error> get_setting(const std::string& key) = 0;

  // rollouts and quarantine
  /// Appends a rollout step to the run's deploy history; returns its id.
  virtual Expected<std::int64_t, Error> record_rollout_step(const RolloutStep& step) = 0;
  /// The run's rollout steps in the order recorded.
  virtual Expected<std::vector<RolloutStep>, Error> get_rollout_steps(RunId run) = 0;
  /// Quarantines image@digest (again: replaces reason, run and time).
  virtual Expected<void, Error> quarantine(const std::string& image, const std::string& digest,
                                           const std::string& reason, std::optional<RunId> run = std::nullopt) = 0;
  /// Lifts a quarantine; returns whether there was one.
  virtual Expected<bool, Error> clear_quarantine(const std::string& image, const std::string& digest) = 0;
  virtual Expected<bool, Error> is_quarantined(const std::string& image, const std::string& digest) = 0;
  /// Quarantined digests (of `image`, or of every image when empty), newest first.
  virtual Expected<std::vector<Quarantined>, Error> list_quarantined(const std::string& image = "") = 0;

  // release control
  /// Stores the run's held rollouts, all or none; fails on an unknown run, or on a second
  /// release of the same (target, workload) in the run.
  virtual Expected<void, Error> add_releases(RunId run, const std::vector<Release>& releases) = 0;
  /// The run's releases in the order added.
  virtual Expected<std::vector<Release>, Error> get_releases(RunId run) = 0;
  /// Changes a release's state and detail (finished_at is set on entry into a final state);
  /// fails when it is unknown, or already final (a final release never changes).
  virtual Expected<void, Error> set_release_state(std::int64_t release, ReleaseState state,
                                                  const std::string& detail) = 0;
  /// Records a decision; returns its id. Fails on an unknown run.
  virtual Expected<std::int64_t, Error> record_approval(const Approval& approval) = 0;
  /// The run's decisions in the order recorded.
  virtual Expected<std::vector<Approval>, Error> get_approvals(RunId run) = 0;
  /// Runs in state awaiting, oldest first: what the daemon's releaser moves on.
  virtual Expected<std::vector<Run>, Error> awaiting_runs() = 0;
  /// Marks the run urgent after the fact (TriggerRecord::urgent); fails on an unknown run.
  virtual Expected<void, Error> set_run_urgent(RunId run) = 0;

  // notifications (the outbox)
  /// Stores notifications to deliver, in one transaction; one already stored (same destination
  /// and event id) is left as it is.
  virtual Expected<void, Error> enqueue_notifications(const std::vector<Notification>& notifications) = 0;
  /// Undelivered notifications due at `now` (next_at <= now), oldest first, at most `limit`.
  virtual Expected<std::vector<Notification>, Error> due_notifications(Time now, std::size_t limit) = 0;
  /// Every notification of a destination (or all when empty), oldest first (status, tests).
  virtual Expected<std::vector<Notification>, Error> list_notifications(const std::string& destination = "") = 0;
  virtual Expected<void, Error> mark_delivered(const std::string& destination, const std::string& event_id) = 0;
  /// A failed attempt: attempts + 1, next try at `next_at`, the error kept (no secret in it).
  virtual Expected<void, Error> mark_attempt_failed(const std::string& destination, const std::string& event_id,
                                                    Time next_at, const std::string& error) = 0;

  // image contents (layer indexes are immutable by digest: stored once, never changed). These
  // are a cache of what the registry holds: their commits are synced at checkpoints only
  // (a power loss may cost the last ones, which the next scan reads again).
  /// Stores a layer's index with its files and packages, in one transaction; storing a
  /// digest again changes nothing.
  virtual Expected<void, Error> put_layer_index(const packages::LayerIndex& layer) = 0;
  /// Which of `digests` have a stored index.
  virtual Expected<std::vector<std::string>, Error> known_layers(const std::vector<std::string>& digests) = 0;
  /// The stored indexes of `digests` (missing ones are absent from the map).
  virtual Expected<std::map<std::string, packages::LayerIndex>, Error> get_layer_indexes(
      const std::vector<std::string>& digests) = 0;
  /// Every stored layer index (a query over the whole fleet reads them in one pass); with
  /// `package_names`, only the packages whose name or source name is one of them.
  virtual Expected<std::map<std::string, packages::LayerIndex>, Error> all_layer_indexes(
      const std::optional<std::vector<std::string>>& package_names = std::nullopt) = 0;
  virtual Expected<void, Error> put_image_layers(const ImageLayers& image) = 0;
  /// The layers of a digest seen before; nullopt when never stored.
  virtual Expected<std::optional<ImageLayers>, Error> get_image_layers(const std::string& digest) = 0;
  virtual Expected<std::vector<ImageLayers>, Error> all_image_layers() = 0;
  /// Stores a scan of (role, subject) at a digest: now its latest. Scans at earlier digests
  /// are kept as its history.
  virtual Expected<void, Error> record_image_scan(const ImageScan& scan) = 0;
  /// record_image_scan() for many, in one transaction.
  virtual Expected<void, Error> record_image_scans(const std::vector<ImageScan>& scans) = 0;
  /// Forgets every scan of `role` whose subject is not in `keep` (workloads that went away).
  virtual Expected<void, Error> retain_image_scans(ScanRole role, const std::vector<std::string>& keep) = 0;
  /// The latest scan of every subject, by role then subject; with `history`, every scan
  /// ever kept, oldest first.
  virtual Expected<std::vector<ImageScan>, Error> image_scans(bool history = false) = 0;
};

// ---- SQLite -------------------------------------------------------------------------

struct StoreOptions {
  /// FULL syncs the WAL on every commit (survives power loss); NORMAL syncs at
  /// checkpoints only (survives a process crash, may lose the last commits on power loss).
  enum class Sync { full, normal } sync = Sync::full;
  Duration busy_timeout{10'000};  // how long a write waits for another process's lock
  std::function<Time()> clock;    // empty: the system clock
  /// Migrate only up to this schema version (tests build old files with it); 0: latest.
  int schema_version = 0;
};

/// The schema version this binary writes (PRAGMA user_version of a migrated file).
int latest_schema_version();

/// Opens (creating the folders and the file when missing) the SQLite store at `path`,
/// WAL mode, and migrates it to the latest schema. Fails with code schema when the file
/// is newer than this binary or not a database, with io when it cannot be opened.
/// The store uses one connection guarded by a mutex; other processes may open the same
/// file at the same time.
Expected<std::unique_ptr<Store>, Error> open_sqlite(const std::string& path, StoreOptions options = {});

}  // namespace cascade::store
