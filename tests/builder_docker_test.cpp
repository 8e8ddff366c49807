// The docker backend against a real dockerd 20.10 (dockerd_fixture.hpp) and a real
// docker-registry on 127.0.0.1; build secrets against docker and real buildah. Bases are
// built and pushed by buildah, so every engine pulls its parent from the registry by digest.
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <random>
#include <thread>

#include "builder_fixture.hpp"
#include "cascade/builder.hpp"
#include "dockerd_fixture.hpp"

namespace {

using namespace cascade;
using namespace std::chrono_literals;
using builder::Error;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// One registry, a base pushed to it by buildah (base:1), and one engine for the tests that
// do not stop theirs.
struct Shared : test::RegistryWithBase {
  test::DockerEngine engine;
};

Shared& shared() {
  static Shared instance;
  return instance;
}

// A state folder, a docker config folder and a build context for one test.
struct Workspace {
  test::TempDir dir;
  builder::DockerOptions options(const std::string& host) const {
    builder::DockerOptions options;
    options.host = host;
    options.network = "none";  // the engines here run without a bridge
    options.state_dir = (dir / "state").string();
    options.docker_config_dir = (dir / "docker-config").string();
    options.kill_grace = 1500ms;
    return options;
  }
  builder::BuildRequest request(const std::string& image, const std::string& dockerfile, const std::string& name) const {
    builder::BuildRequest request;
    request.run_id = "docker-" + name;
    request.image = image;
    request.context_dir = (dir / "ctx").string();
    fs::create_directories(request.context_dir);
    request.dockerfile_text = dockerfile;
    request.log_path = (dir / "logs" / (name + ".log")).string();
    request.timeout = 120s;
    return request;
  }
};

std::string text_of(const nlohmann::json& value) { return value.is_string() ? value.get<std::string>() : ""; }

// A value no log, image or process holds by chance.
std::string fresh_secret(const std::string& what) {
  std::random_device random;
  return what + "-" + std::to_string(::getpid()) + "-" + std::to_string(random()) + "-value";
}

// What the registry serves for `reference` (GET of the manifest, as skopeo fetches it).
std::string served_manifest(const std::string& reference) {
  auto raw = test::run({"skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + reference});
  if (raw.exit_code != 0) throw std::runtime_error("skopeo inspect --raw " + reference + ": " + raw.err);
  return raw.out;
}

// Waits until no process's command line mentions `needle`; false when one is still there.
bool gone_within(const std::string& needle, std::chrono::milliseconds limit) {
  auto until = Clock::now() + limit;
  while (!test::processes_mentioning(needle).empty()) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

}  // namespace

TEST_CASE("builder::DockerBuild builds on exactly the pinned parent and returns the digest the registry serves") {
  Workspace work;
  // Move base:1 to another image, so the tag and the pinned digest disagree.
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({shared().host()}));
  auto moved_request = work.request(shared().host() + "/base:1", test::busybox_dockerfile("RUN echo two > /v2\n"), "moved");
  moved_request.context_dir = sandbox.context("moved");
  auto moved = cascade::test::build_retrying(buildah, moved_request);
  REQUIRE_MESSAGE(moved, moved.error().message);

  builder::DockerBuild docker(work.options(shared().engine.endpoint()));
  CHECK(docker.name() == "docker");
  auto request = work.request(shared().host() + "/apps/child:1",
                              "FROM " + shared().pinned_base() + "\nRUN test -e /v1 && test ! -e /v2 && echo pinned > /app\n",
                              "child");
  request.labels = {{"org.opencontainers.image.base.digest", shared().base_digest}, {"cascade.run", "run 7"}};
  auto built = cascade::test::build_retrying(docker, request);
  REQUIRE_MESSAGE(built, built.error().message);

  std::string manifest = served_manifest(request.image);
  CHECK(test::sha256(manifest) == built->digest);
  CHECK(text_of(test::skopeo_inspect(request.image)["Digest"]) == built->digest);
  CHECK(text_of(nlohmann::json::parse(manifest)["config"]["digest"]) == built->image_id);
  auto config = test::skopeo_inspect(shared().host() + "/apps/child@" + built->digest, true);
  CHECK(text_of(config["config"]["Labels"]["cascade.run"]) == "run 7");
  CHECK(text_of(config["config"]["Labels"]["org.opencontainers.image.base.digest"]) == shared().base_digest);

  auto base_layers = test::skopeo_inspect(shared().pinned_base())["Layers"];
  auto child_layers = test::skopeo_inspect(shared().host() + "/apps/child@" + built->digest)["Layers"];
  REQUIRE(child_layers.size() == base_layers.size() + 1);
  for (std::size_t i = 0; i < base_layers.size(); ++i) CHECK(child_layers[i] == base_layers[i]);

  std::string log = test::read_file(request.log_path);
  CHECK(log.find("=== cascade docker: " + request.image + " on " + shared().engine.endpoint()) != std::string::npos);
  CHECK(log.find("$ /usr/bin/docker -H " + shared().engine.endpoint() + " build --progress plain") != std::string::npos);
  CHECK(log.find("cascade: pushed " + request.image + "@" + built->digest) != std::string::npos);
  CHECK(built->build_seconds > 0);
  CHECK(built->push_seconds > 0);
  CHECK(fs::is_empty(work.dir / "state/docker/work"));
  MESSAGE("docker build " << built->build_seconds << " s, push " << built->push_seconds << " s");
}

TEST_CASE("builder secrets on docker and buildah: the build reads them, nothing keeps them") {
  Workspace work;
  test::BuildahSandbox sandbox;
  const std::string token = fresh_secret("token");
  const std::string password = fresh_secret("netrc");
  const std::string netrc = "machine example.com password " + password + "\n";
  test::ScopedVariable env("CASCADE_TEST_BUILD_TOKEN", token);
  test::write_file(work.dir / "netrc", netrc);
  std::vector<builder::Secret> secrets = {{"token", "CASCADE_TEST_BUILD_TOKEN", ""}, {"netrc", "", (work.dir / "netrc").string()}};
  // The Dockerfile proves the values by their hashes: it never holds them itself.
  auto hash_of = [](const std::string& value) { return test::sha256(value).substr(7); };
  std::string checks = "RUN --mount=type=secret,id=token --mount=type=secret,id=netrc "
                       "test \"$(sha256sum < /run/secrets/token | cut -d' ' -f1)\" = " + hash_of(token) +
                       " && test \"$(sha256sum < /run/secrets/netrc | cut -d' ' -f1)\" = " + hash_of(netrc) +
                       " && echo secrets-seen\n";
  std::string leaks = "RUN --mount=type=secret,id=token cat /run/secrets/token; echo; exit 3\n";

  builder::DockerBuild docker(work.options(shared().engine.endpoint()));
  builder::Buildah buildah(sandbox.options({shared().host()}));
  for (builder::Builder* backend : std::vector<builder::Builder*>{&docker, &buildah}) {
    CAPTURE(backend->name());
    auto request = work.request(shared().host() + "/apps/secret-" + backend->name() + ":1",
                                "FROM " + shared().pinned_base() + "\n" + checks, "secret-" + backend->name());
    request.secrets = secrets;
    request.labels = {{"cascade.run", "secrets"}};
    auto built = cascade::test::build_retrying(*backend, request);
    REQUIRE_MESSAGE(built, built.error().message);
    std::string log = test::read_file(request.log_path);
    CHECK(log.find("secrets-seen") != std::string::npos);
    CHECK(log.find("--secret id=token,env=CASCADE_BUILD_SECRET_0 --secret id=netrc,src=") != std::string::npos);
    std::string config = test::skopeo_inspect(shared().host() + "/apps/secret-" + backend->name() + "@" + built->digest,
                                              true).dump();
    CHECK(config.find("/run/secrets/token") != std::string::npos);  // the RUN is in the history
    for (const std::string& value : {token, password}) {
      CHECK(log.find(value) == std::string::npos);
      CHECK(config.find(value) == std::string::npos);
    }

    auto failing = work.request(request.image, "FROM " + shared().pinned_base() + "\n" + leaks, "leak-" + backend->name());
    failing.secrets = secrets;
    auto failed = cascade::test::build_retrying(*backend, failing);
    REQUIRE_FALSE(failed);
    CHECK(failed.error().kind == Error::Kind::build_failed);
    std::string failed_log = test::read_file(failing.log_path);
    CHECK(failed_log.find("***") != std::string::npos);  // the RUN printed it; the log masks it
    CHECK(failed_log.find(token) == std::string::npos);
    CHECK(failed.error().message.find(token) == std::string::npos);
  }

  // An unset variable fails before anything runs, naming the secret.
  auto unset = work.request(shared().host() + "/apps/unset:1", "FROM " + shared().pinned_base() + "\n", "unset");
  unset.secrets = {{"npm", "CASCADE_TEST_NO_SUCH_VARIABLE", ""}};
  auto failed = cascade::test::build_retrying(docker, unset);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().kind == Error::Kind::setup);
  CHECK(failed.error().message.find("build secret \"npm\"") != std::string::npos);
  CHECK_FALSE(fs::exists(unset.log_path));
}

TEST_CASE("builder::DockerBuild failure kinds") {
  Workspace work;
  builder::DockerBuild docker(work.options(shared().engine.endpoint()));
  std::string from = "FROM " + shared().pinned_base() + "\n";

  SUBCASE("a RUN that fails is build-failed, with the output's end") {
    auto request = work.request(shared().host() + "/apps/broken:1", from + "RUN echo about-to-fail-7f3a; exit 3\n", "broken");
    auto built = cascade::test::build_retrying(docker, request);
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::build_failed);
    CHECK(built.error().message.rfind(request.image + ": docker build failed (exit 1): executor failed running", 0) == 0);
    CHECK(built.error().message.find("about-to-fail-7f3a") != std::string::npos);
    CHECK(test::read_file(request.log_path).find("docker push") == std::string::npos);
  }
  SUBCASE("an engine socket nobody serves is worker-unavailable, naming the endpoint") {
    std::string dead = "unix://" + (work.dir / "no-such-engine.sock").string();
    auto request = work.request(shared().host() + "/apps/a:1", from + "RUN true\n", "dead");
    auto built = builder::DockerBuild(work.options(dead)).build_and_push(request, {});
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::worker_unavailable);
    CHECK(built.error().transient());
    CHECK(built.error().message.find("the Docker Engine at " + dead + " is unavailable") != std::string::npos);
  }
  SUBCASE("a registry that refuses the push is push-failed, not the engine's fault") {
    std::string down = "127.0.0.1:" + std::to_string(test::free_port());
    auto built = cascade::test::build_retrying(docker, work.request(down + "/apps/a:1", from + "RUN true\n", "push-down"));
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::push_failed);
    CHECK(built.error().message.find("connection refused") != std::string::npos);
  }
  SUBCASE("a base whose registry refuses is pull-failed") {
    // A digest the engine never saw: it resolves one it holds locally whatever the repository.
    std::string down = "127.0.0.1:" + std::to_string(test::free_port());
    std::string digest = test::sha256(fresh_secret("digest"));
    auto request = work.request(shared().host() + "/apps/b:1", "FROM " + down + "/base@" + digest + "\n", "pull-down");
    auto built = cascade::test::build_retrying(docker, request);
    REQUIRE_FALSE(built);
    CHECK_MESSAGE(built.error().kind == Error::Kind::pull_failed, built.error().message);
  }
}

