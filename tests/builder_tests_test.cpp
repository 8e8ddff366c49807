// `test:` commands run in the freshly built image before the push: real buildah (amd64, and
// arm64 under qemu) and a real dockerd, a real docker-registry on 127.0.0.1 that is read
// back to prove nothing was pushed after a failure; buildctl refusing tests; the argument
// vectors and the checks that need no engine.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "../src/builder/internal.hpp"
#include "builder_fixture.hpp"
#include "cascade/builder.hpp"
#include "dockerd_fixture.hpp"

namespace {

using namespace cascade;
using namespace std::chrono_literals;
using builder::Error;
using builder::TestCommand;
using Args = std::vector<std::string>;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

test::DockerRegistry& registry_server() {
  static test::DockerRegistry instance;
  return instance;
}

const TestCommand kBroken{{"/bin/sh", "-c", "echo broken-output; exit 3"}, 60s};

// A busybox image whose entrypoint fails: a test wrapped by it would fail too.
builder::BuildRequest tested_request(const test::BuildahSandbox& sandbox, const std::string& repository,
                                     std::vector<TestCommand> tests) {
  builder::BuildRequest request;
  request.run_id = "tests-" + repository;
  request.image = registry_server().host() + "/apps/" + repository + ":1";
  request.context_dir = sandbox.context("ctx-" + repository);
  request.dockerfile_text = test::busybox_dockerfile("RUN echo built > /marker\nENTRYPOINT [\"/bin/false\"]\n");
  request.log_path = sandbox.log(repository);
  request.timeout = 300s;
  request.tests = std::move(tests);
  return request;
}

// The working containers in the sandbox's buildah storage.
std::string buildah_containers(const builder::Buildah& buildah) {
  const auto& options = buildah.options();
  auto listed = test::run({"buildah", "--root", options.root, "--runroot", options.runroot, "--storage-driver", "vfs",
                           "containers", "--all", "--format", "{{.ContainerName}}"});
  REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
  return listed.out;
}

// The registry neither holds the tag nor was ever sent a manifest for the repository.
void check_not_pushed(const std::string& repository) {
  CHECK(registry_server().manifest_puts("apps/" + repository) == 0);
  auto inspected = test::run({"skopeo", "inspect", "--raw", "--tls-verify=false",
                              "docker://" + registry_server().host() + "/apps/" + repository + ":1"});
  CHECK(inspected.exit_code != 0);
}

std::size_t position(const std::string& text, const std::string& needle) {
  auto at = text.find(needle);
  INFO("looking for: " << needle);
  CHECK(at != std::string::npos);
  return at;
}

}  // namespace

TEST_CASE("builder test: argument vectors and checks") {
  builder::BuildahOptions options;
  options.root = "/r";
  options.runroot = "/rr";
  Args global = {"buildah", "--root", "/r", "--runroot", "/rr", "--storage-driver", "vfs"};
  TestCommand test{{"/bin/sh", "-c", "echo 'a b'; exit 3"}, 30s};
  auto with = [](Args start, const Args& more) {
    start.insert(start.end(), more.begin(), more.end());
    return start;
  };

  SUBCASE("buildah: a container of the image from local storage, the argv after --, no shell of cascade's") {
    CHECK(builder::detail::buildah_test_from_argv(options, "sha256:abc", "cascade-test-1") ==
          with(global, {"from", "--pull=never", "--quiet", "--name", "cascade-test-1", "sha256:abc"}));
    CHECK(builder::detail::buildah_test_run_argv(options, "cascade-test-1", test) ==
          with(global, {"run", "--isolation", "chroot", "cascade-test-1", "--", "/bin/sh", "-c", "echo 'a b'; exit 3"}));
    CHECK(builder::detail::buildah_test_rm_argv(options, "cascade-test-1") == with(global, {"rm", "cascade-test-1"}));
  }
  SUBCASE("docker: the argv's first word replaces the entrypoint, the rest is the command") {
    builder::detail::DockerTestEngine engine{{"/usr/bin/docker", "-H", "unix:///d.sock"}, "none", "unix:///d.sock", {}};
    CHECK(builder::detail::docker_test_run_argv(engine, "sha256:abc", "cascade-test-2", test) ==
          Args{"/usr/bin/docker", "-H", "unix:///d.sock", "run", "--rm", "--pull", "never", "--name", "cascade-test-2",
               "--network", "none", "--entrypoint", "/bin/sh", "sha256:abc", "-c", "echo 'a b'; exit 3"});
    engine.network.clear();
    auto argv = builder::detail::docker_test_run_argv(engine, "sha256:abc", "c", {{"true"}, 1s});
    CHECK(argv == Args{"/usr/bin/docker", "-H", "unix:///d.sock", "run", "--rm", "--pull", "never", "--name", "c",
                       "--entrypoint", "true", "sha256:abc"});
  }
  SUBCASE("timeouts as messages say them") {
    CHECK(builder::detail::duration_text(30s) == "30s");
    CHECK(builder::detail::duration_text(5min) == "5m");
    CHECK(builder::detail::duration_text(2h) == "2h");
    CHECK(builder::detail::duration_text(1500ms) == "1500ms");
    CHECK(builder::detail::duration_text(90s) == "90s");
  }
  SUBCASE("a test without a command or with no time is refused before anything is built") {
    builder::BuildRequest request;
    request.image = "registry.example.com/apps/shop:1";
    request.tests = {{{"true"}, 1s}, {{}, 1s}};
    auto empty = builder::detail::check_tests(request);
    REQUIRE_FALSE(empty);
    CHECK(empty.error().kind == Error::Kind::setup);
    CHECK(empty.error().message == "registry.example.com/apps/shop:1: test 2 of 2 has no command");
    request.tests = {{{"true"}, 0ms}};
    auto no_time = builder::detail::check_tests(request);
    REQUIRE_FALSE(no_time);
    CHECK(no_time.error().message.find("test 1 of 1 has a timeout of 0ms") != std::string::npos);
    request.tests = {{{"true"}, 1s}};
    CHECK(builder::detail::check_tests(request));
  }
  SUBCASE("a failed test is not worth retrying") {
    CHECK_FALSE(Error{Error::Kind::test_failed, ""}.transient());
    CHECK(builder::kind_name(Error::Kind::test_failed) == "test-failed");
  }
}

