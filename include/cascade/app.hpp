// The composition root: a pipeline's fleet wired to its state store, registry client,
// builder and git workspace, and the operations the commands run on them (plan, patch,
// resume, status). Failures carry what kind they are; the CLI makes exit codes of the kinds
// (cli::exit_code_for), the daemon HTTP statuses (daemon::http_status).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "cascade/builder.hpp"
#include "cascade/deploy.hpp"
#include "cascade/executor.hpp"
#include "cascade/fleet.hpp"
#include "cascade/plan.hpp"
#include "cascade/registry.hpp"
#include "cascade/scan.hpp"
#include "cascade/store.hpp"

namespace cascade::app {

struct Failure {
  enum class Kind {
    bad_input,    // the request or a file it names is wrong: fix it and try again
    not_found,    // the named run, image or target does not exist
    conflict,     // the state forbids it now: the run is running in another process, a finished
                  // run resumed, a quarantined digest
    unavailable,  // a peer (registry, engine, git) could not be reached or answered 5xx/429:
                  // worth trying again later
    failed,       // the operation ran and failed
  };
  Kind kind = Kind::failed;
  std::string message;  // what went wrong and what to do

  static Failure bad_input(std::string message) { return {Kind::bad_input, std::move(message)}; }
  static Failure not_found(std::string message) { return {Kind::not_found, std::move(message)}; }
  static Failure conflict(std::string message) { return {Kind::conflict, std::move(message)}; }
  static Failure unavailable(std::string message) { return {Kind::unavailable, std::move(message)}; }
  static Failure failed(std::string message) { return {Kind::failed, std::move(message)}; }
  /// A peer's error: unavailable when `transient` (worth retrying later), else failed.
  static Failure peer(std::string message, bool transient) {
    return {transient ? Kind::unavailable : Kind::failed, std::move(message)};
  }

  /// Worth trying again later: a registry network error, 5xx or 429.
  bool transient() const { return kind == Kind::unavailable; }
};

/// A connected deploy target and its entry in the pipeline file.
struct TargetEntry {
  std::unique_ptr<deploy::Target> target;
  pipeline::DeployTarget config;  // its entry in the pipeline file
};

/// The fleet as last read, shared between threads: get() gives an immutable snapshot the
/// caller keeps for as long as it reads it; set() swaps a new one in whole (the daemon's
/// refresh of the sources). `fleet->graph` reads through a snapshot held for the expression.
class SharedFleet {
 public:
  SharedFleet() : state_(std::make_unique<State>()) {}
  explicit SharedFleet(fleet::Fleet fleet) : SharedFleet() { set(std::move(fleet)); }
  std::shared_ptr<const fleet::Fleet> get() const {
    std::lock_guard lock(state_->mutex);
    return state_->fleet;
  }
  void set(fleet::Fleet fleet) {
    auto next = std::make_shared<const fleet::Fleet>(std::move(fleet));
    std::lock_guard lock(state_->mutex);
    state_->fleet = std::move(next);
  }
  std::shared_ptr<const fleet::Fleet> operator->() const { return get(); }

