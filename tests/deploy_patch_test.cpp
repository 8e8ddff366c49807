// `cascade patch` with a deploy target: a real podman API service runs the example fleet's
// services, a real registry and buildah make the new images; each pushed image is rolled
// out, a failing health check is rolled back and its digest quarantined, a kill -9 mid-rollout
// is recovered by --resume. deploy_dockerd_patch_test.cpp runs the same bodies on dockerd.
#include <doctest/doctest.h>

#include "patch_support.hpp"
#include "podman_fixture.hpp"

using nlohmann::json;
using namespace cascade;

namespace {

// A container of `image` that stops at once on SIGTERM, in compose service `service` when given.
json container(const std::string& image, const std::string& service) {
  json labels = json::object();
  labels["app.role"] = "demo";
  if (!service.empty()) {
    labels["com.docker.compose.project"] = "demo";
    labels["com.docker.compose.service"] = service;
  }
  return {{"Image", image},
          {"Cmd", {"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"}},
          {"Env", {"DEMO=1"}},
          {"Labels", labels},
          {"StopTimeout", 1},
          {"HostConfig", {{"NetworkMode", "none"}}}};
}

}  // namespace

namespace cascade::test {

// The end-to-end bodies run once per engine: here against podman, in
// deploy_dockerd_patch_test.cpp against dockerd. `target` names the deploy target in the
// pipeline; `socket` is the engine's API socket, and the engine pulls from the fleet's
// plain-http registry on 127.0.0.1.

void patch_rolls_out_rolls_back_and_quarantines(PatchFleet& fleet, const std::string& target, const std::string& socket) {
  auto built = fleet.cascade("patch", {fleet.image("platform/base:1"), "--no-deploy"});
  REQUIRE_MESSAGE(built.exit_code == 0, built.err);

  EngineApi api(socket);
  api.pull(fleet.image("apps/billing"), "1");
  api.pull(fleet.image("apps/reports"), "1");
  std::string old_billing = api.image_id(fleet.image("apps/billing:1"));
  std::string old_reports = api.image_id(fleet.image("apps/reports:1"));
  api.run("billing-1", container(fleet.image("apps/billing:1"), "billing"));
  api.run("billing-2", container(fleet.image("apps/billing:1"), "billing"));
  api.run("reports", container(fleet.image("apps/reports:1"), ""));

  write_file(fleet.pipeline(), read_file(fleet.pipeline()) + "deploy:\n  - name: " + target +
                                   "\n    kind: docker\n    endpoint: unix://" + socket +
                                   "\n    rollout: {batch: 1, max_unavailable: 1, health_timeout: 20s, stable_for: 1s}\n");
  // A fix in the base, and a billing image whose health check now fails.
  commit_files(fleet.repos() / "platform",
               {{"base/Dockerfile", read_file(fleet.repos() / "platform/base/Dockerfile") + "RUN echo patched > /etc/patched\n"}});
  std::string billing = read_file(fleet.repos() / "apps/services/billing/Dockerfile");
  billing.replace(billing.find("HEALTHCHECK"), std::string::npos, "HEALTHCHECK --interval=1s --retries=2 CMD [\"false\"]\n");
  commit_files(fleet.repos() / "apps", {{"services/billing/Dockerfile", billing}});

  auto plan = fleet.cascade("plan", {fleet.image("platform/base:1"), "--format", "json"});
  REQUIRE_MESSAGE(plan.exit_code == 0, plan.err);
  json planned = json::parse(plan.out);
  for (const auto& step : planned["steps"]) {
    if (step["image"] != fleet.image("apps/billing:1")) continue;
    REQUIRE(step["workloads"].size() == 1);
    CHECK(step["workloads"][0]["workload"] == "demo/billing");
    CHECK(step["workloads"][0]["instances"] == 2);
  }

  auto affected = fleet.cascade("affected", {fleet.image("platform/base:1")});
  CHECK(affected.out.find("runs in " + target + "/demo/billing") != std::string::npos);
  CHECK(affected.out.find("runs in " + target + "/reports") != std::string::npos);

  auto patched = fleet.cascade("patch", {fleet.image("platform/base:1"), "--format", "json"});
  CHECK(patched.exit_code == 1);  // one rollout was rolled back
  json run = json::parse(patched.out);
  CHECK(run["summary"]["pushed"] == 9);
  auto tasks = tasks_by_image(run);
  std::string reports_digest = tasks[fleet.image("apps/reports:1")]["new_digest"];
  std::string billing_digest = tasks[fleet.image("apps/billing:1")]["new_digest"];

  // One run of the fleet, then its checks in order, each in its own block (the later ones
  // change what runs).
  {
    INFO("the healthy image runs everywhere it ran; configuration kept");
    auto reports = api.inspect("reports");
    CHECK(reports["State"]["Running"] == true);
    CHECK(reports["Image"] != old_reports);
    CHECK(reports["Image"] == api.image_id(fleet.image("apps/reports") + "@" + reports_digest));
    CHECK(reports["Config"]["Labels"]["app.role"] == "demo");
    bool env_kept = false;
    for (const auto& entry : reports["Config"]["Env"]) env_kept = env_kept || entry == "DEMO=1";
    CHECK(env_kept);
  }
  {
    INFO("the unhealthy image is rolled back: the old containers run the old image again");
    for (const char* name : {"billing-1", "billing-2"}) {
      auto inspected = api.inspect(name);
      CHECK(inspected["State"]["Running"] == true);
      CHECK(inspected["Image"] == old_billing);
    }
    CHECK(api.list().size() == 3);  // no copies left behind
  }
  {
    INFO("inventory shows what runs where and marks the workload left behind");
    auto listed = fleet.cascade("inventory", {"--format", "json"});
    REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
    json inventory = json::parse(listed.out);  // kept alive: the loop below walks into it
    std::map<std::string, json> workloads;
    for (const auto& workload : inventory["targets"][0]["workloads"]) workloads[workload["workload"].get<std::string>()] = workload;
    REQUIRE(workloads.count("demo/billing"));
    REQUIRE(workloads.count("reports"));
    CHECK(workloads["demo/billing"]["behind"] == true);
    CHECK(workloads["demo/billing"]["newest_digest"] == billing_digest);
    CHECK(workloads["demo/billing"]["instances"].size() == 2);
    CHECK(workloads["reports"]["behind"] == false);
  }
  {
    INFO("the rolled-back digest is quarantined and not deployed again");
    auto quarantine = fleet.cascade("quarantine", {"list", "--format", "json"});
    REQUIRE(quarantine.exit_code == 0);
    auto quarantined = json::parse(quarantine.out)["quarantined"];
    REQUIRE(quarantined.size() == 1);
    CHECK(quarantined[0]["image"] == fleet.image("apps/billing:1"));
    CHECK(quarantined[0]["digest"] == billing_digest);
    bool recorded = false;
    for (const auto& step : run["rollouts"])
      if (step["workload"] == "demo/billing" && step["state"] == "rolled_back") recorded = true;
    CHECK(recorded);
    // The same patch again: nothing to build; billing's digest stays quarantined.
    auto again = fleet.cascade("patch", {fleet.image("platform/base:1"), "--format", "json"});
    json rerun = json::parse(again.out);
    CHECK(rerun["summary"]["pushed"] == 0);
    CHECK(api.inspect("billing-1")["Image"] == old_billing);
    bool refused = false;
    for (const auto& step : rerun["rollouts"])
      if (step["detail"].get<std::string>().find("quarantined") != std::string::npos) refused = true;
    CHECK(refused);
    auto cleared = fleet.cascade("quarantine", {"clear", fleet.image("apps/billing:1") + "@" + billing_digest});
    CHECK(cleared.exit_code == 0);
    CHECK(json::parse(fleet.cascade("quarantine", {"--format", "json"}).out)["quarantined"].empty());
  }
  {
    INFO("cascade deploy rolls an already-pushed digest out (here: back to the previous reports image)");
    std::string previous = tasks[fleet.image("apps/reports:1")]["old_digest"];
    auto deployed = fleet.cascade("deploy", {fleet.image("apps/reports:1") + "@" + previous, "--format", "json"});
    CHECK_MESSAGE(deployed.exit_code == 0, deployed.err);
    CHECK(api.inspect("reports")["Image"] == old_reports);
    CHECK(api.inspect("reports")["State"]["Running"] == true);
    auto unknown = fleet.cascade("deploy", {"docker.io/library/nope:1"});
    CHECK(unknown.exit_code == 2);
  }
}

void patch_kill9_mid_rollout_then_resume(PatchFleet& fleet, const std::string& target, const std::string& socket) {
  auto built = fleet.cascade("patch", {fleet.image("platform/base:1"), "--no-deploy"});
  REQUIRE_MESSAGE(built.exit_code == 0, built.err);
  EngineApi api(socket);
  api.pull(fleet.image("apps/reports"), "1");
  for (const char* name : {"reports-1", "reports-2"}) api.run(name, container(fleet.image("apps/reports:1"), "reports"));
  // A slow gate ("running for 4 s"), so the kill lands while a replica is gated: its old
  // container stopped and renamed aside, its twin on the new image started.
  write_file(fleet.pipeline(), read_file(fleet.pipeline()) + "deploy:\n  - name: " + target +
                                   "\n    kind: docker\n    endpoint: unix://" + socket +
                                   "\n    rollout: {batch: 1, max_unavailable: 1, health_timeout: 30s, stable_for: 4s}\n");
  commit_files(fleet.repos() / "platform",
               {{"base/Dockerfile", read_file(fleet.repos() / "platform/base/Dockerfile") + "RUN echo patched > /etc/patched\n"}});

  namespace bp = boost::process::v2;
  boost::asio::io_context io;
  std::vector<std::string> args = {"patch", "-p", fleet.pipeline(), fleet.image("platform/base:1")};
  bp::process patch(io, cascade_binary(), args, bp::process_stdio{nullptr, nullptr, nullptr});
  bool mid_rollout = false;
  for (int i = 0; i < 1200 && !mid_rollout; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto status = fleet.cascade("status", {"2", "--format", "json"});  // run 1 was the build without deploy
    if (status.exit_code != 0) continue;
    json run = json::parse(status.out);
    for (const auto& step : run["rollouts"])
      if (step["state"] == "updating" && step["detail"].get<std::string>().find("reports-") == 0 &&
          step["detail"].get<std::string>().find(": started ") != std::string::npos)
        mid_rollout = true;
  }
  REQUIRE(mid_rollout);
  ::kill(patch.id(), SIGKILL);
  boost::system::error_code ec;
  patch.wait(ec);
  std::size_t aside = 0;  // what --resume must recover first
  for (const auto& listed : api.list())
    if (listed["Names"][0].get<std::string>().find("cascade-old") != std::string::npos) ++aside;
  CHECK(aside >= 1);  // one, or two when the first replica passed its gate before the kill

  auto resumed = fleet.cascade("patch", {"--resume", "2", "--format", "json"});
  CHECK_MESSAGE(resumed.exit_code == 0, resumed.err);
  json run = json::parse(resumed.out);
  CHECK(run["state"] == "succeeded");
  std::string reports_digest = tasks_by_image(run)[fleet.image("apps/reports:1")]["new_digest"];
  std::string new_image = api.image_id(fleet.image("apps/reports") + "@" + reports_digest);
  // Exactly one healthy set: two containers, both running the new image, no leftovers.
  json containers = api.list();
  CHECK(containers.size() == 2);
  for (const auto& listed : containers) {
    auto inspected = api.inspect(listed["Id"]);
    CHECK(inspected["State"]["Running"] == true);
    CHECK(inspected["Image"] == new_image);
    CHECK(inspected["Name"].get<std::string>().find("cascade-old") == std::string::npos);
  }
}

}  // namespace cascade::test