TEST_CASE("builder::Buildah runs passing tests in the built image, in order, then pushes") {
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({registry_server().host()}));
  auto request = tested_request(sandbox, "tested", {{{"/bin/sh", "-c", "echo first-test-ran; test -e /marker"}, 60s},
                                                    {{"cat", "/marker"}, 60s},
                                                    {{"/bin/sh", "-c", "echo third-test-ran"}, 60s}});
  auto built = test::build_retrying(buildah, request);
  REQUIRE_MESSAGE(built, built.error().message);

  auto served = test::skopeo_inspect(request.image);
  CHECK(served["Digest"].get<std::string>() == built->digest);
  std::string log = test::read_file(request.log_path);
  // Each test under its header, in order, each before the push; the entrypoint (/bin/false) did not wrap them.
  std::size_t first = position(log, "=== cascade test 1 of 3: " + request.image + ": /bin/sh -c 'echo first-test-ran;");
  std::size_t first_output = position(log, "\nfirst-test-ran\n");
  std::size_t second = position(log, "=== cascade test 2 of 3: " + request.image + ": cat /marker (timeout 1m) ===");
  std::size_t second_output = position(log, "\nbuilt\n");
  std::size_t third_output = position(log, "\nthird-test-ran\n");
  std::size_t push = position(log, " push ");
  CHECK(first < first_output);
  CHECK(first_output < second);
  CHECK(second < second_output);
  CHECK(second_output < third_output);
  CHECK(third_output < push);
  CHECK(log.find("cascade: test 3 of 3 passed in ") != std::string::npos);
  CHECK(log.find(" run --isolation chroot cascade-test-") != std::string::npos);
  CHECK(buildah_containers(buildah).empty());  // every test's container removed
}

TEST_CASE("builder::Buildah stops at the first failing test and pushes nothing") {
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({registry_server().host()}));
  auto request = tested_request(sandbox, "broken", {{{"true"}, 60s}, kBroken, {{"/bin/sh", "-c", "echo third-ran"}, 60s}});
  auto built = test::build_retrying(buildah, request);
  REQUIRE_FALSE(built);
  const Error& error = built.error();
  CHECK_MESSAGE(error.kind == Error::Kind::test_failed, error.message);
  CHECK_FALSE(error.transient());
  std::string first_line = error.message.substr(0, error.message.find('\n'));
  CHECK(first_line == request.image + ": test 2 of 3 failed: `/bin/sh -c 'echo broken-output; exit 3'` exited with code 3");
  CHECK(error.message.find("\nlast lines of " + request.log_path + ":") != std::string::npos);
  CHECK(error.message.find("\n  broken-output") != std::string::npos);

  check_not_pushed("broken");
  std::string log = test::read_file(request.log_path);
  CHECK(log.find("broken-output") != std::string::npos);
  CHECK(log.find("cascade: test 2 of 3 failed: exit code 3; nothing is pushed") != std::string::npos);
  CHECK(log.find("third-ran") == std::string::npos);  // never started
  CHECK(log.find(" push ") == std::string::npos);
  CHECK(buildah_containers(buildah).empty());
}

