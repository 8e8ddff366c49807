// Runs programs with an argument vector (never a shell), capturing their output or
// streaming it to a file, with a timeout and cancellation. Children get an allowlisted
// environment (inherited_by_default) plus what the caller passes, never the whole of ours.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/util/expected.hpp"

namespace cascade {

/// Cancellation: whoever decides to stop (the executor, on SIGINT/SIGTERM) owns a
/// CancelSource and calls request_stop() from any thread (not from a signal handler: use an
/// asio::signal_set or a thread that waits for the signal); the work holds a CancelToken.
/// Both are the standard stop_source/stop_token: copies share one flag.
using CancelSource = std::stop_source;
using CancelToken = std::stop_token;

}  // namespace cascade

namespace cascade::process {

struct Options {
  std::string working_dir;                     // empty: the current directory
  // The child's environment is the parent's variables that inherited_by_default accepts,
  // plus the ones named in `inherit`, plus `env` (which wins). Nothing else of the parent's
  // environment reaches a child: not the API token, webhook tokens and HMAC secrets, git
  // tokens, nor any variable a pipeline names as token_env/secret_env.
  std::map<std::string, std::string> env;      // set in the child's environment
  std::vector<std::string> inherit;            // further parent variables to pass on (when set)
  std::optional<std::string> input;            // written to the child's stdin, then closed
  std::optional<std::chrono::milliseconds> timeout;  // the child is stopped when it runs longer
  // A stop request stops the child. Not requested at start: the child is not started at all.
  CancelToken cancel;
  // Stopping (timeout or cancel) sends SIGTERM, then SIGKILL when the child is still there
  // after this long. With a timeout or a cancel token the child leads its own process group
  // and the signals go to the whole group, so its own children are stopped too (and a
  // terminal's Ctrl-C reaches only the parent, which decides).
  std::chrono::milliseconds kill_grace{2000};
  // Non-empty: stdout and stderr both go, in the order written, to the end of this file
  // (created 0644 when missing) instead of Result::out/err, which stay empty.
  std::string output_file;
};

struct Result {
  int exit_code = -1;    // the child's exit code; 128+N when killed by signal N; -1 when never started
  std::string out;       // everything the child wrote to stdout (empty with output_file)
  std::string err;       // everything the child wrote to stderr (empty with output_file)
  bool timed_out = false;  // stopped because the timeout ran out
  bool cancelled = false;  // stopped (or never started) because a stop was requested
};

/// True for the parent variables every child gets: the locale and time zone (LANG,
/// LANGUAGE, LC_*, TZ), the user and paths (PATH, HOME, USER, LOGNAME, SHELL, TMPDIR,
/// XDG_*), proxies (http_proxy, https_proxy, no_proxy, all_proxy in either case), CA
/// bundles (SSL_CERT_*, CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE, GIT_SSL_CAINFO, GIT_SSL_CAPATH),
/// agents (SSH_AUTH_SOCK, DBUS_SESSION_BUS_ADDRESS, GNUPGHOME, PASSWORD_STORE_DIR), git's
/// configuration paths (GIT_CONFIG_GLOBAL, GIT_CONFIG_SYSTEM, GIT_CONFIG_NOSYSTEM), and the
/// container tools' own variables (CONTAINERS_*, CONTAINER_HOST, CONTAINER_CONNECTION,
/// REGISTRY_AUTH_FILE, DOCKER_*, BUILDAH_*, BUILDKIT_*, BUILDX_*, PODMAN_*, STORAGE_*,
/// KUBECONFIG). A name holding TOKEN, SECRET, PASSWORD, PASSWD or PASSPHRASE is never
/// inherited by default, whatever its prefix (DOCKER_PASSWORD stays home); pass such a
/// variable explicitly with Options::env or Options::inherit when a child needs it.
bool inherited_by_default(std::string_view name);

/// Finds `program` on PATH (or takes it as a path when it contains '/'); empty when not found.
std::string find_executable(const std::string& program);

/// Runs argv[0] with the arguments argv[1..]; fails (with a message naming the program)
/// only when it cannot be started or output_file cannot be opened. A non-zero exit, a
/// timeout or a cancellation is a Result, not a failure.
Expected<Result, std::string> run(const std::vector<std::string>& argv, const Options& options = {});

}  // namespace cascade::process
