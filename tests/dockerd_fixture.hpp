// A real Docker Engine for the tests (shared/reference/ENVIRONMENT.md, "A real Docker
// Engine"): Debian's dockerd 20.10 with BuildKit inside, its own data root, exec root and
// unix socket in a temp folder, no bridge and no iptables (RUN steps and containers use
// `--network none`). Several run side by side. Optionally also served on
// tcp://127.0.0.1:PORT with TLS client certificates (DockerTls makes them with openssl).
#pragma once

#include <boost/process/v2.hpp>

#include <signal.h>
#include <sys/mount.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "registry_fixture.hpp"
#include "support.hpp"

namespace cascade::test {

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl in
/// `dir` (ca.pem, server-cert.pem, server-key.pem, cert.pem, key.pem), as Docker's "Protect
/// the Docker daemon socket" page does it.
struct DockerTls {
  explicit DockerTls(const fs::path& dir) : dir(dir) {
    fs::create_directories(dir);
    auto ssl = [&](std::vector<std::string> args) {
      args.insert(args.begin(), "openssl");
      process::Options options;
      options.working_dir = dir.string();
      auto result = process::run(args, options);
      if (!result || result->exit_code != 0)
        throw std::runtime_error("openssl " + args[1] + " failed: " + (result ? result->err : result.error()));
    };
    ssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cascade test CA", "-keyout",
         "ca-key.pem", "-out", "ca.pem"});
    write_file(dir / "server.ext", "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n");
    write_file(dir / "client.ext", "extendedKeyUsage = clientAuth\n");
    for (const auto& [name, ext] : {std::pair{"server", "server.ext"}, std::pair{"client", "client.ext"}}) {
      std::string prefix = std::string(name) == "server" ? "server-" : "";
      ssl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", std::string("/CN=") + name, "-keyout", prefix + "key.pem",
           "-out", std::string(name) + ".csr"});
      ssl({"x509", "-req", "-in", std::string(name) + ".csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
           "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", prefix + "cert.pem"});
    }
  }
  std::string ca() const { return (dir / "ca.pem").string(); }
  std::string cert() const { return (dir / "cert.pem").string(); }
  std::string key() const { return (dir / "key.pem").string(); }
  std::string server_cert() const { return (dir / "server-cert.pem").string(); }
  std::string server_key() const { return (dir / "server-key.pem").string(); }
  fs::path dir;
};

/// `dockerd` with private folders on unix://<temp>/docker.sock (and, given `tls`, on
/// tcp://127.0.0.1:<tcp_port()> with --tlsverify). Stopped on destruction, with every
/// container it runs.
class DockerEngine {
 public:
  explicit DockerEngine(const DockerTls* tls = nullptr) {
    if (process::find_executable("dockerd").empty())
      throw std::runtime_error("dockerd is not installed (scripts/setup.sh installs docker.io)");
    std::vector<std::string> args = {"--data-root", (dir_ / "data").string(), "--exec-root", (dir_ / "exec").string(),
                                     "--pidfile", (dir_ / "docker.pid").string(), "-H", endpoint(),
                                     "--storage-driver", "vfs", "--iptables=false", "--ip-masq=false", "--bridge=none"};
    if (tls) {
      tcp_port_ = free_port();
      args.insert(args.end(), {"-H", "tcp://127.0.0.1:" + std::to_string(tcp_port_), "--tlsverify", "--tlscacert",
                               tls->ca(), "--tlscert", tls->server_cert(), "--tlskey", tls->server_key()});
    }
    std::FILE* log = std::fopen((dir_ / "dockerd.log").c_str(), "w");
    namespace bp = boost::process::v2;
    child_.emplace(io_, process::find_executable("dockerd"), args, bp::process_stdio{nullptr, log, log});
    std::fclose(log);
    wait_until_answering();
  }
  ~DockerEngine() { stop(); }
  DockerEngine(const DockerEngine&) = delete;
  DockerEngine& operator=(const DockerEngine&) = delete;

  std::string socket() const { return (dir_ / "docker.sock").string(); }
  std::string endpoint() const { return "unix://" + socket(); }
  int tcp_port() const { return tcp_port_; }
  std::string tcp_endpoint() const { return "tcp://127.0.0.1:" + std::to_string(tcp_port_); }
  std::string log() const { return read_file(dir_ / "dockerd.log"); }
  bool running() { return alive(); }

  /// `/usr/bin/docker -H <socket> ARGS...`; throws when it cannot run or exits non-zero.
  std::string docker(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/docker", "-H", endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    process::Options options;
    options.timeout = std::chrono::minutes(5);
    options.env["DOCKER_BUILDKIT"] = "1";
    auto result = test::run_build(argv, options);  // a retry only when runc could not start a step
    if (result.exit_code != 0)
      throw std::runtime_error("docker " + (args.empty() ? std::string() : args[0]) + " failed: " +
                               result.out + result.err);
    return result.out;
  }

  /// kill -9 of dockerd. What it had started (containerd, `runc run` of a RUN step) is left as
  /// a crash leaves it; the destructor kills what is still there.
  void kill9() {
    if (!alive()) return;
    orphans_ = descendants(static_cast<pid_t>(child_->id()));
    ::kill(static_cast<pid_t>(child_->id()), SIGKILL);
    boost::system::error_code ec;
    child_->wait(ec);
    exited_ = true;
  }

