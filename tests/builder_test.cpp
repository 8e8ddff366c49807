// The buildah backend against real buildah and a real docker-registry on 127.0.0.1. Each test
// case has its own buildah storage; they share one registry and one base image pushed to it.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "builder_fixture.hpp"
#include "cascade/builder.hpp"

namespace {

using namespace cascade;
using namespace std::chrono_literals;
using builder::Error;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

builder::BuildRequest request_for(const test::BuildahSandbox& sandbox, const std::string& image,
                                  const std::string& dockerfile, const std::string& context, const std::string& name) {
  builder::BuildRequest request;
  request.run_id = "test-" + name;
  request.image = image;
  request.context_dir = context;
  request.dockerfile_text = dockerfile;
  request.log_path = sandbox.log(name);
  request.timeout = 120s;
  return request;
}

// One registry for the whole program, and a busybox base image pushed to it as base:1.
using Shared = test::RegistryWithBase;

Shared& shared() {
  static Shared instance;
  return instance;
}

std::string text_of(const nlohmann::json& value) { return value.is_string() ? value.get<std::string>() : ""; }

}  // namespace

TEST_CASE("builder::Buildah builds and pushes a base image") {
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({shared().host()}));
  CHECK(buildah.name() == "buildah");
  auto request = request_for(sandbox, shared().host() + "/fresh/base:7", test::busybox_dockerfile("HEALTHCHECK CMD true\n"),
                             sandbox.context("ctx"), "fresh");
  request.labels = {{"org.opencontainers.image.base.digest", "none"}, {"cascade.run", "run 42"}};
  auto built = cascade::test::build_retrying(buildah, request);
  REQUIRE_MESSAGE(built, built.error().message);

  SUBCASE("the digest returned is the one the registry serves") {
    auto seen = test::skopeo_inspect(shared().host() + "/fresh/base:7");
    CHECK(text_of(seen["Digest"]) == built->digest);
    CHECK(built->image_id.rfind("sha256:", 0) == 0);
    CHECK(built->image_id.size() == 71);
    auto config = test::skopeo_inspect(shared().host() + "/fresh/base@" + built->digest, true);
    CHECK(text_of(config["config"]["Labels"]["cascade.run"]) == "run 42");
    CHECK(text_of(config["config"]["Labels"]["org.opencontainers.image.base.digest"]) == "none");
  }
  SUBCASE("the log holds each command and the whole output") {
    std::string log = test::read_file(request.log_path);
    CHECK(log.find("=== cascade buildah: " + request.image) != std::string::npos);
    CHECK(log.find("$ buildah --root") != std::string::npos);
    CHECK(log.find("STEP 1/") != std::string::npos);
    CHECK(log.find("Writing manifest to image destination") != std::string::npos);
    CHECK(log.find("cascade: pushed " + request.image + "@" + built->digest) != std::string::npos);
    CHECK(built->build_seconds > 0);
    CHECK(built->push_seconds > 0);
  }
  SUBCASE("the manifest is docker's, so HEALTHCHECK survives") {
    auto raw = test::run({"skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + request.image});
    CHECK(raw.out.find("application/vnd.docker.distribution.manifest.v2+json") != std::string::npos);
    auto config = test::skopeo_inspect(request.image, true);
    CHECK(config["config"]["Healthcheck"]["Test"] == nlohmann::json::array({"CMD-SHELL", "true"}));
  }
}

TEST_CASE("builder::Buildah builds on exactly the pinned digest after the tag moved") {
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({shared().host()}));
  // Move base:1 to a different image (a concurrent push), built in this very storage, so the
  // local tag points at the new image too.
  auto moved = buildah.build_and_push(request_for(sandbox, shared().host() + "/base:1",
                                                  test::busybox_dockerfile("RUN echo two > /v2\n"),
                                                  sandbox.context("v2"), "v2"), {});
  REQUIRE_MESSAGE(moved, moved.error().message);
  REQUIRE(moved->digest != shared().base_digest);
  REQUIRE(text_of(test::skopeo_inspect(shared().host() + "/base:1")["Digest"]) == moved->digest);

  std::string dockerfile = "FROM " + shared().pinned_base() + "\nRUN test -e /v1 && test ! -e /v2 && echo pinned > /app\n";
  auto derived = buildah.build_and_push(request_for(sandbox, shared().host() + "/apps/derived:1", dockerfile,
                                                    sandbox.context("app"), "derived"), {});
  REQUIRE_MESSAGE(derived, derived.error().message);
  auto base_layers = test::skopeo_inspect(shared().pinned_base())["Layers"];
  auto moved_layers = test::skopeo_inspect(shared().host() + "/base@" + moved->digest)["Layers"];
  auto derived_layers = test::skopeo_inspect(shared().host() + "/apps/derived@" + derived->digest)["Layers"];
  REQUIRE(derived_layers.size() == base_layers.size() + 1);
  for (std::size_t i = 0; i < base_layers.size(); ++i) CHECK(derived_layers[i] == base_layers[i]);
  CHECK(derived_layers[base_layers.size() - 1] != moved_layers[moved_layers.size() - 1]);
}

