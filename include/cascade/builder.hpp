// Build backends behind one interface: build an image from a context folder and a Dockerfile
// text, push it, and say which digest the registry now serves.
//
// Backends: Buildah (the default; daemonless, local), DockerBuild (a Docker Engine with
// BuildKit inside, local or remote: `docker build` through the Debian client) and Buildctl (a
// BuildKit daemon, local or remote). Every program runs with an argument vector, never a
// shell; its whole output goes to the request's log file.
//
// Threads: a Builder holds only its options, so one Builder may run many build_and_push
// calls at once from different threads (buildah's storage locks itself across processes).
// Cancellation: build_and_push watches the CancelToken; a stop request ends the running
// program (SIGTERM to its process group, SIGKILL after a grace period) and returns Cancelled.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/process.hpp"
#include "cascade/util/expected.hpp"

namespace cascade::builder {

/// A build secret, mounted by `RUN --mount=type=secret,id=ID`: given to the backend as a
/// real build secret, never a build arg; never in logs, labels or the image's history.
struct Secret {
  std::string id;
  std::string env;   // the value is this environment variable of cascade's process
  std::string file;  // or this file's content (absolute path); exactly one of env and file
};

/// One platform of a multi-platform build.
struct PlatformBuild {
  std::string platform;  // "linux/arm64": passed to the engine as --platform
  std::map<std::string, std::string> labels;  // set on this platform's image, over BuildRequest::labels
};

/// A command run in a container of the built image (each platform's, for a multi-platform
/// build) before anything is pushed: a non-zero exit or a timeout is Error::Kind::test_failed.
struct TestCommand {
  std::vector<std::string> argv;  // run as the container's command (its entrypoint is not used)
  std::chrono::milliseconds timeout{300'000};
};

struct BuildRequest {
  std::string run_id;           // names temporary files and log headers; any text
  std::string image;            // normalized reference to push: "127.0.0.1:5000/apps/shop:1"
  std::string context_dir;      // the build context, a folder already on disk
  std::string dockerfile_text;  // the Dockerfile to build, every base pinned as repo@sha256:...
  std::string target;           // the stage to build; empty: the last one
  std::map<std::string, std::string> build_args;
  std::map<std::string, std::string> labels;
  std::string log_path;  // receives the whole output, appended (a header per step; build-arg values masked)
  std::chrono::seconds timeout{0};  // for build and push together; 0: none
  bool no_cache = false;  // use no cached layer: every RUN runs again (a package manager fetches anew)
  std::vector<Secret> secrets;
  // Empty: one image for the engine's own platform, pushed as an image manifest (as ever).
  // Otherwise every platform is built (a foreign one under emulation when the engine has no
  // native worker for it), and only when all succeeded are they pushed, as one image index
  // under the tag: a failure on one platform pushes nothing. The Dockerfile's bases are
  // pinned to index digests, so each platform's build takes that platform's child.
  std::vector<PlatformBuild> platforms;
  // Run in order in the built image before the push; the first failing one fails the build
  // (test_failed, its output in the message and the log) and nothing is pushed.
  std::vector<TestCommand> tests;
};

struct BuildResult {
  std::string digest;    // the pushed manifest's digest, "sha256:<64 hex>" (the index's, for platforms)
  std::string image_id;  // the image's config digest, "sha256:<64 hex>"
  double build_seconds = 0;
  double push_seconds = 0;  // 0 for backends that build and push in one step (build_seconds has both)
};

struct Error {
  enum class Kind {
    build_failed,   // the Dockerfile failed (a RUN, a COPY, a missing base, a bad instruction)
    pull_failed,    // a base could not be fetched for a network reason (refused, timeout, 5xx, 429)
    push_failed,    // the push failed for a network reason (refused, timeout, 5xx, 429)
    push_rejected,  // the registry refused the push (auth, denied, invalid): retrying will not help
    runtime_failed,  // the container runtime (runc, crun) could not start a step: the Dockerfile's command
                     // never ran, so running it again may succeed
    worker_unavailable,  // the build engine could not be reached or dropped the build (refused, reset,
                         // TLS, the daemon died): the same build may succeed on another worker
    cancelled,     // a stop was requested
    timed_out,      // the request's timeout ran out
    setup,         // cascade could not run the backend: program missing, files, bad request
    test_failed,   // a `test:` command exited non-zero or ran past its timeout: nothing was pushed
  };
  Kind kind = Kind::setup;
  std::string message;  // one line saying what failed, then the last lines of the step's output

