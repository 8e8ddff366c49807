// The Docker Engine API target against both real engines, podman's API service and dockerd
// 20.10, with a real registry and images built with buildah: version negotiation, inventory,
// rollout, rollback on a failing HEALTHCHECK, max_unavailable, recovery after a crash, and a
// missing digest. Each behaviour is one body run once per engine (a SUBCASE each).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "../src/deploy/internal.hpp"
#include "builder_fixture.hpp"
#include "cascade/deploy.hpp"
#include "dockerd_fixture.hpp"
#include "podman_fixture.hpp"
#include "registry_fixture.hpp"

using namespace cascade;
using nlohmann::json;

namespace {

// The command every test container runs: ready at once, stops at once on SIGTERM.
const char* kServe = "trap 'exit 0' TERM; touch /tmp/ready; while :; do sleep 0.2; done";

std::string app_dockerfile(const std::string& version, const std::string& healthcheck) {
  return test::busybox_dockerfile("RUN mkdir -p /tmp /data\nENV APP_VERSION=" + version + "\nLABEL app.version=" + version +
                                  "\nHEALTHCHECK --interval=1s --timeout=3s --retries=2 CMD " + healthcheck +
                                  "\nCMD [\"sh\",\"-c\",\"" + kServe + "\"]\n");
}

// One engine the tests run containers in, with a raw API client for setting them up.
struct Engine {
  std::string name;    // "podman" or "dockerd"
  std::string socket;  // its unix socket
  test::EngineApi api;
  std::string endpoint() const { return "unix://" + socket; }
};

// Everything the tests share: a registry holding app:1, app:2 and app:bad (whose
// HEALTHCHECK fails), and the two engines (each started on first use) that can pull from it.
struct World {
  test::DockerRegistry registry;
  test::BuildahSandbox sandbox;
  std::string v1, v2, bad;  // digests
  std::optional<test::PodmanService> podman_service;
  std::optional<test::DockerEngine> dockerd_service;
  std::optional<Engine> podman_engine, dockerd_engine;

  World() {
    v1 = build("1", "test -f /tmp/ready");
    v2 = build("2", "test -f /tmp/ready");
    bad = build("bad", "false");
  }

  Engine& podman() {
    if (!podman_engine) {
      podman_service.emplace(std::vector<std::string>{registry.host()});
      podman_engine.emplace(Engine{"podman", podman_service->socket(), test::EngineApi(podman_service->socket())});
      podman_engine->api.pull(repository(), "1");
    }
    return *podman_engine;
  }
  Engine& dockerd() {  // 127.0.0.0/8 registries are insecure by default for dockerd
    if (!dockerd_engine) {
      dockerd_service.emplace();
      dockerd_engine.emplace(Engine{"dockerd", dockerd_service->socket(), test::EngineApi(dockerd_service->socket())});
      dockerd_engine->api.pull(repository(), "1");
    }
    return *dockerd_engine;
  }

  std::string repository() const { return registry.host() + "/app"; }

  std::string build(const std::string& tag, const std::string& healthcheck) {
    std::string context = sandbox.context("ctx-" + tag, {{"Dockerfile", app_dockerfile(tag, healthcheck)}});
    std::vector<std::string> storage = {"buildah", "--root", (sandbox.path() / "root").string(), "--runroot",
                                        (sandbox.path() / "runroot").string(), "--storage-driver", "vfs"};
    auto argv = storage;
    argv.insert(argv.end(), {"bud", "--isolation", "chroot", "--format", "docker", "-q", "-t", repository() + ":" + tag, context});
    auto built = test::run_build(argv);
    if (built.exit_code != 0) throw std::runtime_error("buildah bud: " + built.err);
    std::string digest_file = (sandbox.path() / ("digest-" + tag)).string();
    argv = storage;
    argv.insert(argv.end(), {"push", "-q", "--tls-verify=false", "--digestfile", digest_file, repository() + ":" + tag});
    auto pushed = test::run(argv);
    if (pushed.exit_code != 0) throw std::runtime_error("buildah push: " + pushed.err);
    return test::read_file(digest_file);
  }

  reference::Reference pinned(const std::string& digest) const { return *reference::parse(repository() + "@" + digest); }

