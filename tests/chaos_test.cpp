// Fault injection against real peers: the short versions of bench/chaos/chaos.py. A real
// docker-registry whose own push notifications reach `cascade serve`, real buildah builds,
// a real podman API service running the workloads; the daemon is killed with -9 at a fixed
// point of a webhook-driven cascade and started again, or the registry is stopped for 10 s
// mid-run. After each: the run completed, nothing was pushed twice, every event stored is
// joined to a run or settled, every workload runs all its replicas on the new digest.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>

#include <csignal>

#include "builder_fixture.hpp"
#include "podman_fixture.hpp"
#include "serve_fixture.hpp"

using nlohmann::json;
using namespace cascade;

namespace {

/// A docker-registry on a fixed port that can be stopped and started again on the same
/// storage (the fixture's DockerRegistry lives as long as its object); its push
/// notifications go to `notify_url` with the hook token.
class StoppableRegistry {
 public:
  explicit StoppableRegistry(const std::string& notify_url) : port_(test::free_port()) {
    test::write_file(dir_ / "config.yml",
                     "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
                     "    rootdirectory: " + (dir_ / "data").string() + "\nhttp:\n  addr: " + host() +
                         "\n  secret: chaos\nnotifications:\n  endpoints:\n    - name: cascade\n      url: " +
                         notify_url + "\n      headers:\n        Authorization: [\"Bearer hook-token\"]\n"
                         "      timeout: 2s\n      threshold: 5\n      backoff: 1s\n      ignore:\n        actions: [pull]\n");
    start();
  }
  ~StoppableRegistry() { stop(); }
  StoppableRegistry(const StoppableRegistry&) = delete;
  StoppableRegistry& operator=(const StoppableRegistry&) = delete;

  void start() {
    std::FILE* log = std::fopen((dir_ / "registry.log").c_str(), "a");
    namespace bp = boost::process::v2;
    child_.emplace(io_, process::find_executable("docker-registry"),
                   std::vector<std::string>{"serve", (dir_ / "config.yml").string()}, bp::process_stdio{nullptr, log, log});
    std::fclose(log);
    for (int attempt = 0; attempt < 400; ++attempt) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)}, ec);
      if (!ec) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    throw std::runtime_error("docker-registry did not start: " + test::read_file(dir_ / "registry.log"));
  }
  void stop() {
    if (!child_) return;
    boost::system::error_code ec;
    child_->terminate(ec);
    child_->wait(ec);
    child_.reset();
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  test::TempDir dir_;
  int port_;
  boost::asio::io_context io_;
  std::optional<boost::process::v2::process> child_;
};

/// Three images on an external base, two levels: runtime and tool on the base, app on the
/// runtime; `app` runs in podman as two replicas of one compose service. The tool's build
/// takes 10 s more, so a kill while it builds leaves buildah running past the restart.
/// Debounce 1 s: docker-registry sends a push notice before it moves the tag, and with 0 s
/// the daemon can read the old tag and settle the notice as already done (see the report).
struct ChaosFleet {
  explicit ChaosFleet(bool deploy) {
    test::make_repo(dir / "fleet", {{"runtime/Dockerfile", "FROM " + base + "\nRUN echo runtime > /runtime\n"},
                                    {"tool/Dockerfile", "FROM " + base + "\nRUN sleep 10 && echo tool > /tool\n"},
                                    {"app/Dockerfile", "FROM " + image("runtime") + "\nRUN echo app > /app\n"}});
    std::string text = "version: 1\nregistries:\n  - host: " + registry.host() +
                       "\n    insecure: true\nsources:\n  - name: fleet\n    git: fleet\n    ref: main\n    images:\n";
    for (const char* name : {"runtime", "tool", "app"})
      text += "      - image: " + image(name) + "\n        dockerfile: " + name + "/Dockerfile\n";
    publish_base("v0");
    write_pipeline(text);
    auto built = test::cascade({"patch", "-p", pipeline, base, "--no-deploy"});
    if (built.exit_code != 0) throw std::runtime_error("cascade patch failed: " + built.err);
    if (deploy) {
      podman.emplace(std::vector<std::string>{registry.host()});
      engine.emplace(podman->socket());
      engine->pull(registry.host() + "/chaos/app", "1");
      for (const char* name : {"app-1", "app-2"})
        engine->run(name, {{"Image", image("app")},
                           {"Cmd", {"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"}},
                           {"Labels", {{"com.docker.compose.project", "chaos"}, {"com.docker.compose.service", "app"}}},
                           {"StopTimeout", 1},
                           {"HostConfig", {{"NetworkMode", "none"}}}});
      text += "deploy:\n  - name: podman\n    kind: docker\n    endpoint: " + podman->endpoint() +
              "\n    rollout: {batch: 1, max_unavailable: 1, health_timeout: 60s, stable_for: 2s}\n";
    }
    write_pipeline(text + "triggers:\n  listen: 127.0.0.1:" + std::to_string(port) +
                   "\n  debounce: 1s\n  parallel: 2\n  log: json\n  webhooks:\n    - sender: distribution\n"
                   "      path: registry\n      token_env: HOOK_TOKEN\n");
  }

