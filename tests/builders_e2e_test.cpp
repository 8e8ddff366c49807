// A pool of real build engines end to end: the cascade binary, a real docker-registry, two
// real dockerd 20.10 engines (BuildKit inside) and local buildah, all on 127.0.0.1. The
// example fleet's patch spreads over the three workers, each image on its parents' exact
// digests; a dockerd killed in the middle of a build loses that build to the other worker
// and nothing is pushed twice; a build secret reaches RUN --mount=type=secret and nowhere
// else; a builder choice no worker satisfies is refused before anything runs.
#include <doctest/doctest.h>

#include <thread>

#include "dockerd_fixture.hpp"
#include "patch_support.hpp"

using nlohmann::json;
using namespace cascade;
using test::DockerEngine;
using test::PatchFleet;
namespace fs = std::filesystem;

namespace {

std::string docker_worker(const std::string& name, const DockerEngine& engine) {
  return "    - {name: " + name + ", kind: docker, endpoint: \"" + engine.endpoint() +
         "\", capacity: 1, network: none}\n";
}

// Each pushed image says it was built on the digests its bases have now, in this registry,
// and on this run's digest of every base this run built.
void check_built_on_this_run(const json& run) {
  auto tasks = test::tasks_by_image(run);
  for (const auto& [image, task] : tasks) {
    REQUIRE_MESSAGE(task["state"] == "pushed", image << ": " << task["reason"]);
    std::string repository = image.substr(0, image.rfind(':'));  // the fleet's images are repo:tag
    auto labels = test::skopeo_inspect(repository + "@" + task["new_digest"].get<std::string>())["Labels"];
    auto bases = json::parse(labels["io.cascade.bases"].get<std::string>());
    for (const auto& [base, digest] : bases.items()) {
      INFO(image << " built on " << base);
      if (tasks.count(base)) CHECK(digest == tasks[base]["new_digest"]);
    }
    CHECK(labels["io.cascade.run"] == std::to_string(run["id"].get<long long>()));
  }
}

// A small fleet of its own: base (slow) -> {one, two, three} (slow), one Dockerfile using a
// build secret; the pipeline's builders section comes from the test.
class SlowFleet {
 public:
  explicit SlowFleet(const test::DockerRegistry& registry) : host_(registry.host()) {
    auto slow = [](const std::string& name) { return "RUN sleep 4 && echo " + name + " > /" + name + "\n"; };
    std::map<std::string, std::string> files = {
        {"base/Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", "
                            "\"/bin\"]\nENV PATH=/bin\n" + slow("base")},
        {"one/Dockerfile", "FROM " + host_ + "/t/base:1\n" + slow("one")},
        {"two/Dockerfile", "FROM " + host_ + "/t/base:1\n" + slow("two")},
        // The Dockerfile checks the secret's hash, never its value (the Dockerfile is in git).
        {"three/Dockerfile", "FROM " + host_ + "/t/base:1\n"
                             "RUN --mount=type=secret,id=token test \"$(sha256sum < /run/secrets/token | cut -d' ' "
                             "-f1)\" = \"" + test::sha256(kSecret).substr(7) + "\"\n" + slow("three")}};
    fs::create_directories(dir_ / "repo/base");
    fs::copy_file("/usr/bin/busybox", dir_ / "repo/base/busybox");
    test::make_repo(dir_ / "repo", files);
  }

  void write_pipeline(const std::string& builders) const {
    std::string text = "version: 1\nregistries:\n  - {host: \"" + host_ + "\", insecure: true}\nsources:\n"
                       "  - name: t\n    git: " + (dir_ / "repo").string() + "\n    images:\n";
    for (auto name : {"base", "one", "two", "three"})
      text += std::string("      - {image: \"") + host_ + "/t/" + name + ":1\", dockerfile: " + name + "/Dockerfile}\n";
    text += builders;
    test::write_file(pipeline(), text);
  }
  std::string pipeline() const { return (dir_ / "cascade.yaml").string(); }
  std::string image(const std::string& name) const { return host_ + "/t/" + name + ":1"; }
  process::Result cascade(const std::string& command, std::vector<std::string> args,
                          const process::Options& options = {}) const {
    args.insert(args.begin(), {command, "-p", pipeline()});
    return test::cascade(args, options);
  }
  fs::path state_file() const { return dir_ / ".cascade/state.db"; }
  fs::path runs_dir() const { return dir_ / ".cascade/runs"; }

  static constexpr const char* kSecret = "s3cr3t-value-7c1e";

