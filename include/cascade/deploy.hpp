// Deploy targets: where running containers live, and how they are rolled over to a freshly
// pushed image with a health gate and a rollback. The executor calls a Target right after
// an image is pushed: inventory() to find what runs the repository, rollout() per workload.
//
// `Target` is the interface; `DockerTarget` speaks the Docker Engine API (dockerd, or
// podman's compatible service) over a unix socket or TCP/TLS. See PROTOCOLS.md section 5.
// Errors and step records never carry X-Registry-Auth or any other secret.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/reference.hpp"
#include "cascade/registry.hpp"
#include "cascade/util/expected.hpp"

namespace cascade::deploy {

enum class ErrorKind {
  invalid,      // bad options, endpoint, reference or policy
  connection,   // the engine cannot be reached or answered garbage
  version,      // the engine's API version range excludes ours
  api,          // the engine answered with an error status
  pull,         // the new image could not be pulled (error inside the stream included)
  not_found,    // no such container or image
  cancelled,    // a stop was requested
};

struct Error {
  ErrorKind kind = ErrorKind::invalid;
  std::string message;  // what failed, naming the call and container; never a secret
  int status = 0;       // the HTTP status when the engine answered

  /// "pull: 127.0.0.1:5000/app@sha256:...: manifest unknown".
  std::string str() const;
};

/// Containers that are updated together: one container, or the replicas of a compose
/// service / of a configured grouping label.
struct Workload {
  std::string target;  // the Target's name()
  std::string name;    // container name, "project/service" for compose, or "label=value"
  std::string image;   // the reference the containers were created from (Config.Image), normalized
  std::string image_id;               // the image id the first instance runs
  std::optional<std::string> digest;  // the repo digest it runs, when the engine knows it
  std::vector<std::string> instances;  // container ids, ordered by container name
  // The workload's own release policy: the `io.cascade.policy` label of its (first) container,
  // or the annotation of its Kubernetes Deployment/StatefulSet/DaemonSet: "skip" (cascade
  // leaves it out), "monitor" (reported, never touched), "hold" (every rollout waits for an
  // approval); empty when none. A value other than these three is kept as given: it is held,
  // and the release says the value is not understood.
  std::string policy{};
};

/// The label (container) or annotation (Kubernetes workload) carrying Workload::policy.
inline constexpr const char* kPolicyLabel = "io.cascade.policy";

struct RolloutPolicy {
  int batch = 1;            // replicas replaced at once (stop-first: capped by max_unavailable)
  int max_unavailable = 1;  // replicas allowed down at once; at least 1
  std::chrono::milliseconds health_timeout{60000};  // per new container, from its start
  bool rollback = true;     // on failure put every replaced replica back on its old container
  std::optional<std::string> http_probe;  // e.g. "http://127.0.0.1:8080/health": healthy on 2xx
  bool insecure_probe = false;  // an https probe's certificate is not verified (else it is, on the system roots)
  std::chrono::milliseconds stable_for{5000};  // "running and not restarting" gate without healthcheck/probe
};

/// The states a step reports; the same names as store::RolloutState.
enum class StepState { updating, healthy, failed, rolled_back };
std::string_view to_string(StepState state);

/// One step of a rollout or recovery, as the caller stores it (store::RolloutStep).
struct Step {
  std::string workload;
  std::string instance;  // container name
  std::string from;      // old image id ("sha256:...")
  std::string to;        // new image reference (repo@digest) or image id
  StepState state = StepState::updating;
  std::string detail;    // "stopped", "created 3f2a...", "unhealthy: exit 1: ...", ...
};
/// Called for every step, from the rolling thread(s), one call at a time.
using StepSink = std::function<void(const Step&)>;

enum class InstanceOutcome { unchanged, updated, rolled_back, failed };
std::string_view to_string(InstanceOutcome outcome);

struct InstanceResult {
  std::string name;          // container name
  std::string old_id;        // container id before
  std::string new_id;        // container id after (== old_id when unchanged or rolled back)
  InstanceOutcome outcome = InstanceOutcome::unchanged;
  std::string detail;        // why it failed or rolled back
  std::chrono::milliseconds took{0};  // stop to healthy (or to rolled back)
};

struct RolloutResult {
  enum class Outcome {
    healthy,      // every instance runs the new image and passed its gate
    rolled_back,  // a gate failed; every replaced instance is back on its old container
    failed,       // a gate failed and the old state could not be restored (or rollback off)
  };
  Outcome outcome = Outcome::healthy;
  std::string reason;        // the first failure, empty when healthy
  std::string new_image_id;  // the id of the pulled image
  std::vector<InstanceResult> instances;
};
std::string_view to_string(RolloutResult::Outcome outcome);

/// A place workloads run. Implementations are thread-safe.
class Target {
 public:
  virtual ~Target() = default;
  virtual std::string name() const = 0;

