// Waves and approvals before the build, end to end through the CLI: real registry, buildah,
// and two real podman engines (a canary and production, each with its own storage).
#include <doctest/doctest.h>

#include "release_support.hpp"

using nlohmann::json;
using namespace cascade;

TEST_CASE("release: waves roll the canary first, production after its soak; a canary that fails stops production") {
  test::ReleaseFleet fleet;
  fleet.build();
  test::PodmanService canary({fleet.registry().host()}), prod({fleet.registry().host()});
  test::EngineApi canary_api(canary.socket()), prod_api(prod.socket());
  test::run_app(canary_api, fleet, {{"web", {}}});
  test::run_app(prod_api, fleet, {{"web-1", {}}, {"web-2", {}}});
  fleet.configure("deploy:\n" + test::podman_target("canary", canary) + test::podman_target("prod", prod) +
                  "waves:\n  - {name: canary, targets: [canary], soak: 3s}\n  - {name: production, targets: [prod]}\n");

  fleet.change_base();
  auto good = fleet.cascade("patch", {fleet.image("base:1"), "--format", "json"});
  REQUIRE_MESSAGE(good.exit_code == 0, good.err);
  json run = json::parse(good.out);
  CHECK(run["state"] == "succeeded");
  std::string pushed = test::tasks_by_image(run)[fleet.image("app:1")]["new_digest"];
  auto releases = test::releases_of(run);
  REQUIRE(releases.size() == 3);
  CHECK(releases["canary/web"]["wave"] == 0);
  CHECK(releases["prod/web-1"]["wave"] == 1);
  for (const auto& [name, release] : releases) CHECK_MESSAGE(release["state"] == "done", name);
  CHECK(test::running_digest(canary_api, "web") == pushed);
  CHECK(test::running_digest(prod_api, "web-1") == pushed);
  CHECK(test::running_digest(prod_api, "web-2") == pushed);
  {
    INFO("production's first rollout step comes after the canary was healthy and then soaked 3 s");
    long long canary_done = test::millis(releases["canary/web"]["finished_at"]);
    long long prod_first = test::first_step_at(run, "prod");
    REQUIRE(prod_first > 0);
    CHECK(prod_first >= canary_done + 3000);
  }

  // The next app image fails its health check: the canary rolls back, production is never touched.
  (void)test::commit_files(fleet.repo(), {{"app/Dockerfile", "FROM " + fleet.image("base:1") +
                                                                  "\nRUN echo app > /app\n"
                                                                  "HEALTHCHECK --interval=1s --retries=2 CMD [\"false\"]\n"}});
  fleet.change_base();
  auto bad = fleet.cascade("patch", {fleet.image("base:1"), "--format", "json"});
  CHECK(bad.exit_code == 1);
  json failed = json::parse(bad.out);
  CHECK(failed["state"] == "failed");
  std::string unhealthy = test::tasks_by_image(failed)[fleet.image("app:1")]["new_digest"];
  auto after = test::releases_of(failed);
  CHECK(after["canary/web"]["state"] == "failed");
  CHECK(after["prod/web-1"]["state"] == "stopped");
  CHECK(after["prod/web-1"]["detail"] == "not rolled out: wave canary failed");
  CHECK(after["prod/web-2"]["state"] == "stopped");
  CHECK(test::running_digest(canary_api, "web") == pushed);  // rolled back to what it ran
  CHECK(test::running_digest(prod_api, "web-1") == pushed);  // never touched
  CHECK(test::running_digest(prod_api, "web-2") == pushed);
  for (const auto& step : failed["rollouts"]) CHECK(step["target"] != "prod");
  auto quarantine = fleet.cascade("quarantine", {"list"});
  CHECK(quarantine.out.find(unhealthy) != std::string::npos);
}