  std::string image(const std::string& name) const { return registry.host() + "/chaos/" + name + ":1"; }
  /// Pushes a busybox base whose last layer says `label` over the base tag; returns its digest.
  std::string publish_base(const std::string& label) {
    return test::buildah_push(sandbox, base, test::busybox_dockerfile("RUN echo " + label + " > /etc/patch\n"),
                              "base-" + label);
  }
  void write_pipeline(const std::string& text) const { test::write_file(pipeline, text); }
  void start() { serve.emplace(pipeline, port, std::map<std::string, std::string>{{"HOOK_TOKEN", "hook-token"}}); }
  /// SIGKILL to the running `cascade serve` of this pipeline (the fixture only knows SIGTERM).
  void kill9() {
    int killed = 0;
    for (const auto& line : test::processes_mentioning(pipeline))
      if (line.find(" serve -p ") != std::string::npos && ::kill(std::stoi(line), SIGKILL) == 0) ++killed;
    REQUIRE(killed == 1);
    serve.reset();  // reaps it
  }

  test::TempDir dir;
  int port = test::free_port();
  StoppableRegistry registry{"http://127.0.0.1:" + std::to_string(port) + "/hooks/registry"};
  test::BuildahSandbox sandbox;
  std::string base = registry.host() + "/chaos/base:1";
  std::string pipeline = (dir / "pipeline.yaml").string();
  std::optional<test::PodmanService> podman;
  std::optional<test::EngineApi> engine;
  std::optional<test::ServeProcess> serve;
};

/// The id of the run cascading `trigger` (IMAGE@DIGEST) once `ready(run detail)` holds.
long long wait_for_run(test::ServeProcess& serve, const std::string& trigger, const std::function<bool(const json&)>& ready) {
  long long id = 0;
  serve.wait_for("/api/runs", [&](const json& runs) {
    for (const auto& run : runs["runs"])
      if (run["trigger"]["image"] == trigger && ready(serve.json("/api/runs/" + std::to_string(run["id"].get<long long>())))) {
        id = run["id"];
        return true;
      }
    return false;
  }, std::chrono::seconds(120));
  return id;
}

bool in_state(const json& run, const std::string& state) {
  for (const auto& task : run["tasks"])
    if (task["state"] == state) return true;
  return false;
}

