// Release control through the CLI, end to end: the real cascade binary, a real registry,
// buildah and podman (tests/release_support.hpp). `test:` commands gate the push; a target
// that needs an approval holds its rollouts with their blast radius until `cascade approve`;
// an urgent run skips the gates only where the target allows it; a `monitor` workload is
// reported and never touched; bad release keys are refused with their place in the file.
#include <doctest/doctest.h>

#include "release_support.hpp"

using nlohmann::json;
using namespace cascade;

TEST_CASE("release: a failing test: command stops the push and blocks what is built on it; a passing one is pushed") {
  test::ReleaseFleet fleet("", "        test:\n          - run: [/bin/sh, -c, \"cat /app; echo probe-output; test -f /ok\"]\n"
                               "            timeout: 30s\n");
  auto run = fleet.cascade("patch", {fleet.image("base:1"), "--format", "json"});
  CHECK(run.exit_code == 1);
  json failed = json::parse(run.out);
  auto tasks = test::tasks_by_image(failed);
  CHECK(tasks[fleet.image("base:1")]["state"] == "pushed");
  CHECK(tasks[fleet.image("app:1")]["state"] == "failed");
  std::string reason = tasks[fleet.image("app:1")]["reason"];
  CHECK(reason.find("test-failed") != std::string::npos);
  CHECK(reason.find("exited with code 1") != std::string::npos);
  CHECK(reason.find("probe-output") != std::string::npos);  // the test's output is in the report
  CHECK(tasks[fleet.image("tool:1")]["state"] == "blocked");
  CHECK(fleet.digest("app:1").empty());  // never pushed under its tag
  CHECK(fleet.digest("tool:1").empty());
  auto text = fleet.cascade("status", {std::to_string(failed["id"].get<long long>())});
  CHECK(text.out.find("probe-output") != std::string::npos);

  // The same test passes once the image has the file: the image and its child are pushed.
  (void)test::commit_files(fleet.repo(), {{"app/Dockerfile", "FROM " + fleet.image("base:1") +
                                                                  "\nRUN echo app > /app\nRUN touch /ok\n"}});
  auto passed = fleet.cascade("patch", {fleet.image("base:1"), "--format", "json"});
  REQUIRE_MESSAGE(passed.exit_code == 0, passed.err);
  auto after = test::tasks_by_image(json::parse(passed.out));
  CHECK(after[fleet.image("app:1")]["state"] == "pushed");
  CHECK(after[fleet.image("tool:1")]["state"] == "pushed");
  CHECK(fleet.digest("app:1") == after[fleet.image("app:1")]["new_digest"]);
}

TEST_CASE("release: a target that needs an approval holds the rollout with its blast radius until cascade approve") {
  test::ReleaseFleet fleet;
  fleet.build();
  test::PodmanService podman({fleet.registry().host()});
  test::EngineApi api(podman.socket());
  test::run_app(api, fleet,
                {{"web", {}}, {"watched", {{"io.cascade.policy", "monitor"}}}, {"ignored", {{"io.cascade.policy", "skip"}}}});
  std::string before = test::running_digest(api, "web");
  REQUIRE_FALSE(before.empty());
  fleet.configure("deploy:\n" + test::podman_target("podman", podman, "    approval: {required: 1, timeout: 1h}\n"));
  fleet.change_base();

  auto patched = fleet.cascade("patch", {fleet.image("base:1"), "--format", "json"});
  REQUIRE_MESSAGE(patched.exit_code == 0, patched.err);  // built and pushed; the rollout waits
  CHECK(patched.err.find("cascade approve") != std::string::npos);
  json run = json::parse(patched.out);
  long long id = run["id"];
  CHECK(run["state"] == "awaiting");
  std::string pushed = test::tasks_by_image(run)[fleet.image("app:1")]["new_digest"];
  {
    INFO("the blast radius: which workload moves from which digest to which; skip is left out, monitor reported");
    auto releases = test::releases_of(run);
    REQUIRE(releases.count("podman/web"));
    CHECK(releases["podman/web"]["from_digest"] == before);
    CHECK(releases["podman/web"]["to_digest"] == pushed);
    CHECK(releases["podman/web"]["state"] == "held");
    CHECK(releases["podman/web"]["detail"] == "awaiting approval (0 of 1)");
    REQUIRE(releases.count("podman/watched"));
    CHECK(releases["podman/watched"]["state"] == "monitored");
    CHECK(releases["podman/watched"]["detail"].get<std::string>().find("would move from " + before) != std::string::npos);
    CHECK_FALSE(releases.count("podman/ignored"));
    CHECK(test::running_digest(api, "web") == before);  // nothing moved yet
  }
  {
    INFO("a decision on a run that is not awaiting, or for a target it does not hold, is refused");
    auto wrong_target = fleet.cascade("approve", {std::to_string(id), "--target", "elsewhere"});
    CHECK(wrong_target.exit_code == 2);
    CHECK(wrong_target.err.find("holds no rollout to target 'elsewhere'") != std::string::npos);
  }

  auto approved = fleet.cascade("approve", {std::to_string(id), "--as", "alice", "--comment", "canary looked fine",
                                            "--format", "json"});
  REQUIRE_MESSAGE(approved.exit_code == 0, approved.err);
  json after = json::parse(approved.out);
  CHECK(after["state"] == "succeeded");
  CHECK(test::running_digest(api, "web") == pushed);
  CHECK(test::running_digest(api, "watched") == before);  // monitor: never touched
  CHECK(test::running_digest(api, "ignored") == before);
  auto releases = test::releases_of(after);
  CHECK(releases["podman/web"]["state"] == "done");
  REQUIRE(after["approvals"].size() == 1);
  CHECK(after["approvals"][0]["actor"] == "alice");
  CHECK(after["approvals"][0]["decision"] == "approved");
  CHECK(after["approvals"][0]["comment"] == "canary looked fine");

  auto again = fleet.cascade("approve", {std::to_string(id)});
  CHECK(again.exit_code == 2);  // conflict: no longer awaiting
  CHECK(again.err.find("not awaiting a release") != std::string::npos);
}