TEST_CASE("builder::Buildah stops a test at its timeout and pushes nothing") {
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({registry_server().host()}));
  auto request = tested_request(sandbox, "slow", {{{"/bin/sh", "-c", "echo slow-test-started; sleep 600"}, 1s}});
  auto start = Clock::now();
  auto built = test::build_retrying(buildah, request);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  REQUIRE_FALSE(built);
  CHECK_MESSAGE(built.error().kind == Error::Kind::test_failed, built.error().message);
  CHECK(built.error().message.rfind(request.image + ": test 1 of 1 failed: `/bin/sh -c 'echo slow-test-started; sleep 600'` "
                                    "timed out after 1s\n", 0) == 0);
  CHECK(built.error().message.find("slow-test-started") != std::string::npos);
  CHECK(seconds < 300);  // the build, then a second of test and the kill grace: not the sleep's ten minutes
  check_not_pushed("slow");
  CHECK(buildah_containers(buildah).empty());
  CHECK(test::processes_mentioning(sandbox.path().string()).empty());  // the sleep went with its container
}

TEST_CASE("builder::Buildah cancelled during a test removes its container and pushes nothing") {
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({registry_server().host()}));
  auto request = tested_request(sandbox, "cancelled", {{{"/bin/sh", "-c", "echo waiting-test; sleep 60"}, 120s}});
  CancelSource source;
  std::thread canceller([&] {
    if (test::wait_for_text(request.log_path, "waiting-test", 120s)) source.request_stop();
  });
  auto built = buildah.build_and_push(request, source.get_token());
  source.request_stop();
  canceller.join();
  REQUIRE_FALSE(built);
  CHECK_MESSAGE(built.error().kind == Error::Kind::cancelled, built.error().message);
  check_not_pushed("cancelled");
  CHECK(buildah_containers(buildah).empty());
  CHECK(test::processes_mentioning(sandbox.path().string()).empty());
}

TEST_CASE("builder::Buildah tests each platform's image, the foreign one under emulation") {
  const char* arm64_busybox = "/var/cache/cascade/arm64/busybox";
  REQUIRE_MESSAGE(fs::is_regular_file(arm64_busybox), arm64_busybox << " is missing: run scripts/setup.sh");
  test::BuildahSandbox sandbox;
  builder::Buildah buildah(sandbox.options({registry_server().host()}));
  fs::path context = sandbox.path() / "ctx-platforms";
  fs::create_directories(context);
  fs::copy_file("/usr/bin/busybox", context / "busybox-amd64");
  fs::copy_file(arm64_busybox, context / "busybox-arm64");
  auto request_for = [&](const std::string& repository, std::vector<TestCommand> tests) {
    auto request = tested_request(sandbox, repository, std::move(tests));
    request.context_dir = context.string();
    request.dockerfile_text = "FROM scratch\nARG TARGETARCH\nCOPY busybox-${TARGETARCH} /bin/busybox\n"
                              "RUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n";
    request.platforms = {{"linux/amd64", {}}, {"linux/arm64", {}}};
    return request;
  };

  SUBCASE("a test passing on both: the index is pushed, each platform's run in the log") {
    auto request = request_for("multi-tested", {{{"/bin/sh", "-c", "echo machine=$(uname -m)"}, 120s}});
    auto built = test::build_retrying(buildah, request);
    REQUIRE_MESSAGE(built, built.error().message);
    CHECK(test::skopeo_inspect(request.image)["Digest"].get<std::string>() != "");
    std::string log = test::read_file(request.log_path);
    std::size_t amd64 = position(log, "=== cascade test 1 of 1 on linux/amd64: ");
    std::size_t x86 = position(log, "\nmachine=x86_64\n");
    std::size_t arm64 = position(log, "=== cascade test 1 of 1 on linux/arm64: ");
    std::size_t aarch64 = position(log, "\nmachine=aarch64\n");
    std::size_t push = position(log, "manifest push --all");
    CHECK(amd64 < x86);
    CHECK(x86 < arm64);
    CHECK(arm64 < aarch64);
    CHECK(aarch64 < push);
  }
  SUBCASE("a test failing on arm64 only: test-failed naming the platform, nothing pushed") {
    auto request = request_for("multi-broken", {{{"/bin/sh", "-c", "uname -m; test \"$(uname -m)\" != aarch64"}, 120s}});
    auto built = test::build_retrying(buildah, request);
    REQUIRE_FALSE(built);
    CHECK_MESSAGE(built.error().kind == Error::Kind::test_failed, built.error().message);
    CHECK(built.error().message.rfind(request.image + ": test 1 of 1 failed on linux/arm64: `", 0) == 0);
    CHECK(built.error().message.find("` exited with code 1\n") != std::string::npos);
    CHECK(built.error().message.find("aarch64") != std::string::npos);
    check_not_pushed("multi-broken");
    CHECK(test::read_file(request.log_path).find("manifest create") == std::string::npos);
  }
  CHECK(buildah_containers(buildah).empty());
}

