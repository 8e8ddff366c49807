// The Docker target on what only a real dockerd 20.10 does (the behaviours both engines share
// are deploy_test.cpp's, run on podman and dockerd): the engine runs HEALTHCHECK on its own
// timer and the gate reads its verdict; the API served on tcp:// with TLS client
// certificates (--tlsverify), refused with the wrong ones without a word of key material;
// containers listed by image id once their tag moved. Images are built by dockerd itself
// (BuildKit, `--network none`) and pushed to a real registry on loopback.
#include <doctest/doctest.h>

#include <algorithm>

#include "cascade/deploy.hpp"
#include "dockerd_fixture.hpp"
#include "podman_fixture.hpp"
#include "registry_fixture.hpp"

using namespace cascade;
using nlohmann::json;

namespace {

// Ready at once, stops at once on SIGTERM; the HEALTHCHECK runs every `interval`.
std::string app_dockerfile(const std::string& version, const std::string& interval, const std::string& healthcheck) {
  return "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n"
         "RUN mkdir -p /tmp\nENV APP_VERSION=" + version + "\nHEALTHCHECK --interval=" + interval +
         " --timeout=3s --retries=2 CMD " + healthcheck +
         "\nCMD [\"sh\",\"-c\",\"trap 'exit 0' TERM; touch /tmp/ready; while :; do sleep 0.2; done\"]\n";
}

// A registry with app:1, app:2 (its check first runs 2 s after the start) and app:bad (its
// check fails), built and pushed by one dockerd that also serves its API over TLS.
struct World {
  test::TempDir dir;
  test::DockerRegistry registry;
  test::DockerTls tls{dir / "tls"};
  test::DockerTls stranger{dir / "stranger"};  // another CA, with its own client certificate
  test::DockerEngine dockerd{&tls};
  test::EngineApi api{dockerd.socket()};
  std::string v1, v2, bad;  // digests

  World() {
    v1 = build("1", "1s", "test -f /tmp/ready");
    v2 = build("2", "2s", "test -f /tmp/ready");
    bad = build("bad", "1s", "echo no such service; false");
  }

  std::string repository() const { return registry.host() + "/app"; }
  reference::Reference pinned(const std::string& digest) const { return *reference::parse(repository() + "@" + digest); }

  // `docker build` and `docker push` on this engine; returns the pushed digest.
  std::string build(const std::string& tag, const std::string& interval, const std::string& healthcheck) {
    test::fs::path context = dir / ("ctx-" + tag);
    test::fs::create_directories(context);
    test::fs::copy_file("/usr/bin/busybox", context / "busybox", test::fs::copy_options::overwrite_existing);
    test::write_file(context / "Dockerfile", app_dockerfile(tag, interval, healthcheck));
    dockerd.docker({"build", "--network", "none", "-q", "-t", repository() + ":" + tag, context.string()});
    std::string pushed = dockerd.docker({"push", repository() + ":" + tag});
    auto at = pushed.find("digest: sha256:");
    if (at == std::string::npos) throw std::runtime_error("docker push printed no digest: " + pushed);
    return pushed.substr(at + 8, 71);
  }

  deploy::DockerOptions tls_options() const {
    deploy::DockerOptions options;
    options.endpoint = dockerd.tcp_endpoint();
    options.tls = true;
    options.ca_file = tls.ca();
    options.cert_file = tls.cert();
    options.key_file = tls.key();
    options.poll_interval = std::chrono::milliseconds(100);
    return options;
  }
  std::unique_ptr<deploy::DockerTarget> target(deploy::DockerOptions options) {
    auto connected = deploy::DockerTarget::connect(options);
    if (!connected) throw std::runtime_error(connected.error().str());
    return std::move(*connected);
  }
  std::unique_ptr<deploy::DockerTarget> target() {
    deploy::DockerOptions options;
    options.endpoint = dockerd.endpoint();
    options.poll_interval = std::chrono::milliseconds(100);
    return target(options);
  }

