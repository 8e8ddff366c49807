// Drives a cascade plan: runs its builds on a builder with bounded parallelism, longest
// remaining path first (plan::Scheduler), each on the exact digests of its bases from this
// same run, pushes, retries transient failures, blocks only the descendants of a failure,
// stops on request, and records every step in the state store. Reaches I/O only through
// the Builder, Store, Workspace and deploy::Target interfaces (tests/orchestration_test.cpp
// drives it with scripted in-process ones).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "cascade/builder.hpp"
#include "cascade/deploy.hpp"
#include "cascade/graph.hpp"
#include "cascade/plan.hpp"
#include "cascade/reference.hpp"
#include "cascade/registry.hpp"
#include "cascade/store.hpp"

namespace cascade::executor {

/// Labels cascade puts on every image it builds.
inline constexpr const char* kLabelBases = "io.cascade.bases";  // JSON: base image -> digest
// On each platform of a multi-platform image: base image -> the digest its reference was pinned
// to (the base's index), the same on every platform; io.cascade.bases then names the base's
// manifest for the platform itself. What "already built on the current base" compares.
inline constexpr const char* kLabelBaseIndexes = "io.cascade.base-indexes";
inline constexpr const char* kLabelRun = "io.cascade.run";
inline constexpr const char* kLabelRecipe = "io.cascade.recipe";
inline constexpr const char* kLabelBaseName = "org.opencontainers.image.base.name";
inline constexpr const char* kLabelBaseDigest = "org.opencontainers.image.base.digest";
inline constexpr const char* kLabelRevision = "org.opencontainers.image.revision";

/// What an image's labels say it was built on: io.cascade.bases, else the OCI base labels.
std::map<std::string, std::string> built_on(const std::map<std::string, std::string>& labels);

/// Longest name file_name_of returns (a file system allows 255 bytes; ".log" is added).
inline constexpr std::size_t kMaxFileName = 180;

/// A folder or file name for an image's work dir and build log, readable and injective:
/// letters, digits, '.' and '-' stay, '/' becomes '_', ':' becomes '+', '@' becomes '=',
/// any other byte (including '_', '+', '=', '%') becomes %XX; "127.0.0.1:5000/apps/shop:1"
/// -> "127.0.0.1+5000_apps_shop+1", "r/a_b:1" -> "r_a%5Fb+1". A name longer than
/// kMaxFileName keeps its first 160 characters and ends in "%h" and a 64-bit FNV-1a hash of
/// the whole reference (no escape produces "%h").
std::string file_name_of(const std::string& image);

/// A build's inputs, materialized from git: the context folder and the Dockerfile text.
struct Prepared {
  std::string context_dir;
  std::string dockerfile_text;
};

/// Where build inputs come from (git in production).
class Workspace {
 public:
  virtual ~Workspace() = default;
  /// Writes the recipe's context at its commit under `into` and reads its Dockerfile;
  /// fails with a message naming the source, commit and path.
  virtual Expected<Prepared, std::string> prepare(const graph::Recipe& recipe, const std::string& into) = 0;
};

struct Options {
  std::size_t parallel = 2;                    // builds at once (at most the workers' capacities together)
  int attempts = 3;                            // tries in all for a transient failure (push 5xx, timeouts)
  std::chrono::milliseconds retry_delay{2000};  // doubled after each try
  std::chrono::seconds build_timeout{3600};    // one build and push
  std::string work_dir;                        // per-run folders for contexts and build logs
  std::chrono::milliseconds worker_down_for{60'000};  // a worker that failed gets no build this long
  bool prefer_parent_worker = true;  // a build goes to the worker that built its parent when it can
};

/// Something worth telling a person while the run goes (progress on stderr).
struct Progress {
  enum class Kind {
    started, retrying, pushed, failed, blocked, skipped, interrupted, deploying, deployed, rolled_back,
    verified,    // the pushed image's scan found nothing vulnerable (detail says what was checked)
    vulnerable,  // the pushed image still carries a vulnerable package: it is not rolled out
    store_error,  // the state store refused a write the run goes on without (detail: which, and why)
    pruned,       // a worker's build storage was pruned after the run (worker; detail: what went)
    held,         // a rollout is held for release control (image: "target/workload"; detail: to which digest)
  } kind;
  std::string image;
  std::string detail;    // digest, error or reason
  double seconds = 0;    // how long the step took, for Pushed and Failed
  std::string worker{};  // the build worker, for a build's started, retrying, pushed and failed
};

/// One workload to roll over when its image is pushed (or, for a skipped image, to its
/// current digest: instances already on it are left alone).
struct Deployment {
  deploy::Target* target = nullptr;
  deploy::Workload workload;
  deploy::RolloutPolicy policy;
  // Release control: a held deployment is not rolled out by the run; once its image is pushed
  // (and verified) it is stored as a store::Release in state held (`wave` is its wave, -1 in
  // none), for the application's release passes (approvals, windows, waves). A workload whose
  // policy is monitor is stored as monitored instead.
  bool held = false;
  int wave = -1;
};

/// What the scan of a freshly pushed image found, before it is rolled out.
struct Verdict {
  bool clean = true;   // false: still vulnerable (or unverifiable where proof is required): not rolled out
  std::string detail;  // stored as the task's verdict: "clean", "vulnerable: bash 5.2.26-r0 ..."
};

/// A build engine the executor hands builds to: at most `capacity` at once, to the recipes
/// whose graph::WorkerChoice it matches.
struct Worker {
  std::string name;
  builder::Builder* builder = nullptr;
  std::size_t capacity = 1;
  std::map<std::string, std::string> labels;
  bool multi_platform = true;  // its builder pushes several platforms as one index (buildah's does)
  bool runs_tests = true;      // its builder runs `test:` commands before the push (buildah's, docker's)
};

/// True when `worker` may build a recipe that asks for `choice`.
bool matches(const Worker& worker, const graph::WorkerChoice& choice);

struct Services {
  std::vector<Worker> workers;  // at least one
  store::Store& store;
  Workspace& workspace;
  std::function<void(const Progress&)> progress;  // may be empty
  std::map<std::string, std::vector<Deployment>> deployments{};  // plan image -> workloads running it
  std::size_t max_parallel_deploys = 4;
  /// Scans a pushed image (image, digest) before its rollouts; may be empty (no check).
  /// Called on a thread of its own once the build has ended (its worker's slot already free).
  std::function<Verdict(const std::string& image, const std::string& digest)> verify{};
  std::vector<builder::Secret> secrets{};  // given to every build as build secrets
  /// The platforms of `image` ("repo@sha256:..."), each with its image manifest digest (the
  /// registry's ImageInfo::platforms); an error message when they cannot be read. Asked for
  /// the bases of a multi-platform build, to label each platform with its own base digests.
  std::function<Expected<std::vector<registry::PlatformManifest>, std::string>(const std::string& image)> platforms_of{};
};

/// Tells `services.progress` (Progress::Kind::store_error) when `written` failed: a store
/// write the run goes on without is reported, never dropped. Returns whether it was written.
template <typename T>
bool written_or_told(const Services& services, const Expected<T, store::Error>& written, const std::string& image,
                     const std::string& what) {
  if (written) return true;
  if (services.progress)
    services.progress(Progress{Progress::Kind::store_error, image, "cannot record " + what + ": " + written.error().message, 0});
  return false;
}

/// How rolling an image out to one workload went.
struct RolloutOutcome {
  bool healthy = false;
  std::string detail;       // why not, when not healthy
  std::string store_error;  // a rollout step or quarantine the store refused: the run stops
};

/// Rolls `deployment` to image@digest for run `run`: refuses a quarantined digest, records every
/// step in the store (a refused write is kept in RolloutOutcome::store_error; the rollout itself
/// goes on to its end) and quarantines the digest when its health gate fails. The executor calls
/// it for every deployment that is not held; the application's release passes for held ones.
RolloutOutcome roll_out(const Services& services, store::RunId run, const std::string& image, const std::string& digest,
                        const Deployment& deployment, std::stop_token stop);

struct RunOutcome {
  // succeeded, failed or interrupted; awaiting when releases were held (the builds are over,
  // the rollouts wait for the application's release passes)
  store::RunState state = store::RunState::succeeded;
  double seconds = 0;
  std::string detail;  // why, when a refused store write stopped the run
};

class Executor {
 public:
  Executor(Services services, Options options) : services_(std::move(services)), options_(std::move(options)) {}

  /// Runs `plan` as run `run`, whose tasks are already in the store (pending, or already
  /// final when resumed). `stop` ends the run early: nothing new starts and running builds
  /// finish; `cancel` also cancels the running builds. Every store write is checked: one the
  /// store refuses stops the run as a stop would, and the run ends interrupted saying why.
  /// Records the run's final state.
  RunOutcome execute(const graph::Graph& graph, const plan::Plan& plan, store::RunId run, std::stop_token stop,
                  std::stop_token cancel);

 private:
  Services services_;
  Options options_;
};

}  // namespace cascade::executor