TEST_CASE("builder::Buildctl refuses a request with tests: BuildKit pushes from inside") {
  test::TempDir dir;
  fs::create_directories(dir / "ctx");
  builder::BuildRequest request;
  request.image = "registry.example.com/apps/shop:1";
  request.context_dir = (dir / "ctx").string();
  request.dockerfile_text = "FROM scratch\n";
  request.log_path = (dir / "build.log").string();
  request.tests = {{{"true"}, 1s}};
  builder::BuildctlOptions options;
  options.program = (dir / "no-such-buildctl").string();  // never run
  options.addr = "tcp://buildkitd.example:1234";
  builder::Buildctl buildctl(options);
  auto built = buildctl.build_and_push(request, {});
  REQUIRE_FALSE(built);
  CHECK(built.error().kind == Error::Kind::setup);
  CHECK(built.error().message.rfind("registry.example.com/apps/shop:1: test: needs a buildah or docker worker; this "
                                    "build went to a buildkit worker (buildctl at tcp://buildkitd.example:1234)", 0) == 0);
  CHECK_FALSE(fs::exists(request.log_path));  // nothing ran
}

TEST_CASE("builder::DockerBuild runs the tests between its build and its push") {
  static test::DockerEngine engine;
  test::TempDir dir;
  builder::DockerOptions options;
  options.host = engine.endpoint();
  options.network = "none";  // the engine runs without a bridge
  options.state_dir = (dir / "state").string();
  options.docker_config_dir = (dir / "docker-config").string();
  options.kill_grace = 1500ms;
  builder::DockerBuild docker(options);
  test::BuildahSandbox sandbox;  // only for its busybox context
  auto containers = [&] { return engine.docker({"ps", "--all", "--quiet"}); };

  SUBCASE("passing tests, with the image's entrypoint replaced: pushed") {
    auto request = tested_request(sandbox, "docker-tested", {{{"cat", "/marker"}, 60s},
                                                              {{"/bin/sh", "-c", "echo docker-test-ran"}, 60s}});
    auto built = test::build_retrying(docker, request);
    REQUIRE_MESSAGE(built, built.error().message);
    CHECK(test::skopeo_inspect(request.image)["Digest"].get<std::string>() == built->digest);
    std::string log = test::read_file(request.log_path);
    CHECK(position(log, "\ndocker-test-ran\n") < position(log, " push " + request.image));
    CHECK(log.find("run --rm --pull never --name cascade-test-") != std::string::npos);
    CHECK(containers().empty());
  }
  SUBCASE("a failing test: test-failed with its output, nothing pushed") {
    auto request = tested_request(sandbox, "docker-broken", {kBroken, {{"true"}, 60s}});
    auto built = test::build_retrying(docker, request);
    REQUIRE_FALSE(built);
    CHECK_MESSAGE(built.error().kind == Error::Kind::test_failed, built.error().message);
    CHECK(built.error().message.rfind(request.image + ": test 1 of 2 failed: `/bin/sh -c 'echo broken-output; exit 3'` "
                                      "exited with code 3\n", 0) == 0);
    CHECK(built.error().message.find("broken-output") != std::string::npos);
    check_not_pushed("docker-broken");
    CHECK(containers().empty());
  }
  SUBCASE("a test past its timeout: its container removed, nothing pushed") {
    auto request = tested_request(sandbox, "docker-slow", {{{"sleep", "60"}, 1s}});
    auto built = test::build_retrying(docker, request);
    REQUIRE_FALSE(built);
    CHECK_MESSAGE(built.error().kind == Error::Kind::test_failed, built.error().message);
    CHECK(built.error().message.find("`sleep 60` timed out after 1s") != std::string::npos);
    check_not_pushed("docker-slow");
    CHECK(containers().empty());
  }
}
