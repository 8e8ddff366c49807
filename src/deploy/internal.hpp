// Pieces of the Docker target shared between its files: the engine connection (versioned
// calls, JSON), pure helpers (version compare, create body, X-Registry-Auth) and the
// per-container operations the rollout and recovery are made of.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/deploy.hpp"
#include "cascade/http.hpp"
#include "cascade/util/text.hpp"

namespace cascade::deploy::detail {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---- pure helpers (engine.cpp, recreate.cpp) -------------------------------------------

/// -1, 0, 1 comparing "1.41" and "1.44" numerically; a missing part counts as 0.
int compare_versions(std::string_view a, std::string_view b);
/// min(ours, server's); fails (kind version) when that is below the server's minimum.
Expected<std::string, Error> negotiate_version(std::string_view ours, std::string_view server_max,
                                               std::string_view server_min);
/// RFC 4648 section 5 base64url with padding, as X-Registry-Auth wants it.
std::string base64url(std::string_view bytes);
/// The X-Registry-Auth value for `credentials`; empty for anonymous.
std::string registry_auth_header(const registry::Credentials& credentials, const std::string& server);
/// The first "error"/"errorDetail" message in a pull's JSON-lines stream, if any.
std::optional<std::string> pull_stream_error(std::string_view body);

/// The POST /containers/create body recreating `container` (its inspect JSON) on
/// `new_image`, with `old_image`'s (inspect JSON) defaults dropped, per PROTOCOLS.md 5.8.
json create_body(const json& container, const json& old_image, const std::string& new_image,
                 std::string_view api_version);

/// The container's name without the leading '/'.
std::string container_name(const json& container);

// ---- the workload's release policy (target.cpp) ----------------------------------------

/// The kPolicyLabel value in `labels` (a container's Labels or a Kubernetes object's
/// metadata.annotations), blanks around it trimmed; empty when absent, not a string, or
/// `labels` is not an object. Any other value is kept as written (Workload::policy).
std::string policy_of(const json& labels);
/// Of two replicas' policies, the one the workload takes when they disagree: an unknown
/// value, then "hold", then "monitor", then "skip", then "" (see target.cpp for why).
std::string stricter_policy(const std::string& a, const std::string& b);

// ---- the engine ------------------------------------------------------------------------

/// One engine: its http client and negotiated version. Thread-safe.
class Engine {
 public:
  /// Parses the endpoint; fails (invalid) on anything but unix:// or tcp://.
  static Expected<std::unique_ptr<Engine>, Error> open(const DockerOptions& options);

  /// GET /version: negotiates the API version and notes whether this is podman. Its
  /// errors name the endpoint ("engine tcp://10.0.0.5:2376: GET /version: handshake ...").
  Expected<void, Error> negotiate(std::string_view ours);
  const std::string& version() const { return version_; }
  bool podman() const { return podman_; }

  struct Reply {
    int status = 0;
    std::string body;
  };
  /// `method` on /v<version><path> (or `path` as is when `raw`); any status is a Reply; fails
  /// (connection) when the engine cannot be reached.
  Expected<Reply, Error> call(const std::string& method, const std::string& path, const std::string& body = {},
                              const std::vector<std::pair<std::string, std::string>>& headers = {}, bool raw = false);
  /// A call that must answer one of `ok` with a JSON (or empty) body; else fails (api, or
  /// not_found on 404) with the engine's message and `what`.
  Expected<json, Error> expect(const std::string& method, const std::string& path, std::initializer_list<int> ok,
                               const std::string& what, const json& body = nullptr);

 private:
  Engine(std::string endpoint, std::string base_url, http::Options options);
  std::string endpoint_;  // as configured: "unix:///path" or "tcp://host:port"
  std::string base_url_;
  std::unique_ptr<http::Client> client_;
  std::string version_;
  bool podman_ = false;
};

// ---- container operations (operations.cpp, health.cpp) ---------------------------------

/// Serializes calls to a StepSink.
class Recorder {
 public:
  Recorder(const StepSink& sink, std::string workload) : sink_(sink), workload_(std::move(workload)) {}
  void operator()(const std::string& instance, const std::string& from, const std::string& to, StepState state,
                  const std::string& detail);

 private:
  const StepSink& sink_;
  std::string workload_;
  std::mutex mutex_;
};

struct HealthGate {
  RolloutPolicy policy;
  std::chrono::milliseconds poll_interval{250};
};

/// The client of an HTTP health probe: plain http allowed, an https URL verified on the
/// system roots unless `insecure`; no redirects, every timeout `timeout`.
std::unique_ptr<http::Client> probe_client(const std::string& url, std::chrono::milliseconds timeout, bool insecure);

/// Waits until container `id` passes the gate (HEALTHCHECK run on demand on podman, State.Health
/// on dockerd, or the HTTP probe, or running and stable); returns the failure reason, or
/// nullopt when healthy. A stop request is a failure ("cancelled").
std::optional<std::string> wait_healthy(Engine& engine, const std::string& id, const HealthGate& gate,
                                        std::stop_token stop);

/// Container operations that fail with the engine's message.
Expected<json, Error> inspect_container(Engine& engine, const std::string& id);
Expected<void, Error> stop_container(Engine& engine, const std::string& id, const json& inspected,
                                     std::chrono::seconds fallback);
Expected<void, Error> start_container(Engine& engine, const std::string& id);
Expected<void, Error> rename_container(Engine& engine, const std::string& id, const std::string& name);
Expected<void, Error> remove_container(Engine& engine, const std::string& id, bool force);
/// Every container (running or not) as listed by GET /containers/json?all=true.
Expected<json, Error> list_containers(Engine& engine);

/// Pulls `image` (repo@digest) with X-Registry-Auth from docker's credentials; returns the
/// image id. Fails (pull) on a refused pull or an error line inside the 200 stream.
Expected<std::string, Error> pull_image(Engine& engine, const reference::Reference& image,
                                        const registry::CredentialOptions& credentials);

/// Puts an old container (renamed aside, stopped) back: removes `new_id` when not empty,
/// renames `old_id` to `name`, starts it and gates it; returns why that failed, if it did.
std::optional<std::string> restore_old(Engine& engine, const std::string& old_id, const std::string& name,
                                       const std::string& new_id, bool renamed, const HealthGate& gate);

}  // namespace cascade::deploy::detail

namespace cascade::deploy {

class DockerTarget::Impl {
 public:
  DockerOptions options;
  std::unique_ptr<detail::Engine> engine;

  Expected<RolloutResult, Error> rollout(const Workload& workload, const reference::Reference& new_image,
                                         const RolloutPolicy& policy, const StepSink& record, std::stop_token stop);
  Expected<void, Error> recover(const std::string& run_tag, const RolloutPolicy& policy, const StepSink& record);
};

}  // namespace cascade::deploy