TEST_CASE("builder::Buildah honours build args, target and labels") {
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({shared().host()}));
  std::string from = "FROM " + shared().pinned_base();
  std::string dockerfile = from + " AS one\nARG GREETING=unset\nRUN test \"$GREETING\" = hello\n"
                           "LABEL stage=one greeting=$GREETING\n" +
                           from + " AS two\nLABEL stage=two\n";
  auto request = request_for(sandbox, shared().host() + "/apps/staged:1", dockerfile, sandbox.context("ctx"), "staged");
  request.target = "one";
  request.build_args = {{"GREETING", "hello"}};
  request.labels = {{"cascade.base", shared().base_digest}};
  auto built = cascade::test::build_retrying(buildah, request);
  REQUIRE_MESSAGE(built, built.error().message);
  auto labels = test::skopeo_inspect(shared().host() + "/apps/staged@" + built->digest)["Labels"];
  CHECK(text_of(labels["stage"]) == "one");
  CHECK(text_of(labels["greeting"]) == "hello");
  CHECK(text_of(labels["cascade.base"]) == shared().base_digest);
  std::string log = test::read_file(request.log_path);
  CHECK(log.find("--build-arg GREETING ") != std::string::npos);  // the value is not on the command line
}

TEST_CASE("builder::Buildah build-arg values stay out of ps while the build sees them") {
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({shared().host()}));
  const std::string secret = "s3cret-" + std::to_string(::getpid()) + "-value";
  // RUN stays alive for a while so the test can look at every process's command line during
  // the build; the label shows the value the build saw (the Dockerfile never names it).
  std::string dockerfile = "FROM " + shared().pinned_base() + "\nARG NPM_TOKEN\n" +
                           "RUN test -n \"$NPM_TOKEN\" && echo build-arg-seen && sleep 4\nLABEL seen=$NPM_TOKEN\n";
  auto request = request_for(sandbox, shared().host() + "/apps/secretarg:1", dockerfile, sandbox.context("ctx"), "secretarg");
  request.build_args = {{"NPM_TOKEN", secret}};
  auto build = std::async(std::launch::async, [&] { return buildah.build_and_push(request, {}); });
  bool seen = test::wait_for_text(request.log_path, "build-arg-seen", 120s);
  std::vector<std::string> leaking = test::processes_mentioning(secret);
  auto built = build.get();
  REQUIRE_MESSAGE(built, built.error().message);
  CHECK(seen);
  CHECK(text_of(test::skopeo_inspect(request.image, true)["config"]["Labels"]["seen"]) == secret);
  CHECK_MESSAGE(leaking.empty(), (leaking.empty() ? std::string() : leaking.front()));
  CHECK(test::read_file(request.log_path).find("--build-arg NPM_TOKEN ") != std::string::npos);
}

