// Release control through the daemon, end to end: the real `cascade serve`, a real registry,
// buildah and podman (tests/release_support.hpp), patched and decided through the HTTP API.
// A held rollout waits for an approver's decision (and survives a restart of the daemon), a
// change window opens on its own and the releaser rolls out then, notifications reach a real
// webhook receiver signed and in order despite its first failures, and waves roll a canary
// before production (and stop production when the canary fails).
#include <doctest/doctest.h>

#include <ctime>
#include <set>

#include "serve_release_support.hpp"

using nlohmann::json;
using namespace cascade;
using namespace cascade::test::serve_release;
using Clock = std::chrono::steady_clock;

namespace {

json workload_in_inventory(const json& inventory, const std::string& target, const std::string& workload) {
  for (const auto& entry : inventory["targets"])
    if (entry["name"] == target)
      for (const auto& item : entry["workloads"])
        if (item["workload"] == workload) return item;
  return nullptr;
}

std::string run_path(long long id) { return "/api/runs/" + std::to_string(id); }

}  // namespace

TEST_CASE("serve release: a held rollout is rejected through the API by an approver; the workload stays behind") {
  test::ReleaseFleet fleet;
  fleet.build();
  test::PodmanService podman({fleet.registry().host()});
  test::EngineApi api(podman.socket());
  test::run_app(api, fleet, {{"web", {}}});
  std::string before = test::running_digest(api, "web");
  REQUIRE_FALSE(before.empty());
  int port = test::free_port();
  fleet.configure("deploy:\n" + test::podman_target("podman", podman, "    approval: {required: 1}\n") + triggers(port));
  fleet.change_base();
  test::ServeProcess serve(fleet.pipeline(), port, tokens());

  long long id = patch(serve, fleet.image("base:1"));
  json awaiting = wait_held(serve, id, "podman/web", "awaiting approval (0 of 1)");
  auto held = test::releases_of(awaiting)["podman/web"];
  std::string pushed = held["to_digest"];
  CHECK(held["from_digest"] == before);
  CHECK(pushed == fleet.digest("app:1"));  // built and pushed; only the rollout waits
  CHECK(pushed != before);
  CHECK(test::running_digest(api, "web") == before);

  {
    INFO("no token or a wrong one: 401, nothing recorded");
    auto wrong = serve.post(run_path(id) + "/reject", json{{"comment", "no"}}.dump(), bearer("not-a-token"));
    REQUIRE(wrong);
    CHECK(wrong->status == 401);
    auto none = serve.post(run_path(id) + "/reject", "");
    REQUIRE(none);
    CHECK(none->status == 401);
  }
  {
    INFO("bad decisions: an unknown run 404, a target the run does not hold 404, an unknown field or urgent reject 400");
    auto unknown = serve.post(run_path(id + 1000) + "/reject", "", bearer(kAliceToken));
    REQUIRE(unknown);
    CHECK(unknown->status == 404);
    auto elsewhere = serve.post(run_path(id) + "/reject", json{{"target", "elsewhere"}}.dump(), bearer(kAliceToken));
    REQUIRE(elsewhere);
    CHECK(elsewhere->status == 404);
    CHECK(elsewhere->body.find("holds no rollout to target 'elsewhere'") != std::string::npos);
    auto field = serve.post(run_path(id) + "/reject", json{{"reason", "no"}}.dump(), bearer(kAliceToken));
    REQUIRE(field);
    CHECK(field->status == 400);
    auto urgent = serve.post(run_path(id) + "/reject", json{{"urgent", true}}.dump(), bearer(kAliceToken));
    REQUIRE(urgent);
    CHECK(urgent->status == 400);
    json run = serve.json(run_path(id));
    CHECK(run["approvals"].empty());
    CHECK(run["state"] == "awaiting");
    CHECK(test::releases_of(run)["podman/web"]["state"] == "held");
  }

  auto rejected = serve.post(run_path(id) + "/reject", json{{"comment", "not during the sale"}}.dump(), bearer(kAliceToken));
  REQUIRE(rejected);
  REQUIRE_MESSAGE(rejected->status == 202, rejected->body);
  CHECK(json::parse(rejected->body)["actor"] == "alice");
  CHECK(json::parse(rejected->body)["decision"] == "rejected");

  json run = serve.wait_for(run_path(id), final_state, std::chrono::seconds(30));
  CHECK_MESSAGE(run["state"] == "succeeded", serve.log());  // images pushed; nothing failed
  auto release = test::releases_of(run)["podman/web"];
  CHECK(release["state"] == "rejected");
  CHECK(release["detail"].get<std::string>().find("rejected by alice: not during the sale") != std::string::npos);
  CHECK(release["finished_at"].is_string());
  REQUIRE(run["approvals"].size() == 1);
  CHECK(run["approvals"][0]["actor"] == "alice");
  CHECK(run["approvals"][0]["decision"] == "rejected");
  CHECK(run["approvals"][0]["comment"] == "not during the sale");
  CHECK(test::running_digest(api, "web") == before);
  for (const auto& step : run["rollouts"]) CHECK_MESSAGE(step["workload"] != "web", step.dump());

  json inventory = serve.json("/api/inventory");
  json web = workload_in_inventory(inventory, "podman", "web");
  REQUIRE_MESSAGE(web.is_object(), inventory.dump());
  CHECK(web["behind"] == true);
  CHECK(web["digest"] == before);
  CHECK(web["newest_digest"] == pushed);

  auto again = serve.post(run_path(id) + "/approve", "", bearer(kApiToken));
  REQUIRE(again);
  CHECK(again->status == 409);  // no longer awaiting
  CHECK(serve.stop() == 0);
}

