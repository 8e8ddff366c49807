// THE DRILL, end to end through the real cascade binary: a real docker-registry, real buildah
// and a real podman API service. bash enters the fleet in two places: an external debian base
// (this machine's own dpkg database) and a fleet image on an apk-style base that installs it
// itself from a package mirror inside a RUN. `affected --advisory` finds both and the
// containers running them; the base's fix arrives as a new upstream digest and the mirror's
// as a new version; `patch --advisory` rebuilds from both start points, verifies each pushed
// image, rolls out; afterwards nothing is exposed. The variant: the mirror still serves the
// vulnerable version and the base has no fix, so the image is not rolled out and the run
// fails. Plus bad input through the binary.
#include <doctest/doctest.h>

#include "drill_support.hpp"

using nlohmann::json;
using namespace cascade;
using test::DrillFleet;

namespace {

const std::string kAdvisory = "x_DRILL-2026-0001";
const std::string kDebianFixed = "5.2.15-2+deb12u1";

json parsed(const process::Result& result) {
  INFO("exit " << result.exit_code << ", stderr: " << result.err);
  REQUIRE_FALSE(result.out.empty());
  return json::parse(result.out);
}

std::map<std::string, json> by_key(const json& items, const char* key) {
  std::map<std::string, json> out;
  for (const auto& item : items) out[item[key].get<std::string>()] = item;
  return out;
}

bool contains(const json& text, const std::string& needle) {
  return text.is_string() && text.get<std::string>().find(needle) != std::string::npos;
}

// The whole fleet built once, the way a fleet is first built: a patch of each external base.
void build_fleet(const DrillFleet& fleet) {
  for (const char* base : {"base/debian:12", "base/alpine:3.20"}) {
    auto built = fleet.cascade("patch", {fleet.image(base), "--no-deploy"});
    REQUIRE_MESSAGE(built.exit_code == 0, built.err);
  }
  REQUIRE(fleet.bash_downloads() == 1);  // apps/tool:1's RUN reached the mirror
}

// Containers `names` (name -> image name) pulled and started; returns name -> image id.
std::map<std::string, std::string> start_containers(const DrillFleet& fleet, test::EngineApi& api,
                                                    const std::map<std::string, std::string>& names) {
  std::map<std::string, std::string> ids;
  for (const auto& [name, image] : names) {
    api.pull(fleet.image(image.substr(0, image.find(':'))), image.substr(image.find(':') + 1));
    api.run(name, test::sleeping_container(fleet.image(image)));
    ids[name] = api.inspect(name)["Image"];
  }
  return ids;
}

json affected(const DrillFleet& fleet, const std::string& advisory) {
  auto result = fleet.cascade("affected", {"--advisory", advisory, "--format", "json"});
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  return parsed(result);
}

void check_exposure(const DrillFleet& fleet, const json& report, const std::string& machine_bash) {
  CHECK(report["question"] == kAdvisory);
  CHECK(report["unjudged"].empty());
  auto images = by_key(report["images"], "subject");
  std::string debian = fleet.image("base/debian:12"), tool = fleet.image("apps/tool:1");
  REQUIRE(images.size() == 4);  // base/alpine:3.20 has no bash
  for (const auto& [subject, enters, role] : {std::tuple{debian, debian, "external"},
                                              {fleet.image("apps/web:1"), debian, "external"},
                                              {tool, tool, "fleet"},
                                              {fleet.image("apps/tool-cli:1"), tool, "fleet"}}) {
    INFO(subject);
    REQUIRE(images.count(subject));
    const json& item = images[subject];
    CHECK(item["package"] == "bash");
    CHECK(item["matched_by"] == kAdvisory);
    CHECK(item["enters"] == enters);
    CHECK(item["enters_role"] == role);
    bool on_debian = enters == debian;
    CHECK(item["distro"] == (on_debian ? "debian 12" : "alpine 3.20"));
    CHECK(item["version"] == (on_debian ? machine_bash : "5.2.26-r0"));
    CHECK(item["fixed"] == (on_debian ? kDebianFixed : "5.2.26-r1"));
  }
  CHECK(images[debian]["role"] == "external");
  auto workloads = by_key(report["workloads"], "subject");
  REQUIRE(workloads.size() == 2);
  REQUIRE(workloads.count("podman/web"));
  REQUIRE(workloads.count("podman/tool"));
  CHECK(workloads["podman/web"]["enters"] == debian);
  CHECK(workloads["podman/web"]["version"] == machine_bash);
  CHECK(workloads["podman/tool"]["enters"] == tool);
  CHECK(workloads["podman/tool"]["version"] == "5.2.26-r0");
  REQUIRE(report["bases"].size() == 1);
  CHECK(report["bases"][0]["image"] == debian);
  CHECK(report["bases"][0]["exposed"] == true);
}

void check_plan(const DrillFleet& fleet, const json& plan, const std::string& fixed_base) {
  auto steps = by_key(plan["steps"], "image");
  std::string web = fleet.image("apps/web:1"), tool = fleet.image("apps/tool:1"), cli = fleet.image("apps/tool-cli:1");
  REQUIRE(steps.size() == 3);
  for (const auto& image : {web, tool, cli}) {
    INFO(image);
    REQUIRE(steps.count(image));
    const json& because = steps[image]["because"];
    REQUIRE(because.size() >= 1);
    CHECK(contains(because[0], kAdvisory));
    CHECK(contains(because[0], "bash"));
  }
  CHECK(steps[web]["no_cache"] == false);
  CHECK(contains(steps[web]["because"][0], "entering at " + fleet.image("base/debian:12")));
  CHECK(steps[web]["base_digests"][fleet.image("base/debian:12")] == fixed_base);  // cascaded from the fixed base
  CHECK(steps[tool]["no_cache"] == true);
  CHECK(contains(steps[tool]["reason"], "own layers"));
  CHECK(contains(steps[tool]["because"][0], "entering at " + tool));
  CHECK(contains(steps[cli]["because"][0], "entering at " + tool));  // there because of its start, apps/tool:1
  CHECK(steps[cli]["after"] == json::array({tool}));
  REQUIRE(steps[web]["workloads"].size() == 1);
  CHECK(steps[web]["workloads"][0]["workload"] == "web");
  REQUIRE(steps[tool]["workloads"].size() == 1);
  CHECK(steps[tool]["workloads"][0]["workload"] == "tool");
}

// The run: every task pushed and judged clean; bash before -> after per image.
void check_run(const DrillFleet& fleet, const json& run, const std::string& machine_bash) {
  CHECK(run["state"] == "succeeded");
  REQUIRE(run["tasks"].size() == 3);
  for (const auto& task : run["tasks"]) {
    INFO(task["image"]);
    CHECK(task["state"] == "pushed");
    REQUIRE(task["verdict"].is_string());
    CHECK(task["verdict"].get<std::string>().rfind("clean", 0) == 0);
  }
  CHECK(contains(run["question"]["label"], kAdvisory));
  std::map<std::string, std::pair<json, json>> versions;
  for (const auto& row : run["versions"])
    if (row["package"] == "bash") versions[row["image"].get<std::string>()] = {row["before"], row["after"]};
  using Pair = std::pair<json, json>;
  CHECK(versions[fleet.image("apps/web:1")] == Pair{machine_bash, kDebianFixed});
  CHECK(versions[fleet.image("apps/tool:1")] == Pair{"5.2.26-r0", "5.2.26-r1"});
  CHECK(versions[fleet.image("apps/tool-cli:1")] == Pair{"5.2.26-r0", "5.2.26-r1"});
}

// Each container runs the image its task pushed (not the one it ran before), and the
// inventory agrees that no workload is behind.
void check_rolled_out(const DrillFleet& fleet, test::EngineApi& api, const json& run,
                      const std::map<std::string, std::string>& before) {
  auto tasks = by_key(run["tasks"], "image");
  for (const auto& [name, old_id] : before) {
    INFO(name);
    std::string digest = tasks[fleet.image("apps/" + name + ":1")]["new_digest"];
    auto inspected = api.inspect(name);
    CHECK(inspected["State"]["Running"] == true);
    CHECK(inspected["Image"] != old_id);
    CHECK(inspected["Image"] == api.image_id(fleet.image("apps/" + name) + "@" + digest));
  }
  auto listed = fleet.cascade("inventory", {"--format", "json"});
  REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
  auto workloads = by_key(parsed(listed)["targets"][0]["workloads"], "workload");
  REQUIRE(workloads.size() == 2);
  for (const auto& [name, workload] : workloads) {
    INFO(name);
    CHECK(workload["digest"] == tasks[fleet.image("apps/" + name + ":1")]["new_digest"]);
    CHECK(workload["behind"] == false);
  }
}

}  // namespace

