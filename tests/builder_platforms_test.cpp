// Multi-platform builds: real buildah building linux/amd64 and linux/arm64 (the arm64 RUN
// steps under qemu emulation, registered in binfmt_misc by scripts/setup.sh), pushed as one
// index to a real docker-registry and read back with registry::Client; the command sequence
// and its failure paths through a stand-in buildah; docker and buildctl refusing platforms.
#include <doctest/doctest.h>

#include <chrono>

#include "builder_fixture.hpp"
#include "cascade/builder.hpp"
#include "cascade/registry.hpp"

namespace {

using namespace cascade;
using namespace std::chrono_literals;
using builder::Error;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

const char* const kArm64Busybox = "/var/cache/cascade/arm64/busybox";  // Debian's busybox-static:arm64 (scripts/setup.sh)
const char* const kAmd64Busybox = "/usr/bin/busybox";

// The busybox of each platform, chosen by the ARG buildah sets per platform.
const std::string kDockerfile = "FROM scratch\nARG TARGETARCH\nCOPY busybox-${TARGETARCH} /bin/busybox\n"
                                "RUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\nRUN uname -m > /arch\n";

test::DockerRegistry& registry_server() {
  static test::DockerRegistry instance;
  return instance;
}

// A context with both busyboxes; fails the test, saying how to get them, when one is missing.
std::string two_platform_context(const test::BuildahSandbox& sandbox) {
  for (const char* busybox : {kAmd64Busybox, kArm64Busybox})
    REQUIRE_MESSAGE(fs::is_regular_file(busybox), std::string(busybox) << " is missing: run scripts/setup.sh (it fetches Debian's "
                                                             "busybox-static for arm64 and registers qemu in binfmt_misc)");
  fs::path context = sandbox.path() / "ctx";
  fs::create_directories(context);
  fs::copy_file(kAmd64Busybox, context / "busybox-amd64", fs::copy_options::overwrite_existing);
  fs::copy_file(kArm64Busybox, context / "busybox-arm64", fs::copy_options::overwrite_existing);
  return context.string();
}

builder::BuildRequest two_platform_request(const test::BuildahSandbox& sandbox, const std::string& image,
                                           const std::string& dockerfile, const std::string& name) {
  builder::BuildRequest request;
  request.run_id = "test-" + name;
  request.image = image;
  request.context_dir = two_platform_context(sandbox);
  request.dockerfile_text = dockerfile;
  request.log_path = sandbox.log(name);
  request.timeout = 300s;
  request.labels = {{"cascade.run", "run 7"}, {"cascade.base", "index"}};
  request.platforms = {{"linux/amd64", {{"cascade.base", "amd64-child"}}}, {"linux/arm64", {{"cascade.base", "arm64-child"}}}};
  return request;
}

registry::Client client_for(const std::string& host, const test::TempDir& dir, const std::string& architecture = "amd64") {
  registry::Options options;
  options.registries = {{host, true, ""}};
  options.docker_config = (dir / "no-config.json").string();
  options.read_auth_config_env = false;
  options.platform_architecture = architecture;
  return registry::Client(options);
}

// What `cat /arch` prints in a container of `image` (pulled into a storage of its own).
std::string arch_file_of(const std::string& image, const std::string& platform) {
  test::TempDir storage;
  std::vector<std::string> buildah = {"buildah", "--root", (storage / "root").string(), "--runroot",
                                      (storage / "runroot").string(), "--storage-driver", "vfs"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), buildah.begin(), buildah.end());
    return test::run_build(args);
  };
  auto from = with({"from", "--tls-verify=false", "--platform", platform, "--quiet", "docker://" + image});
  REQUIRE_MESSAGE(from.exit_code == 0, from.err);
  std::string container = from.out.substr(0, from.out.find('\n'));
  auto cat = with({"run", "--isolation", "chroot", container, "cat", "/arch"});
  with({"rm", container});
  REQUIRE_MESSAGE(cat.exit_code == 0, cat.err);
  return cat.out.substr(0, cat.out.find('\n'));
}

}  // namespace