TEST_CASE("builder::Buildah registries.conf") {
  test::BuildahSandbox sandbox;
  std::string dockerfile = "FROM " + shared().pinned_base() + "\nRUN true\n";
  auto request = request_for(sandbox, shared().host() + "/apps/conf:1", dockerfile, sandbox.context("ctx"), "conf");
  SUBCASE("a configured file is used for pulls and pushes, alone or with insecure hosts it already names") {
    auto options = sandbox.options({});
    options.registries_conf = (sandbox.path() / "registries.conf").string();
    test::write_file(options.registries_conf, "[[registry]]\nlocation = \"" + shared().host() + "\"\ninsecure = true\n");
    auto built = builder::Buildah(options).build_and_push(request, {});
    CHECK_MESSAGE(built, built.error().message);
    options.insecure_registries = {shared().host()};
    auto again = builder::Buildah(options).build_and_push(request, {});
    CHECK_MESSAGE(again, again.error().message);
  }
  SUBCASE("without insecure hosts, plain http fails with a rejection, not a retryable error") {
    auto built = builder::Buildah(sandbox.options({})).build_and_push(request, {});
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::build_failed);
    CHECK(built.error().message.find("server gave HTTP response to HTTPS client") != std::string::npos);
  }
}

TEST_CASE("builder::Buildah reports a failing RUN as BuildFailed with the log's end") {
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({shared().host()}));
  std::string dockerfile = "FROM " + shared().pinned_base() + "\nRUN echo first-step-output\n"
                           "RUN echo about-to-fail-7f3a; exit 3\n";
  auto request = request_for(sandbox, shared().host() + "/apps/broken:1", dockerfile, sandbox.context("ctx"), "broken");
  auto built = cascade::test::build_retrying(buildah, request);
  REQUIRE_FALSE(built);
  CHECK(built.error().kind == Error::Kind::build_failed);
  CHECK_FALSE(built.error().transient());
  const std::string& message = built.error().message;
  CHECK(message.rfind(request.image + ": buildah bud failed", 0) == 0);
  CHECK(message.find("about-to-fail-7f3a") != std::string::npos);
  CHECK(message.find(request.log_path) != std::string::npos);
  std::string log = test::read_file(request.log_path);
  CHECK(log.find("first-step-output") != std::string::npos);
  CHECK(log.find("STEP 1/3: FROM " + shared().pinned_base()) != std::string::npos);
  CHECK(log.find("buildah push") == std::string::npos);  // nothing pushed
}

TEST_CASE("builder::Buildah network failures are transient") {
  test::BuildahSandbox sandbox;
  std::string down = "127.0.0.1:" + std::to_string(test::free_port());
  builder::Buildah buildah(sandbox.options({shared().host(), down}));
  std::string dockerfile = "FROM " + shared().pinned_base() + "\nRUN true\n";

  SUBCASE("pushing to a registry that is down is PushFailed") {
    auto built = cascade::test::build_retrying(buildah, request_for(sandbox, down + "/apps/a:1", dockerfile, sandbox.context("ctx"), "down"));
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::push_failed);
    CHECK(built.error().transient());
    CHECK(built.error().message.find("connection refused") != std::string::npos);
  }
  SUBCASE("a registry answering 503 is PushFailed, one answering 401 is PushRejected") {
    auto answer = std::make_shared<std::atomic<int>>(503);
    test::ScriptedServer server([answer](const test::Received&) { return test::Reply{answer->load(), {}, "{}"}; });
    builder::Buildah to_server(sandbox.options({shared().host(), server.host()}));
    auto request = request_for(sandbox, server.host() + "/apps/a:1", dockerfile, sandbox.context("ctx"), "scripted");
    auto unavailable = cascade::test::build_retrying(to_server, request);
    REQUIRE_FALSE(unavailable);
    CHECK_MESSAGE(unavailable.error().kind == Error::Kind::push_failed, unavailable.error().message);
    answer->store(401);
    auto unauthorized = cascade::test::build_retrying(to_server, request);
    REQUIRE_FALSE(unauthorized);
    CHECK_MESSAGE(unauthorized.error().kind == Error::Kind::push_rejected, unauthorized.error().message);
    CHECK_FALSE(unauthorized.error().transient());
  }
  SUBCASE("a base whose registry is down is PullFailed") {
    std::string from_down = "FROM " + down + "/base@" + shared().base_digest + "\nRUN true\n";
    auto built = buildah.build_and_push(request_for(sandbox, shared().host() + "/apps/b:1", from_down,
                                                    sandbox.context("ctx"), "pull"), {});
    REQUIRE_FALSE(built);
    CHECK_MESSAGE(built.error().kind == Error::Kind::pull_failed, built.error().message);
    CHECK(built.error().transient());
  }
}