TEST_CASE("serve release: a run awaiting approval survives a restart of the daemon and is approved afterwards") {
  test::ReleaseFleet fleet;
  fleet.build();
  test::PodmanService podman({fleet.registry().host()});
  test::EngineApi api(podman.socket());
  test::run_app(api, fleet, {{"web", {}}});
  std::string before = test::running_digest(api, "web");
  int port = test::free_port();
  fleet.configure("deploy:\n" + test::podman_target("podman", podman, "    approval: {required: 1}\n") + triggers(port));
  fleet.change_base();

  long long id = 0;
  std::string pushed;
  {
    test::ServeProcess serve(fleet.pipeline(), port, tokens());
    id = patch(serve, fleet.image("base:1"));
    json awaiting = wait_held(serve, id, "podman/web", "awaiting approval (0 of 1)");
    pushed = test::releases_of(awaiting)["podman/web"]["to_digest"];
    CHECK(serve.stop() == 0);
  }
  CHECK(test::running_digest(api, "web") == before);

  test::ServeProcess again(fleet.pipeline(), port, tokens());
  json run = again.json(run_path(id));
  CHECK(run["state"] == "awaiting");
  auto held = test::releases_of(run)["podman/web"];
  CHECK(held["state"] == "held");
  CHECK(held["detail"] == "awaiting approval (0 of 1)");
  CHECK(held["to_digest"] == pushed);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // a few releaser passes: nothing moves without a decision
  CHECK(again.json(run_path(id))["state"] == "awaiting");
  CHECK(test::running_digest(api, "web") == before);

  auto approved = again.post(run_path(id) + "/approve", json{{"comment", "after the restart"}}.dump(), bearer(kApiToken));
  REQUIRE(approved);
  REQUIRE_MESSAGE(approved->status == 202, approved->body);
  CHECK(json::parse(approved->body)["actor"] == "api");

  run = again.wait_for(run_path(id), final_state, std::chrono::seconds(60));
  CHECK_MESSAGE(run["state"] == "succeeded", again.log());
  CHECK(test::releases_of(run)["podman/web"]["state"] == "done");
  CHECK(test::running_digest(api, "web") == pushed);
  REQUIRE(run["approvals"].size() == 1);
  CHECK(run["approvals"][0]["actor"] == "api");
  CHECK(run["approvals"][0]["comment"] == "after the restart");
  CHECK(again.stop() == 0);
}

