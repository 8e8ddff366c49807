// The pipeline file (YAML) -> validated config values. Unknown keys, wrong types and
// inconsistent values are errors naming file:line:column and what to change.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/util/expected.hpp"

namespace cascade::pipeline {

/// A position in the pipeline file, 1-based.
struct Mark {
  int line = 0;
  int column = 0;
};

/// A recipe's or a source's choice of build worker (`builder: {name: X}` or
/// `builder: {labels: {arch: arm64}}`): by name, or every label must match; both empty: any.
struct WorkerChoice {
  std::string name;
  std::map<std::string, std::string> labels;
  Mark mark;  // where the `builder:` mapping starts
  bool any() const { return name.empty() && labels.empty(); }
};

/// One `test:` entry: a command run in a container of the freshly built image before it is
/// pushed under its tag. A non-zero exit, or running past `timeout`, fails the build.
struct TestCommand {
  std::vector<std::string> argv;  // `run: [...]`: an argument vector, never a shell line; not empty
  std::chrono::milliseconds timeout{300'000};  // `timeout: 5m`; > 0
  Mark mark;
};

/// An explicit recipe: one Dockerfile producing one image.
struct ImageRecipe {
  std::string image;       // normalized reference the recipe produces
  std::string dockerfile;  // path inside the repository
  std::string context;     // folder inside the repository; defaults to the Dockerfile's folder
  std::string target;      // --target stage; empty for the last stage
  std::map<std::string, std::string> build_args;
  std::optional<WorkerChoice> builder;  // overrides the source's
  std::optional<std::vector<std::string>> platforms;  // `platforms:`; overrides the source's
  std::optional<std::vector<TestCommand>> tests;  // `test:`; overrides the source's (`test: []`: none)
  Mark mark;               // where the entry starts
};

/// Recipes found by globbing the repository's files at the resolved commit.
struct Discover {
  std::string dockerfiles;     // glob, e.g. "services/*/Dockerfile" ('*', '?', '**', [set])
  std::string image_template;  // e.g. "registry.example.com/apps/{dir}:latest"
  std::string context_template;  // empty: the Dockerfile's folder
  std::string target;
  std::map<std::string, std::string> build_args;
  std::optional<WorkerChoice> builder;  // overrides the source's
  std::optional<std::vector<std::string>> platforms;  // `platforms:`; overrides the source's
  std::optional<std::vector<TestCommand>> tests;  // `test:`; overrides the source's
  Mark mark;
};

struct Source {
  std::string name;  // unique among sources
  std::string git;   // local path (absolute, resolved against the file's folder) or URL
  bool remote = false;  // true when `git` is a URL (cloned into the cache), false for a local path
  std::string ref;   // branch, tag or commit; "HEAD" by default
  std::vector<ImageRecipe> images;
  std::vector<Discover> discover;
  std::optional<WorkerChoice> builder;  // for every recipe of the source without its own
  std::optional<std::vector<std::string>> platforms;  // for every recipe of the source without its own
  std::optional<std::vector<TestCommand>> tests;  // for every recipe of the source without its own
  Mark mark;
};

struct Registry {
  std::string host;       // "registry.example.com", "127.0.0.1:5000"
  bool insecure = false;  // plain http / unverified TLS only when true
  Mark mark;
};

/// How a target replaces a workload's instances (the `rollout:` mapping of a deploy target).
struct Rollout {
  int batch = 1;            // instances replaced at once, >= 1
  int max_unavailable = 1;  // instances that may be down at once, >= 0
  std::chrono::milliseconds health_timeout{60'000};  // per batch; > 0
  bool rollback = true;     // restore the previous image when a batch fails
  std::string http_probe;   // "http(s)://..." checked after start; empty: none
  std::chrono::milliseconds stable_for{0};  // healthy this long before the next batch
};

/// `approval: {required: N, timeout: 24h, before: rollout}` on a deploy target or at the top
/// level (the default of every target without its own): a run that would roll out there
/// holds those rollouts until N different people approve it, or one rejects it, or the
/// timeout ends it (as rejected: the images stay pushed, the workloads stay behind).
struct Approval {
  int required = 1;  // distinct approvers, >= 1
  std::chrono::milliseconds timeout{24 * 3'600'000};  // from when the run starts waiting; > 0
  // `before: build`: the run waits for the approval before it builds anything (the top-level
  // approval only); `before: rollout` (default): it builds and pushes, then waits.
  bool before_build = false;
  Mark mark;
};

/// One `windows:` entry of a deploy target: rollouts may start there from each time `cron`
/// fires (in `timezone`) for `duration`. Outside every window, rollouts wait for the next one.
struct Window {
  std::string cron;      // five fields or an @macro (cron::Schedule::parse)
  std::chrono::milliseconds duration{3'600'000};  // > 0
  std::string timezone = "UTC";  // IANA name
  Mark mark;
};

/// One `waves:` entry: targets rolled out together; the next wave starts only after every
/// rollout of this one is healthy and then `soak` has passed; a failure stops the later waves.
struct Wave {
  std::string name;                  // default "wave-<index+1>"; unique
  std::vector<std::string> targets;  // names of `deploy:` entries; each target in one wave at most
  std::chrono::milliseconds soak{0};
  Mark mark;
};

/// One `notify:` destination.
struct Notify {
  enum class Kind {
    slack,    // a Slack-compatible incoming webhook ({"text": ...}): Slack, Mattermost, Rocket.Chat
    webhook,  // cascade's JSON event, POSTed; signed X-Cascade-Signature-256 when secret_env is set
    command,  // argv run with the event's JSON on stdin
  } kind = Kind::webhook;
  std::string name;        // unique; default "<kind>-<index+1>"
  std::string url_env;     // slack, webhook: the environment variable holding the URL (it may embed a token)
  std::string secret_env;  // webhook: the environment variable holding the HMAC-SHA256 key; empty: unsigned
  std::vector<std::string> argv;  // command
  std::chrono::milliseconds timeout{10'000};  // one delivery
  // Events delivered ("run-started", "awaiting-approval", "rolled-back", "quarantined",
  // "run-finished"); empty: all of them.
  std::vector<std::string> events;
  std::vector<std::string> images;  // globs on repositories an event must concern; empty: any
  bool insecure = false;  // an https URL's certificate is not verified
  Mark mark;
};

/// The event names `notify.events` accepts.
inline constexpr const char* kNotifyEvents[] = {"run-started", "awaiting-approval", "rolled-back", "quarantined",
                                                "run-finished"};

enum class DeployKind { docker, kubernetes, command };

/// TLS files for a docker tcp:// endpoint; absolute paths, empty when not given.
struct TlsFiles {
  std::string ca;
  std::string cert;  // set together with key
  std::string key;
};

/// One entry of the `deploy:` list. Only the fields of its kind are set.
struct DeployTarget {
  std::string name;  // unique among targets
  DeployKind kind = DeployKind::docker;
  std::vector<std::string> images;  // globs on the normalized repository; empty: every image
  Rollout rollout;
  // docker
  std::string endpoint;  // "unix:///abs/path" or "tcp://host:port"
  std::optional<TlsFiles> tls;  // only with tcp://
  bool insecure = false;  // `insecure: true`: a tcp:// endpoint without tls, an https http_probe unverified
  std::string group_by = "com.docker.compose.service";  // label grouping replicas
  // kubernetes
  std::string kubeconfig;  // absolute; empty: $KUBECONFIG, else ~/.kube/config
  std::string context;     // empty: the kubeconfig's current-context
  std::vector<std::string> namespaces;  // at least one
  // command
  std::vector<std::string> argv;  // with {image} {digest} {old_digest} {run} {repository}
  std::map<std::string, std::string> env;
  std::chrono::milliseconds timeout{600'000};
  // release control (any kind)
  std::optional<Approval> approval;  // this target's; else the top-level one
  std::vector<Window> windows;       // empty: rollouts may start at any time
  // `urgent: true`: a run marked urgent (`--urgent`) skips this target's approval and windows
  // (recorded as such); false: an urgent run waits here like any other.
  bool urgent = false;
  Mark mark;
};

enum class WorkerKind {
  buildah,   // local buildah on the cascade host (no endpoint)
  docker,    // a Docker Engine with BuildKit inside: `docker build` through the Debian client
  buildkit,  // a BuildKit daemon: buildctl --addr
};

/// One `builders.workers` entry: a build engine cascade hands builds to.
struct Worker {
  std::string name;  // unique among workers
  WorkerKind kind = WorkerKind::buildah;
  std::string endpoint;         // docker, buildkit: "unix:///abs/path" or "tcp://host:port"; buildah: none
  std::optional<TlsFiles> tls;  // only with tcp://; files checked readable when the file is read
  bool insecure = false;        // `insecure: true`: a tcp:// endpoint without tls (else tls is required)
  std::size_t capacity = 1;     // builds at once, >= 1
  std::map<std::string, std::string> labels;
  std::string network;  // docker: --network for RUN steps ("none", "host", "default"); empty: the engine's
  Mark mark;
};

/// A build secret for `RUN --mount=type=secret,id=ID`: passed as a real build secret, never
/// a build arg, never in logs, labels, the store or the image's history.
struct BuildSecret {
  std::string id;    // unique among secrets
  std::string env;   // the value is this environment variable's (read when a build starts)
  std::string file;  // or this file's content (absolute path); exactly one of env and file
  Mark mark;
};

enum class PullPolicy { missing, always };

/// The `builders:` section.
struct Builders {
  std::vector<Worker> workers;  // empty: one local buildah worker (as without the section)
  PullPolicy pull = PullPolicy::missing;  // bases by digest are immutable: missing is enough
  std::vector<BuildSecret> secrets;
  // `prune: {keep_runs: N}`: after a run, each worker's build storage keeps only the images
  // the last N runs built or built on; nullopt: never pruned.
  std::optional<int> prune_keep_runs;
  // buildah's storage driver: "overlay" or "vfs"; empty: overlay where the kernel and file
  // system allow it, else vfs (detected at start).
  std::string storage_driver;
  Mark mark;
};

/// One `triggers.webhooks` entry: an endpoint POST /hooks/<path> for one sender.
struct Webhook {
  std::string sender;      // "distribution", "dockerhub", "harbor", "quay", "github", "generic"
  std::string path;        // URL path segment after /hooks/; default: the sender's name; unique
  std::string token_env;   // environment variable holding the shared token; empty: none
  std::string secret_env;  // environment variable holding the HMAC key (github, generic only); empty: none
  bool unauthenticated = false;  // `auth: none`: explicitly accept unsigned, tokenless deliveries
  std::string registry;    // registry host for repositories the payload names without one
  Mark mark;
};

/// One `triggers.schedule` entry.
struct ScheduleEntry {
  std::string name;        // unique; default "<action>-<index>"
  std::string cron;        // five fields or an @macro; checked with cron::Schedule::parse
  std::string timezone = "UTC";  // IANA name
  // refresh: re-resolve the external bases and cascade what changed; rebuild: rebuild `images`;
  // scan: index the installed packages of every fleet image, external base and workload.
  enum class Action { refresh, rebuild, scan } action = Action::refresh;
  std::vector<std::string> images;  // rebuild: globs on normalized repositories; empty: every fleet image
  Mark mark;
};

/// The `triggers:` section: what `cascade serve` listens on and reacts to.
struct Triggers {
  std::string listen = "127.0.0.1:8080";  // host:port ("[::1]:8080" for IPv6)
  std::chrono::milliseconds debounce{10'000};  // a burst of pushes of one image within this makes one cascade
  std::size_t body_limit = 1u << 20;      // bytes (`body_limit: 1MiB`)
  std::string api_token_env = "CASCADE_API_TOKEN";  // bearer token for state-changing API calls
  std::string read_token_env;             // set: bearer token GET /api/* needs (the API token serves too)
  std::vector<std::string> hosts;         // Host names answered besides localhost, loopback and the listen address
  std::string log_format = "text";        // "text" or "json"
  std::vector<Webhook> webhooks;
  std::vector<ScheduleEntry> schedule;
  std::size_t parallel = 2;               // builds at once in a daemon-started run
  // `approvers: [{name: alice, token_env: CASCADE_TOKEN_ALICE}]`: bearer tokens that may
  // approve or reject runs through the API, each recorded under its name. The API token
  // itself approves as "api".
  struct Approver {
    std::string name;       // unique
    std::string token_env;  // must be set (and not empty) when the file is read
    Mark mark;
  };
  std::vector<Approver> approvers;
  Mark mark;
};

struct Pipeline {
  std::string file;        // the file the pipeline was read from
  std::string directory;   // its folder (absolute); relative paths resolve against it
  int version = 1;
  std::vector<Source> sources;
  std::vector<Registry> registries;
  std::string state;       // SQLite state file, absolute; default <directory>/.cascade/state.db
  std::string cache;       // clone cache for remote sources, absolute; default $XDG_CACHE_HOME/cascade,
                           // else $HOME/.cache/cascade, else <directory>/.cascade/cache
  std::vector<DeployTarget> deploy;
  int max_parallel_deploys = 4;  // rollouts across the fleet at once, >= 1
  Builders builders;             // defaults when the file has no `builders:` section
  // The top-level `platforms:`: the fleet's default for every recipe without its own (and
  // whose source has none). Each entry normalized "os/arch[/variant]", e.g. "linux/arm64",
  // "linux/arm/v7"; no duplicates, never empty when given. Absent: a recipe's platforms are
  // the ones its tag has in the registry, else the build engine's own.
  std::optional<std::vector<std::string>> platforms;
  std::optional<Triggers> triggers;  // set when the file has a `triggers:` section
  // Release control.
  std::optional<std::vector<TestCommand>> tests;  // top-level `test:`: every recipe without its own
  std::optional<Approval> approval;  // top-level `approval:`: every deploy target without its own
  std::vector<Wave> waves;           // deploy targets in no wave roll out as soon as their image is pushed
  std::vector<Notify> notify;
};

/// What parse() takes from the process environment, passed in so tests can choose it.
struct Environment {
  std::string home;            // $HOME; empty when unset (a path starting with '~' then fails)
  std::string xdg_cache_home;  // $XDG_CACHE_HOME; empty when unset (ignored unless absolute)
  // Looks up the variables the file names for its secrets (`notify` url_env and secret_env,
  // `triggers.approvers` token_env), which must be set when the file is read; nullopt: unset.
  // Empty: the process environment.
  std::function<std::optional<std::string>(const std::string& name)> variable = {};
  /// The values of the running process.
  static Environment current();
};

struct Error {
  std::string file;
  int line = 0;     // 1-based; 0 when not tied to a place
  int column = 0;
  std::string message;
  /// "file:line:column: message"
  std::string str() const;
};

/// Parses pipeline YAML text; `file` and `directory` are used for messages and for
/// resolving relative paths. Fails with Error on any invalid content.
Expected<Pipeline, Error> parse(std::string_view text, std::string_view file, std::string_view directory);
/// The same, with '~', the default cache and the secret variables taken from `env` instead of
/// the process.
Expected<Pipeline, Error> parse(std::string_view text, std::string_view file, std::string_view directory,
                                const Environment& env);

/// One warning per docker target whose `insecure: true` is in use (a plain tcp:// endpoint,
/// an unverified https http_probe), at the target's place, then one per build worker with
/// `insecure: true` (a plain tcp:// endpoint), at the worker's place; said when a command starts.
std::vector<Error> insecure_warnings(const Pipeline& pipeline);

/// Reads and parses a pipeline file; fails with Error when unreadable or invalid.
Expected<Pipeline, Error> load(const std::string& path);

/// Checks a discover glob; fails with the reason and the 0-based offset of the problem.
Expected<void, std::pair<std::string, std::size_t>> validate_glob(std::string_view glob);

/// True when `path` (repository-relative, '/'-separated) matches `glob`:
/// '*' and '?' stay inside one path segment, '**' spans zero or more whole segments,
/// [abc] / [a-z] / [!a-z] sets; every other character is literal.
bool glob_match(std::string_view glob, std::string_view path);

/// Expands an image or context template for a discovered Dockerfile path.
/// Placeholders: {dir} (folder name), {path} (folder path), {source} (source name),
/// {file} (Dockerfile name); for a Dockerfile at the repository root {dir} and {path} are ".".
/// Fails with the reason on an unknown or unclosed placeholder, or a stray '}'.
Expected<std::string, std::string> expand_template(std::string_view tmpl, std::string_view dockerfile_path,
                                                   std::string_view source_name);

/// "60s", "5m", "1h30m", "500ms": one or more <digits><unit> with units h, m, s, ms in
/// that order, each at most once. Fails with the reason on anything else.
Expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text);

/// The name of a deploy kind: "docker", "kubernetes", "command".
std::string_view kind_name(DeployKind kind);

/// True when `target` deploys `repository` (normalized, without tag): its `images` globs
/// match it, or it has none.
bool deploys(const DeployTarget& target, std::string_view repository);

}  // namespace cascade::pipeline
