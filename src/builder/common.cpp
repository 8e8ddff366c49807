// What every build backend shares: error kind names, the state folder default, the backend
// factory, log tails for error messages, argv quoting for logs (build-arg values masked),
// and per-build work folders.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <cstring>
#include <system_error>

#include "internal.hpp"
#include "cascade/util/text.hpp"

namespace cascade::builder {

namespace fs = std::filesystem;

std::string_view kind_name(Error::Kind kind) {
  switch (kind) {
    case Error::Kind::build_failed: return "build-failed";
    case Error::Kind::pull_failed: return "pull-failed";
    case Error::Kind::push_failed: return "push-failed";
    case Error::Kind::push_rejected: return "push-rejected";
    case Error::Kind::runtime_failed: return "runtime-failed";
    case Error::Kind::worker_unavailable: return "worker-unavailable";
    case Error::Kind::cancelled: return "cancelled";
    case Error::Kind::timed_out: return "timed-out";
    case Error::Kind::setup: return "setup";
    case Error::Kind::test_failed: return "test-failed";
  }
  return "setup";
}

std::string default_state_dir() {
  auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return value ? std::string(value) : std::string();
  };
  if (std::string dir = env("CASCADE_STATE_DIR"); !dir.empty()) return dir;
  if (std::string dir = env("XDG_STATE_HOME"); !dir.empty()) return dir + "/cascade";
  if (std::string home = env("HOME"); !home.empty()) return home + "/.local/state/cascade";
  return "/var/lib/cascade";
}

std::string registry_host(std::string_view image) {
  auto slash = image.find('/');
  if (slash == std::string_view::npos) return "docker.io";
  std::string_view first = image.substr(0, slash);
  bool is_host = first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
                 first == "localhost";
  return is_host ? std::string(first) : "docker.io";
}

Expected<BackendKind, std::string> parse_backend_kind(std::string_view name) {
  if (name == "buildah") return BackendKind::buildah;
  if (name == "buildctl") return BackendKind::buildctl;
  if (name == "docker") return BackendKind::docker;
  return unexpected("unknown builder \"" + std::string(name) + "\" (expected buildah, docker or buildctl)");
}

std::unique_ptr<Builder> make_builder(const BuilderConfig& config) {
  switch (config.kind) {
    case BackendKind::buildctl: return std::make_unique<Buildctl>(config.buildctl);
    case BackendKind::docker: return std::make_unique<DockerBuild>(config.docker);
    case BackendKind::buildah: break;
  }
  return std::make_unique<Buildah>(config.buildah);
}

}  // namespace cascade::builder