// This case waits for a real change window to open on the wall clock: the window opens at the
// next whole UTC minute far enough away for the build to finish first, so the test takes up
// to a minute more than the build. It cannot be shortened: cron windows open on whole minutes.
TEST_CASE("serve release: a closed change window holds the rollout; the daemon rolls it out when the window opens") {
  test::ReleaseFleet fleet;
  auto build_started = Clock::now();
  fleet.build();
  auto build_time = Clock::now() - build_started;  // the API's run rebuilds the same three images
  test::PodmanService podman({fleet.registry().host()});
  test::EngineApi api(podman.socket());
  test::run_app(api, fleet, {{"web", {}}});
  std::string before = test::running_digest(api, "web");
  int port = test::free_port();
  fleet.change_base();

  // The next whole minute at least 5 s away, and past the time the run needs to build (twice
  // the first build, plus the daemon's start), so the release is seen held before it opens.
  auto lead = std::max<std::chrono::system_clock::duration>(std::chrono::seconds(5),
                                                            2 * build_time + std::chrono::seconds(5));
  auto opening = std::chrono::ceil<std::chrono::minutes>(std::chrono::system_clock::now() + lead);
  std::time_t opening_t = std::chrono::system_clock::to_time_t(opening);
  std::tm utc{};
  gmtime_r(&opening_t, &utc);
  char cron[32], shown[40];
  std::snprintf(cron, sizeof cron, "%d %d * * *", utc.tm_min, utc.tm_hour);
  std::strftime(shown, sizeof shown, "%Y-%m-%dT%H:%M:%S+00:00", &utc);
  fleet.configure("deploy:\n" +
                  test::podman_target("podman", podman, "    windows:\n      - {cron: \"" + std::string(cron) +
                                                            "\", duration: 2m, timezone: UTC}\n") +
                  triggers(port));
  test::ServeProcess serve(fleet.pipeline(), port, tokens());

  long long id = patch(serve, fleet.image("base:1"));
  json awaiting = wait_held(serve, id, "podman/web", "outside the change window");
  REQUIRE_MESSAGE(std::chrono::system_clock::now() < opening, "the build outlasted the lead; the window opened already");
  auto held = test::releases_of(awaiting)["podman/web"];
  CHECK(held["detail"] == "outside the change window of podman; it opens " + std::string(shown));
  std::string pushed = held["to_digest"];
  CHECK(test::running_digest(api, "web") == before);
  CHECK(awaiting["rollouts"].empty());

  auto wait = std::chrono::duration_cast<std::chrono::seconds>(opening - std::chrono::system_clock::now()) +
              std::chrono::seconds(90);
  json run = serve.wait_for(run_path(id), final_state, wait);
  CHECK_MESSAGE(run["state"] == "succeeded", serve.log());
  auto release = test::releases_of(run)["podman/web"];
  CHECK(release["state"] == "done");
  CHECK(test::running_digest(api, "web") == pushed);
  long long opens_ms = std::chrono::duration_cast<std::chrono::milliseconds>(opening.time_since_epoch()).count();
  REQUIRE_FALSE(run["rollouts"].empty());
  {
    long long first_step = test::millis(run["rollouts"][0]["at"]);
    INFO("the window opens at " << shown << "; first rollout step " << run["rollouts"][0]["at"] << ", done at "
                                << release["finished_at"]);
    CHECK(first_step >= opens_ms);  // nothing moved before the window opened
    // It starts at the opening, not at some later chance: the releaser wakes at the instant a
    // pass names and re-decides every second. The bound is loose (sanitizer builds, a loaded
    // machine): a correctness check, not a speed one (the log's timings say how fast).
    CHECK(first_step <= opens_ms + 30000);
    CHECK(test::millis(release["finished_at"]) <= opens_ms + 80000);
  }
  CHECK(serve.stop() == 0);
}