TEST_CASE("release: with approval before the build nothing is built until approved; a hold workload waits for a person") {
  test::ReleaseFleet fleet;
  fleet.build();
  std::string built = fleet.digest("app:1");
  test::PodmanService podman({fleet.registry().host()});
  test::EngineApi api(podman.socket());
  test::run_app(api, fleet, {{"web", {}}, {"db", {{"io.cascade.policy", "hold"}}}});
  fleet.configure("approval: {required: 2, timeout: 1h, before: build}\ndeploy:\n" + test::podman_target("podman", podman));
  fleet.change_base();

  auto patched = fleet.cascade("patch", {fleet.image("base:1"), "--format", "json"});
  REQUIRE_MESSAGE(patched.exit_code == 0, patched.err);
  json waiting = json::parse(patched.out);
  long long id = waiting["id"];
  CHECK(waiting["state"] == "awaiting");
  for (const auto& task : waiting["tasks"]) CHECK(task["state"] == "pending");
  CHECK(fleet.digest("app:1") == built);  // nothing built, nothing pushed

  auto one = fleet.cascade("approve", {std::to_string(id), "--as", "alice"});
  REQUIRE_MESSAGE(one.exit_code == 0, one.err);
  CHECK(fleet.status(id)["state"] == "awaiting");  // one of two
  CHECK(fleet.digest("app:1") == built);

  auto two = fleet.cascade("approve", {std::to_string(id), "--as", "bob", "--format", "json"});
  REQUIRE_MESSAGE(two.exit_code == 0, two.err);
  json run = json::parse(two.out);
  std::string pushed = test::tasks_by_image(run)[fleet.image("app:1")]["new_digest"];
  CHECK(pushed != built);
  CHECK(fleet.digest("app:1") == pushed);
  // The approvals before the build count for the rollouts too: web rolls; db's own hold policy
  // wants a person for it... and two people approved this run, so it rolls as well.
  auto releases = test::releases_of(run);
  CHECK(releases["podman/web"]["state"] == "done");
  CHECK(releases["podman/db"]["state"] == "done");
  CHECK(run["state"] == "succeeded");
  CHECK(test::running_digest(api, "web") == pushed);
  CHECK(test::running_digest(api, "db") == pushed);
}

TEST_CASE("release: a hold workload on an ungated target waits for an approval; a rejection leaves it behind") {
  test::ReleaseFleet fleet;
  fleet.build();
  test::PodmanService podman({fleet.registry().host()});
  test::EngineApi api(podman.socket());
  test::run_app(api, fleet, {{"web", {}}, {"db", {{"io.cascade.policy", "hold"}}}});
  std::string before = test::running_digest(api, "db");
  fleet.configure("deploy:\n" + test::podman_target("podman", podman));
  fleet.change_base();

  auto patched = fleet.cascade("patch", {fleet.image("base:1"), "--format", "json"});
  REQUIRE_MESSAGE(patched.exit_code == 0, patched.err);
  json run = json::parse(patched.out);
  std::string pushed = test::tasks_by_image(run)[fleet.image("app:1")]["new_digest"];
  CHECK(run["state"] == "awaiting");
  CHECK(test::running_digest(api, "web") == pushed);  // the ungated workload rolled at once
  auto releases = test::releases_of(run);
  REQUIRE(releases.count("podman/db"));
  CHECK(releases["podman/db"]["detail"].get<std::string>().find("io.cascade.policy is hold") != std::string::npos);
  CHECK(test::running_digest(api, "db") == before);

  auto rejected = fleet.cascade("reject", {std::to_string(run["id"].get<long long>()), "--as", "dba", "--comment",
                                           "not during the migration", "--format", "json"});
  REQUIRE_MESSAGE(rejected.exit_code == 0, rejected.err);
  json after = json::parse(rejected.out);
  CHECK(after["state"] == "succeeded");  // a decision, not a failure: the image stays pushed
  CHECK(test::releases_of(after)["podman/db"]["state"] == "rejected");
  CHECK(test::releases_of(after)["podman/db"]["detail"].get<std::string>().find("not during the migration") !=
        std::string::npos);
  CHECK(test::running_digest(api, "db") == before);
  auto inventory = fleet.cascade("inventory", {"--format", "json"});
  REQUIRE_MESSAGE(inventory.exit_code == 0, inventory.err);
  json listed = json::parse(inventory.out);
  bool behind = false;
  for (const auto& workload : listed["targets"][0]["workloads"])
    if (workload["workload"] == "db") behind = workload["behind"].get<bool>();
  CHECK(behind);
}