TEST_CASE("builder::DockerBuild when dockerd dies mid-build (kill -9): worker-unavailable at once") {
  test::DockerEngine engine;
  Workspace work;
  builder::DockerBuild docker(work.options(engine.endpoint()));
  auto request = work.request(shared().host() + "/apps/killed:1",
                              "FROM " + shared().pinned_base() + "\nRUN echo start-sleep && sleep 30\n", "killed");
  auto building = std::async(std::launch::async, [&] { return docker.build_and_push(request, {}); });
  REQUIRE(test::wait_for_text(request.log_path, "start-sleep", 60s));
  auto killed_at = Clock::now();
  engine.kill9();
  auto built = building.get();
  double took = seconds_since(killed_at);
  REQUIRE_FALSE(built);
  CHECK_MESSAGE(built.error().kind == Error::Kind::worker_unavailable, built.error().message);
  CHECK(built.error().message.find(engine.endpoint()) != std::string::npos);
  CHECK(took < 5);
  MESSAGE("kill -9 to worker-unavailable: " << took << " s");
}

TEST_CASE("builder::DockerBuild over TCP with TLS client certificates") {
  test::TempDir certs;
  test::DockerTls tls(certs / "engine");
  test::DockerEngine engine(&tls);
  Workspace work;
  auto options = work.options(engine.tcp_endpoint());
  options.tls_ca_cert = tls.ca();
  options.tls_cert = tls.cert();
  options.tls_key = tls.key();
  std::string dockerfile = "FROM " + shared().pinned_base() + "\nRUN echo over-tls > /tls\n";

  // The right certificates build and push.
  auto request = work.request(shared().host() + "/apps/tls:1", dockerfile, "tls");
  auto built = builder::DockerBuild(options).build_and_push(request, {});
  REQUIRE_MESSAGE(built, built.error().message);
  CHECK(text_of(test::skopeo_inspect(request.image)["Digest"]) == built->digest);

  // A CA that did not sign the engine's certificate: worker-unavailable, without key material.
  test::DockerTls other(certs / "other");
  auto wrong_ca = options;
  wrong_ca.tls_ca_cert = other.ca();
  auto refused_request = work.request(shared().host() + "/apps/tls:2", dockerfile, "wrong-ca");
  auto refused = builder::DockerBuild(wrong_ca).build_and_push(refused_request, {});
  REQUIRE_FALSE(refused);
  CHECK_MESSAGE(refused.error().kind == Error::Kind::worker_unavailable, refused.error().message);
  const std::string& message = refused.error().message;
  CHECK(message.find(engine.tcp_endpoint()) != std::string::npos);
  CHECK(message.find("x509") != std::string::npos);
  CHECK(message.find("BEGIN") == std::string::npos);
  std::string key = test::read_file(tls.key());
  std::string key_body = key.substr(key.find('\n') + 1, 40);  // the first characters after the BEGIN line
  CHECK(message.find(key_body) == std::string::npos);
  CHECK(test::read_file(refused_request.log_path).find(key_body) == std::string::npos);

  // A key file that does not exist: a set-up error naming it.
  auto no_key = options;
  no_key.tls_key = (certs / "engine/missing-key.pem").string();
  auto missing = builder::DockerBuild(no_key).build_and_push(work.request(shared().host() + "/apps/tls:3", dockerfile,
                                                                          "no-key"), {});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == Error::Kind::setup);
  CHECK(missing.error().message.find("missing-key.pem") != std::string::npos);
}