TEST_CASE("serve release: notifications reach a webhook that fails at first: retried, signed, in order, once each") {
  FlakyReceiver receiver(3);
  const std::string secret = "hook-secret-R8w1";
  test::ReleaseFleet fleet;
  fleet.build();
  test::PodmanService podman({fleet.registry().host()});
  test::EngineApi api(podman.socket());
  auto ids = test::run_app(api, fleet, {{"web", {}}, {"watched", {{"io.cascade.policy", "monitor"}}}});
  std::string watched_id = ids["watched"];
  std::string before = test::running_digest(api, "web");
  int port = test::free_port();
  fleet.configure("deploy:\n" + test::podman_target("podman", podman, "    approval: {required: 1}\n") +
                  "notify:\n  - {kind: webhook, name: audit, url_env: HOOK_URL, secret_env: HOOK_SECRET, timeout: 5s}\n" +
                  triggers(port));
  fleet.change_base();
  test::ServeProcess serve(fleet.pipeline(), port,
                           tokens({{"HOOK_URL", receiver.url("/hooks/cascade")}, {"HOOK_SECRET", secret}}));

  long long id = patch(serve, fleet.image("base:1"));
  json awaiting = wait_held(serve, id, "podman/web", "awaiting approval (0 of 1)");
  std::string pushed = test::releases_of(awaiting)["podman/web"]["to_digest"];
  CHECK(test::releases_of(awaiting)["podman/watched"]["state"] == "monitored");
  auto approved = serve.post(run_path(id) + "/approve", "", bearer(kAliceToken));
  REQUIRE(approved);
  REQUIRE_MESSAGE(approved->status == 202, approved->body);
  json run = serve.wait_for(run_path(id), final_state, std::chrono::seconds(60));
  CHECK_MESSAGE(run["state"] == "succeeded", serve.log());
  CHECK(test::running_digest(api, "web") == pushed);

  bool finished = test::eventually(
      [&] {
        auto events = receiver.accepted_events();
        return std::find(events.begin(), events.end(), "run-finished") != events.end();
      },
      std::chrono::seconds(60));
  REQUIRE_MESSAGE(finished, serve.log());
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a duplicate would come within the notifier's next passes

  auto received = receiver.received();
  REQUIRE(received.size() >= 6);
  {
    INFO("the first three deliveries were answered 503 and retried with backoff (1 s, 2 s, 4 s)");
    std::string first_id = received[0].headers.get("X-Cascade-Delivery").value_or("");
    for (int i = 0; i < 4; ++i) {
      CHECK(received[i].headers.get("X-Cascade-Delivery").value_or("") == first_id);
      CHECK(received[i].headers.get("X-Cascade-Event").value_or("") == "run-started");
      CHECK(received[i].answered == (i < 3 ? 503 : 200));
    }
    for (int i = 1; i < 4; ++i) {
      double gap = std::chrono::duration<double>(received[i].at - received[i - 1].at).count();
      CHECK_MESSAGE(gap >= (1 << (i - 1)) - 0.2, "retry " << i << " after " << gap << " s");
    }
  }
  {
    INFO("delivered: each event exactly once, in order, each body naming its event and the run");
    CHECK(receiver.accepted_events() == std::vector<std::string>{"run-started", "awaiting-approval", "run-finished"});
    std::set<std::string> ids;
    for (const auto& request : received) {
      json body = json::parse(request.body);
      CHECK(request.target == "/hooks/cascade");
      CHECK(request.headers.get("X-Cascade-Delivery").value_or("") == body["id"]);
      CHECK(request.headers.get("X-Cascade-Event").value_or("") == body["event"]);
      CHECK(body["run"] == id);
      CHECK_MESSAGE(request.headers.get("X-Cascade-Signature-256").value_or("") ==
                        "sha256=" + openssl_hmac_hex(secret, request.body),
                    body["event"]);
      if (request.answered == 200) CHECK_MESSAGE(ids.insert(body["id"].get<std::string>()).second, body["id"]);
    }
    CHECK(ids.size() == 3);
  }
  json awaiting_body, finished_body;
  for (const auto& request : received) {
    if (request.answered != 200) continue;
    json body = json::parse(request.body);
    if (body["event"] == "awaiting-approval") awaiting_body = body;
    if (body["event"] == "run-finished") finished_body = body;
  }
  {
    INFO("awaiting-approval carries the blast radius: " << awaiting_body.dump());
    REQUIRE(awaiting_body["releases"].is_array());
    bool web = false;
    for (const auto& release : awaiting_body["releases"])
      if (release["workload"] == "web")
        web = release["from_digest"] == before && release["to_digest"] == pushed && release["target"] == "podman";
    CHECK(web);
  }
  {
    INFO("run-finished: the monitor workload is behind, untouched: " << finished_body.dump());
    CHECK(finished_body["state"] == "succeeded");
    CHECK(finished_body["summary"]["behind"] == 1);
    REQUIRE(finished_body["behind"].size() == 1);
    CHECK(finished_body["behind"][0]["workload"] == "watched");
    CHECK(finished_body["behind"][0]["target"] == "podman");
    CHECK(finished_body["behind"][0]["state"] == "monitored");
  }
  CHECK(test::running_digest(api, "watched") == before);
  CHECK(api.inspect("watched")["Id"] == watched_id);  // the same container, never recreated
  CHECK(api.inspect("watched")["State"]["Running"] == true);
  CHECK(serve.stop() == 0);
}