TEST_CASE("builder::Buildah builds two platforms under emulation and pushes one index") {
  test::BuildahSandbox sandbox;
  const std::string host = registry_server().host();
  builder::Buildah buildah(sandbox.options({host}));
  auto request = two_platform_request(sandbox, host + "/apps/multi:1", kDockerfile, "multi");
  auto start = Clock::now();
  auto built = test::build_retrying(buildah, request);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  REQUIRE_MESSAGE(built, built.error().message);
  MESSAGE("two-platform build and push: " << seconds << " s (builds " << built->build_seconds << " s, push "
                                          << built->push_seconds << " s)");

  // One build, checked from every side (subcases would build it again for each).
  test::TempDir dir;
  auto amd64 = client_for(host, dir).inspect(cascade::test::image_ref(request.image));
  REQUIRE_MESSAGE(amd64, amd64.error().str());
  {
    INFO("the tag names an index of both platforms, in the request's order");
    CHECK(amd64->digest == built->digest);
    CHECK(amd64->index);
    CHECK(amd64->media_type == "application/vnd.docker.distribution.manifest.list.v2+json");
    REQUIRE(amd64->platforms.size() == 2);
    CHECK(amd64->platforms[0].platform == "linux/amd64");
    CHECK(amd64->platforms[1].platform == "linux/arm64");
    CHECK(amd64->platforms[0].digest == amd64->image_digest);
    CHECK(amd64->config_digest == built->image_id);  // the first platform's image
  }
  {
    INFO("each platform's config has its own labels over the request's");
    auto arm64 = client_for(host, dir, "arm64").inspect(cascade::test::image_ref(request.image));
    REQUIRE_MESSAGE(arm64, arm64.error().str());
    CHECK(arm64->image_digest == amd64->platforms[1].digest);
    CHECK(amd64->labels.at("cascade.base") == "amd64-child");
    CHECK(arm64->labels.at("cascade.base") == "arm64-child");
    CHECK(amd64->labels.at("cascade.run") == "run 7");
    CHECK(arm64->labels.at("cascade.run") == "run 7");
  }
  {
    INFO("each platform's RUN ran on that platform: arm64 under emulation");
    CHECK(arch_file_of(host + "/apps/multi@" + amd64->platforms[1].digest, "linux/arm64") == "aarch64");
    CHECK(arch_file_of(host + "/apps/multi@" + amd64->platforms[0].digest, "linux/amd64") == "x86_64");
  }
  {
    INFO("the log has a header per platform; the local list is gone and so is the work folder");
    std::string log = test::read_file(request.log_path);
    CHECK(log.find("=== cascade buildah: " + request.image + " for linux/amd64 (platform 1 of 2) ===") != std::string::npos);
    CHECK(log.find("=== cascade buildah: " + request.image + " for linux/arm64 (platform 2 of 2) ===") != std::string::npos);
    CHECK(log.find("manifest push --all") != std::string::npos);
    CHECK(log.find("cascade: pushed " + request.image + "@" + built->digest) != std::string::npos);
    CHECK(log.find("was not removed") == std::string::npos);
    auto images = test::run({"buildah", "--root", buildah.options().root, "--runroot", buildah.options().runroot,
                             "--storage-driver", "vfs", "images", "--all", "--format", "{{.Name}}"});
    REQUIRE(images.exit_code == 0);
    CHECK(images.out.find("cascade-index") == std::string::npos);
    CHECK(images.out.find("apps/multi") == std::string::npos);  // no platform's image took the tag
    CHECK(fs::is_empty(buildah.options().work_dir));
  }
}