TEST_CASE("builder::DockerBuild stops on cancel and on timeout, leaving no docker process") {
  Workspace work;
  builder::DockerBuild docker(work.options(shared().engine.endpoint()));
  // A duration of its own, so the RUN's process is told apart from anything else running.
  auto request = work.request(shared().host() + "/apps/slow:1",
                              "FROM " + shared().pinned_base() + "\nRUN echo start-sleep && sleep 67\n", "slow");
  request.no_cache = true;

  SUBCASE("a stop request during RUN returns cancelled within seconds") {
    CancelSource source;
    auto building = std::async(std::launch::async, [&] { return docker.build_and_push(request, source.get_token()); });
    REQUIRE(test::wait_for_text(request.log_path, "start-sleep", 60s));
    auto cancelled_at = Clock::now();
    source.request_stop();
    auto built = building.get();
    double took = seconds_since(cancelled_at);
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::cancelled);
    CHECK(took < 3);
    MESSAGE("cancel to return: " << took << " s");
    CHECK(test::processes_mentioning((work.dir / "state").string()).empty());  // the client
    CHECK(gone_within("sleep 67", 10s));  // the engine dropped the RUN
  }
  SUBCASE("the request's timeout covers the build") {
    request.timeout = 3s;
    auto start = Clock::now();
    auto built = cascade::test::build_retrying(docker, request);
    double took = seconds_since(start);
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::timed_out);
    CHECK(took < 6);
    CHECK(test::processes_mentioning((work.dir / "state").string()).empty());
    CHECK(gone_within("sleep 67", 10s));
  }
}