TEST_CASE("serve release: waves through the daemon: canary first, production after the soak; a failing canary stops it") {
  test::ReleaseFleet fleet;
  fleet.build();
  test::PodmanService canary({fleet.registry().host()}), prod({fleet.registry().host()});
  test::EngineApi canary_api(canary.socket()), prod_api(prod.socket());
  test::run_app(canary_api, fleet, {{"web", {}}});
  test::run_app(prod_api, fleet, {{"web-1", {}}, {"web-2", {}}});
  int port = test::free_port();
  fleet.configure("deploy:\n" + test::podman_target("canary", canary) + test::podman_target("prod", prod) +
                  "waves:\n  - {name: canary, targets: [canary], soak: 3s}\n  - {name: production, targets: [prod]}\n" +
                  triggers(port));
  fleet.change_base();
  test::ServeProcess serve(fleet.pipeline(), port, tokens());

  long long good = patch(serve, fleet.image("base:1"));
  json run = serve.wait_for(run_path(good), final_state, std::chrono::seconds(180));
  CHECK_MESSAGE(run["state"] == "succeeded", serve.log());
  std::string pushed = test::tasks_by_image(run)[fleet.image("app:1")]["new_digest"];
  auto releases = test::releases_of(run);
  REQUIRE(releases.size() == 3);
  CHECK(releases["canary/web"]["wave"] == 0);
  CHECK(releases["prod/web-1"]["wave"] == 1);
  CHECK(releases["prod/web-2"]["wave"] == 1);
  for (const auto& [name, release] : releases) CHECK_MESSAGE(release["state"] == "done", name);
  CHECK(test::running_digest(canary_api, "web") == pushed);
  CHECK(test::running_digest(prod_api, "web-1") == pushed);
  CHECK(test::running_digest(prod_api, "web-2") == pushed);
  {
    INFO("production's first rollout step comes after the canary's release finished and then soaked 3 s");
    long long canary_done = test::millis(releases["canary/web"]["finished_at"]);
    long long prod_first = test::first_step_at(run, "prod"), canary_first = test::first_step_at(run, "canary");
    REQUIRE(prod_first > 0);
    CHECK(canary_first > 0);
    CHECK(canary_first <= canary_done);
    CHECK(prod_first >= canary_done + 3000);
  }

  // The next app image fails its health check: the canary rolls back, production is stopped.
  (void)test::commit_files(fleet.repo(), {{"app/Dockerfile", "FROM " + fleet.image("base:1") +
                                                                 "\nRUN echo app > /app\n"
                                                                 "HEALTHCHECK --interval=1s --retries=2 CMD [\"false\"]\n"}});
  fleet.change_base();
  long long bad = patch(serve, fleet.image("base:1"));
  json failed = serve.wait_for(run_path(bad), final_state, std::chrono::seconds(180));
  CHECK(failed["state"] == "failed");
  auto after = test::releases_of(failed);
  REQUIRE(after.size() == 3);
  CHECK(after["canary/web"]["state"] == "failed");
  for (const char* name : {"prod/web-1", "prod/web-2"}) {
    CHECK_MESSAGE(after[name]["state"] == "stopped", name);
    CHECK_MESSAGE(after[name]["detail"].get<std::string>().find("wave canary failed") != std::string::npos,
                  after[name]["detail"]);
  }
  bool rolled_back = false;
  for (const auto& step : failed["rollouts"]) {
    CHECK_MESSAGE(step["target"] != "prod", step.dump());  // production never touched
    if (step["target"] == "canary" && step["state"] == "rolled_back") rolled_back = true;
  }
  CHECK(rolled_back);
  CHECK(test::running_digest(canary_api, "web") == pushed);  // back on the good image
  CHECK(test::running_digest(prod_api, "web-1") == pushed);
  CHECK(test::running_digest(prod_api, "web-2") == pushed);
  CHECK(serve.stop() == 0);
}
