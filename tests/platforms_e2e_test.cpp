// Multi-platform fleets end to end: the real cascade binary, a real docker-registry, real
// buildah with arm64 RUN steps under qemu emulation (binfmt_misc, registered by
// scripts/setup.sh), and a fleet in a real git repository. skopeo reads what was pushed.
#include <doctest/doctest.h>

#include "patch_support.hpp"

using nlohmann::json;
using namespace cascade;
namespace fs = std::filesystem;

namespace {

const std::string kArm64Busybox = "/var/cache/cascade/arm64/busybox";

// A fleet in one git repository: `base` (from nothing, busybox for each platform) and the
// Dockerfiles given (path -> text, "{host}" replaced by the registry), with the pipeline's
// `images:` entries given as YAML lines, for the platforms given at the top level.
class PlatformFleet {
 public:
  PlatformFleet(const std::map<std::string, std::string>& dockerfiles, const std::string& images_yaml) {
    REQUIRE_MESSAGE(fs::exists(kArm64Busybox), kArm64Busybox << " is missing: run scripts/setup.sh");
    REQUIRE_MESSAGE(fs::exists("/proc/sys/fs/binfmt_misc/qemu-aarch64"),
                    "qemu-aarch64 is not registered with binfmt_misc: run scripts/setup.sh");
    std::map<std::string, std::string> files{
        {"base/Dockerfile", "FROM scratch\nARG TARGETARCH\nCOPY busybox-${TARGETARCH} /bin/busybox\n"
                            "RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nENV PATH=/bin\n"},
        {"base/busybox-amd64", test::read_file("/usr/bin/busybox")},
        {"base/busybox-arm64", test::read_file(kArm64Busybox)}};
    for (auto [path, text] : dockerfiles) {
      for (auto at = text.find("{host}"); at != std::string::npos; at = text.find("{host}", at))
        text.replace(at, 6, registry_.host());
      files[path] = text;
    }
    fs::path repo = dir_.path() / "repo";
    (void)test::make_repo(repo, files);
    for (const char* busybox : {"base/busybox-amd64", "base/busybox-arm64"})  // git keeps the mode
      fs::permissions(repo / busybox, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                      fs::perm_options::add);
    (void)test::commit_files(repo, {}, "busybox is executable");
    std::string pipeline = "version: 1\nregistries:\n  - host: " + registry_.host() + "\n    insecure: true\n" +
                           "platforms: [linux/amd64, linux/arm64]\nsources:\n  - name: fleet\n    git: repo\n" +
                           "    images:\n      - image: " + image("base:1") + "\n        dockerfile: base/Dockerfile\n";
    std::string entries = images_yaml;
    for (auto at = entries.find("{host}"); at != std::string::npos; at = entries.find("{host}", at))
      entries.replace(at, 6, registry_.host());
    test::write_file(pipeline_path(), pipeline + entries);
  }

  std::string image(const std::string& name) const { return registry_.host() + "/" + name; }
  std::string pipeline_path() const { return (dir_.path() / "pipeline.yaml").string(); }
  const test::DockerRegistry& registry() const { return registry_; }
  const fs::path& dir() const { return dir_.path(); }