TEST_CASE("builder::Buildah pushes nothing when one platform's RUN fails") {
  test::BuildahSandbox sandbox;
  const std::string host = registry_server().host();
  builder::Buildah buildah(sandbox.options({host}));
  std::string dockerfile = kDockerfile + "RUN [ \"$(uname -m)\" != aarch64 ]\n";
  auto request = two_platform_request(sandbox, host + "/apps/partial:1", dockerfile, "partial");
  auto built = test::build_retrying(buildah, request);
  REQUIRE_FALSE(built);
  CHECK_MESSAGE(built.error().kind == Error::Kind::build_failed, built.error().message);
  CHECK(built.error().message.rfind(request.image + ": buildah bud --platform linux/arm64 failed", 0) == 0);

  test::TempDir dir;
  auto info = client_for(host, dir).inspect(cascade::test::image_ref(request.image));
  REQUIRE_FALSE(info);
  CHECK(info.error().kind == registry::ErrorKind::not_found);
  CHECK(registry_server().manifest_puts("apps/partial") == 0);  // not even the amd64 image
  std::string log = test::read_file(request.log_path);
  CHECK(log.find("for linux/amd64 (platform 1 of 2)") != std::string::npos);
  CHECK(log.find("manifest create") == std::string::npos);
}

TEST_CASE("builder::Buildah multi-platform command sequence, through a stand-in buildah") {
  test::TempDir dir;
  // Records each command, writes an image id per platform for bud and a digest for manifest
  // push, or fails as the file `mode` says.
  test::write_file(dir / "bin/buildah",
                   "#!/bin/sh\nhere=$(dirname \"$0\")\necho \"$*\" >> \"$here/calls\"\nmode=$(cat \"$here/mode\")\n"
                   "prev=; iid=; digest=; platform=\n"
                   "for a in \"$@\"; do case $prev in --iidfile) iid=$a;; --digestfile) digest=$a;; --platform) platform=$a;; esac;"
                   " prev=$a; done\n"
                   "case \"$*\" in\n"
                   "*' bud '*) if [ \"$mode\" = bud-arm64 ] && [ \"$platform\" = linux/arm64 ]; then\n"
                   "  echo 'error building at STEP \"RUN false\": exit status 1' >&2; exit 1; fi\n"
                   "  case $platform in linux/amd64) c=a;; *) c=b;; esac\n"
                   "  printf 'sha256:%s' $(printf \"$c%.0s\" $(seq 64)) > \"$iid\";;\n"
                   "*' manifest push '*) if [ \"$mode\" = push ]; then echo 'Error: dial tcp: connection refused' >&2; exit 1; fi\n"
                   "  printf 'sha256:%s' $(printf 'd%.0s' $(seq 64)) > \"$digest\";;\n"
                   "esac\n");
  fs::permissions(dir / "bin/buildah", fs::perms::owner_all);
  fs::create_directories(dir / "ctx");
  builder::BuildahOptions options;
  options.program = (dir / "bin/buildah").string();
  options.state_dir = (dir / "state").string();
  builder::Buildah buildah(options);
  builder::BuildRequest request;
  request.run_id = "stand-in";
  request.image = "registry.example.com/apps/shop:1";
  request.context_dir = (dir / "ctx").string();
  request.dockerfile_text = "FROM scratch\n";
  request.log_path = (dir / "build.log").string();
  request.platforms = {{"linux/amd64", {}}, {"linux/arm64", {}}};
  auto calls = [&] {
    std::vector<std::string> lines;
    std::string text = test::read_file(dir / "bin/calls"), line;
    for (char c : text) {
      if (c != '\n') { line += c; continue; }
      std::string verb = line.substr(line.find(" vfs ") + 5);  // after the storage flags
      lines.push_back(verb.substr(0, verb.find(' ', verb.find(' ') + 1)));
      line.clear();
    }
    fs::remove(dir / "bin/calls");
    return lines;
  };

  SUBCASE("both built, then the list made, pushed and removed") {
    test::write_file(dir / "bin/mode", "ok");
    auto built = buildah.build_and_push(request, {});
    REQUIRE_MESSAGE(built, built.error().message);
    CHECK(built->digest == "sha256:" + std::string(64, 'd'));
    CHECK(built->image_id == "sha256:" + std::string(64, 'a'));
    CHECK(calls() == std::vector<std::string>{"bud --isolation", "bud --isolation", "manifest create", "manifest add",
                                              "manifest add", "manifest push", "manifest rm"});
    std::string log = test::read_file(request.log_path);
    CHECK(log.find("manifest add localhost/cascade-index-") != std::string::npos);
    CHECK(log.find(" sha256:" + std::string(64, 'b')) != std::string::npos);
  }
  SUBCASE("a platform that fails pushes nothing and makes no list") {
    test::write_file(dir / "bin/mode", "bud-arm64");
    auto built = buildah.build_and_push(request, {});
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::build_failed);
    CHECK(calls() == std::vector<std::string>{"bud --isolation", "bud --isolation"});
  }
  SUBCASE("a failed push is PushFailed, and the list is removed all the same") {
    test::write_file(dir / "bin/mode", "push");
    auto built = buildah.build_and_push(request, {});
    REQUIRE_FALSE(built);
    CHECK_MESSAGE(built.error().kind == Error::Kind::push_failed, built.error().message);
    CHECK(calls().back() == "manifest rm");
  }
  SUBCASE("a cancel before the start runs nothing") {
    test::write_file(dir / "bin/mode", "ok");
    CancelSource source;
    source.request_stop();
    auto built = buildah.build_and_push(request, source.get_token());
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::cancelled);
    CHECK_FALSE(fs::exists(dir / "bin/calls"));
  }
  SUBCASE("an empty or repeated platform is refused before anything runs") {
    test::write_file(dir / "bin/mode", "ok");
    request.platforms = {{"linux/arm64", {}}, {"linux/arm64", {}}};
    auto repeated = buildah.build_and_push(request, {});
    REQUIRE_FALSE(repeated);
    CHECK(repeated.error().kind == Error::Kind::setup);
    CHECK(repeated.error().message.find("linux/arm64 is listed twice") != std::string::npos);
    request.platforms = {{"", {}}};
    auto empty = buildah.build_and_push(request, {});
    REQUIRE_FALSE(empty);
    CHECK(empty.error().kind == Error::Kind::setup);
    CHECK_FALSE(fs::exists(dir / "bin/calls"));
  }
}

