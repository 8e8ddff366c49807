// The Docker Engine API target against a real podman API service, a real registry and
// images built with buildah: version negotiation, inventory, rollout, rollback on a failing
// HEALTHCHECK, max_unavailable, recovery after a crash, and a missing digest.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "../src/deploy/internal.hpp"
#include "builder_fixture.hpp"
#include "cascade/deploy.hpp"
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

// Everything the tests share: a registry holding app:1, app:2 and app:bad (whose
// HEALTHCHECK fails), and one podman service that can pull from it.
struct World {
  test::DockerRegistry registry;
  test::BuildahSandbox sandbox;
  std::string v1, v2, bad;  // digests
  std::optional<test::PodmanService> podman;
  std::optional<test::EngineApi> api;

  World() {
    v1 = build("1", "test -f /tmp/ready");
    v2 = build("2", "test -f /tmp/ready");
    bad = build("bad", "false");
    podman.emplace(std::vector<std::string>{registry.host()});
    api.emplace(podman->socket());
    api->pull(repository(), "1");
  }

  std::string repository() const { return registry.host() + "/app"; }

  std::string build(const std::string& tag, const std::string& healthcheck) {
    std::string context = sandbox.context("ctx-" + tag, {{"Dockerfile", app_dockerfile(tag, healthcheck)}});
    std::vector<std::string> storage = {"buildah", "--root", (sandbox.path() / "root").string(), "--runroot",
                                        (sandbox.path() / "runroot").string(), "--storage-driver", "vfs"};
    auto argv = storage;
    argv.insert(argv.end(), {"bud", "--isolation", "chroot", "--format", "docker", "-q", "-t", repository() + ":" + tag, context});
    auto built = test::run(argv);
    if (built.exit_code != 0) throw std::runtime_error("buildah bud: " + built.err);
    std::string digest_file = (sandbox.path() / ("digest-" + tag)).string();
    argv = storage;
    argv.insert(argv.end(), {"push", "-q", "--tls-verify=false", "--digestfile", digest_file, repository() + ":" + tag});
    auto pushed = test::run(argv);
    if (pushed.exit_code != 0) throw std::runtime_error("buildah push: " + pushed.err);
    return test::read_file(digest_file);
  }

  reference::Reference pinned(const std::string& digest) const { return *reference::parse(repository() + "@" + digest); }

  std::unique_ptr<deploy::DockerTarget> target(deploy::DockerOptions options = {}) {
    options.endpoint = podman->endpoint();
    options.poll_interval = std::chrono::milliseconds(100);
    auto connected = deploy::DockerTarget::connect(options);
    if (!connected) throw std::runtime_error(connected.error().str());
    return std::move(*connected);
  }

  // Replicas <service>-1..n of compose project "shop" on app:1, with user settings to keep.
  void service(const std::string& service, int replicas, const std::string& mount) {
    for (int i = 1; i <= replicas; ++i)
      api->run(service + "-" + std::to_string(i),
               {{"Image", repository() + ":1"},
                {"Env", {"MODE=prod", "REPLICA=" + std::to_string(i)}},
                {"Labels", {{"com.docker.compose.project", "shop"}, {"com.docker.compose.service", service}, {"team", "blue"}}},
                {"Cmd", {"sh", "-c", std::string("echo custom; ") + kServe}},
                {"HostConfig", {{"NetworkMode", "none"}, {"Binds", {mount + ":/data:ro"}}}}});
  }

  // Containers whose name starts with `prefix`: name -> inspect.
  std::map<std::string, json> containers(const std::string& prefix) {
    std::map<std::string, json> found;
    for (const auto& entry : api->list()) {
      std::string name = entry["Names"][0].get<std::string>().substr(1);
      if (name.rfind(prefix, 0) == 0) found[name] = api->inspect(entry["Id"]);
    }
    return found;
  }
};

World& world() {
  static World instance;
  return instance;
}

std::vector<deploy::Step> collect(std::vector<deploy::Step>& steps, std::mutex& mutex, const deploy::Step& step) {
  std::lock_guard lock(mutex);
  steps.push_back(step);
  return steps;
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

TEST_CASE("deploy::docker connect negotiates the API version with podman") {
  World& w = world();
  auto target = w.target();
  CHECK(target->api_version() == "1.41");  // min(ours 1.45, podman 4.3's 1.41)
  CHECK(target->is_podman());
  deploy::DockerOptions older;
  older.max_api_version = "1.30";
  CHECK(w.target(older)->api_version() == "1.30");
  deploy::DockerOptions too_old;
  too_old.endpoint = w.podman->endpoint();
  too_old.max_api_version = "1.20";
  CHECK(deploy::DockerTarget::connect(too_old).error().kind == deploy::ErrorKind::version);
  deploy::DockerOptions nobody;
  nobody.endpoint = "unix:///nonexistent/docker.sock";
  CHECK(deploy::DockerTarget::connect(nobody).error().kind == deploy::ErrorKind::connection);
  nobody.endpoint = "ssh://host";
  CHECK(deploy::DockerTarget::connect(nobody).error().kind == deploy::ErrorKind::invalid);
}

TEST_CASE("deploy::docker inventory groups replicas by compose service") {
  World& w = world();
  test::TempDir mount;
  w.service("inv-web", 2, mount.str());
  w.service("inv-worker", 2, mount.str());
  w.api->run("inv-solo", {{"Image", w.repository() + ":1"}, {"HostConfig", {{"NetworkMode", "host"}}}});
  auto target = w.target();
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
  CHECK(web.image_id == w.api->image_id(w.repository() + ":1"));
  REQUIRE(web.digest);
  CHECK(*web.digest == w.v1);
  CHECK(by_name["shop/inv-worker"].instances.size() == 2);
  CHECK(by_name["inv-solo"].instances.size() == 1);
  auto other = target->inventory(*reference::parse("127.0.0.1:1/elsewhere"));
  REQUIRE(other);
  CHECK(other->empty());
  deploy::DockerOptions by_label;
  by_label.group_label = "team";
  auto grouped = w.target(by_label)->inventory(std::nullopt);
  REQUIRE(grouped);
  CHECK(std::any_of(grouped->begin(), grouped->end(),
                    [](const auto& workload) { return workload.name == "team=blue" && workload.instances.size() >= 4; }));
}