TEST_CASE("advisory drill: bash from an external base and from a mirror, found, patched, verified, rolled out, gone") {
  DrillFleet fleet;
  std::string machine_bash = test::machine_dpkg_bash().version;
  build_fleet(fleet);
  test::PodmanService podman({fleet.host()});
  test::EngineApi api(podman.socket());
  auto before = start_containers(fleet, api, {{"web", "apps/web:1"}, {"tool", "apps/tool:1"}});
  fleet.deploy_to(podman.endpoint());
  std::string advisory = fleet.write_advisory();

  auto scanned = fleet.cascade("scan", {"--format", "json"});
  REQUIRE_MESSAGE(scanned.exit_code == 0, scanned.err);
  json scan = parsed(scanned);
  CHECK(scan["images"] == 5);  // three fleet images, two external bases
  CHECK(scan["workloads"] == 2);
  CHECK(scan["failed"] == 0);
  check_exposure(fleet, affected(fleet, advisory), machine_bash);

  // The fixes arrive: a new upstream digest of the base, a fixed package on the mirror.
  std::string fixed_base = fleet.push_debian_base(kDebianFixed);
  fleet.serve_bash("5.2.26-r1");
  auto planned = fleet.cascade("plan", {"--advisory", advisory, "--format", "json"});
  REQUIRE_MESSAGE(planned.exit_code == 0, planned.err);
  check_plan(fleet, parsed(planned), fixed_base);

  auto patched = fleet.cascade("patch", {"--advisory", advisory, "--format", "json"});
  CHECK_MESSAGE(patched.exit_code == 0, patched.err);
  CHECK(patched.err.find("not fixed upstream") == std::string::npos);
  json run = parsed(patched);
  check_run(fleet, run, machine_bash);
  CHECK(fleet.bash_downloads() == 2);  // apps/tool:1 was built without cache: its RUN fetched again
  check_rolled_out(fleet, api, run, before);

  json after = affected(fleet, advisory);
  CHECK(after["images"].empty());
  CHECK(after["workloads"].empty());
  CHECK(after["checked"]["images"] == 5);  // zero exposed out of everything, not out of nothing
  CHECK(after["checked"]["workloads"] == 2);
  REQUIRE(after["bases"].size() == 1);
  CHECK(after["bases"][0]["exposed"] == false);
  CHECK(after["bases"][0]["digest"] == fixed_base);
}