  std::unique_ptr<deploy::DockerTarget> target(const Engine& engine, deploy::DockerOptions options = {}) {
    options.endpoint = engine.endpoint();
    options.poll_interval = std::chrono::milliseconds(100);
    auto connected = deploy::DockerTarget::connect(options);
    if (!connected) throw std::runtime_error(connected.error().str());
    return std::move(*connected);
  }

  // Replicas <service>-1..n of compose project "shop" on app:1, with user settings to keep.
  void service(Engine& engine, const std::string& service, int replicas, const std::string& mount) {
    for (int i = 1; i <= replicas; ++i)
      engine.api.run(service + "-" + std::to_string(i),
                     {{"Image", repository() + ":1"},
                      {"Env", {"MODE=prod", "REPLICA=" + std::to_string(i)}},
                      {"Labels", {{"com.docker.compose.project", "shop"}, {"com.docker.compose.service", service}, {"team", "blue"}}},
                      {"Cmd", {"sh", "-c", std::string("echo custom; ") + kServe}},
                      {"HostConfig", {{"NetworkMode", "none"}, {"Binds", {mount + ":/data:ro"}}}}});
  }
};

// Containers of `engine` whose name starts with `prefix`: name -> inspect.
std::map<std::string, json> containers(Engine& engine, const std::string& prefix) {
  std::map<std::string, json> found;
  for (const auto& entry : engine.api.list()) {
    std::string name = entry["Names"][0].get<std::string>().substr(1);
    if (name.rfind(prefix, 0) == 0) found[name] = engine.api.inspect(entry["Id"]);
  }
  return found;
}

World& world() {
  static World instance;
  return instance;
}

// Step records, gathered from the rolling threads.
struct Steps {
  std::mutex mutex;
  std::vector<deploy::Step> all;
  deploy::StepSink sink() {
    return [this](const deploy::Step& step) {
      std::lock_guard lock(mutex);
      all.push_back(step);
    };
  }
  bool any(deploy::StepState state, const std::string& text) {
    std::lock_guard lock(mutex);
    return std::any_of(all.begin(), all.end(), [&](const deploy::Step& step) {
      return step.state == state && step.detail.find(text) != std::string::npos;
    });
  }
};

// Samples how many replicas of `service` run, from another thread, until destroyed.
class RunningSampler {
 public:
  RunningSampler(const std::string& socket, const std::string& service)
      : thread_([this, socket, service](std::stop_token stop) {
          test::EngineApi api(socket);
          while (!stop.stop_requested()) {
            int running = 0;
            for (const auto& entry : api.call("GET", "/containers/json").body)
              if (entry["Labels"].value("com.docker.compose.service", "") == service) ++running;
            minimum_ = std::min(minimum_.load(), running);
            ++samples_;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  int minimum() const { return minimum_; }
  int samples() const { return samples_; }
  void stop() {
    thread_.request_stop();
    thread_.join();
  }

 private:
  std::atomic<int> minimum_{1 << 20};
  std::atomic<int> samples_{0};
  std::jthread thread_;
};

deploy::Workload workload_named(deploy::Target& target, const std::string& name) {
  auto workloads = target.inventory(std::nullopt);
  REQUIRE(workloads);
  for (const auto& workload : *workloads)
    if (workload.name == name) return workload;
  FAIL("no workload " << name);
  return {};
}

}  // namespace

TEST_CASE("deploy::docker pure helpers") {
  using namespace deploy::detail;
  SUBCASE("version negotiation picks the lower and respects the minimum") {
    CHECK(*negotiate_version("1.45", "1.41", "1.24") == "1.41");
    CHECK(*negotiate_version("1.41", "1.51", "1.24") == "1.41");
    CHECK(*negotiate_version("1.9", "1.10", "") == "1.9");
    CHECK(negotiate_version("1.41", "1.51", "1.44").error().kind == deploy::ErrorKind::version);
  }
  SUBCASE("X-Registry-Auth is padded base64url of the credentials") {
    registry::Credentials credentials{"ci-bot", "s3cr3t-t0ken", "", ""};
    CHECK(registry_auth_header(credentials, "registry.example.com") ==
          "eyJwYXNzd29yZCI6InMzY3IzdC10MGtlbiIsInNlcnZlcmFkZHJlc3MiOiJyZWdpc3RyeS5leGFtcGxlLmNvbSIsInVzZXJuYW1lIjoiY2ktYm90In0=");
    CHECK(base64url("\xfb\xff") == "-_8=");
    CHECK(registry_auth_header({}, "x").empty());
  }
  SUBCASE("an error line inside the pull stream") {
    CHECK(!pull_stream_error("{\"status\":\"Pulling\"}\r\n{\"status\":\"Digest: sha256:1\"}\r\n"));
    CHECK(*pull_stream_error("{\"status\":\"a\"}\n{\"errorDetail\":{\"message\":\"manifest unknown\"},\"error\":\"x\"}\n") ==
          "manifest unknown");
  }
  SUBCASE("the create body keeps user settings and drops image defaults and runtime fields") {
    json container = json::parse(R"({
      "Id": "0123456789abcdef", "Name": "/web-1",
      "Config": {"Hostname": "0123456789ab", "Env": ["PATH=/bin", "APP_VERSION=1", "MODE=prod", "HOSTNAME=0123456789ab",
                 "container=podman"], "Cmd": ["sh"], "Entrypoint": [], "WorkingDir": "/", "User": "",
                 "Labels": {"io.buildah.version": "1.28", "team": "blue"}, "StopTimeout": 0,
                 "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1000000000}},
      "HostConfig": {"NetworkMode": "none", "Binds": ["/srv:/data:ro"], "Runtime": "oci", "Links": ["/db:/web-1/db"],
                     "Ulimits": [{"Name": "RLIMIT_NOFILE", "Soft": 1024, "Hard": 1024}],
                     "PortBindings": {"8080/tcp": [{"HostPort": "8080"}]}},
      "Mounts": [{"Type": "volume", "Name": "vol1", "Destination": "/var/lib/app"},
                 {"Type": "bind", "Source": "/srv", "Destination": "/data"}]})");
    json image = json::parse(R"({"Config": {"Env": ["PATH=/bin", "APP_VERSION=1"], "Cmd": ["sh"],
      "Labels": {"io.buildah.version": "1.28"}, "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1000000000}}})");
    json body = create_body(container, image, "r/app@sha256:2", "1.41");
    CHECK(body["Image"] == "r/app@sha256:2");
    CHECK(body["Env"] == json{"MODE=prod"});
    CHECK(body["Labels"] == json{{"team", "blue"}});
    CHECK(!body.contains("Cmd"));
    CHECK(!body.contains("Healthcheck"));
    CHECK(!body.contains("Hostname"));
    CHECK(!body.contains("WorkingDir"));
    CHECK(body["HostConfig"]["Ulimits"][0]["Name"] == "nofile");
    CHECK(!body["HostConfig"].contains("Runtime"));
    CHECK(body["HostConfig"]["Links"] == json{"db:db"});
    CHECK(body["HostConfig"]["Mounts"] == json::parse(R"([{"Type":"volume","Source":"vol1","Target":"/var/lib/app"}])"));
    CHECK(body["ExposedPorts"].contains("8080/tcp"));
    CHECK(!body.contains("NetworkingConfig"));
  }
}

namespace {

void check_connect(World& w, Engine& engine) {
  auto target = w.target(engine);
  CHECK(target->api_version() == "1.41");  // min(ours 1.45, podman 4.3's and dockerd 20.10's 1.41)
  CHECK(target->is_podman() == (engine.name == "podman"));
  deploy::DockerOptions older;
  older.max_api_version = "1.30";
  CHECK(w.target(engine, older)->api_version() == "1.30");
  deploy::DockerOptions too_old;
  too_old.endpoint = engine.endpoint();
  too_old.max_api_version = "1.10";  // below both engines' MinAPIVersion (podman 1.24, dockerd 1.12)
  CHECK(deploy::DockerTarget::connect(too_old).error().kind == deploy::ErrorKind::version);
}

void check_inventory(World& w, Engine& engine) {
  test::TempDir mount;
  w.service(engine, "inv-web", 2, mount.str());
  w.service(engine, "inv-worker", 2, mount.str());
  engine.api.run("inv-solo", {{"Image", w.repository() + ":1"}, {"HostConfig", {{"NetworkMode", "host"}}}});
  auto target = w.target(engine);
  auto workloads = target->inventory(*reference::parse(w.repository()));
  REQUIRE(workloads);
  std::map<std::string, deploy::Workload> by_name;
  for (const auto& workload : *workloads) by_name[workload.name] = workload;
  REQUIRE(by_name.contains("shop/inv-web"));
  REQUIRE(by_name.contains("shop/inv-worker"));
  REQUIRE(by_name.contains("inv-solo"));
  const auto& web = by_name["shop/inv-web"];
  CHECK(web.instances.size() == 2);
  CHECK(web.target == "docker");
  CHECK(web.image == w.repository() + ":1");
  CHECK(web.image_id == engine.api.image_id(w.repository() + ":1"));
  REQUIRE(web.digest);
  CHECK(*web.digest == w.v1);
  CHECK(by_name["shop/inv-worker"].instances.size() == 2);
  CHECK(by_name["inv-solo"].instances.size() == 1);
  auto other = target->inventory(*reference::parse("127.0.0.1:1/elsewhere"));
  REQUIRE(other);
  CHECK(other->empty());
  deploy::DockerOptions by_label;
  by_label.group_label = "team";
  auto grouped = w.target(engine, by_label)->inventory(std::nullopt);
  REQUIRE(grouped);
  CHECK(std::any_of(grouped->begin(), grouped->end(),
                    [](const auto& workload) { return workload.name == "team=blue" && workload.instances.size() >= 4; }));
}

void check_rollout(World& w, Engine& engine) {
  test::TempDir mount;
  w.service(engine, "roll", 3, mount.str());
  auto target = w.target(engine);
  deploy::Workload workload = workload_named(*target, "shop/roll");
  REQUIRE(workload.instances.size() == 3);
  Steps steps;
  deploy::RolloutPolicy policy;
  policy.health_timeout = std::chrono::seconds(30);
  RunningSampler sampler(engine.socket, "roll");
  auto begin = std::chrono::steady_clock::now();
  auto result = target->rollout(workload, w.pinned(w.v2), policy, steps.sink(), {});
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - begin);
  sampler.stop();
  REQUIRE_MESSAGE(result, result.error().str());
  CHECK_MESSAGE(result->outcome == deploy::RolloutResult::Outcome::healthy, result->reason);
  std::string v2_id = engine.api.image_id(w.repository() + "@" + w.v2);
  CHECK(result->new_image_id == v2_id);
  REQUIRE(result->instances.size() == 3);
  for (const auto& instance : result->instances) {
    CHECK(instance.outcome == deploy::InstanceOutcome::updated);
    MESSAGE(engine.name << ": " << instance.name << " replaced in " << instance.took.count() << " ms");
  }
  MESSAGE(engine.name << ": rollout of 3 replicas took " << took.count() << " ms; " << sampler.samples() << " samples");
  CHECK(sampler.minimum() >= 2);  // max_unavailable 1 of 3
  auto found = containers(engine, "roll-");
  CHECK(found.size() == 3);  // the old ones are gone
  for (const auto& [name, c] : found) {
    INFO(name);
    CHECK(c["Image"] == v2_id);
    CHECK(c["State"]["Running"] == true);
    auto env = c["Config"]["Env"];
    CHECK(std::count(env.begin(), env.end(), "MODE=prod") == 1);
    CHECK(std::count(env.begin(), env.end(), "REPLICA=" + name.substr(5)) == 1);
    CHECK(std::count(env.begin(), env.end(), "APP_VERSION=2") == 1);  // the image's default, not the old one's
    CHECK(c["Config"]["Labels"]["team"] == "blue");
    CHECK(c["Config"]["Labels"]["com.docker.compose.service"] == "roll");
    CHECK(c["Config"]["Labels"]["app.version"] == "2");
    CHECK(c["Config"]["Cmd"][2].get<std::string>().rfind("echo custom;", 0) == 0);
    CHECK(c["HostConfig"]["NetworkMode"] == "none");
    CHECK(c["Mounts"][0]["Source"] == mount.str());
    CHECK(c["Mounts"][0]["Destination"] == "/data");
  }
  CHECK(steps.any(deploy::StepState::healthy, "old container removed"));
  CHECK(steps.any(deploy::StepState::updating, "renamed to roll-1-cascade-old"));
  auto again = target->rollout(workload_named(*target, "shop/roll"), w.pinned(w.v2), policy, steps.sink(), {});
  REQUIRE(again);
  CHECK(again->outcome == deploy::RolloutResult::Outcome::healthy);
  CHECK(std::all_of(again->instances.begin(), again->instances.end(),
                    [](const auto& i) { return i.outcome == deploy::InstanceOutcome::unchanged; }));
}

// Four replicas, batch 4 capped by max_unavailable 2: two are down at a time, never more.
void check_batch_capped(World& w, Engine& engine) {
  test::TempDir mount;
  w.service(engine, "wide", 4, mount.str());
  auto target = w.target(engine);
  deploy::RolloutPolicy policy;
  policy.batch = 4;
  policy.max_unavailable = 2;
  policy.health_timeout = std::chrono::seconds(30);
  RunningSampler sampler(engine.socket, "wide");
  auto result = target->rollout(workload_named(*target, "shop/wide"), w.pinned(w.v2), policy, {}, {});
  sampler.stop();
  REQUIRE_MESSAGE(result, result.error().str());
  CHECK_MESSAGE(result->outcome == deploy::RolloutResult::Outcome::healthy, result->reason);
  MESSAGE(engine.name << ": fewest running replicas " << sampler.minimum() << " in " << sampler.samples() << " samples");
  CHECK(sampler.minimum() == 2);  // 4 - max_unavailable: the batch ran two at once, not four
  CHECK(containers(engine, "wide-").size() == 4);
}

void check_rollback(World& w, Engine& engine) {
  test::TempDir mount;
  w.service(engine, "sick", 2, mount.str());
  auto target = w.target(engine);
  deploy::Workload workload = workload_named(*target, "shop/sick");
  std::string v1_id = engine.api.image_id(w.repository() + ":1");
  Steps steps;
  deploy::RolloutPolicy policy;
  policy.batch = 2;
  policy.max_unavailable = 2;
  policy.health_timeout = std::chrono::seconds(20);
  auto result = target->rollout(workload, w.pinned(w.bad), policy, steps.sink(), {});
  REQUIRE_MESSAGE(result, result.error().str());
  CHECK(result->outcome == deploy::RolloutResult::Outcome::rolled_back);
  CHECK_MESSAGE(result->reason.find("unhealthy") != std::string::npos, result->reason);
  MESSAGE(engine.name << ": reason: " << result->reason);
  auto found = containers(engine, "sick-");
  CHECK(found.size() == 2);
  for (const auto& [name, c] : found) {
    INFO(name);
    CHECK(c["Image"] == v1_id);
    CHECK(c["State"]["Running"] == true);
    CHECK(c["Id"] == (name == "sick-1" ? workload.instances[0] : workload.instances[1]));
  }
  CHECK(steps.any(deploy::StepState::rolled_back, "rolled back to"));
}

void check_missing_digest(World& w, Engine& engine) {
  test::TempDir mount;
  w.service(engine, "nopull", 1, mount.str());
  auto target = w.target(engine);
  deploy::Workload workload = workload_named(*target, "shop/nopull");
  std::string missing = "sha256:" + std::string(64, '0');
  Steps steps;
  auto result = target->rollout(workload, w.pinned(missing), {}, steps.sink(), {});
  REQUIRE(!result);
  CHECK(result.error().kind == deploy::ErrorKind::pull);
  CHECK_MESSAGE(result.error().message.find("manifest unknown") != std::string::npos, result.error().message);
  CHECK(steps.any(deploy::StepState::failed, "manifest unknown"));
  auto found = containers(engine, "nopull-");
  REQUIRE(found.size() == 1);
  CHECK(found.begin()->second["Id"] == workload.instances[0]);
  CHECK(found.begin()->second["State"]["Running"] == true);
}

void check_recover(World& w, Engine& engine) {
  engine.api.pull(w.repository(), w.v2);
  engine.api.pull(w.repository(), w.bad);
  auto crashed = [&](const std::string& name, std::optional<std::string> new_digest) {
    std::string old_id = engine.api.run(name, {{"Image", w.repository() + ":1"}, {"HostConfig", {{"NetworkMode", "none"}}}});
    engine.api.call("POST", "/containers/" + old_id + "/stop?t=1");
    engine.api.call("POST", "/containers/" + old_id + "/rename?name=" + name + "-cascade-old");
    if (new_digest)
      engine.api.run(name, {{"Image", w.repository() + "@" + *new_digest}, {"HostConfig", {{"NetworkMode", "none"}}}});
    return old_id;
  };
  std::string healthy_old = crashed("rec-healthy", w.v2);
  std::string sick_old = crashed("rec-sick", w.bad);
  std::string lone_old = crashed("rec-lone", std::nullopt);
  auto target = w.target(engine);
  Steps steps;
  deploy::RolloutPolicy policy;
  policy.health_timeout = std::chrono::seconds(20);
  auto recovered = target->recover("run-7", policy, steps.sink());
  REQUIRE_MESSAGE(recovered, recovered.error().str());
  auto found = containers(engine, "rec-");
  CHECK(found.size() == 3);
  REQUIRE(found.contains("rec-healthy"));
  CHECK(found["rec-healthy"]["Image"] == engine.api.image_id(w.repository() + "@" + w.v2));
  CHECK(found["rec-healthy"]["Id"] != healthy_old);
  REQUIRE(found.contains("rec-sick"));
  CHECK(found["rec-sick"]["Id"] == sick_old);
  CHECK(found["rec-sick"]["State"]["Running"] == true);
  REQUIRE(found.contains("rec-lone"));
  CHECK(found["rec-lone"]["Id"] == lone_old);
  CHECK(found["rec-lone"]["State"]["Running"] == true);
  CHECK(steps.any(deploy::StepState::healthy, "kept the healthy new container"));
  CHECK(steps.any(deploy::StepState::rolled_back, "no new container"));
  CHECK(steps.all.front().workload == "recover:run-7");
}

}  // namespace

TEST_CASE("deploy::docker connect negotiates the API version") {
  SUBCASE("podman") { check_connect(world(), world().podman()); }
  SUBCASE("dockerd") { check_connect(world(), world().dockerd()); }
  SUBCASE("no engine, or no endpoint we speak") {
    deploy::DockerOptions nobody;
    nobody.endpoint = "unix:///nonexistent/docker.sock";
    CHECK(deploy::DockerTarget::connect(nobody).error().kind == deploy::ErrorKind::connection);
    nobody.endpoint = "ssh://host";
    CHECK(deploy::DockerTarget::connect(nobody).error().kind == deploy::ErrorKind::invalid);
  }
}

TEST_CASE("deploy::docker inventory groups replicas by compose service") {
  SUBCASE("podman") { check_inventory(world(), world().podman()); }
  SUBCASE("dockerd") { check_inventory(world(), world().dockerd()); }
}

TEST_CASE("deploy::docker rollout moves every replica to the new digest, keeping its configuration") {
  SUBCASE("podman") { check_rollout(world(), world().podman()); }
  SUBCASE("dockerd") { check_rollout(world(), world().dockerd()); }
}

TEST_CASE("deploy::docker a batch is capped by max_unavailable") {
  SUBCASE("podman") { check_batch_capped(world(), world().podman()); }
  SUBCASE("dockerd") { check_batch_capped(world(), world().dockerd()); }
}

TEST_CASE("deploy::docker a failing HEALTHCHECK rolls every replica back") {
  SUBCASE("podman") { check_rollback(world(), world().podman()); }
  SUBCASE("dockerd") { check_rollback(world(), world().dockerd()); }
}

TEST_CASE("deploy::docker a missing digest fails the pull before any container is touched") {
  SUBCASE("podman") { check_missing_digest(world(), world().podman()); }
  SUBCASE("dockerd") { check_missing_digest(world(), world().dockerd()); }
}

TEST_CASE("deploy::docker recover leaves exactly one healthy set after a crash") {
  SUBCASE("podman") { check_recover(world(), world().podman()); }
  SUBCASE("dockerd") { check_recover(world(), world().dockerd()); }
}