  /// True when running the same request again later may succeed (pull_failed, push_failed,
  /// runtime_failed, worker_unavailable).
  bool transient() const {
    return kind == Kind::pull_failed || kind == Kind::push_failed || kind == Kind::runtime_failed ||
           kind == Kind::worker_unavailable;
  }
};

/// "build-failed", "pull-failed", "push-failed", "push-rejected", "runtime-failed",
/// "worker-unavailable", "cancelled", "timed-out", "setup", "test-failed".
std::string_view kind_name(Error::Kind kind);

/// What pruning a backend's build storage did.
struct PruneReport {
  std::size_t removed = 0;  // images removed
  std::size_t kept = 0;     // images left
  std::uint64_t bytes_freed = 0;  // when the backend says; else 0
  std::vector<std::string> problems;  // what could not be removed, and why (the prune goes on)
};

class Builder {
 public:
  virtual ~Builder() = default;
  /// "buildah", "docker" or "buildctl".
  virtual std::string name() const = 0;
  /// Builds the request's Dockerfile in its context, pushes the image and returns the pushed
  /// digest. Fails with an Error whose kind says what to do next (see Error::Kind); the full
  /// output is in request.log_path either way.
  virtual Expected<BuildResult, Error> build_and_push(const BuildRequest& request, const CancelToken& cancel) = 0;
  /// Removes from the backend's build storage every image (and build cache) not in `keep`:
  /// references "repository@sha256:..." and bare "sha256:..." digests (manifest or config)
  /// that recent runs built or built on. The default keeps everything (nothing to prune).
  virtual Expected<PruneReport, Error> prune(const std::set<std::string>& keep, const CancelToken& cancel) {
    (void)keep;
    (void)cancel;
    return PruneReport{};
  }
};

/// buildah's storage driver for a storage root: "overlay" when the kernel and the file system
/// under `root` mount an overlay (tried once in a scratch folder there), else "vfs"; `reason`
/// says why, for `cascade validate` and the log.
struct StorageChoice {
  std::string driver;
  std::string reason;
};
StorageChoice choose_storage_driver(const std::string& root);

/// Which base images buildah fetches from the registry before building.
enum class PullPolicy {
  missing,  // only those not in local storage (the default: bases are pinned by digest)
  always,   // every base, every build
  never,    // none: a base missing locally fails the build
};

/// Where cascade keeps its own files: $CASCADE_STATE_DIR, else $XDG_STATE_HOME/cascade, else
/// $HOME/.local/state/cascade, else /var/lib/cascade.
std::string default_state_dir();

struct BuildahOptions {
  std::string program = "buildah";
  std::string state_dir;  // empty: default_state_dir(); holds buildah/{root,runroot,work}
  std::string root;       // buildah --root; empty: <state_dir>/buildah/root
  std::string runroot;    // buildah --runroot; empty: <state_dir>/buildah/runroot
  std::string work_dir;   // a temporary folder per build (Dockerfile, id files); empty: <state_dir>/buildah/work
  std::string storage_driver = "vfs";
  std::string isolation = "chroot";
  std::string format = "docker";  // "docker" keeps HEALTHCHECK, which the "oci" format drops
  PullPolicy pull = PullPolicy::missing;
  std::set<std::string> insecure_registries;  // hosts ("127.0.0.1:5000") spoken to over plain http
  // registries.conf to use. With insecure_registries, cascade writes a copy (this file, else
  // /etc/containers/registries.conf) plus one [[registry]] insecure = true per host not
  // already named in it, and points CONTAINERS_REGISTRIES_CONF at the copy.
  std::string registries_conf;
  std::string auth_file;  // --authfile: docker's config.json or containers' auth.json; empty: buildah's own search
  std::optional<int> retries;  // --retry for pulls and pushes (buildah 1.28 honours it for pulls only)
  std::string retry_delay;     // --retry-delay, e.g. "2s"; empty: buildah's default
  std::vector<std::string> global_args;  // after the storage flags, before the subcommand
  std::vector<std::string> bud_args;     // before the context folder
  std::vector<std::string> push_args;    // before the image names
  std::chrono::milliseconds kill_grace{5000};  // SIGTERM to SIGKILL on cancel or timeout
};

/// Files one buildah build uses, all inside the build's temporary folder.
struct BuildahFiles {
  std::string dockerfile;
  std::string iidfile;
  std::string digestfile;
};

class Buildah : public Builder {
 public:
  explicit Buildah(BuildahOptions options = {});
  std::string name() const override { return "buildah"; }
  Expected<BuildResult, Error> build_and_push(const BuildRequest& request, const CancelToken& cancel) override;
  /// Removes the images (and working containers) in buildah's storage not in `keep` (src/builder/prune.cpp).
  Expected<PruneReport, Error> prune(const std::set<std::string>& keep, const CancelToken& cancel) override;

  /// `buildah ... bud ...` for the request: pure, for tests and for logs.
  std::vector<std::string> bud_argv(const BuildRequest& request, const BuildahFiles& files) const;
  /// `buildah ... push ...` of the built image `image_id` to docker://<request.image>.
  std::vector<std::string> push_argv(const BuildRequest& request, const std::string& image_id,
                                     const BuildahFiles& files) const;
  const BuildahOptions& options() const { return options_; }