TEST_CASE("patch with a docker deploy target: roll out, roll back, quarantine") {
  test::PatchFleet fleet;
  test::PodmanService podman({fleet.registry().host()});
  test::patch_rolls_out_rolls_back_and_quarantines(fleet, "podman", podman.socket());
}

TEST_CASE("patch with a docker deploy target: kill -9 during a rollout, then --resume") {
  test::PatchFleet fleet;
  test::PodmanService podman({fleet.registry().host()});
  test::patch_kill9_mid_rollout_then_resume(fleet, "podman", podman.socket());
}

TEST_CASE("patch with docker deploy targets: two services of two replicas and an HTTP-probed one all roll out") {
  test::PatchFleet fleet;
  auto built = fleet.cascade("patch", {fleet.image("platform/base:1"), "--no-deploy"});
  REQUIRE_MESSAGE(built.exit_code == 0, built.err);
  test::PodmanService podman({fleet.registry().host()});
  test::EngineApi api(podman.socket());
  test::TempDir mount;
  for (const char* image : {"apps/billing", "apps/reports", "apps/status"}) api.pull(fleet.image(image), "1");
  std::map<std::string, std::string> old_image;
  for (const char* service : {"billing", "reports"}) {
    for (int replica = 1; replica <= 2; ++replica) {
      json body = container(fleet.image(std::string("apps/") + service + ":1"), service);
      body["HostConfig"]["Binds"] = {mount.str() + ":/data"};
      std::string name = std::string(service) + "-" + std::to_string(replica);
      api.run(name, body);
      old_image[name] = api.inspect(name)["Image"];
    }
  }
  int port = test::free_port();
  json web = container(fleet.image("apps/status:1"), "");
  web["Cmd"] = {"httpd", "-f", "-p", std::to_string(port), "-h", "/srv/www"};
  web["HostConfig"]["NetworkMode"] = "host";
  api.run("status", web);
  old_image["status"] = api.inspect("status")["Image"];

  test::write_file(fleet.pipeline(),
                   test::read_file(fleet.pipeline()) + "deploy:\n  - name: podman\n    kind: docker\n    endpoint: " +
                       podman.endpoint() + "\n    images: [\"*/apps/billing\", \"*/apps/reports\"]\n" +
                       "    rollout: {batch: 1, max_unavailable: 1, health_timeout: 20s, stable_for: 1s}\n" +
                       "  - name: web\n    kind: docker\n    endpoint: " + podman.endpoint() +
                       "\n    images: [\"*/apps/status\"]\n    rollout: {health_timeout: 20s, http_probe: \"http://127.0.0.1:" +
                       std::to_string(port) + "/health\"}\n");
  test::commit_files(fleet.repos() / "platform",
                     {{"base/Dockerfile", test::read_file(fleet.repos() / "platform/base/Dockerfile") +
                                              "RUN echo patched > /etc/patched\n"}});
  auto patched = fleet.cascade("patch", {fleet.image("platform/base:1"), "--format", "json"});
  CHECK_MESSAGE(patched.exit_code == 0, patched.err);
  json run = json::parse(patched.out);
  auto tasks = test::tasks_by_image(run);
  for (const auto& [name, before] : old_image) {
    INFO(name);
    auto inspected = api.inspect(name);
    std::string service = name == "status" ? "status" : name.substr(0, name.find('-'));
    std::string digest = tasks[fleet.image("apps/" + service + ":1")]["new_digest"];
    CHECK(inspected["State"]["Running"] == true);
    CHECK(inspected["Image"] != before);
    CHECK(inspected["Image"] == api.image_id(fleet.image("apps/" + service) + "@" + digest));
    if (name == "status") continue;
    CHECK(inspected["Config"]["Labels"]["com.docker.compose.service"] == service);
    CHECK(inspected["Config"]["Cmd"][2].get<std::string>().find("trap") != std::string::npos);
    CHECK(inspected["HostConfig"]["Binds"][0].get<std::string>().rfind(mount.str() + ":/data", 0) == 0);
    bool env_kept = false;
    for (const auto& entry : inspected["Config"]["Env"]) env_kept = env_kept || entry == "DEMO=1";
    CHECK(env_kept);
  }
  CHECK(api.list().size() == 5);  // the old containers are gone
  bool probed = false;
  for (const auto& step : run["rollouts"])
    if (step["target"] == "web" && step["state"] == "healthy") probed = true;
  CHECK(probed);
}