TEST_CASE("release: an urgent run skips a closed window only on the targets that allow it, and says so") {
  test::ReleaseFleet fleet;
  fleet.build();
  test::PodmanService lab({fleet.registry().host()}), prod({fleet.registry().host()});
  test::EngineApi lab_api(lab.socket()), prod_api(prod.socket());
  for (auto* api : {&lab_api, &prod_api}) {
    api->pull(fleet.image("app"), "1");
    api->run("web", test::sleeper(fleet.image("app:1")));
  }
  std::string before = test::running_digest(prod_api, "web");
  // A window that opened and closed on 1 January: closed for the rest of the year.
  std::string closed = "    windows:\n      - {cron: \"0 0 1 1 *\", duration: 1m, timezone: Europe/Berlin}\n";
  fleet.configure("deploy:\n" + test::podman_target("lab", lab, closed + "    urgent: true\n") +
                  test::podman_target("prod", prod, closed));
  fleet.change_base();

  auto patched = fleet.cascade("patch", {fleet.image("base:1"), "--urgent", "--format", "json"});
  REQUIRE_MESSAGE(patched.exit_code == 0, patched.err);
  json run = json::parse(patched.out);
  CHECK(run["trigger"]["urgent"] == true);
  CHECK(run["state"] == "awaiting");  // prod still waits for its window
  std::string pushed = test::tasks_by_image(run)[fleet.image("app:1")]["new_digest"];
  auto releases = test::releases_of(run);
  CHECK(releases["lab/web"]["state"] == "done");
  CHECK(releases["lab/web"]["detail"].get<std::string>().starts_with("urgent (past its approval and windows): "));
  CHECK(test::running_digest(lab_api, "web") == pushed);
  CHECK(releases["prod/web"]["state"] == "held");
  std::string detail = releases["prod/web"]["detail"];
  CHECK(detail.find("outside the change window of prod; it opens") != std::string::npos);
  CHECK(detail.find("-01-01T00:00:00+01:00") != std::string::npos);  // the next opening, in the window's zone
  CHECK(test::running_digest(prod_api, "web") == before);

  auto text = fleet.cascade("status", {std::to_string(run["id"].get<long long>())});
  CHECK(text.out.find("(urgent)") != std::string::npos);
  CHECK(text.out.find("outside the change window of prod") != std::string::npos);
}

TEST_CASE("release: bad release keys are refused with the file, line, column and what to write") {
  test::ReleaseFleet fleet;
  fleet.configure("deploy:\n  - name: prod\n    kind: command\n    argv: [/bin/true]\n"
                  "    approval: {required: 0}\n");
  auto zero = fleet.cascade("validate", {});
  CHECK(zero.exit_code == 2);
  CHECK(zero.err.find(fleet.pipeline() + ":") != std::string::npos);
  CHECK(zero.err.find("required") != std::string::npos);

  fleet.configure("deploy:\n  - name: prod\n    kind: command\n    argv: [/bin/true]\n"
                  "waves:\n  - {targets: [canary]}\n");
  auto wave = fleet.cascade("plan", {fleet.image("base:1")});
  CHECK(wave.exit_code == 2);
  CHECK(wave.err.find("canary") != std::string::npos);

  fleet.configure("notify:\n  - kind: webhook\n    url_env: CASCADE_TEST_UNSET_HOOK_URL\n");
  auto secret = fleet.cascade("plan", {fleet.image("base:1")});
  CHECK(secret.exit_code == 2);
  CHECK(secret.err.find("CASCADE_TEST_UNSET_HOOK_URL") != std::string::npos);
}

TEST_CASE("release: a held rollout a later run superseded is not rolled out when approved late") {
  test::ReleaseFleet fleet;
  fleet.build();
  test::PodmanService podman({fleet.registry().host()});
  test::EngineApi api(podman.socket());
  test::run_app(api, fleet, {{"web", {}}});
  fleet.configure("deploy:\n" + test::podman_target("podman", podman, "    approval: {}\n"));
  std::vector<long long> runs;
  std::vector<std::string> pushed;
  for (int i = 0; i < 2; ++i) {
    fleet.change_base();
    auto patched = fleet.cascade("patch", {fleet.image("base:1"), "--format", "json"});
    REQUIRE_MESSAGE(patched.exit_code == 0, patched.err);
    json run = json::parse(patched.out);
    CHECK(run["state"] == "awaiting");
    runs.push_back(run["id"]);
    pushed.push_back(test::tasks_by_image(run)[fleet.image("app:1")]["new_digest"]);
  }
  // The newer run goes first; the older one, approved after, must not move web back.
  auto newer = fleet.cascade("approve", {std::to_string(runs[1]), "--as", "alice"});
  REQUIRE_MESSAGE(newer.exit_code == 0, newer.err);
  CHECK(test::running_digest(api, "web") == pushed[1]);
  auto older = fleet.cascade("approve", {std::to_string(runs[0]), "--as", "alice", "--format", "json"});
  REQUIRE_MESSAGE(older.exit_code == 0, older.err);
  json after = json::parse(older.out);
  auto release = test::releases_of(after)["podman/web"];
  CHECK(release["state"] == "rejected");
  CHECK(release["detail"].get<std::string>().find("superseded: run " + std::to_string(runs[1])) != std::string::npos);
  CHECK(test::running_digest(api, "web") == pushed[1]);
}