  /// Removes every container, stops dockerd (SIGTERM; it stops its containerd) and waits.
  void stop() {
    if (!child_) return;
    if (alive()) {
      process::Options options;
      options.timeout = std::chrono::seconds(60);
      auto ids = process::run({"/usr/bin/docker", "-H", endpoint(), "ps", "-aq"}, options);
      if (ids && ids->exit_code == 0) {
        std::vector<std::string> argv = {"/usr/bin/docker", "-H", endpoint(), "rm", "-f"};
        std::istringstream lines(ids->out);
        for (std::string id; lines >> id;) argv.push_back(id);
        if (argv.size() > 5) (void)process::run(argv, options);
      }
      ::kill(static_cast<pid_t>(child_->id()), SIGTERM);
      for (int i = 0; i < 200 && alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (alive()) ::kill(static_cast<pid_t>(child_->id()), SIGKILL);
      boost::system::error_code ec;
      if (!exited_) child_->wait(ec);
      exited_ = true;
    }
    kill_leftover_containerd();
    for (const auto& [pid, cmdline] : orphans_)
      if (cmdline_of(pid) == cmdline) ::kill(pid, SIGKILL);
    orphans_.clear();
    remove_runc_states();
    unmount_leftovers();
    child_.reset();
  }

 private:
  // Whether dockerd still runs. Asks only until it has seen the exit: seeing it reaps the
  // child, and asking again fails (ECHILD), which running() without an error_code throws.
  bool alive() {
    if (!child_ || exited_) return false;
    boost::system::error_code ec;
    if (child_->running(ec) && !ec) return true;
    exited_ = true;
    return false;
  }
  void wait_until_answering() {
    for (int attempt = 0; attempt < 600; ++attempt) {
      if (!alive()) break;
      if (fs::exists(socket())) {
        process::Options options;
        options.timeout = std::chrono::seconds(10);
        auto info = process::run({"/usr/bin/docker", "-H", endpoint(), "version", "--format", "{{.Server.Version}}"},
                                 options);
        if (info && info->exit_code == 0) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("dockerd did not start: " + log());
  }
  // After a kill -9 of dockerd its containerd (pid in exec/containerd/containerd.pid) may live
  // on; the pid file stays after a clean stop too, so only a process of this engine is killed.
  void kill_leftover_containerd() {
    std::string pid = read_file(dir_ / "exec" / "containerd" / "containerd.pid");
    if (pid.empty()) return;
    try {
      auto id = static_cast<pid_t>(std::stol(pid));
      if (cmdline_of(id).find(dir_.path().string()) != std::string::npos) ::kill(id, SIGKILL);
    } catch (const std::exception&) {
    }
  }

  static std::string cmdline_of(pid_t pid) { return read_file(fs::path("/proc") / std::to_string(pid) / "cmdline"); }

  // Every process under `root` (by parent pid), with its command line when seen.
  static std::vector<std::pair<pid_t, std::string>> descendants(pid_t root) {
    std::map<pid_t, std::vector<pid_t>> children;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
      std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string stat = read_file(entry.path() / "stat");
      auto close = stat.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream fields(stat.substr(close + 2));
      char state = 0;
      pid_t parent = 0;
      if (fields >> state >> parent) children[parent].push_back(static_cast<pid_t>(std::stol(name)));
    }
    std::vector<std::pair<pid_t, std::string>> found;
    std::vector<pid_t> unvisited = {root};
    while (!unvisited.empty()) {
      pid_t pid = unvisited.back();
      unvisited.pop_back();
      for (pid_t child : children[pid]) {
        found.emplace_back(child, cmdline_of(child));
        unvisited.push_back(child);
      }
    }
    return found;
  }

  // What dockerd mounted under its folders and left there (its data root bind-mounted on
  // itself, network namespaces under exec/netns, after a kill -9 a RUN's rootfs), deepest
  // first, so that the folder can be removed.
  void unmount_leftovers() {
    std::string prefix = dir_.path().string() + "/";
    std::vector<std::string> points;
    std::istringstream mounts(read_file("/proc/self/mounts"));
    for (std::string line; std::getline(mounts, line);) {
      std::istringstream fields(line);
      std::string device, point;
      if (fields >> device >> point && point.rfind(prefix, 0) == 0) points.push_back(point);
    }
    std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    for (const auto& point : points) ::umount2(point.c_str(), MNT_DETACH);
  }

  // runc keeps a RUN step's state in /run/runc/<id>, id the bundle's folder name; a crash
  // leaves it behind.
  void remove_runc_states() {
    std::error_code ec;
    for (const auto& bundle : fs::directory_iterator(dir_ / "data/buildkit/executor", ec))
      fs::remove_all(fs::path("/run/runc") / bundle.path().filename(), ec);
  }

  TempDir dir_;
  int tcp_port_ = 0;
  bool exited_ = false;  // the child was reaped (alive() saw it exit, or wait() returned)
  std::vector<std::pair<pid_t, std::string>> orphans_;  // what dockerd had started when kill9() killed it
  boost::asio::io_context io_;
  std::optional<boost::process::v2::process> child_;
};

}  // namespace cascade::test
