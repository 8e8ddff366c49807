// A real podman API service for the deploy tests (shared/reference/ENVIRONMENT.md): its own
// storage, runc + cgroupfs + ulimits through CONTAINERS_CONF, plain http to the test registry
// through CONTAINERS_REGISTRIES_CONF, listening on a unix socket in a temp folder. Plus a
// raw Engine API client for setting containers up the way a user would.
#pragma once

#include <boost/process/v2.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cascade/http.hpp"
#include "support.hpp"

extern char** environ;

namespace cascade::test {

/// `podman system service` on unix://<temp>/podman.sock with private storage; on destruction
/// every container is removed (their conmon processes would outlive the service) and the
/// service is stopped.
class PodmanService {
 public:
  explicit PodmanService(const std::vector<std::string>& insecure_registries) {
    write_file(dir_ / "containers.conf",
               "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"
               "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n");
    std::string registries;
    for (const auto& host : insecure_registries) registries += "[[registry]]\nlocation = \"" + host + "\"\ninsecure = true\n";
    write_file(dir_ / "registries.conf", registries);
    std::string exe = process::find_executable("podman");
    if (exe.empty()) throw std::runtime_error("podman is not installed (scripts/setup.sh)");
    std::vector<std::string> env;
    for (char** entry = environ; *entry; ++entry) env.emplace_back(*entry);
    for (const auto& [key, value] : environment()) env.push_back(key + "=" + value);
    std::FILE* log = std::fopen((dir_ / "podman.log").c_str(), "w");
    namespace bp = boost::process::v2;
    std::vector<std::string> args = storage();
    args.insert(args.end(), {"system", "service", "--time=0", "unix://" + socket()});
    child_.emplace(io_, exe, args, bp::process_stdio{nullptr, log, log}, bp::process_environment(env));
    std::fclose(log);
    wait_until_answering();
  }
  ~PodmanService() {
    process::Options options;
    options.env = environment();
    options.timeout = std::chrono::seconds(60);
    std::vector<std::string> argv = {"podman"};
    for (const auto& arg : storage()) argv.push_back(arg);
    argv.insert(argv.end(), {"rm", "--all", "--force", "--time", "0"});
    (void)process::run(argv, options);
    boost::system::error_code ec;
    child_->terminate(ec);
    child_->wait(ec);
  }
  PodmanService(const PodmanService&) = delete;
  PodmanService& operator=(const PodmanService&) = delete;

  std::string socket() const { return (dir_ / "podman.sock").string(); }
  std::string endpoint() const { return "unix://" + socket(); }
  std::string log() const { return read_file(dir_ / "podman.log"); }

 private:
  std::map<std::string, std::string> environment() const {
    return {{"CONTAINERS_CONF", (dir_ / "containers.conf").string()},
            {"CONTAINERS_REGISTRIES_CONF", (dir_ / "registries.conf").string()}};
  }
  std::vector<std::string> storage() const {
    return {"--root", (dir_ / "root").string(), "--runroot", (dir_ / "runroot").string(), "--storage-driver", "vfs"};
  }
  void wait_until_answering() {
    for (int attempt = 0; attempt < 300; ++attempt) {
      if (fs::exists(socket())) return;
      if (!child_->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("podman system service did not start: " + log());
  }

  TempDir dir_;
  boost::asio::io_context io_;
  std::optional<boost::process::v2::process> child_;
};

/// The Engine API spoken by hand, for setting up and checking containers in tests.
class EngineApi {
 public:
  explicit EngineApi(const std::string& socket, std::string version = "1.41") : version_(std::move(version)) {
    http::Options options;
    options.read_timeout = std::chrono::minutes(2);
    options.hosts["docker"].insecure = true;
    options.hosts["docker"].unix_socket = socket;
    client_ = std::make_unique<http::Client>(options);
  }

  struct Reply {
    int status = 0;
    nlohmann::json body;
    std::string text;
  };
  /// Throws when the engine cannot be reached.
  Reply call(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr) {
    http::Request request{method, "http://docker/v" + version_ + path, {}, body.is_null() ? "" : body.dump()};
    if (!body.is_null()) request.headers.set("Content-Type", "application/json");
    auto response = client_->request(std::move(request));
    if (!response) throw std::runtime_error(method + " " + path + ": " + response.error().str());
    return {response->status, nlohmann::json::parse(response->body, nullptr, false), response->body};
  }

  void pull(const std::string& repository, const std::string& tag) {
    auto reply = call("POST", "/images/create?fromImage=" + repository + "&tag=" + tag);
    if (reply.status != 200 || reply.text.find("\"error") != std::string::npos)
      throw std::runtime_error("pull " + repository + ":" + tag + ": " + reply.text);
  }
  /// Creates and starts a container; returns its id.
  std::string run(const std::string& name, const nlohmann::json& body, bool start = true) {
    auto created = call("POST", "/containers/create?name=" + name, body);
    if (created.status != 201) throw std::runtime_error("create " + name + ": " + created.text);
    std::string id = created.body["Id"];
    if (start) {
      auto started = call("POST", "/containers/" + id + "/start");
      if (started.status != 204) throw std::runtime_error("start " + name + ": " + started.text);
    }
    return id;
  }
  nlohmann::json inspect(const std::string& id) { return call("GET", "/containers/" + id + "/json").body; }
  nlohmann::json list() { return call("GET", "/containers/json?all=true").body; }
  std::string image_id(const std::string& reference) { return call("GET", "/images/" + reference + "/json").body["Id"]; }

 private:
  std::string version_;
  std::unique_ptr<http::Client> client_;
};

}  // namespace cascade::test
