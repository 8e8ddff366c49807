// `cascade serve` as the tests run it: the real binary in the background on a port chosen by
// the test, its log in a file, stopped with SIGTERM (and its exit code kept) on request or
// on destruction; plus a small JSON client for its API and webhooks, a reader of /metrics
// samples, and a fleet whose external base carries a real dpkg database (ExposureFleet).
#pragma once

#include <boost/asio.hpp>
#include <boost/process/v2.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "builder_fixture.hpp"
#include "cascade/http.hpp"
#include "cascade/store.hpp"
#include "patch_support.hpp"
#include "support.hpp"

namespace cascade::test {

class ServeProcess {
 public:
  /// Starts `cascade serve -p PIPELINE` with `env` added, and waits until GET /healthz answers.
  ServeProcess(const std::string& pipeline, int port, const std::map<std::string, std::string>& env)
      : port_(port), log_path_(dir_ / "serve.log"), client_(plain_http(port)) {
    std::vector<std::string> environment;
    for (char** entry = environ; *entry; ++entry) environment.emplace_back(*entry);
    for (const auto& [key, value] : env) environment.push_back(key + "=" + value);
    std::FILE* log_file = std::fopen(log_path_.c_str(), "w");
    namespace bp = boost::process::v2;
    child_.emplace(io_, cascade_binary(), std::vector<std::string>{"serve", "-p", pipeline},
                   bp::process_stdio{nullptr, log_file, log_file}, bp::process_environment(environment));
    std::fclose(log_file);
    for (int attempt = 0; attempt < 400; ++attempt) {
      boost::system::error_code ec;
      if (!child_->running(ec) || ec) {
        exit_code_ = ec ? -1 : child_->exit_code();
        break;
      }
      auto answer = get("/healthz");
      if (answer && answer->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    throw std::runtime_error("cascade serve did not start: " + log());
  }
  ~ServeProcess() { stop(); }
  /// Client options allowing plain http to the daemon (the client refuses it by default).
  static http::Options plain_http(int port) {
    http::Options options;
    options.hosts["127.0.0.1:" + std::to_string(port)].insecure = true;
    return options;
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  /// SIGTERM, then waits; returns the exit code (-1 when it had to be killed after 120 s).
  int stop() {
    if (exit_code_) return *exit_code_;
    ::kill(child_->id(), SIGTERM);
    // running() reaps the child when it has exited (and then keeps its exit code): ask it
    // until it says no, never again after.
    boost::system::error_code ec;
    bool alive = true;
    for (int i = 0; i < 1200 && (alive = child_->running(ec)) && !ec; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (alive && !ec) {
      child_->terminate(ec);
      child_->wait(ec);
      exit_code_ = -1;
    } else {
      exit_code_ = ec ? -1 : child_->exit_code();
    }
    return *exit_code_;
  }

  /// SIGKILL, as a crash: none of the daemon's shutdown runs. Returns once it is reaped.
  void kill() {
    if (exit_code_) return;
    ::kill(child_->id(), SIGKILL);
    boost::system::error_code ec;
    child_->wait(ec);
    exit_code_ = -1;
  }

  std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::string log() const { return read_file(log_path_); }

  Expected<http::Response, http::Error> get(const std::string& path) {
    http::Request request;
    request.url = url(path);
    return client_.request(std::move(request));
  }
  Expected<http::Response, http::Error> post(const std::string& path, const std::string& body,
                                             const std::map<std::string, std::string>& headers = {}) {
    http::Request request;
    request.method = "POST";
    request.url = url(path);
    request.body = body;
    request.headers.set("Content-Type", "application/json");  // the daemon takes JSON only; `headers` may say otherwise
    for (const auto& [name, value] : headers) request.headers.set(name, value);
    return client_.request(std::move(request));
  }
  /// GET PATH as JSON; throws unless it answers 200 with JSON.
  nlohmann::json json(const std::string& path) {
    auto answer = get(path);
    if (!answer) throw std::runtime_error("GET " + path + ": " + answer.error().str());
    if (answer->status != 200) throw std::runtime_error("GET " + path + ": " + std::to_string(answer->status) + " " + answer->body);
    return nlohmann::json::parse(answer->body);
  }

  /// Waits until `done(GET path)` holds; throws with the log after `timeout`.
  nlohmann::json wait_for(const std::string& path, const std::function<bool(const nlohmann::json&)>& done,
                          std::chrono::seconds timeout = std::chrono::seconds(300)) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      nlohmann::json answer = json(path);
      if (done(answer)) return answer;
      if (std::chrono::steady_clock::now() > until)
        throw std::runtime_error("timed out waiting on " + path + "; last answer " + answer.dump() + "\nlog:\n" + log());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

 private:
  TempDir dir_;
  int port_;
  fs::path log_path_;
  boost::asio::io_context io_;
  std::optional<boost::process::v2::process> child_;
  std::optional<int> exit_code_;
  http::Client client_;
};

/// Builds `dockerfile` (its context holds busybox) with buildah on the sandbox's storage and
/// pushes it as `image` to a plain-http registry; returns the pushed digest.
inline std::string buildah_push(const BuildahSandbox& sandbox, const std::string& image, const std::string& dockerfile,
                                const std::string& context_name) {
  std::string context = sandbox.context(context_name, {{"Dockerfile", dockerfile}});
  std::vector<std::string> storage = {"buildah", "--root", (sandbox.path() / "root").string(), "--runroot",
                                      (sandbox.path() / "runroot").string(), "--storage-driver", "vfs"};
  auto bud = storage;
  bud.insert(bud.end(), {"bud", "--isolation", "chroot", "--format", "docker", "--tls-verify=false", "-t", image, context});
  auto built = run_build(bud);
  if (built.exit_code != 0) throw std::runtime_error("buildah bud: " + built.err);
  std::string digest_file = (sandbox.path() / (context_name + ".digest")).string();
  auto push = storage;
  push.insert(push.end(), {"push", "--tls-verify=false", "--digestfile", digest_file, image, "docker://" + image});
  auto pushed = run(push);
  if (pushed.exit_code != 0) throw std::runtime_error("buildah push: " + pushed.err);
  return read_file(digest_file);
}

/// The example base with one more layer (a "security fix"), pushed over the fleet's base
/// tag as another team's pipeline would; returns the pushed digest.
inline std::string publish_patched_base(const PatchFleet& fleet, const BuildahSandbox& sandbox) {
  std::string dockerfile = read_file(fleet.repos() / "platform/base/Dockerfile") + "RUN echo fixed > /etc/fixed\n";
  return buildah_push(sandbox, fleet.image("platform/base:1"), dockerfile, "patched-base");
}

/// The value of one sample of a /metrics text ("name{labels}"), or -1 when absent.
inline double metric_sample(const std::string& metrics, const std::string& series) {
  std::string text = "\n" + metrics;
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

/// This machine's dpkg database with bash's stanza rewritten to `version` (binary and
/// source), as a fixed base image would carry it.
inline std::string dpkg_status_with_bash(const std::string& version) {
  std::string status = read_file("/var/lib/dpkg/status");
  auto start = status.rfind("Package: bash\n", 0) == 0 ? 0 : status.find("\nPackage: bash\n");
  if (start == std::string::npos) throw std::runtime_error("/var/lib/dpkg/status has no bash");
  auto end = std::min(status.find("\n\n", start + 1), status.size());
  std::string stanza, line;
  std::istringstream lines(status.substr(start, end - start));
  while (std::getline(lines, line)) {
    if (line.rfind("Version: ", 0) == 0) line = "Version: " + version;
    if (line.rfind("Source: bash", 0) == 0) line = "Source: bash";
    stanza += line + "\n";
  }
  if (!stanza.empty()) stanza.pop_back();
  return status.substr(0, start) + stanza + status.substr(end);
}

/// A fleet for package questions, in a real registry: the external base `base` (busybox,
/// this machine's /var/lib/dpkg/status and /etc/os-release: Debian 12 with bash) and the
/// fleet image `app` built on it from a git repository. Its pipeline runs `cascade serve`
/// on `port` with a daily `scan` schedule entry (named "scan").
class ExposureFleet {
 public:
  static constexpr const char* kFixed = "5.2.15-2+deb12u1";  // above the bash of Debian 12 (5.2.15-2+b*)

  ExposureFleet() {
    make_repo(dir / "app", {{"Dockerfile", "FROM " + base + "\nRUN echo app > /app\n"}});
    write_file(pipeline, "version: 1\nregistries:\n  - host: " + registry.host() +
                             "\n    insecure: true\nsources:\n  - name: app\n    git: app\n    ref: main\n"
                             "    images:\n      - image: " + app + "\n        dockerfile: Dockerfile\n"
                             "triggers:\n  listen: 127.0.0.1:" + std::to_string(port) +
                             "\n  debounce: 0s\n  schedule:\n    - name: scan\n      cron: \"0 4 * * *\"\n"
                             "      action: scan\n");
  }

  /// Pushes the base: with this machine's bash, or (fixed) with bash at kFixed; returns its digest.
  std::string publish_base(bool fixed) {
    std::string name = fixed ? "base-fixed" : "base";
    sandbox.context(name, {{"status", fixed ? dpkg_status_with_bash(kFixed) : read_file("/var/lib/dpkg/status")},
                           {"os-release", read_file("/etc/os-release")}});
    return buildah_push(sandbox, base,
                        busybox_dockerfile("COPY status /var/lib/dpkg/status\nCOPY os-release /etc/os-release\n"), name);
  }
  /// `cascade patch BASE --no-deploy`: builds and pushes the app on the base as it is now.
  void build_app() const {
    auto built = cascade({"patch", "-p", pipeline, base, "--no-deploy"});
    if (built.exit_code != 0) throw std::runtime_error("cascade patch failed: " + built.err);
  }
  /// As if the daemon had been down since 2020: the next start runs the missed scan.
  void scan_at_next_start() const {
    auto store = store::open_sqlite((dir / ".cascade/state.db").string());
    if (!store || !(*store)->put_setting("schedule.scan.last", "2020-01-01T00:00:00Z"))
      throw std::runtime_error("cannot write the schedule setting");
  }
  /// An OSV record: bash in Debian:12 affected below `fixed`.
  static nlohmann::json advisory(const std::string& id, const std::string& fixed = kFixed) {
    return {{"schema_version", "1.6.0"},
            {"id", id},
            {"aliases", {"CVE-2014-6271"}},
            {"summary", "bash: function definitions in the environment run trailing commands"},
            {"affected",
             {{{"package", {{"ecosystem", "Debian:12"}, {"name", "bash"}}},
               {"ranges", {{{"type", "ECOSYSTEM"}, {"events", {{{"introduced", "0"}}, {{"fixed", fixed}}}}}}}}}}};
  }

  TempDir dir;
  DockerRegistry registry;
  BuildahSandbox sandbox;
  int port = free_port();
  std::string base = registry.host() + "/debian/bash:12";
  std::string app = registry.host() + "/team/app:1";
  std::string pipeline = (dir / "pipeline.yaml").string();
};

/// A distribution (registry) notification envelope for one manifest push.
inline std::string distribution_push(const std::string& registry_host, const std::string& repository,
                                     const std::string& tag, const std::string& digest, const std::string& id) {
  nlohmann::json event = {
      {"id", id},
      {"timestamp", "2026-11-28T10:02:11.482Z"},
      {"action", "push"},
      {"target",
       {{"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
        {"digest", digest},
        {"size", 1609},
        {"length", 1609},
        {"repository", repository},
        {"url", "http://" + registry_host + "/v2/" + repository + "/manifests/" + digest},
        {"tag", tag}}},
      {"request", {{"id", "r-" + id}, {"addr", "127.0.0.1:4000"}, {"host", registry_host}, {"method", "PUT"}}},
      {"actor", nlohmann::json::object()},
      {"source", {{"addr", "registry:5000"}}}};
  return nlohmann::json{{"events", {event}}}.dump();
}

}  // namespace cascade::test
