// The Kubernetes deploy target (PROTOCOLS.md section 6): credentials from a kubeconfig, the
// Deployments, StatefulSets and DaemonSets of some namespaces whose pod templates use an
// image, a JSON patch of the container image to repo@digest, completion judged exactly as
// `kubectl rollout status` judges it, and a rollback that patches the previous images back.
// Tokens and keys never appear in errors or step records.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/deploy.hpp"

namespace cascade::deploy {

/// The connection one kubeconfig context describes. File fields are absolute paths; *_data
/// fields hold decoded PEM from the *-data keys (which win over the paths).
struct KubeCredentials {
  std::string context;     // the context used
  std::string server;      // "https://host:port"
  std::string namespace_name;  // the context's namespace; empty when unset
  bool insecure = false;   // insecure-skip-tls-verify
  std::string ca_file;
  std::string ca_data;
  std::string cert_file;
  std::string cert_data;
  std::string key_file;
  std::string key_data;
  std::string token;       // a bearer token (from token or tokenFile); never logged
};

/// Parses kubeconfig YAML; relative paths resolve against `directory`; `context` empty means
/// current-context. Fails (invalid) on bad YAML, a missing context, cluster or user, or an
/// exec / auth-provider / username-password user ("not supported"), naming what is missing.
Expected<KubeCredentials, Error> parse_kubeconfig(std::string_view text, std::string_view directory,
                                                  std::string_view context);

/// The kubeconfig file to read: `configured` when set, else the first file of $KUBECONFIG,
/// else ~/.kube/config; empty when none can be named.
std::string kubeconfig_path(const std::string& configured);

/// What `kubectl rollout status` would say about an object right now.
struct RolloutStatus {
  enum class State { waiting, complete, failed };
  State state = State::waiting;
  std::string message;  // "2 out of 3 new replicas have been updated", "progress deadline exceeded", ...
};

/// Judges a Deployment, StatefulSet or DaemonSet (its JSON, `kind` set) by the rules of
/// PROTOCOLS.md 6.3; fails with the reason for an OnDelete strategy or an unknown kind.
Expected<RolloutStatus, std::string> rollout_status(const nlohmann::json& object);

/// "k1=v1,k2 in (a,b),!k3" from a LabelSelector; fails on an unknown operator.
Expected<std::string, std::string> label_selector(const nlohmann::json& selector);

/// The digest part of a container status imageID ("docker-pullable://a/b@sha256:..." ->
/// "sha256:..."); empty when it carries none.
std::string image_id_digest(std::string_view image_id);

struct KubernetesOptions {
  std::string name = "kubernetes";   // the target's name in records
  std::string kubeconfig;            // empty: kubeconfig_path("")
  std::string context;               // empty: current-context
  std::vector<std::string> namespaces;  // empty: the context's namespace, else "default"
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds poll_interval{1'000};  // between status reads while waiting
  std::stop_token cancel{};  // once requested, every API call fails at once (the daemon's shutdown)
};

/// Workloads are named "<namespace>/<kind>/<name>", kind one of deployment, statefulset,
/// daemonset; their instances are pod names. Thread-safe.
class KubernetesTarget final : public Target {
 public:
  /// Reads the kubeconfig and prepares the client (no request yet); fails (invalid) as
  /// parse_kubeconfig does, or when the file cannot be read.
  static Expected<std::unique_ptr<KubernetesTarget>, Error> connect(KubernetesOptions options);
  ~KubernetesTarget() override;

  std::string name() const override;
  /// The workloads of the namespaces whose pod templates use `repository` (any tag or
  /// digest), with the digest their pods run when they all agree. Fails (connection, api).
  Expected<std::vector<Workload>, Error> inventory(const std::optional<reference::Reference>& repository) override;
  /// Patches every container of the workload that uses new_image's repository to
  /// `new_image`, then waits as `kubectl rollout status` does, up to policy.health_timeout.
  /// On a progress deadline, a timeout or a stop: with policy.rollback, patches the previous
  /// images back and waits again (rolled_back, or failed when that fails too). Fails before
  /// any change on a paused or OnDelete workload, no matching container, or an API error.
  Expected<RolloutResult, Error> rollout(const Workload& workload, const reference::Reference& new_image,
                                         const RolloutPolicy& policy, const StepSink& record,
                                         std::stop_token stop) override;
  /// Kubernetes keeps no half-done state of ours: succeeds at once.
  Expected<void, Error> recover(const std::string& run_tag, const RolloutPolicy& policy,
                                const StepSink& record) override;

  class Impl;

 private:
  explicit KubernetesTarget(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cascade::deploy