TEST_CASE("builder::DockerBuild and builder::Buildctl refuse a multi-platform request at once") {
  test::TempDir dir;
  fs::create_directories(dir / "ctx");
  builder::BuildRequest request;
  request.image = "registry.example.com/apps/shop:1";
  request.context_dir = (dir / "ctx").string();
  request.dockerfile_text = "FROM scratch\n";
  request.log_path = (dir / "build.log").string();
  request.platforms = {{"linux/amd64", {}}, {"linux/arm64", {}}};
  builder::DockerOptions docker_options;
  docker_options.program = (dir / "no-such-docker").string();  // never run
  builder::BuildctlOptions buildctl_options;
  buildctl_options.program = (dir / "no-such-buildctl").string();
  builder::DockerBuild docker(docker_options);
  builder::Buildctl buildctl(buildctl_options);
  for (builder::Builder* backend : std::vector<builder::Builder*>{&docker, &buildctl}) {
    CAPTURE(backend->name());
    auto built = backend->build_and_push(request, {});
    REQUIRE_FALSE(built);
    CHECK(built.error().kind == Error::Kind::setup);
    const std::string& message = built.error().message;
    CHECK(message.find("the " + backend->name() + " worker builds one platform") != std::string::npos);
    CHECK(message.find("linux/amd64, linux/arm64") != std::string::npos);
    CHECK(message.find("need a buildah worker") != std::string::npos);
  }
  auto docker_refused = docker.build_and_push(request, {});
  CHECK(docker_refused.error().message.find("no buildx") != std::string::npos);
  CHECK_FALSE(fs::exists(request.log_path));  // nothing ran
}
