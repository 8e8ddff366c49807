// Shared by the backends: request checks, a temporary folder per build, running one step
// with its output appended to the log, and reading a failure out of that output.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/builder.hpp"
#include "cascade/process.hpp"

namespace cascade::builder::detail {

using Clock = std::chrono::steady_clock;

/// A fresh folder <parent>/<run_id>-XXXXXX (parent created when missing), removed with its
/// content on destruction. Fails with Setup naming the folder.
class WorkDir {
 public:
  static Expected<WorkDir, Error> create(const std::string& parent, const std::string& run_id);
  WorkDir(WorkDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  WorkDir& operator=(WorkDir&&) = delete;
  ~WorkDir();
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  explicit WorkDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

/// Checks what every backend needs: an image, a context folder that exists, a Dockerfile
/// text and a log path (whose folder is created). Fails with Setup saying which.
Expected<void, Error> check_request(const BuildRequest& request);

/// Writes `text` to `path`. Fails with Setup naming the file.
Expected<void, Error> write_text(const std::string& path, const std::string& text);

/// The file's content with surrounding whitespace trimmed; empty when it cannot be read.
std::string read_trimmed(const std::string& path);

/// Appends `text` to the log; best effort (the step that follows reports an unusable log).
void append_log(const std::string& log_path, const std::string& text);

/// The command as one line for the log: arguments quoted when needed, build-arg values
/// ("--build-arg K=V", "build-arg:K=V") masked as K=***.
std::string format_command(const std::vector<std::string>& argv);

/// True when a build arg named `key` can travel in the builder's environment: "--build-arg K"
/// in argv (buildah and docker read a value-less build arg from their environment), the value
/// only in the child's environment (/proc/PID/environ, readable by its user alone), never in
/// `ps`. False for a name that is not a variable name or that the builder itself reads
/// (PATH, HOME, LD_*, GO*, proxies, CONTAINERS_*, DOCKER_*, ...): such an arg stays K=V.
bool build_arg_in_environment(std::string_view key);

/// The value after "--build-arg": "K" when build_arg_in_environment(K), else "K=V".
std::string build_arg_argument(const std::string& key, const std::string& value);

/// The environment entries of the build args that travel there.
std::map<std::string, std::string> build_arg_environment(const BuildRequest& request);

/// One program run of a build.
struct Step {
  std::string name;                        // "buildah bud", said in errors
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to the inherited environment
  // The step's own time limit (a `test:` command's), besides the build's deadline: when it
  // runs out first, run_step stops the step and returns a StepRun with timed_out set.
  std::optional<std::chrono::milliseconds> limit = std::nullopt;
};

/// What the build as a whole brings to every step.
struct StepContext {
  const BuildRequest& request;
  const CancelToken& cancel;
  Clock::time_point deadline;  // Clock::time_point::max(): none
  std::chrono::milliseconds kill_grace;
  std::vector<std::string> masked = {};  // secret values replaced by *** in the log and errors
};

/// The argument after "--secret" for the request's secret number `index` (buildah, docker and
/// buildctl read the same form): "id=ID,env=CASCADE_BUILD_SECRET_<index>" for an env secret
/// (the value travels in the builder's environment under that name), "id=ID,src=FILE" for a
/// file secret. Never the value.
std::string secret_argument(const Secret& secret, std::size_t index);

/// The secrets of a request, read and checked before the build starts.
struct SecretInputs {
  std::map<std::string, std::string> env;  // CASCADE_BUILD_SECRET_<index> -> value, for the builder
  std::vector<std::string> masked;         // values to mask in the log (see mask_secrets)
};

/// Reads every secret of the request. Fails with Setup naming the secret's id (never its
/// value) when an id is empty or holds ',', '=', '"' or spaces, when not exactly one of env
/// and file is given, when the variable is unset or the file (an absolute path) unreadable.
Expected<SecretInputs, Error> read_secrets(const BuildRequest& request);

/// `text` with every occurrence of each value (and, for a multi-line value, of each of its
/// lines), trimmed of surrounding whitespace, replaced by "***"; pieces shorter than 4
/// characters are left alone (they would mask half the log).
std::string mask_secrets(std::string text, const std::vector<std::string>& values);

/// A step that ran to its end (any exit code).
struct StepRun {
  int exit_code = 0;
  double seconds = 0;
  std::string output;  // the end (up to 64 KiB) of what the step wrote to the log
  bool timed_out = false;  // stopped because Step::limit ran out (exit_code is then the signal's)
};

/// The deadline for a request started at `start`.
Clock::time_point deadline_for(const BuildRequest& request, Clock::time_point start);

/// Runs the step with its output appended to the log after a "$ command" line. Fails with
/// Setup (cannot start, log unusable), Cancelled or TimedOut (the build's deadline), each
/// with the output's end. The step's own limit running out is a StepRun with timed_out.
Expected<StepRun, Error> run_step(const Step& step, const StepContext& context);

/// An Error of `kind`: "<image>: <what> (exit N): <line>", then the output's last lines;
/// `line` empty: the output's last_error_line.
Error step_error(Error::Kind kind, const std::string& what, const BuildRequest& request, const StepRun& run,
                 std::string_view line = {});

/// `message`, then "\nlast lines of <log_path>:" and the output's last non-empty lines (up
/// to 20, each indented and cut at 400 characters); `message` alone when there are none.
std::string with_tail(std::string message, std::string_view output, const std::string& log_path);

/// True when the output's last build step (from its "STEP " line; all of it without one)
/// says the container runtime could not start the process (runc's sealed-memfd copy,
/// "runc create failed", "OCI runtime error"): the command itself never ran.
bool runtime_could_not_start(std::string_view output);

/// The last line of `output` starting with "error:" (any case, after spaces) — how buildah
/// and buildctl end a failure — or, with none, its last non-empty line.
std::string last_error_line(std::string_view output);

/// The last non-empty line of `output`, trimmed: where the docker client prints its error.
std::string last_line(std::string_view output);

/// True when a failure line reads as a network problem worth retrying: refused or reset
/// connections, timeouts, DNS failures, unexpected EOF, HTTP 5xx and 429.
bool looks_transient(std::string_view error_line);

/// buildah bud's failure: PullFailed when fetching a base failed transiently, else BuildFailed.
Error::Kind classify_build_failure(std::string_view output);

/// A push's failure: PushFailed when transient, else PushRejected.
Error::Kind classify_push_failure(std::string_view output);

/// A BuildKit build-and-push failure (buildctl): a RUN that failed is BuildFailed;
/// a push is PushFailed or PushRejected; any other transient failure is PullFailed.
Error::Kind classify_buildkit_failure(std::string_view output);

/// True when the docker client's error (the output's last line) says the engine at `endpoint`
/// ("unix:///run/docker.sock", "tcp://host:2376"; empty: not known) could not be reached or
/// dropped the connection: "Cannot connect to the Docker daemon", "error during connect",
/// "failed to dial gRPC" (refused, TLS and certificate failures), a bare "unexpected EOF" or
/// "cannot write IIDFILE because server did not provide an image ID" (the daemon died
/// mid-build or mid-push), or a refused/reset/EOF/TLS failure naming the
/// endpoint's own address. A registry's refusal names the registry, not the engine: false.
bool docker_engine_unavailable(std::string_view output, std::string_view endpoint);

/// `docker build`'s failure: a RUN that failed is BuildFailed (RuntimeFailed when runc could
/// not start it); an unavailable engine is WorkerUnavailable; a client that cannot read its
/// own endpoint settings is Setup; a transient failure fetching a base is PullFailed; else
/// BuildFailed.
Error::Kind classify_docker_build_failure(std::string_view output, std::string_view endpoint);

/// `docker push`'s failure: WorkerUnavailable when the engine is unavailable, else as
/// classify_push_failure.
Error::Kind classify_docker_push_failure(std::string_view output, std::string_view endpoint);

/// The digest in `docker push`'s "<tag>: digest: sha256:<hex> size: <n>" line for `tag`;
/// empty when there is no such line or the digest is malformed.
std::string parse_docker_push_digest(std::string_view output, std::string_view tag);

/// True for "sha256:" followed by 64 lowercase hex digits.
bool is_digest(std::string_view text);

/// `options_dir` or, when empty, <default_state_dir()>/<backend>/work.
std::string work_root(const std::string& options_dir, const std::string& state_dir, const std::string& backend);

// `test:` commands (src/builder/tests.cpp): each runs in a fresh container of the built image
// (of each platform's image, for a multi-platform build) after the build and before any push;
// the first that exits non-zero or runs past its timeout fails the build with TestFailed.

/// Checks the request's tests before anything is built: each has a command and a timeout
/// above zero. Fails with Setup naming the test by its number.
Expected<void, Error> check_tests(const BuildRequest& request);

/// "30s", "5m", "1500ms": a test's timeout as messages and logs say it.
std::string duration_text(std::chrono::milliseconds duration);

/// `buildah ... from --pull=never --quiet --name CONTAINER IMAGE_ID`: a working container of
/// the built image, from local storage only.
std::vector<std::string> buildah_test_from_argv(const BuildahOptions& options, const std::string& image_id,
                                                const std::string& container);
/// `buildah ... run --isolation I CONTAINER -- ARGV...`: the test's argv as the process (the
/// image's entrypoint is not used), no shell.
std::vector<std::string> buildah_test_run_argv(const BuildahOptions& options, const std::string& container,
                                               const TestCommand& test);
/// `buildah ... rm CONTAINER`.
std::vector<std::string> buildah_test_rm_argv(const BuildahOptions& options, const std::string& container);

/// Runs the request's tests in order, each in a fresh buildah container of `image_id` that
/// is removed afterwards whatever happened; `platform` (empty for a one-platform build) is
/// said in the log and the error. Returns the seconds the tests took. Fails with TestFailed
/// at the first test that exits non-zero or runs past its timeout ("<image>: test N of M
/// failed [on P]: `ARGV` exited with code C" or "timed out after 30s", then the output's last
/// lines); RuntimeFailed when the runtime could not start it; Setup when no container could be
/// made of the image; Cancelled, TimedOut (the build's deadline).
Expected<double, Error> run_buildah_tests(const BuildahOptions& options, const StepContext& context,
                                          const std::map<std::string, std::string>& env, const std::string& image_id,
                                          std::string_view platform = {});

/// How the docker backend reaches its engine, for the tests.
struct DockerTestEngine {
  std::vector<std::string> global;          // `docker -H ... [--tls...]`
  std::string network;                      // --network for the test containers; empty: the engine's default
  std::string endpoint;                     // the engine, for messages and telling its failures apart
  std::map<std::string, std::string> env;   // the client's environment (DOCKER_CONFIG)
};

/// `docker ... run --rm --pull never --name CONTAINER [--network N] --entrypoint ARGV[0]
/// IMAGE_ID ARGV[1..]`: the test's argv replaces the image's entrypoint and command.
std::vector<std::string> docker_test_run_argv(const DockerTestEngine& engine, const std::string& image_id,
                                              const std::string& container, const TestCommand& test);

/// Runs the request's tests in order in containers of `image_id` on the engine (a container
/// left by a timeout or a cancel is removed with `docker rm -f`). Returns the seconds they
/// took. Fails as run_buildah_tests, and with WorkerUnavailable when the engine could not be
/// reached, Setup when the engine refused to run the container.
Expected<double, Error> run_docker_tests(const DockerTestEngine& engine, const StepContext& context,
                                         const std::string& image_id);

/// Appends `more` to an argument vector.
inline void append(std::vector<std::string>& argv, const std::vector<std::string>& more) {
  argv.insert(argv.end(), more.begin(), more.end());
}

}  // namespace cascade::builder::detail