namespace cascade::builder::detail {

namespace {

constexpr std::size_t kOutputKept = 64 * 1024;  // bytes of a step's output kept for errors
constexpr int kTailLines = 20;                   // lines of output quoted in an error

Error setup_error(std::string message) { return Error{Error::Kind::setup, std::move(message)}; }

std::uintmax_t size_or_zero(const std::string& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

// What the log gained after `offset`, at most the last kOutputKept bytes of it.
std::string read_since(const std::string& path, std::uintmax_t offset) {
  std::uintmax_t size = size_or_zero(path);
  if (size <= offset) return {};
  std::uintmax_t start = std::max(offset, size > kOutputKept ? size - kOutputKept : 0);
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(start));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The last `count` non-empty lines of `output`, each cut at 400 characters.
std::string tail_lines(std::string_view output, int count) {
  std::vector<std::string_view> lines;
  std::size_t end = output.size();
  while (end > 0 && static_cast<int>(lines.size()) < count) {
    std::size_t start = output.rfind('\n', end - 1);
    start = start == std::string_view::npos ? 0 : start + 1;
    std::string_view line = output.substr(start, end - start);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) lines.push_back(line.substr(0, 400));
    end = start == 0 ? 0 : start - 1;
  }
  std::string text;
  for (auto line = lines.rbegin(); line != lines.rend(); ++line) text += "\n  " + std::string(*line);
  return text;
}

bool needs_quotes(const std::string& arg) {
  return arg.empty() || arg.find_first_of(" \t\n'\"\\$`*?;&|<>(){}[]#~") != std::string::npos;
}

std::string quote(const std::string& arg) {
  if (!needs_quotes(arg)) return arg;
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string mask_value(const std::string& assignment) {
  auto equals = assignment.find('=');
  return equals == std::string::npos ? assignment : assignment.substr(0, equals + 1) + "***";
}

// Rewrites what the log gained after `offset` with the secrets masked (only when it holds one).
void mask_log(const std::string& path, std::uintmax_t offset, const std::vector<std::string>& masked) {
  if (masked.empty() || size_or_zero(path) <= offset) return;
  std::string written;
  {
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    written.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string clean = mask_secrets(written, masked);
  if (clean == written) return;
  std::error_code ec;
  fs::resize_file(path, offset, ec);
  append_log(path, clean);
}

}  // namespace

std::string with_tail(std::string message, std::string_view output, const std::string& log_path) {
  std::string tail = tail_lines(output, kTailLines);
  if (!tail.empty()) message += "\nlast lines of " + log_path + ":" + tail;
  return message;
}

Expected<WorkDir, Error> WorkDir::create(const std::string& parent, const std::string& run_id) {
  std::error_code ec;
  fs::create_directories(parent, ec);
  std::string name = run_id.empty() ? "build" : run_id;
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  std::string pattern = (fs::path(parent) / (name.substr(0, 64) + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data()))
    return unexpected(setup_error("cannot create a work folder in " + parent + ": " + std::strerror(errno)));
  return WorkDir(fs::path(pattern));
}

WorkDir::~WorkDir() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Expected<void, Error> check_request(const BuildRequest& request) {
  if (request.image.empty()) return unexpected(setup_error("the build request names no image"));
  std::string what = request.image + ": ";
  std::error_code ec;
  if (request.context_dir.empty() || !fs::is_directory(request.context_dir, ec))
    return unexpected(setup_error(what + "the build context \"" + request.context_dir + "\" is not a folder"));
  if (request.dockerfile_text.empty()) return unexpected(setup_error(what + "the Dockerfile text is empty"));
  if (request.log_path.empty()) return unexpected(setup_error(what + "the build request names no log file"));
  fs::path parent = fs::path(request.log_path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) return unexpected(setup_error(what + "cannot create the log folder " + parent.string() + ": " + ec.message()));
  return {};
}

Expected<void, Error> write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return unexpected(setup_error("cannot write " + path));
  return {};
}

std::string read_trimmed(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text(std::istreambuf_iterator<char>(in), {});
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

void append_log(const std::string& log_path, const std::string& text) {
  std::ofstream out(log_path, std::ios::binary | std::ios::app);
  out << text;
}

std::string format_command(const std::vector<std::string>& argv) {
  std::string line;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    bool build_arg = (i > 0 && argv[i - 1] == "--build-arg") || arg.rfind("build-arg:", 0) == 0;
    if (!line.empty()) line += ' ';
    line += quote(build_arg ? mask_value(arg) : arg);
  }
  return line;
}

bool build_arg_in_environment(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key.front()))) return false;
  for (char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  const std::string upper = util::uppercase(key);
  // Read by the builder process, its loader, its Go runtime or its TLS and proxy setup.
  if (upper.starts_with("GO") && upper.find('_') == std::string::npos) return false;  // GODEBUG, GOGC, GOMAXPROCS
  for (std::string_view prefix : {"LD_", "_", "DOCKER_", "BUILDAH_", "BUILDKIT_", "BUILDX_", "CONTAINERS_",
                                  "CONTAINER_", "STORAGE_", "PODMAN_", "XDG_", "LC_", "SSL_", "DBUS_"})
    if (upper.starts_with(prefix)) return false;
  for (std::string_view name : {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "FTP_PROXY", "NOTIFY_SOCKET",
                                "REGISTRY_AUTH_FILE", "IFS", "ENV", "BASH_ENV"})
    if (upper == name) return false;
  return !process::inherited_by_default(key);
}