/// What must hold once the run cascading `trigger` has ended, however often the daemon died.
void check_invariants(ChaosFleet& fleet, const std::string& trigger) {
  test::ServeProcess& serve = *fleet.serve;
  long long id = wait_for_run(serve, trigger, [](const json& run) { return run["state"] == "succeeded" || run["state"] == "failed"; });
  json run = serve.json("/api/runs/" + std::to_string(id));
  CHECK_MESSAGE(run["state"] == "succeeded", (run.dump() + "\n" + serve.log()));

  // Nothing pushed twice; every tag still at the digest the run recorded.
  std::map<std::string, int> pushed;
  for (const auto& transition : run["transitions"])
    if (transition["to"] == "pushed") ++pushed[transition["image"].get<std::string>()];
  CHECK(pushed.size() == 3);
  for (const auto& [image, count] : pushed) CHECK_MESSAGE(count == 1, image);
  for (const auto& task : run["tasks"]) {
    CHECK_MESSAGE(task["state"] == "pushed", task.dump());
    if (task["new_digest"].is_string())
      CHECK_MESSAGE(test::skopeo_inspect(task["image"])["Digest"] == task["new_digest"], task["image"]);
  }

  // Every event stored ends joined or settled (the registry may still be delivering notices
  // of the run's last pushes: wait for them).
  serve.wait_for("/api/events?limit=1000", [](const json& answer) {
    for (const auto& event : answer["events"])
      if (event["run"].is_null() && event["outcome"].is_null()) return false;
    return true;
  }, std::chrono::seconds(90));

  // Not half-rolled: both replicas running, on the new digest, no container left behind.
  if (!fleet.engine) return;
  std::string app_digest;
  for (const auto& task : run["tasks"])
    if (task["image"] == fleet.image("app")) app_digest = task["new_digest"];
  std::string new_id = fleet.engine->image_id(fleet.registry.host() + "/chaos/app@" + app_digest);
  int running = 0, stopped = 0;
  for (const auto& container : fleet.engine->list()) {
    if (container["Labels"].value("com.docker.compose.service", "") != "app") continue;
    if (container["State"] != "running") {
      ++stopped;
      continue;
    }
    ++running;
    CHECK_MESSAGE(container["ImageID"] == new_id, container.dump());
  }
  CHECK(running == 2);
  CHECK(stopped == 0);
}

}  // namespace

TEST_CASE("process: a child inherits no descriptor but its stdio (a listening socket stays with cascade)") {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);  // as Asio opens them: no SOCK_CLOEXEC
  REQUIRE(listener >= 3);
  REQUIRE((::fcntl(listener, F_GETFD) & FD_CLOEXEC) == 0);
  auto result = process::run({"readlink", "/proc/self/fd/" + std::to_string(listener)});
  ::close(listener);
  REQUIRE(result);
  CHECK_MESSAGE(result->exit_code != 0, (std::string("the child holds the parent's socket: ") + result->out));
}

TEST_CASE("chaos: kill -9 of cascade serve while it builds; the restart binds at once and finishes the run") {
  ChaosFleet fleet(true);
  fleet.start();
  std::string trigger = fleet.base + "@" + fleet.publish_base("v1");
  wait_for_run(*fleet.serve, trigger, [&](const json& run) {
    for (const auto& task : run["tasks"])
      if (task["image"] == fleet.image("tool") && task["state"] == "building") return true;
    return false;
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));  // buildah is in the tool's RUN sleep
  fleet.kill9();
  // The build dies with the daemon (SIGTERM from the kernel, PR_SET_PDEATHSIG): no orphan
  // keeps building, or pushing, beside the restarted daemon's own build of the image.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::vector<std::string> left;
  while (!(left = test::processes_mentioning((fleet.dir / ".cascade/buildah").string())).empty() &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_MESSAGE(left.empty(), "a build outlived the killed daemon by 30 s: " << (left.empty() ? "" : left.front()));
  fleet.start();  // and nothing a child inherited holds the daemon's port
  check_invariants(fleet, trigger);
}

TEST_CASE("chaos: kill -9 of cascade serve mid-rollout; the restart recovers the workload and finishes the run") {
  ChaosFleet fleet(true);
  fleet.start();
  std::string trigger = fleet.base + "@" + fleet.publish_base("v1");
  wait_for_run(*fleet.serve, trigger, [](const json& run) {
    for (const auto& step : run["rollouts"])
      if (step["state"] == "updating") return true;
    return false;
  });
  fleet.kill9();
  fleet.start();
  check_invariants(fleet, trigger);
}

TEST_CASE("chaos: the registry stopped for 10 s mid-run; the run completes after it returns") {
  ChaosFleet fleet(false);
  fleet.start();
  std::string trigger = fleet.base + "@" + fleet.publish_base("v1");
  wait_for_run(*fleet.serve, trigger, [](const json& run) { return in_state(run, "building"); });
  fleet.registry.stop();
  std::this_thread::sleep_for(std::chrono::seconds(10));
  fleet.registry.start();
  check_invariants(fleet, trigger);
}