TEST_CASE("builder::Buildah stops on cancel and on timeout") {
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({shared().host()}));
  std::string dockerfile = "FROM " + shared().pinned_base() + "\nRUN sleep 30\n";
  auto request = request_for(sandbox, shared().host() + "/apps/slow:1", dockerfile, sandbox.context("ctx"), "slow");

  SUBCASE("a cancel during RUN returns Cancelled within about 2 s and leaves nothing running") {
    CancelSource source;
    auto building = std::async(std::launch::async, [&] { return buildah.build_and_push(request, source.get_token()); });
    REQUIRE(test::wait_for_text(request.log_path, "RUN sleep 30", 30s));
    std::this_thread::sleep_for(500ms);  // inside the RUN
    auto cancelled_at = Clock::now();
    source.request_stop();
    auto built = building.get();
    double took = seconds_since(cancelled_at);
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::cancelled);
    CHECK(took < 2.5);
    MESSAGE("cancel to return: " << took << " s");
    CHECK(test::processes_mentioning(sandbox.path().string()).empty());
  }
  SUBCASE("a cancel before the start runs nothing") {
    CancelSource source;
    source.request_stop();
    auto built = buildah.build_and_push(request, source.get_token());
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::cancelled);
    CHECK(test::read_file(request.log_path).find("STEP") == std::string::npos);
  }
  SUBCASE("the request's timeout covers the build") {
    request.timeout = 3s;
    auto start = Clock::now();
    auto built = cascade::test::build_retrying(buildah, request);
    double took = seconds_since(start);
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::timed_out);
    CHECK_FALSE(built.error().transient());
    CHECK(took < 6);
    CHECK(test::processes_mentioning(sandbox.path().string()).empty());
  }
}

TEST_CASE("builder::Buildah set-up failures") {
  test::BuildahSandbox sandbox;
  auto request = request_for(sandbox, shared().host() + "/apps/x:1", test::busybox_dockerfile(), sandbox.context("ctx"), "setup");
  SUBCASE("a context folder that does not exist") {
    request.context_dir = (sandbox.path() / "missing").string();
    auto built = builder::Buildah(sandbox.options({})).build_and_push(request, {});
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::setup);
    CHECK(built.error().message.find("missing") != std::string::npos);
  }
  SUBCASE("a buildah that is not installed") {
    auto options = sandbox.options({});
    options.program = "cascade-no-such-buildah";
    auto built = builder::Buildah(options).build_and_push(request, {});
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::setup);
    CHECK(built.error().message.find("cascade-no-such-buildah") != std::string::npos);
  }
  SUBCASE("an auth file that does not exist") {
    auto options = sandbox.options({});
    options.auth_file = (sandbox.path() / "no-config.json").string();
    auto built = builder::Buildah(options).build_and_push(request, {});
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::setup);
    CHECK(built.error().message.find("no-config.json") != std::string::npos);
  }
  SUBCASE("the per-build work folder is removed afterwards") {
    auto options = sandbox.options({});
    auto built = builder::Buildah(options).build_and_push(request, {});
    CHECK(fs::is_empty(options.work_dir));
  }
}

TEST_CASE("builder::Buildah per-build overhead" * doctest::description("timing; prints, checks loosely")) {
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({shared().host()}));
  std::string dockerfile = "FROM " + shared().pinned_base() + "\nRUN sleep 1\n";
  std::string context = sandbox.context("ctx");
  double total_overhead = 0;
  constexpr int kBuilds = 3;
  for (int i = 0; i < kBuilds; ++i) {
    auto request = request_for(sandbox, shared().host() + "/apps/tiny:" + std::to_string(i), dockerfile, context,
                               "tiny" + std::to_string(i));
    auto start = Clock::now();
    auto built = cascade::test::build_retrying(buildah, request);
    double wall = seconds_since(start);
    REQUIRE_MESSAGE(built, built.error().message);
    MESSAGE("build " << i << ": wall " << wall << " s (build " << built->build_seconds << " s, push "
                     << built->push_seconds << " s), overhead " << wall - 1.0 << " s");
    total_overhead += wall - 1.0;
  }
  MESSAGE("mean overhead (wall minus RUN sleep 1): " << total_overhead / kBuilds << " s");
  CHECK(total_overhead / kBuilds < 10);
}