  /// Workloads whose image is in `repository`'s repository (any tag or digest), or every
  /// workload when nullopt. Fails when the engine cannot be listed.
  virtual Expected<std::vector<Workload>, Error> inventory(const std::optional<reference::Reference>& repository) = 0;

  /// Rolls `workload` over to `new_image` (repo@digest), batch by batch, each new container
  /// gated on health; instances already on the image are left alone. A failed gate is a
  /// result (rolled_back or failed), not an Error. Fails before touching any container on a
  /// bad policy or reference, a pull failure or an engine error while planning; a stop
  /// request rolls back what was replaced and reports rolled_back with reason "cancelled".
  virtual Expected<RolloutResult, Error> rollout(const Workload& workload, const reference::Reference& new_image,
                                                 const RolloutPolicy& policy, const StepSink& record,
                                                 std::stop_token stop) = 0;

  /// After a crash mid-rollout: for every container a rollout left renamed aside, keeps the
  /// new container when it passes `policy`'s gate (removing the old one), else puts the old
  /// one back and starts it, so each workload ends on exactly one set of containers. Steps
  /// are recorded with workload "recover:<run_tag>". Fails on an engine error.
  virtual Expected<void, Error> recover(const std::string& run_tag, const RolloutPolicy& policy,
                                        const StepSink& record) = 0;
};

struct DockerOptions {
  std::string name = "docker";  // the target's name in records
  std::string endpoint;  // "unix:///run/podman/podman.sock" or "tcp://host:port"; empty: $DOCKER_HOST, else /var/run/docker.sock
  bool tls = false;      // tcp only: https, verified with ca_file (or the system roots)
  bool insecure = false;  // tcp without tls (plain http to the engine) is refused unless this is set
  std::string ca_file;
  std::string cert_file;  // client certificate for the engine's TLS (dockerd --tlsverify)
  std::string key_file;
  std::string group_label;  // group containers by this label's value (before compose labels)
  registry::CredentialOptions credentials;  // for X-Registry-Auth on pulls
  std::string max_api_version = "1.45";     // ours; negotiated down to the engine's
  std::chrono::milliseconds request_timeout{300'000};  // any one call, pulls and stops included
  std::chrono::milliseconds poll_interval{250};        // between health observations
  std::chrono::seconds stop_timeout{10};  // when the container sets no StopTimeout
  std::stop_token cancel{};  // once requested, every engine call fails at once (the daemon's shutdown)
};

/// The Docker Engine API target (dockerd, podman's compatible service).
class DockerTarget final : public Target {
 public:
  /// Connects and negotiates the API version: min(ours, the engine's ApiVersion), failing
  /// (kind version) below the engine's MinAPIVersion, (invalid) on a bad endpoint or
  /// (connection) when the engine does not answer GET /version.
  static Expected<std::unique_ptr<DockerTarget>, Error> connect(DockerOptions options);
  ~DockerTarget() override;

  std::string name() const override;
  /// The negotiated version, e.g. "1.41".
  std::string api_version() const;
  /// Whether the engine is podman (its libpod API is used to run health checks on demand).
  bool is_podman() const;

  Expected<std::vector<Workload>, Error> inventory(const std::optional<reference::Reference>& repository) override;
  Expected<RolloutResult, Error> rollout(const Workload& workload, const reference::Reference& new_image,
                                         const RolloutPolicy& policy, const StepSink& record,
                                         std::stop_token stop) override;
  Expected<void, Error> recover(const std::string& run_tag, const RolloutPolicy& policy,
                                const StepSink& record) override;

  class Impl;

 private:
  explicit DockerTarget(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The suffix a rollout renames an old container with while its replacement is gated.
inline constexpr std::string_view kOldSuffix = "-cascade-old";

}  // namespace cascade::deploy