 private:
  test::TempDir dir_;
  std::string host_;
};

bool contains_file_with(const fs::path& dir, const std::string& needle) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); ++it)
    if (it->is_regular_file() && test::read_file(it->path()).find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("builders: the example fleet's patch spreads over two dockerd workers and local buildah") {
  PatchFleet fleet;
  DockerEngine a, b;
  std::string text = test::read_file(fleet.pipeline());
  text += "builders:\n  workers:\n    - {name: local, kind: buildah, capacity: 1}\n" + docker_worker("docker-a", a) +
          docker_worker("docker-b", b);
  test::write_file(fleet.pipeline(), text);

  auto patched = fleet.cascade("patch", {fleet.image("platform/base:1"), "--format", "json"});
  INFO("stderr: " << patched.err);
  REQUIRE(patched.exit_code == 0);
  json run = json::parse(patched.out);
  std::map<std::string, int> per_worker;
  for (const auto& task : run["tasks"]) per_worker[task["worker"].get<std::string>()] += 1;
  INFO(json(per_worker).dump());
  CHECK(per_worker.size() == 3);  // every worker built something
  for (auto name : {"local", "docker-a", "docker-b"}) CHECK(per_worker[name] >= 1);
  check_built_on_this_run(run);
  // The text report names the worker of each image.
  auto status = fleet.cascade("status", {"1"});
  CHECK(status.out.find("WORKER") != std::string::npos);
  CHECK(status.out.find("docker-a") != std::string::npos);
}

TEST_CASE("builders: a dockerd killed mid-build loses that build to the other worker; nothing is pushed twice") {
  test::DockerRegistry registry;
  SlowFleet fleet(registry);
  DockerEngine a, b;
  fleet.write_pipeline("builders:\n  secrets:\n    - {id: token, env: CASCADE_TEST_TOKEN}\n  workers:\n" +
                       docker_worker("docker-a", a) + docker_worker("docker-b", b));
  process::Options options;
  options.env["CASCADE_TEST_TOKEN"] = SlowFleet::kSecret;
  std::optional<process::Result> patched;
  std::thread run([&] { patched = fleet.cascade("patch", {fleet.image("base"), "--format", "json"}, options); });

  // Wait until a child image is building on docker-a, then kill -9 that engine.
  std::string victim, seen;
  for (int i = 0; i < 1200 && victim.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto status = fleet.cascade("status", {"1", "--format", "json"});  // exit 1 until the run succeeds
    if (status.out.empty()) continue;
    seen = status.out;
    json now = json::parse(status.out);  // kept: a range-for over a temporary's member dangles
    for (const auto& task : now["tasks"])
      if (task["state"] == "building" && task["worker"] == "docker-a" && task["image"] != fleet.image("base"))
        victim = task["image"];
  }
  if (victim.empty()) {
    run.join();
    FAIL("no child ever built on docker-a; cascade patch said: " << (patched ? patched->err : "nothing")
                                                                  << "\nstatus said: " << seen);
  }
  a.kill9();
  run.join();
  REQUIRE(patched);
  INFO("stderr: " << patched->err);
  REQUIRE(patched->exit_code == 0);
  json result = json::parse(patched->out);
  auto tasks = test::tasks_by_image(result);
  CHECK(tasks[victim]["worker"] == "docker-b");
  CHECK(patched->err.find("worker docker-a unavailable") != std::string::npos);
  check_built_on_this_run(result);
  for (auto name : {"base", "one", "two", "three"}) {
    INFO(name);
    CHECK(registry.manifest_puts("t/" + std::string(name)) == 1);
  }
  // The secret reached its RUN (the build checks its value) and nothing else: not the
  // output, the build logs, the state store, the labels or the image's history.
  CHECK(patched->out.find(SlowFleet::kSecret) == std::string::npos);
  CHECK(patched->err.find(SlowFleet::kSecret) == std::string::npos);
  CHECK_FALSE(contains_file_with(fleet.runs_dir(), SlowFleet::kSecret));
  CHECK(test::read_file(fleet.state_file()).find(SlowFleet::kSecret) == std::string::npos);
  auto config = test::run({"skopeo", "inspect", "--tls-verify=false", "--config",
                           "docker://" + fleet.image("three")});
  REQUIRE(config.exit_code == 0);
  CHECK(config.out.find("/run/secrets/token") != std::string::npos);  // the RUN is in the history...
  CHECK(config.out.find(SlowFleet::kSecret) == std::string::npos);     // ...the secret's value is not
}

TEST_CASE("builders: a builder choice that no worker satisfies is refused before anything runs") {
  test::DockerRegistry registry;
  SlowFleet fleet(registry);
  fleet.write_pipeline("builders:\n  workers:\n    - {name: local, kind: buildah, labels: {arch: amd64}}\n");
  std::string text = test::read_file(fleet.pipeline());
  auto at = text.find("dockerfile: one/Dockerfile}");
  REQUIRE(at != std::string::npos);
  text.replace(at, std::string("dockerfile: one/Dockerfile}").size(),
               "dockerfile: one/Dockerfile, builder: {labels: {arch: arm64}}}");
  test::write_file(fleet.pipeline(), text);
  auto planned = fleet.cascade("plan", {fleet.image("base")});
  CHECK(planned.exit_code == 2);
  INFO(planned.err);
  CHECK(planned.err.find("cascade.yaml:") != std::string::npos);
  CHECK(planned.err.find("arm64") != std::string::npos);
  CHECK(planned.err.find("local") != std::string::npos);  // the workers that exist
  CHECK_FALSE(fs::exists(fleet.state_file()));  // nothing ran, nothing was recorded
}