std::string build_arg_argument(const std::string& key, const std::string& value) {
  return build_arg_in_environment(key) ? key : key + "=" + value;
}

std::map<std::string, std::string> build_arg_environment(const BuildRequest& request) {
  std::map<std::string, std::string> env;
  for (const auto& [key, value] : request.build_args)
    if (build_arg_in_environment(key)) env[key] = value;
  return env;
}

Clock::time_point deadline_for(const BuildRequest& request, Clock::time_point start) {
  if (request.timeout.count() <= 0) return Clock::time_point::max();
  return start + request.timeout;
}

Expected<StepRun, Error> run_step(const Step& step, const StepContext& context) {
  const BuildRequest& request = context.request;
  std::string what = request.image + ": " + step.name;
  auto now = Clock::now();
  if (context.cancel.stop_requested())
    return unexpected(Error{Error::Kind::cancelled, what + " was not started: cancelled"});
  if (now >= context.deadline)
    return unexpected(Error{Error::Kind::timed_out, what + " was not started: the build ran out of time"});
  append_log(request.log_path, "$ " + format_command(step.argv) + "\n");
  std::uintmax_t offset = size_or_zero(request.log_path);
  process::Options options;
  options.env = step.env;
  options.cancel = context.cancel;
  options.kill_grace = context.kill_grace;
  options.output_file = request.log_path;
  if (context.deadline != Clock::time_point::max())
    options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(context.deadline - now);
  // The step's own limit, when it is the nearer one, is what a timeout means.
  const bool own_limit = step.limit && (!options.timeout || *step.limit < *options.timeout);
  if (own_limit) options.timeout = step.limit;
  auto result = process::run(step.argv, options);
  if (!result) return unexpected(setup_error(what + ": " + result.error()));
  mask_log(request.log_path, offset, context.masked);
  StepRun run{result->exit_code, std::chrono::duration<double>(Clock::now() - now).count(),
              read_since(request.log_path, offset)};
  if (result->cancelled) {
    append_log(request.log_path, "cascade: " + step.name + " cancelled\n");
    return unexpected(Error{Error::Kind::cancelled, with_tail(what + " cancelled", run.output, request.log_path)});
  }
  if (result->timed_out && own_limit) {
    run.timed_out = true;
    return run;
  }
  if (result->timed_out) {
    append_log(request.log_path, "cascade: " + step.name + " stopped: the build's timeout ran out\n");
    std::string message = what + " timed out (the build's limit is " + std::to_string(request.timeout.count()) + "s)";
    return unexpected(Error{Error::Kind::timed_out, with_tail(message, run.output, request.log_path)});
  }
  return run;
}

Error step_error(Error::Kind kind, const std::string& what, const BuildRequest& request, const StepRun& run,
                 std::string_view line) {
  std::string message = request.image + ": " + what + " (exit " + std::to_string(run.exit_code) + ")";
  std::string quoted = line.empty() ? last_error_line(run.output) : std::string(line);
  if (!quoted.empty()) message += ": " + quoted;
  return Error{kind, with_tail(message, run.output, request.log_path)};
}

std::string last_error_line(std::string_view output) {
  std::string last_non_empty;
  std::size_t start = 0;
  std::string found;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    if (end == std::string_view::npos) end = output.size();
    std::string_view line = output.substr(start, end - start);
    std::size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos) {
      std::string trimmed(line.substr(first));
      while (!trimmed.empty() && trimmed.back() == '\r') trimmed.pop_back();
      if (util::lowercase(trimmed.substr(0, 6)) == "error:") found = trimmed;
      last_non_empty = trimmed;
    }
    start = end + 1;
  }
  return found.empty() ? last_non_empty : found;
}

