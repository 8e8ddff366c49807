// The daemon's webhook intake and API on the real binary, a real registry and real buildah:
// a replayed delivery makes no second run, a burst of 50 pushes of one base makes one
// cascade, bad deliveries are refused without storing anything, the API and /metrics
// answer, and `cascade patch --server` / `status --server` drive it.
#include <doctest/doctest.h>

#include "cascade/webhook.hpp"
#include "serve_fixture.hpp"

using nlohmann::json;
using namespace cascade;

namespace {

std::string random_digest(int seed) {
  return test::sha256("burst-" + std::to_string(seed));
}

std::map<std::string, std::string> bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

}  // namespace

TEST_CASE("webhook intake: replay, burst, refusals; the API, metrics and the --server commands") {
  int port = test::free_port();
  test::PatchFleet fleet;
  auto built = fleet.cascade("patch", {fleet.image("platform/base:1")});
  REQUIRE_MESSAGE(built.exit_code == 0, built.err);
  test::write_file(fleet.pipeline(),
                   test::read_file(fleet.pipeline()) + "triggers:\n  listen: 127.0.0.1:" + std::to_string(port) +
                       "\n  debounce: 3s\n  body_limit: 64KiB\n  webhooks:\n"
                       "    - sender: distribution\n      path: registry\n      token_env: HOOK_TOKEN\n"
                       "    - sender: generic\n      secret_env: GENERIC_SECRET\n");
  test::ServeProcess serve(fleet.pipeline(), port,
                           {{"HOOK_TOKEN", "hook-token"}, {"GENERIC_SECRET", "generic-secret"}, {"CASCADE_API_TOKEN", "api-token"}});
  test::BuildahSandbox sandbox;
  std::string patched = test::publish_patched_base(fleet, sandbox);
  std::string host = fleet.registry().host();
  auto hook = [&](const std::string& body, const std::string& token = "hook-token") {
    auto answer = serve.post("/hooks/registry", body,
                             {{"Authorization", "Bearer " + token},
                              {"Content-Type", "application/vnd.docker.distribution.events.v1+json"}});
    REQUIRE(answer);
    return *answer;
  };

  // Refused deliveries store nothing.
  CHECK(hook("{\"events\": [", "hook-token").status == 400);
  auto wrong = hook(test::distribution_push(host, "platform/base", "1", patched, "evt-wrong"), "nope");
  CHECK(wrong.status == 401);
  CHECK(wrong.body.find("hook-token") == std::string::npos);
  CHECK(hook(std::string(70 * 1024, ' ')).status == 413);
  std::string generic = json{{"image", fleet.image("platform/base:1")}, {"digest", patched}, {"id", "g-1"}}.dump();
  auto unsigned_generic = serve.post("/hooks/generic", generic, {{"X-Cascade-Signature-256", "sha256=00"}});
  REQUIRE(unsigned_generic);
  CHECK(unsigned_generic->status == 401);
  CHECK(serve.json("/api/events")["events"].empty());

  // The first delivery, and its replay: one event.
  auto first = hook(test::distribution_push(host, "platform/base", "1", patched, "evt-0"));
  CHECK(first.status == 202);
  CHECK(json::parse(first.body)["accepted"] == 1);
  auto replay = hook(test::distribution_push(host, "platform/base", "1", patched, "evt-0"));
  CHECK(replay.status == 202);
  CHECK(json::parse(replay.body)["accepted"] == 0);
  CHECK(json::parse(replay.body)["duplicates"] == 1);
  // A burst of 50 pushes of the same base (as a CI retrying, or many tags) inside the window.
  for (int i = 1; i <= 50; ++i)
    CHECK(hook(test::distribution_push(host, "platform/base", "1", random_digest(i), "evt-" + std::to_string(i))).status == 202);

  json runs = serve.wait_for("/api/runs", [](const json& answer) {
    return !answer["runs"].empty() && answer["runs"][0]["trigger"]["kind"] == "webhook" &&
           answer["runs"][0]["state"] != "running" && answer["runs"][0]["state"] != "planned";
  });
  std::this_thread::sleep_for(std::chrono::seconds(4));  // a second cascade would start within the window
  runs = serve.json("/api/runs");
  std::vector<json> webhook_runs;
  for (const auto& run : runs["runs"])
    if (run["trigger"]["kind"] == "webhook") webhook_runs.push_back(run);
  REQUIRE(webhook_runs.size() == 1);
  long long id = webhook_runs[0]["id"];
  CHECK_MESSAGE(webhook_runs[0]["state"] == "succeeded", serve.log());
  // The registry says what the tag is: the cascade is of the pushed digest, not of a burst's hint.
  CHECK(webhook_runs[0]["trigger"]["digest"] == patched);
  json events = serve.json("/api/events?limit=200");
  CHECK(events["events"].size() == 51);
  for (const auto& event : events["events"]) CHECK(event["run"] == id);

  // A later notice of the digest already cascaded needs no run.
  CHECK(hook(test::distribution_push(host, "platform/base", "1", patched, "evt-late")).status == 202);
  json late = serve.wait_for("/api/events?limit=1", [](const json& answer) {
    return !answer["events"].empty() && !answer["events"][0]["outcome"].is_null();
  }, std::chrono::seconds(30));
  CHECK(late["events"][0]["run"].is_null());
  CHECK(late["events"][0]["outcome"].get<std::string>().find("already at") != std::string::npos);

  // A signed generic delivery is accepted.
  auto signed_generic = serve.post("/hooks/generic", generic,
                                   {{"X-Cascade-Signature-256", "sha256=" + webhook::hmac_sha256_hex("generic-secret", generic)}});
  REQUIRE(signed_generic);
  CHECK(signed_generic->status == 202);

  {  // /metrics counts triggers, runs and builds
    auto answer = serve.get("/metrics");
    REQUIRE(answer);
    CHECK(answer->status == 200);
    CHECK(answer->headers.get("Content-Type").value_or("").find("text/plain") == 0);
    const std::string& text = answer->body;
    CHECK(test::metric_sample(text, "cascade_triggers_total{source=\"distribution\",outcome=\"accepted\"}") == 52);
    CHECK(test::metric_sample(text, "cascade_triggers_total{source=\"distribution\",outcome=\"duplicate\"}") == 1);
    CHECK(test::metric_sample(text, "cascade_triggers_total{source=\"distribution\",outcome=\"rejected\"}") == 1);
    CHECK(test::metric_sample(text, "cascade_triggers_total{source=\"distribution\",outcome=\"malformed\"}") == 1);
    CHECK(test::metric_sample(text, "cascade_runs_total{state=\"succeeded\"}") >= 1);
    CHECK(test::metric_sample(text, "cascade_builds_total{outcome=\"pushed\"}") == 8);
    CHECK(test::metric_sample(text, "cascade_build_duration_seconds_count") == 8);
  }
  {  // the API: patch needs the bearer token; reads are open
    std::string body = json{{"image", fleet.image("apps/status:1")}}.dump();
    CHECK(serve.post("/api/patch", body)->status == 401);
    CHECK(serve.post("/api/patch", body, bearer("wrong"))->status == 401);
    CHECK(serve.post("/api/patch", json{{"image", "nothing/here:1"}}.dump(), bearer("api-token"))->status == 400);
    CHECK(serve.post("/api/patch", "[1,2]", bearer("api-token"))->status == 400);

    json graph = serve.json("/api/graph");
    CHECK(graph["images"].size() == 9);
    json affected = serve.json("/api/affected?image=" + fleet.image("runtimes/web:1"));
    std::set<std::string> downstream;
    for (const auto& image : affected["images"]) downstream.insert(image["image"].get<std::string>());
    CHECK(downstream == std::set<std::string>{fleet.image("runtimes/combo:1"), fleet.image("apps/status:1"),
                                              fleet.image("apps/reports:1"), fleet.image("apps/shop:1")});
    CHECK(serve.json("/api/inventory")["targets"].empty());
    json run = serve.json("/api/runs/" + std::to_string(id));
    CHECK(run["tasks"].size() == 8);
    std::string log_url = run["tasks"][0]["log_url"];
    auto log = serve.get(log_url);
    REQUIRE(log);
    CHECK(log->status == 200);
    CHECK(log->body.find("STEP") != std::string::npos);
    CHECK(serve.get("/api/runs/999")->status == 404);
  }
  {  // cascade patch --server follows the run to its end; status --server lists it
    process::Options options;
    options.env["CASCADE_API_TOKEN"] = "api-token";
    auto patched_remote = test::cascade({"patch", "--server", serve.url(), fleet.image("apps/status:1"), "--format", "json"}, options);
    CHECK_MESSAGE(patched_remote.exit_code == 0, patched_remote.err);
    json run = json::parse(patched_remote.out);
    CHECK(run["trigger"]["kind"] == "api");
    CHECK(run["state"] == "succeeded");
    options.env["CASCADE_API_TOKEN"] = "wrong";
    CHECK(test::cascade({"patch", "--server", serve.url(), fleet.image("apps/status:1")}, options).exit_code == 2);
    auto status = test::cascade({"status", "--server", serve.url(), "--format", "json"});
    CHECK_MESSAGE(status.exit_code == 0, status.err);
    json listed = json::parse(status.out);
    CHECK(listed["runs"][0]["id"] == run["id"]);
  }
  CHECK(serve.stop() == 0);
}