 private:
  std::vector<std::string> global_argv() const;
  BuildahOptions options_;
};

// BuildKit through buildctl. To build on a remote worker, point `addr` at it:
//   tcp://buildkitd.example:1234 with tls_ca_cert/tls_cert/tls_key (mutual TLS);
//   kube-pod://buildkitd-0?namespace=ci (kubectl exec into a buildkitd pod);
//   docker-container://buildkitd or podman-container://buildkitd; unix:///run/buildkit/buildkitd.sock.
// Pulls from plain-http registries are configured on the daemon (buildkitd.toml
// [registry."host"] http = true), pushes per build (insecure_registries). See docs/builders.md.
struct BuildctlOptions {
  std::string program = "buildctl";
  std::string addr;  // --addr; empty: buildctl's default ($BUILDKIT_HOST, else the local socket)
  std::string tls_server_name, tls_ca_cert, tls_cert, tls_key;  // --tlsservername, --tlscacert, --tlscert, --tlskey
  std::set<std::string> insecure_registries;  // pushes to these hosts add registry.insecure=true
  std::string docker_config_dir;  // DOCKER_CONFIG for buildctl (registry credentials); empty: inherited
  std::string state_dir;          // empty: default_state_dir(); temporary files under <state_dir>/buildctl/work
  std::vector<std::string> global_args;  // before "build"
  std::vector<std::string> build_args;   // after the build flags
  std::chrono::milliseconds kill_grace{5000};
};

/// Files one buildctl build uses.
struct BuildctlFiles {
  std::string dockerfile_dir;   // holds the Dockerfile (given to buildctl as --local dockerfile=)
  std::string dockerfile_name;  // its name there
  std::string metadata_file;
};

class Buildctl : public Builder {
 public:
  explicit Buildctl(BuildctlOptions options = {});
  std::string name() const override { return "buildctl"; }
  Expected<BuildResult, Error> build_and_push(const BuildRequest& request, const CancelToken& cancel) override;
  /// `buildctl ... build ...` for the request: pure.
  std::vector<std::string> argv(const BuildRequest& request, const BuildctlFiles& files) const;

 private:
  BuildctlOptions options_;
};

// A Docker Engine with BuildKit inside (dockerd 20.10 and later), local or remote:
// `DOCKER_BUILDKIT=1 docker build` through the Debian client (it speaks BuildKit's session
// itself, no buildx plugin), then `docker push`; the pushed manifest digest is read back
// from the push's output and checked against the registry's answer format.
struct DockerOptions {
  std::string program = "/usr/bin/docker";  // Debian's docker.io client
  std::string host;  // -H: "unix:///abs/docker.sock" or "tcp://host:port"; empty: docker's default
  std::string tls_ca_cert, tls_cert, tls_key;  // with tcp://: --tlsverify --tlscacert --tlscert --tlskey
  std::string network;  // --network for RUN steps ("none", "host"); empty: the engine's default
  PullPolicy pull = PullPolicy::missing;  // always: --pull
  std::string docker_config_dir;  // DOCKER_CONFIG (registry credentials); empty: inherited
  std::string state_dir;          // empty: default_state_dir(); temporary files under <state_dir>/docker/work
  std::vector<std::string> build_args;  // before the context folder
  std::chrono::milliseconds kill_grace{5000};
};

/// Files one docker build uses.
struct DockerFiles {
  std::string dockerfile;
  std::string iidfile;
};

class DockerBuild : public Builder {
 public:
  explicit DockerBuild(DockerOptions options = {});
  std::string name() const override { return "docker"; }
  Expected<BuildResult, Error> build_and_push(const BuildRequest& request, const CancelToken& cancel) override;
  /// Removes the engine's images not in `keep`, and its build cache (src/builder/prune.cpp).
  Expected<PruneReport, Error> prune(const std::set<std::string>& keep, const CancelToken& cancel) override;
  /// `docker ... build ...` for the request: pure.
  std::vector<std::string> build_argv(const BuildRequest& request, const DockerFiles& files) const;
  /// `docker ... push IMAGE`: pure.
  std::vector<std::string> push_argv(const BuildRequest& request) const;
  const DockerOptions& options() const { return options_; }

 private:
  std::vector<std::string> global_argv() const;
  DockerOptions options_;
};

/// The digest and config digest from a BuildKit --metadata-file (buildctl and buildx write
/// the same keys: containerimage.digest, containerimage.config.digest); build/push seconds 0.
/// Fails naming the missing or malformed key.
Expected<BuildResult, std::string> parse_buildkit_metadata(std::string_view json);

/// The registry host of a normalized reference: "127.0.0.1:5000/apps/shop:1" -> "127.0.0.1:5000".
std::string registry_host(std::string_view image);

enum class BackendKind { buildah, docker, buildctl };

/// "buildah", "docker", "buildctl" -> the kind; fails listing the accepted names.
Expected<BackendKind, std::string> parse_backend_kind(std::string_view name);

struct BuilderConfig {
  BackendKind kind = BackendKind::buildah;
  BuildahOptions buildah;    // used when kind is Buildah
  BuildctlOptions buildctl;  // used when kind is Buildctl
  DockerOptions docker;      // used when kind is docker
};

/// The backend the config names, with its options.
std::unique_ptr<Builder> make_builder(const BuilderConfig& config);

}  // namespace cascade::builder