  process::Result cascade(const std::string& command, std::vector<std::string> args) const {
    args.insert(args.begin(), {command, "-p", pipeline_path()});
    return test::cascade(args);
  }
  json patch(const std::string& name) const {
    auto result = cascade("patch", {image(name), "--format", "json"});
    INFO("stderr: " << result.err);
    REQUIRE_FALSE(result.out.empty());
    return json::parse(result.out);
  }
  // The pushed index, as the registry serves it.
  json index(const std::string& name) const {
    auto result = test::run({"skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + image(name)});
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    return json::parse(result.out);
  }
  // platform -> manifest digest of the tag's index.
  std::map<std::string, std::string> platforms(const std::string& name) const {
    std::map<std::string, std::string> out;
    json pushed = index(name);  // kept: a range-for over index(name)["manifests"] would dangle
    for (const auto& entry : pushed["manifests"])
      out[entry["platform"]["os"].get<std::string>() + "/" + entry["platform"]["architecture"].get<std::string>()] =
          entry["digest"];
    return out;
  }
  // The labels of one platform's image.
  std::map<std::string, std::string> labels(const std::string& name, const std::string& arch) const {
    auto result = test::run({"skopeo", "--override-arch", arch, "inspect", "--tls-verify=false", "docker://" + image(name)});
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    return json::parse(result.out)["Labels"].get<std::map<std::string, std::string>>();
  }

 private:
  test::TempDir dir_;
  test::DockerRegistry registry_;
};

std::map<std::string, json> tasks(const json& run) { return test::tasks_by_image(run); }

}  // namespace

TEST_CASE("platforms: a two-level fleet is built for amd64 and arm64, each platform on its parent's, then nothing") {
  PlatformFleet fleet({{"app/Dockerfile", "FROM {host}/base:1\nRUN uname -m > /arch\n"}},
                      "      - image: {host}/app:1\n        dockerfile: app/Dockerfile\n");
  auto plan = fleet.cascade("plan", {fleet.image("base:1")});
  REQUIRE_MESSAGE(plan.exit_code == 0, plan.err);
  CHECK(plan.out.find("for linux/amd64, linux/arm64 (one image index)") != std::string::npos);

  auto run = fleet.patch("base:1");
  REQUIRE_MESSAGE(run["state"] == "succeeded", run.dump(2));
  auto base = fleet.platforms("base:1");
  auto app = fleet.platforms("app:1");
  CHECK(base.size() == 2);
  CHECK(app.size() == 2);
  REQUIRE(base.count("linux/arm64"));
  REQUIRE(app.count("linux/arm64"));
  CHECK(tasks(run)[fleet.image("app:1")]["new_digest"] == test::skopeo_inspect(fleet.image("app:1"))["Digest"]);

  // Each platform of the child names its parent's manifest for the same platform.
  for (const auto& [arch, platform] : std::map<std::string, std::string>{{"amd64", "linux/amd64"}, {"arm64", "linux/arm64"}}) {
    auto labels = fleet.labels("app:1", arch);
    INFO(platform);
    CHECK(json::parse(labels.at("io.cascade.bases")) == json{{fleet.image("base:1"), base.at(platform)}});
    CHECK(labels.at("org.opencontainers.image.base.digest") == base.at(platform));
    // ...and the index the Dockerfile was pinned to, which skip decisions compare.
    CHECK(json::parse(labels.at("io.cascade.base-indexes")) ==
          json{{fleet.image("base:1"), tasks(run)[fleet.image("base:1")]["new_digest"]}});
  }

  // The arm64 image really is arm64: its RUN ran under emulation, and it runs there again.
  auto c = test::run({"buildah", "from", "--platform", "linux/arm64", "--tls-verify=false", "-q",
                      fleet.image("app:1") + "@" + app.at("linux/arm64")});
  REQUIRE_MESSAGE(c.exit_code == 0, c.err);
  std::string container = c.out.substr(0, c.out.find('\n'));
  auto arch = test::run({"buildah", "run", "--isolation", "chroot", container, "--", "sh", "-c", "cat /arch; uname -m"});
  (void)test::run({"buildah", "rm", container});
  REQUIRE_MESSAGE(arch.exit_code == 0, arch.err);
  CHECK(arch.out == "aarch64\naarch64\n");

  // The same patch again builds nothing: every platform is built on the current bases.
  auto puts = fleet.registry().manifest_puts("app");
  auto again = fleet.patch("base:1");
  REQUIRE_MESSAGE(again["state"] == "succeeded", again.dump(2));
  for (const auto& [image, task] : tasks(again)) CHECK_MESSAGE(task["state"] == "skipped", image);
  CHECK(fleet.registry().manifest_puts("app") == puts);
}

TEST_CASE("platforms: a failure on one platform fails the image, pushes nothing of it and blocks its descendants") {
  PlatformFleet fleet({{"picky/Dockerfile", "FROM {host}/base:1\nRUN [ \"$(uname -m)\" != aarch64 ]\n"},
                       {"leaf/Dockerfile", "FROM {host}/picky:1\nRUN true\n"}},
                      "      - image: {host}/picky:1\n        dockerfile: picky/Dockerfile\n"
                      "      - image: {host}/leaf:1\n        dockerfile: leaf/Dockerfile\n");
  auto run = fleet.patch("base:1");
  CHECK(run["state"] == "failed");
  auto by_image = tasks(run);
  CHECK(by_image[fleet.image("base:1")]["state"] == "pushed");
  CHECK(by_image[fleet.image("picky:1")]["state"] == "failed");
  CHECK(by_image[fleet.image("leaf:1")]["state"] == "blocked");
  CHECK(fleet.registry().manifest_puts("picky") == 0);  // not the amd64 image, not an index
  auto absent = test::run({"skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + fleet.image("picky:1")});
  CHECK(absent.exit_code != 0);
}

TEST_CASE("platforms: plan-time refusals: narrowing a two-platform tag, a base without arm64") {
  PlatformFleet fleet({{"app/Dockerfile", "FROM {host}/base:1\nRUN true\n"},
                       {"ext/Dockerfile", "FROM {host}/amd64-only:1\nRUN true\n"}},
                      "      - image: {host}/app:1\n        dockerfile: app/Dockerfile\n"
                      "      - image: {host}/ext:1\n        dockerfile: ext/Dockerfile\n");
  auto first = fleet.patch("base:1");
  REQUIRE_MESSAGE(first["state"] == "succeeded", first.dump(2));
  REQUIRE(fleet.platforms("app:1").size() == 2);

  SUBCASE("a recipe limited to linux/amd64 whose tag is a two-platform index") {
    std::string text = test::read_file(fleet.pipeline_path());
    auto at = text.find("        dockerfile: app/Dockerfile\n");
    REQUIRE(at != std::string::npos);
    text.insert(at, "        platforms: [linux/amd64]\n");
    test::write_file(fleet.pipeline_path(), text);
    // A new commit of the base: the base and app are rebuilt (were it not refused).
    (void)test::commit_files(fleet.dir() / "repo", {{"base/Dockerfile", test::read_file(fleet.dir() / "repo/base/Dockerfile") +
                                                                           "RUN echo 2 > /version\n"}});
    auto puts = fleet.registry().manifest_puts("app");
    auto base_puts = fleet.registry().manifest_puts("base");
    for (const char* command : {"plan", "patch"}) {
      auto refused = fleet.cascade(command, {fleet.image("base:1")});
      INFO(command << ": " << refused.err);
      CHECK(refused.exit_code == 2);
      CHECK(refused.err.find(fleet.image("app:1") + ": its tag is an image index with linux/amd64, linux/arm64") !=
            std::string::npos);
      CHECK(refused.err.find("Add linux/arm64 to the recipe's platforms") != std::string::npos);
    }
    CHECK(fleet.registry().manifest_puts("app") == puts);
    CHECK(fleet.registry().manifest_puts("base") == base_puts);  // nothing of the plan ran
    CHECK(fleet.platforms("app:1").size() == 2);
  }
  SUBCASE("a base that has no arm64 image") {
    // Another team's amd64-only image, pushed by buildah without cascade.
    test::BuildahSandbox sandbox;
    auto context = sandbox.context("ext", {{"Dockerfile", test::busybox_dockerfile()}});
    auto built = test::run_build({"buildah", "--root", (sandbox.path() / "root").string(), "--runroot",
                                  (sandbox.path() / "runroot").string(), "--storage-driver", "vfs", "bud", "-q",
                                  "--isolation", "chroot", "-f", context + "/Dockerfile", "-t",
                                  fleet.image("amd64-only:1"), context});
    REQUIRE_MESSAGE(built.exit_code == 0, built.err);
    auto pushed = test::run({"buildah", "--root", (sandbox.path() / "root").string(), "--runroot",
                             (sandbox.path() / "runroot").string(), "--storage-driver", "vfs", "push", "-q",
                             "--tls-verify=false", fleet.image("amd64-only:1")});
    REQUIRE_MESSAGE(pushed.exit_code == 0, pushed.err);
    auto refused = fleet.cascade("patch", {fleet.image("amd64-only:1")});
    INFO(refused.err);
    CHECK(refused.exit_code == 2);
    CHECK(refused.err.find(fleet.image("ext:1") + " is built for linux/arm64, which its base " +
                           fleet.image("amd64-only:1") + " does not have (it has linux/amd64)") != std::string::npos);
    CHECK(fleet.registry().manifest_puts("ext") == 0);
  }
}