 private:
  struct State {
    std::mutex mutex;
    std::shared_ptr<const fleet::Fleet> fleet = std::make_shared<const fleet::Fleet>();
  };
  std::unique_ptr<State> state_;
};

/// A build worker made from the pipeline's `builders.workers` (or the implicit local buildah
/// worker "local" when there are none).
struct BuildWorker {
  std::string name;
  pipeline::WorkerKind kind = pipeline::WorkerKind::buildah;
  std::string endpoint;      // empty for buildah
  std::size_t capacity = 0;  // 0: the run's --parallel (the implicit local worker)
  std::map<std::string, std::string> labels;
  std::unique_ptr<builder::Builder> builder;
};

/// The services a fleet's operations use, safe to share between threads: the store,
/// registry client, builder, workspace and scanner are thread-safe; `targets` is written
/// once (connect_targets, under its own lock) and only read after.
struct Wiring {
  SharedFleet fleet;
  std::vector<TargetEntry> targets;  // connected on first use (connect_targets)
  /// Held while `targets` connect; a caller that waited on an attempt shares its outcome.
  struct TargetsLock {
    std::mutex mutex;
    std::atomic<std::uint64_t> attempts{0};
    std::optional<Failure> failure;  // the last attempt's, when it failed
  };
  std::shared_ptr<TargetsLock> targets_lock = std::make_shared<TargetsLock>();
  std::string state_dir;  // the state file's folder: runs/ (logs, contexts) and buildah/ live here
  std::unique_ptr<store::Store> store;
  std::unique_ptr<registry::Registry> registry;
  std::vector<BuildWorker> workers;  // at least one
  std::string storage_driver;        // buildah's, with the reason it was chosen ("overlay: ...")
  std::unique_ptr<executor::Workspace> workspace;
  std::unique_ptr<scan::Scanner> scanner;  // image contents, over `registry` and `store`
  std::stop_token cancel;  // wire()'s: the clients' and deploy targets' outbound calls stop at it
};

struct PackageQuestion;  // exposure.hpp

/// Opens the state store and makes the clients for the fleet's pipeline; once `cancel` is
/// requested their outbound calls fail at once (the daemon's shutdown).
Expected<Wiring, Failure> wire(fleet::Fleet fleet, std::stop_token cancel = {});

/// The git-backed workspace: contexts exported and Dockerfiles read at the recipe's commit.
std::unique_ptr<executor::Workspace> git_workspace(const pipeline::Pipeline& pipeline);

/// A workload that runs an image of the plan, on target `target` (index into Wiring::targets).
struct PlannedDeployment {
  std::size_t target = 0;
  std::string image;  // the fleet image it runs
  deploy::Workload workload;
};

struct PlannedPatch {
  plan::Origin origin;  // what the plan starts from
  plan::Plan plan;
  std::vector<PlannedDeployment> deployments;  // empty with deploy off
  // What was asked, as the run stores it (resume plans again from it): a patch of
  // origin.query, a rebuild of `globs` (plan_rebuild), a fix of `question` (plan_fix), a deploy.
  store::TriggerAction action = store::TriggerAction::patch;
  std::vector<std::string> globs;  // rebuild: the selection asked (empty: every fleet image)
  // An advisory or package fix: every pushed image is judged against it before rollout.
  std::shared_ptr<const PackageQuestion> question;
  std::map<std::string, std::vector<std::string>> because;  // start image -> what put it in the plan
  // A fix: external bases with no fixed version upstream yet (the exposure stays through them).
  std::vector<std::string> unfixed{};
};

/// Connects every target of the pipeline's `deploy:` section (once); fails naming the target.
Expected<void, Failure> connect_targets(Wiring& wiring);
/// The workloads on every target that run one of `images` (and that the target deploys).
Expected<std::vector<PlannedDeployment>, Failure> plan_deployments(Wiring& wiring, const std::vector<std::string>& images);
/// The command targets made for run `run` (others stay null: their connected ones serve).
Expected<std::vector<std::unique_ptr<deploy::Target>>, Failure> run_targets(Wiring& wiring, store::RunId run);
/// The executor's deployments per image for planned ones.
std::map<std::string, std::vector<executor::Deployment>> deployments_for(
    Wiring& wiring, const std::vector<PlannedDeployment>& planned,
    const std::vector<std::unique_ptr<deploy::Target>>& command_targets);
/// The rollout policy of a target's entry.
deploy::RolloutPolicy rollout_policy(const pipeline::DeployTarget& config);

/// Resolves the trigger `query` (IMAGE or IMAGE@DIGEST; unknown image: bad input), asks the
/// registry what every affected image was built on and pins the unaffected bases, and
/// makes the plan. `given` overrides the digest of start images (used by resume).
Expected<PlannedPatch, Failure> plan_patch(Wiring& wiring, const std::string& query,
                                           const std::map<graph::NodeId, std::string>& given = {}, bool deploy = true);

/// Plans a rebuild of every fleet image whose repository matches one of `globs` (all fleet
/// images when empty) and everything downstream, even when already built on its bases.
/// Fails with exit code 2 when no fleet image matches.
Expected<PlannedPatch, Failure> plan_rebuild(Wiring& wiring, const std::vector<std::string>& globs, bool deploy = true);

/// Makes the plan for a trigger already filled in (start nodes, digests, forced images):
/// asks the registry what the affected images were built on, and finds their workloads.
Expected<PlannedPatch, Failure> plan_trigger(Wiring& wiring, PlannedPatch planned, bool deploy = true);

struct RunOptions {
  std::size_t parallel = 2;
  store::TriggerKind kind = store::TriggerKind::cli;  // recorded as the run's trigger
  std::string actor = "cli";
  bool deploy = true;      // roll each pushed image out to the workloads that run it
  std::stop_token stop;    // start nothing new; let running builds finish
  std::stop_token cancel;  // cancel running builds too
  std::function<void(const executor::Progress&)> progress;
  // called once the run is stored (or resumed), with its plan, before it executes
  std::function<void(store::RunId, const PlannedPatch&)> on_run;
  // Release control.
  bool urgent = false;  // `--urgent`: skip approvals and windows on the targets that allow it (recorded)
  // How long a release pass may sleep for what the clock alone will bring (a wave's soak, a
  // window about to open) before it returns with the run awaiting: the CLI waits through
  // soaks; the daemon passes 0 and comes back at the wake time.
  std::chrono::milliseconds release_wait{0};
  std::function<store::Time()> clock{};  // empty: the system clock
};

struct RunResult {
  store::RunId run = 0;
  store::RunState state = store::RunState::succeeded;  // awaiting: releases wait (see `waiting`)
  bool resumed = false;
  std::string waiting{};                  // awaiting: what for ("awaiting approval (0 of 1) on podman: ...")
  std::optional<store::Time> wake{};      // awaiting: when the clock alone may move it on
  bool awaiting_approval = false;
};

/// Stores a new run for the plan and executes it.
Expected<RunResult, Failure> run_patch(Wiring& wiring, const PlannedPatch& planned, const RunOptions& options);

/// Finishes run `run` after a crash or an interruption: tasks found building are checked
/// against the registry (pushed ones are kept), the rest is built. Fails when the run is
/// finished, unknown, or still running in another process.
Expected<RunResult, Failure> resume(Wiring& wiring, store::RunId run, const RunOptions& options);

/// Release passes over run `run` (state awaiting): decides (release::decide) what may roll out
/// now, rolls it out (every step recorded, a failed gate quarantined and rolled back), stores the
/// rest with what it waits for, and again, until nothing can start: then the run is final, or
/// still awaiting (RunResult::waiting, wake). A run held before its build (`approval: {before:
/// build}`) is built once approved. Fails with conflict when another process is releasing it.
/// Notifications are stored as they happen (notify module).
Expected<RunResult, Failure> advance_release(Wiring& wiring, store::RunId run, const RunOptions& options);

/// A person's decision on a run awaiting approval.
struct ReleaseDecision {
  std::string actor;   // who: "alice", "cli:root", "api"
  std::string target;  // empty: the whole run
  bool approved = true;
  std::string comment;
  bool urgent = false;  // also mark the run urgent (the emergency override; recorded)
};
/// Records a decision (the run must be awaiting; a named target must be one of its releases').
/// The caller then advances the run (the CLI at once, the daemon on its releaser thread).
Expected<void, Failure> record_decision(Wiring& wiring, store::RunId run, const ReleaseDecision& decision);

/// Stores a notification event for the pipeline's `notify:` destinations (best effort: a store
/// error is returned for the caller to tell; never blocks).
Expected<void, Failure> notify_event(Wiring& wiring, const std::string& id, const std::string& kind, store::RunId run,
                                     const std::string& text, const std::vector<std::string>& images,
                                     const nlohmann::json& details = nlohmann::json::object());
/// The run-finished event of a run in a final state (its summary: pushed, skipped, failed,
/// blocked, rolled back, workloads still behind).
void notify_finished(Wiring& wiring, store::RunId run);
/// Delivers what is due to the `notify:` destinations now (one pass; failures are retried later).
void deliver_notifications(Wiring& wiring, std::stop_token stop = {});

/// Rolls an image the fleet builds (IMAGE or IMAGE@DIGEST; no digest: its tag's digest now)
/// out to every workload that runs it, as a run of its own; quarantined digests are refused.
Expected<RunResult, Failure> deploy_image(Wiring& wiring, const std::string& query, const RunOptions& options);

/// Every deploy target's workloads that run a fleet image, and whether each is behind its
/// image's newest pushed digest: {"targets": [{"name", "kind", "workloads": [...]}]}.
Expected<nlohmann::json, Failure> inventory_json(Wiring& wiring);

/// An unfinished run (interrupted, or running in no live process) of the same trigger image
/// and digest, which a new patch should finish instead of starting another.
std::optional<store::RunId> unfinished_run_for(Wiring& wiring, const PlannedPatch& planned);

/// The plan as JSON: {"query", "trigger", "steps": [{"image", "after", "action", "reason",
/// "workloads", ...}]}.
nlohmann::json plan_json(const PlannedPatch& planned, const Wiring& wiring);
/// A run in detail: the run, its tasks and their transitions.
Expected<nlohmann::json, Failure> run_json(store::Store& store, store::RunId run);
/// Quarantined digests: {"quarantined": [{"image", "digest", "reason", "run", "at"}]}.
Expected<nlohmann::json, Failure> quarantine_json(store::Store& store);
/// The newest runs, newest first.
Expected<nlohmann::json, Failure> runs_json(store::Store& store, std::size_t limit);

/// What `cascade affected` and GET /api/affected report.
struct AffectedReport {
  std::string query;                        // as the user wrote it
  std::vector<graph::NodeId> matched;       // nodes the query matched
  std::vector<graph::Graph::Affected> affected;
  std::vector<std::string> suggestions;     // near names when nothing matched
  std::map<std::string, std::vector<std::string>> workloads;  // image -> "target/workload" running it
};
/// {"query", "matched", "images": [{"image", "workloads", "depth", "via", "source", "dockerfile"}]}
/// (and "suggestions" when nothing matched).
nlohmann::json affected_json(const graph::Graph& graph, const AffectedReport& report);

/// What a build worker's storage must keep after a run with `builders.prune.keep_runs`: for
/// each of the newest `keep_runs` runs (whatever their state), every pushed image as
/// "repository@digest" and its bare digest, and every base a task was built on
/// (Task::base_digests) the same two ways. Fails when the store cannot be read (pruning with
/// a partial set would throw away what recent runs built), or with bad input when
/// keep_runs < 1.
Expected<std::set<std::string>, Failure> keep_set(store::Store& store, int keep_runs);

/// What prune_builders did on each worker: its report, or why its prune failed.
struct PruneSummary {
  std::map<std::string, Expected<builder::PruneReport, builder::Error>> workers;  // by worker name
};

/// Prunes each worker's build storage down to `keep` (Builder::prune), one after the other;
/// a worker whose prune fails does not stop the others. Workers given as null are skipped.
PruneSummary prune_builders(const std::vector<std::pair<std::string, builder::Builder*>>& workers,
                            const std::set<std::string>& keep, const CancelToken& cancel);

}  // namespace cascade::app