std::string last_line(std::string_view output) {
  std::size_t end = output.find_last_not_of(" \t\r\n");
  if (end == std::string_view::npos) return {};
  std::size_t start = output.rfind('\n', end);
  start = start == std::string_view::npos ? 0 : start + 1;
  std::string_view line = output.substr(start, end + 1 - start);
  return std::string(line.substr(std::min(line.size(), line.find_first_not_of(" \t"))));
}

bool looks_transient(std::string_view error_line) {
  static const char* const phrases[] = {
      "connection refused", "connection reset", "i/o timeout", "timeout", "timed out",
      "no route to host", "network is unreachable", "temporary failure in name resolution",
      "server misbehaving", "unexpected eof", "broken pipe", "too many requests", "toomanyrequests",
      "server closed idle connection",  // Go's http client: the registry dropped a kept-alive connection
      "internal server error", "bad gateway", "service unavailable", "gateway timeout"};
  std::string line = util::lowercase(error_line);
  for (const char* phrase : phrases)
    if (line.find(phrase) != std::string::npos) return true;
  static const std::regex status(R"((status|code)[^0-9a-z]{0,12}(5[0-9][0-9]|429)\b|: eof$)");
  return std::regex_search(line, status);
}

bool runtime_could_not_start(std::string_view output) {
  // Only what the last step printed: a RUN's own output before it is the user's business.
  std::size_t step = output.rfind("\nSTEP ");
  std::string tail = util::lowercase(output.substr(step == std::string_view::npos ? 0 : step + 1));
  // runc's own failures to set up the step's process (seen in CI under load: runc 1.1 copies
  // itself into a sealed memfd and the seal can fail with EBUSY), and the runtime's wrappers.
  static const char* const phrases[] = {"sealing memfd copy", "runc create failed", "runc run failed",
                                        "oci runtime error"};
  for (const char* phrase : phrases)
    if (tail.find(phrase) != std::string::npos) return true;
  return false;
}

Error::Kind classify_build_failure(std::string_view output) {
  std::string line = util::lowercase(last_error_line(output));
  if (line.find("building at step") != std::string::npos)  // a RUN, COPY...
    return runtime_could_not_start(output) ? Error::Kind::runtime_failed : Error::Kind::build_failed;
  return looks_transient(line) ? Error::Kind::pull_failed : Error::Kind::build_failed;
}

Error::Kind classify_push_failure(std::string_view output) {
  return looks_transient(last_error_line(output)) ? Error::Kind::push_failed : Error::Kind::push_rejected;
}

Error::Kind classify_buildkit_failure(std::string_view output) {
  std::string line = util::lowercase(last_error_line(output));
  if (line.find("oci runtime create failed") != std::string::npos) return Error::Kind::runtime_failed;
  if (line.find("did not complete successfully") != std::string::npos) return Error::Kind::build_failed;
  if (line.find("push") != std::string::npos) return classify_push_failure(line);
  return looks_transient(line) ? Error::Kind::pull_failed : Error::Kind::build_failed;
}

namespace {

// Where the engine listens, as the docker client quotes it in errors: "tcp://10.0.0.5:2376"
// -> "10.0.0.5:2376", "unix:///run/docker.sock" -> "/run/docker.sock"; lowercase.
std::string engine_address(std::string_view endpoint) {
  auto scheme = endpoint.find("://");
  std::string address(scheme == std::string_view::npos ? endpoint : endpoint.substr(scheme + 3));
  while (!address.empty() && address.back() == '/' && address.size() > 1) address.pop_back();
  return util::lowercase(address);
}

// What follows the command in a failed RUN's line, "executor failed running [CMD]: ERROR"
// (docker 20.10) or "process \"CMD\" did not complete successfully: ERROR" (later ones): the
// command is the Dockerfile's text and may say anything.
std::string_view after_command(std::string_view line) {
  auto done = line.rfind("did not complete successfully");
  if (done != std::string_view::npos) return line.substr(done);
  auto bracket = line.rfind("]: ");
  return bracket == std::string_view::npos ? line : line.substr(bracket);
}

// Whether `line` names `address` whole: "127.0.0.1:237" is not in "127.0.0.1:2376".
bool names_address(std::string_view line, std::string_view address) {
  for (auto at = line.find(address); at != std::string_view::npos; at = line.find(address, at + 1)) {
    std::size_t after = at + address.size();
    if (after == line.size() || !std::isalnum(static_cast<unsigned char>(line[after]))) return true;
  }
  return false;
}

bool failed_run_line(std::string_view line) {
  return line.starts_with("executor failed running") || line.find("did not complete successfully") != std::string_view::npos;
}

}  // namespace

