// Runs children through Boost.Process v2: argument vectors, an allowlisted environment,
// pipes or an output file, a timeout and cancellation that stop the child's process group.
#include "cascade/process.hpp"
#include "cascade/util/text.hpp"

#include <boost/asio.hpp>
#include <boost/process/v2.hpp>

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <set>

namespace cascade::process {

namespace asio = boost::asio;
namespace bp = boost::process::v2;

std::string find_executable(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  auto found = bp::environment::find_executable(program);
  return found.empty() ? std::string() : found.string();
}

namespace {

constexpr std::string_view kInheritedNames[] = {
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "LANG", "LANGUAGE", "TZ",
    "http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
    "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH",
    "SSH_AUTH_SOCK", "DBUS_SESSION_BUS_ADDRESS", "GNUPGHOME", "PASSWORD_STORE_DIR",
    "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM",
    "CONTAINER_HOST", "CONTAINER_CONNECTION", "REGISTRY_AUTH_FILE", "KUBECONFIG",
    // a sanitizer build's children (cascade started by its tests) get the same runtime
    // options and suppressions (scripts/sanitize.sh); the runtimes read nothing else
    "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS",
};
constexpr std::string_view kInheritedPrefixes[] = {
    "LC_", "XDG_", "SSL_CERT_", "CONTAINERS_", "DOCKER_", "BUILDAH_", "BUILDKIT_", "BUILDX_", "PODMAN_", "STORAGE_",
};
constexpr std::string_view kSecretWords[] = {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE"};

bool names_a_secret(std::string_view name) {
  const std::string upper = util::uppercase(name);
  for (std::string_view word : kSecretWords)
    if (upper.find(word) != std::string::npos) return true;
  return false;
}

// The child's environment as KEY=VALUE strings: the allowlisted part of ours, the variables
// named in `inherit`, then `extra`. The caller keeps the vector alive until the child has
// started (Boost keeps pointers into it).
std::vector<std::string> environment_entries(const std::map<std::string, std::string>& extra,
                                             const std::vector<std::string>& inherit) {
  std::set<std::string, std::less<>> asked(inherit.begin(), inherit.end());
  std::vector<std::string> entries;
  for (const auto& kv : bp::environment::current()) {
    std::string key = kv.key().string();
    if (extra.count(key)) continue;
    if (inherited_by_default(key) || asked.count(key)) entries.push_back(kv.string());
  }
  for (const auto& [key, value] : extra) entries.push_back(key + "=" + value);
  return entries;
}

// Reads a pipe to its end, appending to `sink`.
void drain(asio::readable_pipe& pipe, std::string& sink) {
  auto buffer = std::make_shared<std::array<char, 16384>>();
  pipe.async_read_some(asio::buffer(*buffer), [&pipe, &sink, buffer](boost::system::error_code ec, std::size_t n) {
    sink.append(buffer->data(), n);
    if (!ec) drain(pipe, sink);
  });
}

// A launcher initializer: in the child, between fork and exec, make it lead a new process
// group (the parent's constructor returns only after exec, so signalling the group is safe).
struct ProcessGroup {
  bool enabled = false;
  template <typename Launcher, typename Path>
  boost::system::error_code on_exec_setup(Launcher&, const Path&, const char* const*) {
    if (enabled && ::setpgid(0, 0) != 0) return {errno, boost::system::system_category()};
    return {};
  }
};

// A launcher initializer: in the child, after its stdio is in place and before exec, every
// other descriptor is marked close-on-exec. Without it a child inherits what cascade holds
// open without O_CLOEXEC (Asio's listening and accepted sockets, registry connections): a
// build outliving a kill -9 of `cascade serve` kept its port bound, and the restart failed.
struct CloseInherited {
  template <typename Launcher, typename Path>
  boost::system::error_code on_exec_setup(Launcher&, const Path&, const char* const*) {
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return {};
    for (int fd = 3; fd < 65536; ++fd) (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);  // kernels before 5.11
    return {};
  }
};

// A launcher initializer: in the child, before exec, ask the kernel for SIGTERM when the
// thread that started it dies (run() blocks that thread until the child exits, so only a
// crash or a kill -9 of cascade ends it early). A build orphaned by a kill -9 of `cascade
// serve` kept building, and pushing, beside the restarted daemon's own build of the image.
// A parent already gone before prctl took effect: exit at once.
struct DieWithParent {
  pid_t parent = ::getpid();
  template <typename Launcher, typename Path>
  boost::system::error_code on_exec_setup(Launcher&, const Path&, const char* const*) {
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) return {errno, boost::system::system_category()};
    if (::getppid() != parent) ::_exit(127);
    return {};
  }
};

// An output file opened for appending; closed on destruction.
struct OutputFile {
  int fd = -1;
  ~OutputFile() {
    if (fd >= 0) ::close(fd);
  }
};

// Stops a running child: SIGTERM now, SIGKILL after the grace period; to its process group
// when it leads one. Lives on the run's io_context thread.
class Stopper {
 public:
  Stopper(asio::io_context& ctx, int pid, bool group, std::chrono::milliseconds grace)
      : kill_timer_(ctx), pid_(pid), group_(group), grace_(grace) {}

