// `cascade serve` end to end, against real peers only: a real docker-registry whose own push
// notifications reach the daemon, real buildah builds and pushes, a real podman API service
// running the workloads. The daemon is the real binary; the test only pushes a patched base
// and watches.
#include <doctest/doctest.h>

#include "builder_fixture.hpp"
#include "patch_support.hpp"
#include "podman_fixture.hpp"
#include "serve_fixture.hpp"

using nlohmann::json;
using namespace cascade;

namespace {

json container(const std::string& image, const std::string& service) {
  json labels = {{"app.role", "demo"}};
  if (!service.empty()) {
    labels["com.docker.compose.project"] = "demo";
    labels["com.docker.compose.service"] = service;
  }
  return {{"Image", image},
          {"Cmd", {"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"}},
          {"Labels", labels},
          {"StopTimeout", 1},
          {"HostConfig", {{"NetworkMode", "none"}}}};
}

std::vector<json> runs_of_kind(const json& runs, const std::string& kind) {
  std::vector<json> out;
  for (const auto& run : runs["runs"])
    if (run["trigger"]["kind"] == kind) out.push_back(run);
  return out;
}

bool final_state(const json& run) {
  return run["state"] == "succeeded" || run["state"] == "failed" || run["state"] == "interrupted";
}

}  // namespace

TEST_CASE("a push of a patched base, reported by the registry's own webhook, rebuilds, pushes and redeploys") {
  int port = test::free_port();
  test::PatchFleet fleet({}, std::nullopt,
                         {"http://127.0.0.1:" + std::to_string(port) + "/hooks/registry", "Bearer hook-token"});
  auto built = fleet.cascade("patch", {fleet.image("platform/base:1"), "--no-deploy"});
  REQUIRE_MESSAGE(built.exit_code == 0, built.err);

  test::PodmanService podman({fleet.registry().host()});
  test::EngineApi engine(podman.socket());
  engine.pull(fleet.image("apps/billing"), "1");
  engine.pull(fleet.image("apps/reports"), "1");
  std::string old_reports = engine.image_id(fleet.image("apps/reports:1"));
  engine.run("billing-1", container(fleet.image("apps/billing:1"), "billing"));
  engine.run("billing-2", container(fleet.image("apps/billing:1"), "billing"));
  engine.run("reports", container(fleet.image("apps/reports:1"), ""));

  test::write_file(fleet.pipeline(),
                   test::read_file(fleet.pipeline()) + "deploy:\n  - name: podman\n    kind: docker\n    endpoint: " +
                       podman.endpoint() +
                       "\n    rollout: {batch: 1, max_unavailable: 1, health_timeout: 30s}\n"
                       "triggers:\n  listen: 127.0.0.1:" + std::to_string(port) +
                       "\n  debounce: 1s\n  log: json\n  webhooks:\n    - sender: distribution\n      path: registry\n"
                       "      token_env: HOOK_TOKEN\n");
  test::ServeProcess serve(fleet.pipeline(), port, {{"HOOK_TOKEN", "hook-token"}});

  test::BuildahSandbox sandbox;
  std::string patched = test::publish_patched_base(fleet, sandbox);
  REQUIRE(patched.rfind("sha256:", 0) == 0);

  // Nothing else is done: the registry tells the daemon, the daemon does the rest.
  json runs = serve.wait_for("/api/runs", [](const json& answer) {
    auto webhook = runs_of_kind(answer, "webhook");
    return !webhook.empty() && final_state(webhook.front());
  });
  auto webhook_runs = runs_of_kind(runs, "webhook");
  REQUIRE(webhook_runs.size() == 1);
  long long id = webhook_runs.front()["id"];
  json run = serve.json("/api/runs/" + std::to_string(id));
  CHECK_MESSAGE(run["state"] == "succeeded", serve.log());
  CHECK(run["trigger"]["image"] == fleet.image("platform/base:1") + "@" + patched);
  CHECK(run["trigger"]["actor"] == "distribution");

  // Every image downstream is rebuilt on exactly the pushed digest; the base itself is not.
  auto tasks = test::tasks_by_image(run);
  CHECK(tasks.size() == 8);
  CHECK(tasks.count(fleet.image("platform/base:1")) == 0);
  int on_patched = 0;
  for (const auto& [image, task] : tasks) {
    CHECK_MESSAGE(task["state"] == "pushed", image);
    CHECK(task["started_at"].is_string());
    CHECK(task["finished_at"].is_string());
    if (task["base_digests"].contains(fleet.image("platform/base:1"))) {
      CHECK(task["base_digests"][fleet.image("platform/base:1")] == patched);
      ++on_patched;
    }
  }
  CHECK(on_patched == 3);  // toolbox, web, worker
  CHECK(fleet.labels(fleet.image("runtimes/worker:1"))["org.opencontainers.image.base.digest"] == patched);

  // Rolled out: the workloads run the new images, healthy.
  std::set<std::string> healthy;
  for (const auto& step : run["rollouts"])
    if (step["state"] == "healthy") healthy.insert(step["workload"].get<std::string>());
  CHECK(healthy.count("demo/billing") == 1);
  CHECK(healthy.count("reports") == 1);
  std::string reports_digest = tasks[fleet.image("apps/reports:1")]["new_digest"];
  auto reports = engine.inspect("reports");
  CHECK(reports["State"]["Running"] == true);
  CHECK(reports["Image"] != old_reports);
  CHECK(reports["Image"] == engine.image_id(fleet.image("apps/reports") + "@" + reports_digest));

  // The registry also reported cascade's own pushes (and the initial build's): none of them
  // started a run. Every event ends joined to a run or settled with a reason.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  json events = serve.json("/api/events?limit=500");
  bool base_event_joined = false;
  for (const auto& event : events["events"]) {
    CHECK_MESSAGE((!event["run"].is_null() || !event["outcome"].is_null()), event.dump());
    if (event["image"] == fleet.image("platform/base:1") && event["digest"] == patched)
      base_event_joined = base_event_joined || event["run"] == id;
  }
  CHECK(base_event_joined);
  CHECK(runs_of_kind(serve.json("/api/runs"), "webhook").size() == 1);
  CHECK(serve.stop() == 0);
  CHECK(serve.log().find("\"msg\":\"stopped\"") != std::string::npos);
}