bool docker_engine_unavailable(std::string_view output, std::string_view endpoint) {
  std::string line = util::lowercase(last_line(output));
  if (failed_run_line(line)) return false;  // the RUN's own words
  for (std::string_view start : {"cannot connect to the docker daemon", "error during connect", "failed to dial grpc"})
    if (line.starts_with(start)) return true;
  // The client's stream from the daemon ended (dockerd died mid-build or mid-push); with
  // --iidfile the build's client says so as the image id it never got.
  if (line == "unexpected eof" || line == "eof" || line.find("rpc error: code = unavailable") != std::string::npos ||
      (line.starts_with("cannot write ") && line.ends_with("because server did not provide an image id")))
    return true;
  std::string address = engine_address(endpoint);
  if (address.empty() || !names_address(line, address)) return false;
  for (std::string_view phrase : {"connection refused", "connection reset", "broken pipe", "eof", "x509:", "tls:",
                                  "no such file or directory", "i/o timeout"})
    if (line.find(phrase) != std::string::npos) return true;
  return false;
}

Error::Kind classify_docker_build_failure(std::string_view output, std::string_view endpoint) {
  std::string line = util::lowercase(last_line(output));
  if (failed_run_line(line)) {
    std::string_view error = after_command(line);
    for (std::string_view phrase : {"oci runtime create failed", "runc create failed", "sealing memfd copy"})
      if (error.find(phrase) != std::string_view::npos) return Error::Kind::runtime_failed;
    return Error::Kind::build_failed;
  }
  if (docker_engine_unavailable(line, endpoint)) return Error::Kind::worker_unavailable;
  if (line.starts_with("unable to resolve docker endpoint")) return Error::Kind::setup;  // its TLS files
  if (line.find("dockerfile parse error") != std::string::npos) return Error::Kind::build_failed;
  return looks_transient(line) ? Error::Kind::pull_failed : Error::Kind::build_failed;
}

Error::Kind classify_docker_push_failure(std::string_view output, std::string_view endpoint) {
  std::string line = last_line(output);
  if (docker_engine_unavailable(line, endpoint)) return Error::Kind::worker_unavailable;
  if (util::lowercase(line).starts_with("unable to resolve docker endpoint")) return Error::Kind::setup;
  return classify_push_failure(line);
}

std::string parse_docker_push_digest(std::string_view output, std::string_view tag) {
  const std::string prefix = std::string(tag) + ": digest: ";
  std::string digest;
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = std::min(output.find('\n', start), output.size());
    std::string_view line = output.substr(start, end - start);
    if (line.starts_with(prefix)) {
      std::string_view rest = line.substr(prefix.size());
      std::string_view candidate = rest.substr(0, rest.find(' '));
      digest = is_digest(candidate) && rest.substr(candidate.size()).starts_with(" size: ") ? std::string(candidate) : "";
    }
    start = end + 1;
  }
  return digest;
}

bool is_digest(std::string_view text) {
  if (text.size() != 71 || text.substr(0, 7) != "sha256:") return false;
  return std::all_of(text.begin() + 7, text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string work_root(const std::string& options_dir, const std::string& state_dir, const std::string& backend) {
  if (!options_dir.empty()) return options_dir;
  return (fs::path(state_dir.empty() ? default_state_dir() : state_dir) / backend / "work").string();
}

}  // namespace cascade::builder::detail