  // Starts stopping once; `reason` is the Result flag saying why.
  void stop(bool& reason) {
    if (stopping_ || exited_) return;
    stopping_ = true;
    reason = true;
    signal(SIGTERM);
    kill_timer_.expires_after(grace_);
    kill_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) signal(SIGKILL);
    });
  }

  // The child has exited (and was reaped): stragglers left in its group after a stop are
  // killed now; the group id cannot be reused while any of them lives.
  void exited() {
    exited_ = true;
    kill_timer_.cancel();
    if (stopping_ && group_) ::kill(-pid_, SIGKILL);
  }

 private:
  void signal(int number) { ::kill(group_ ? -pid_ : pid_, number); }

  asio::steady_timer kill_timer_;
  int pid_;
  bool group_;
  std::chrono::milliseconds grace_;
  bool stopping_ = false;
  bool exited_ = false;
};

int exit_code_of(int native) {
  if (WIFEXITED(native)) return WEXITSTATUS(native);
  if (WIFSIGNALED(native)) return 128 + WTERMSIG(native);
  return -1;
}

}  // namespace

bool inherited_by_default(std::string_view name) {
  if (name.empty() || names_a_secret(name)) return false;
  for (std::string_view allowed : kInheritedNames)
    if (name == allowed) return true;
  for (std::string_view prefix : kInheritedPrefixes)
    if (name.size() > prefix.size() && name.starts_with(prefix)) return true;
  return false;
}

Expected<Result, std::string> run(const std::vector<std::string>& argv, const Options& options) {
  if (argv.empty()) return unexpected(std::string("no program to run"));
  std::string exe = find_executable(argv[0]);
  if (exe.empty()) return unexpected("cannot run " + argv[0] + ": not found on PATH");
  Result result;
  if (options.cancel.stop_requested()) {
    result.cancelled = true;
    return result;
  }
  OutputFile output;
  if (!options.output_file.empty()) {
    output.fd = ::open(options.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (output.fd < 0)
      return unexpected("cannot run " + argv[0] + ": cannot open " + options.output_file + ": " + std::strerror(errno));
  }

  asio::io_context ctx;
  asio::readable_pipe out(ctx), err(ctx);
  asio::writable_pipe in(ctx);
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  std::optional<bp::process> child;
  std::vector<std::string> environment = environment_entries(options.env, options.inherit);
  ProcessGroup group{options.timeout.has_value() || options.cancel.stop_possible()};
  try {
    auto start_dir = bp::process_start_dir(options.working_dir.empty() ? "." : options.working_dir);
    if (output.fd >= 0)
      child.emplace(ctx, exe, args, bp::process_stdio{in, output.fd, output.fd}, start_dir,
                    bp::process_environment(environment), group, CloseInherited{}, DieWithParent{});
    else
      child.emplace(ctx, exe, args, bp::process_stdio{in, out, err}, start_dir,
                    bp::process_environment(environment), group, CloseInherited{}, DieWithParent{});
  } catch (const std::exception& e) {
    return unexpected("cannot run " + argv[0] + ": " + e.what());
  }
  if (options.input) {
    auto data = std::make_shared<std::string>(*options.input);
    asio::async_write(in, asio::buffer(*data), [&in, data](boost::system::error_code, std::size_t) { in.close(); });
  } else {
    in.close();  // the child reads end-of-file at once
  }
  if (output.fd < 0) {
    drain(out, result.out);
    drain(err, result.err);
  }
  Stopper stopper(ctx, child->id(), group.enabled, options.kill_grace);
  asio::steady_timer deadline(ctx);
  if (options.timeout) {
    deadline.expires_after(*options.timeout);
    deadline.async_wait([&](boost::system::error_code wait_ec) {
      if (!wait_ec) stopper.stop(result.timed_out);
    });
  }
  // Runs on the requesting thread: hand the stop over to this run's thread.
  std::stop_callback on_cancel(options.cancel, [&] {
    asio::post(ctx, [&] { stopper.stop(result.cancelled); });
  });
  child->async_wait([&](boost::system::error_code, int) {
    deadline.cancel();
    stopper.exited();
  });
  ctx.run();
  result.exit_code = exit_code_of(child->native_exit_code());
  return result;
}

}  // namespace cascade::process