TEST_CASE("advisory drill variant: the mirror still serves the vulnerable bash, the base has no fix upstream") {
  DrillFleet fleet;
  std::string machine_bash = test::machine_dpkg_bash().version;
  build_fleet(fleet);
  test::PodmanService podman({fleet.host()});
  test::EngineApi api(podman.socket());
  auto before = start_containers(fleet, api, {{"tool", "apps/tool:1"}});
  fleet.deploy_to(podman.endpoint());
  std::string advisory = fleet.write_advisory();

  auto patched = fleet.cascade("patch", {"--advisory", advisory, "--format", "json"});
  CHECK(patched.exit_code == 1);
  INFO("stderr: " << patched.err);
  std::string unfixed = "not fixed upstream yet: " + fleet.image("base/debian:12") + " at sha256:";
  CHECK(patched.err.find(unfixed) != std::string::npos);
  CHECK(patched.err.find("still has bash " + machine_bash + "; fixed in " + kDebianFixed) != std::string::npos);
  json run = parsed(patched);
  CHECK(run["state"] == "failed");
  CHECK(run["summary"]["vulnerable"] == 2);  // tool and tool-cli: pushed, still vulnerable, not rolled out
  auto tasks = by_key(run["tasks"], "image");
  CHECK_FALSE(tasks.count(fleet.image("apps/web:1")));  // nothing to cascade from an unfixed base
  REQUIRE(tasks.count(fleet.image("apps/tool:1")));
  const json& verdict = tasks[fleet.image("apps/tool:1")]["verdict"];
  REQUIRE(verdict.is_string());
  CHECK(verdict.get<std::string>().rfind("vulnerable", 0) == 0);
  CHECK(contains(verdict, "bash 5.2.26-r0"));
  CHECK(fleet.bash_downloads() == 2);  // it was rebuilt (no cache) and fetched the same bash again
  auto tool = api.inspect("tool");
  CHECK(tool["State"]["Running"] == true);
  CHECK(tool["Image"] == before["tool"]);  // not rolled out
  for (const auto& step : run["rollouts"]) CHECK(step["workload"] != "tool");
}

TEST_CASE("advisory drill: bad input through the binary exits 2 and stores nothing") {
  test::TempDir dir;
  std::string pipeline = (dir / "pipeline.yaml").string();
  test::write_file(pipeline, "version: 1\nsources: []\n");
  auto osv = [&](const std::string& name, const std::string& ecosystem, const std::string& fixed) {
    std::string path = (dir / name).string();
    test::write_file(path, "{\"id\": \"x_BAD-1\", \"affected\": [{\"package\": {\"ecosystem\": \"" + ecosystem +
                               "\", \"name\": \"bash\"}, \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": "
                               "[{\"introduced\": \"0\"}, {\"fixed\": " + fixed + "}]}]}]}");
    return path;
  };
  auto affected = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"affected", "-p", pipeline});
    return test::cascade(args);
  };

  auto malformed = affected({"--advisory", osv("malformed.json", "Debian:12", "7")});
  CHECK(malformed.exit_code == 2);
  CHECK(malformed.err.find("malformed.json") != std::string::npos);
  CHECK(malformed.err.find("affected[0].ranges[0].events[1].fixed") != std::string::npos);

  auto unknown = affected({"--advisory", osv("unknown.json", "Plan9:4", "\"1.0\"")});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("affected[0].package.ecosystem") != std::string::npos);
  CHECK(unknown.err.find("Plan9") != std::string::npos);

  auto constraint = affected({"--package", "bash<<1"});
  CHECK(constraint.exit_code == 2);
  CHECK(constraint.err.find("'<<'") != std::string::npos);

  auto versionless = test::cascade({"patch", "-p", pipeline, "--package", "bash"});
  CHECK(versionless.exit_code == 2);
  CHECK(versionless.err.find("bash<FIXED_VERSION") != std::string::npos);

  CHECK_FALSE(test::fs::exists(dir / ".cascade"));  // no state store was even opened
}