  // Replicas <service>-1..n of compose project "shop" on app:<tag>.
  void service(const std::string& service, int replicas, const std::string& tag = "1") {
    for (int i = 1; i <= replicas; ++i)
      api.run(service + "-" + std::to_string(i),
              {{"Image", repository() + ":" + tag},
               {"Env", {"REPLICA=" + std::to_string(i)}},
               {"Labels", {{"com.docker.compose.project", "shop"}, {"com.docker.compose.service", service}}},
               {"StopTimeout", 1},
               {"HostConfig", {{"NetworkMode", "none"}}}});
  }
};

World& world() {
  static World instance;
  return instance;
}

deploy::Workload workload_named(deploy::Target& target, const std::string& name) {
  auto workloads = target.inventory(std::nullopt);
  REQUIRE_MESSAGE(workloads, workloads.error().str());
  for (const auto& workload : *workloads)
    if (workload.name == name) return workload;
  FAIL("no workload " << name);
  return {};
}

// An error message that must name the engine and carry no key material.
void check_no_secret(const std::string& message, const World& w) {
  INFO(message);
  CHECK(message.find("engine " + w.dockerd.tcp_endpoint() + ": ") != std::string::npos);
  CHECK(message.find("BEGIN") == std::string::npos);
  CHECK(message.find("PRIVATE") == std::string::npos);
  for (const auto& key : {w.tls.key(), w.stranger.key(), w.tls.server_key()}) {
    std::istringstream lines(test::read_file(key));
    for (std::string line; std::getline(lines, line);)
      if (line.size() > 16 && line.find("-----") == std::string::npos) CHECK(message.find(line.substr(0, 16)) == std::string::npos);
  }
}

}  // namespace

TEST_CASE("deploy::dockerd the health gate is the engine's own HEALTHCHECK verdict") {
  World& w = world();
  auto target = w.target();
  CHECK_FALSE(target->is_podman());
  CHECK(target->api_version() == "1.41");  // dockerd 20.10 speaks up to 1.41, ours is 1.45

  SUBCASE("healthy: the gate opens when dockerd says so, not before its first check") {
    w.service("gate", 1);
    deploy::RolloutPolicy policy;
    policy.health_timeout = std::chrono::seconds(30);
    auto result = target->rollout(workload_named(*target, "shop/gate"), w.pinned(w.v2), policy, {}, {});
    REQUIRE_MESSAGE(result, result.error().str());
    REQUIRE_MESSAGE(result->outcome == deploy::RolloutResult::Outcome::healthy, result->reason);
    REQUIRE(result->instances.size() == 1);
    MESSAGE("gate-1 replaced in " << result->instances[0].took.count() << " ms (first engine check after 2 s)");
    // Read at once: a gate of its own (an exec of the test) would have passed while dockerd
    // still said "starting", its first check 2 s after the start.
    json health = w.api.inspect(result->instances[0].new_id)["State"]["Health"];
    CHECK(health["Status"] == "healthy");
    CHECK(health["Log"].size() >= 1);
  }
  SUBCASE("unhealthy: dockerd's failing streak and last output make the reason; the old container is back") {
    w.service("ill", 1);
    deploy::Workload workload = workload_named(*target, "shop/ill");
    deploy::RolloutPolicy policy;
    policy.health_timeout = std::chrono::seconds(30);
    auto result = target->rollout(workload, w.pinned(w.bad), policy, {}, {});
    REQUIRE_MESSAGE(result, result.error().str());
    CHECK(result->outcome == deploy::RolloutResult::Outcome::rolled_back);
    CHECK_MESSAGE(result->reason.find("run by the engine failed 2 times in a row") != std::string::npos, result->reason);
    CHECK_MESSAGE(result->reason.find("exit 1: no such service") != std::string::npos, result->reason);
    json old = w.api.inspect("ill-1");
    CHECK(old["Id"] == workload.instances[0]);
    CHECK(old["State"]["Running"] == true);
    CHECK(old["Image"] == w.api.image_id(w.repository() + ":1"));
  }
}