TEST_CASE("SIGTERM mid-run: running builds finish, the daemon exits 0, and the next start finishes the run") {
  int port = test::free_port();
  test::PatchFleet fleet;
  test::write_file(fleet.pipeline(), test::read_file(fleet.pipeline()) + "triggers:\n  listen: 127.0.0.1:" +
                                         std::to_string(port) + "\n  debounce: 0s\n  parallel: 1\n");
  long long id = 0;
  {
    test::ServeProcess serve(fleet.pipeline(), port, {{"CASCADE_API_TOKEN", "api-token"}});
    auto posted = serve.post("/api/patch", json{{"image", fleet.image("platform/base:1")}}.dump(),
                             {{"Authorization", "Bearer api-token"}});
    REQUIRE(posted);
    REQUIRE_MESSAGE(posted->status == 202, posted->body);
    id = json::parse(posted->body)["run"];
    serve.wait_for("/api/runs/" + std::to_string(id), [](const json& run) {
      return run["summary"]["pushed"].get<int>() >= 1 && run["summary"]["building"].get<int>() == 1;
    });
    CHECK(serve.stop() == 0);
    CHECK(serve.log().find("stopping") != std::string::npos);
  }
  json stopped = fleet.status(id);
  CHECK(stopped["state"] == "interrupted");
  int pushed_before = stopped["summary"]["pushed"];
  CHECK(pushed_before >= 2);  // the build running at SIGTERM finished and was pushed
  std::map<std::string, std::string> digests_before;
  for (const auto& task : stopped["tasks"])
    if (task["state"] == "pushed") digests_before[task["image"]] = task["new_digest"];

  test::ServeProcess again(fleet.pipeline(), port, {});
  json run = again.wait_for("/api/runs/" + std::to_string(id), [](const json& answer) {
    return answer["state"] == "succeeded" || answer["state"] == "failed";  // it starts out interrupted
  });
  CHECK_MESSAGE(run["state"] == "succeeded", again.log());
  CHECK(run["summary"]["pushed"] == 9);
  for (const auto& task : run["tasks"])  // nothing pushed before the stop was built again
    if (digests_before.count(task["image"])) CHECK(task["new_digest"] == digests_before[task["image"]]);
  CHECK(again.json("/api/runs")["runs"].size() == 1);
  CHECK(again.stop() == 0);
}