TEST_CASE("deploy::dockerd a tcp:// endpoint with TLS client certificates") {
  World& w = world();
  SUBCASE("the right CA and client certificate: inventory and a rollout over TLS") {
    w.service("tls", 2);
    auto target = w.target(w.tls_options());
    CHECK(target->api_version() == "1.41");
    deploy::Workload workload = workload_named(*target, "shop/tls");
    CHECK(workload.instances.size() == 2);
    REQUIRE(workload.digest);
    CHECK(*workload.digest == w.v1);
    deploy::RolloutPolicy policy;
    policy.health_timeout = std::chrono::seconds(30);
    auto result = target->rollout(workload, w.pinned(w.v2), policy, {}, {});
    REQUIRE_MESSAGE(result, result.error().str());
    CHECK_MESSAGE(result->outcome == deploy::RolloutResult::Outcome::healthy, result->reason);
    for (const char* name : {"tls-1", "tls-2"}) CHECK(w.api.inspect(name)["Image"] == w.api.image_id(w.repository() + "@" + w.v2));
  }
  SUBCASE("the engine's certificate from another CA is refused, naming the endpoint") {
    auto options = w.tls_options();
    options.ca_file = w.stranger.ca();
    auto refused = deploy::DockerTarget::connect(options);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == deploy::ErrorKind::connection);
    CHECK_MESSAGE(refused.error().message.find("certificate verify failed") != std::string::npos, refused.error().message);
    MESSAGE("wrong CA: " << refused.error().str());
    check_no_secret(refused.error().str(), w);
  }
  SUBCASE("a client certificate from another CA, or none, is refused by dockerd") {
    auto options = w.tls_options();
    options.cert_file = w.stranger.cert();
    options.key_file = w.stranger.key();
    auto stranger = deploy::DockerTarget::connect(options);
    REQUIRE_FALSE(stranger);
    CHECK(stranger.error().kind == deploy::ErrorKind::connection);
    check_no_secret(stranger.error().str(), w);
    options.cert_file.clear();
    options.key_file.clear();
    auto anonymous = deploy::DockerTarget::connect(options);
    REQUIRE_FALSE(anonymous);
    CHECK(anonymous.error().kind == deploy::ErrorKind::connection);
    MESSAGE("stranger's client certificate: " << stranger.error().str() << "\nno client certificate: " << anonymous.error().str());
    check_no_secret(anonymous.error().str(), w);
  }
  SUBCASE("a key file that holds no key: refused before any request, its content not repeated") {
    auto options = w.tls_options();
    options.key_file = w.tls.ca();  // a certificate, not a key
    auto refused = deploy::DockerTarget::connect(options);
    REQUIRE_FALSE(refused);
    check_no_secret(refused.error().str(), w);
    options.key_file = w.stranger.key();  // a key that does not match the certificate
    auto mismatched = deploy::DockerTarget::connect(options);
    REQUIRE_FALSE(mismatched);
    MESSAGE("no key in the key file: " << refused.error().str() << "\nanother key: " << mismatched.error().str());
    check_no_secret(mismatched.error().str(), w);
  }
}

TEST_CASE("deploy::dockerd inventory finds containers whose tag has moved to another image") {
  World& w = world();
  std::string v1_id = w.api.image_id(w.repository() + ":1");
  w.dockerd.docker({"tag", v1_id, w.repository() + ":moving"});
  w.api.run("moved", {{"Image", w.repository() + ":moving"}, {"HostConfig", {{"NetworkMode", "none"}}}});
  w.dockerd.docker({"tag", w.repository() + ":2", w.repository() + ":moving"});  // the container stays on v1
  // dockerd now lists the container by its image id (PROTOCOLS.md 5.3), no longer as app:moving.
  bool listed_by_id = false;
  for (const auto& entry : w.api.list())
    if (entry["Names"][0] == "/moved") listed_by_id = entry["Image"] == v1_id;
  CHECK(listed_by_id);
  auto target = w.target();
  auto workloads = target->inventory(*reference::parse(w.repository()));
  REQUIRE_MESSAGE(workloads, workloads.error().str());
  auto found = std::find_if(workloads->begin(), workloads->end(), [](const auto& workload) { return workload.name == "moved"; });
  REQUIRE(found != workloads->end());
  CHECK(found->image == w.repository() + ":moving");
  CHECK(found->image_id == v1_id);
  REQUIRE(found->digest);
  CHECK(*found->digest == w.v1);
}
