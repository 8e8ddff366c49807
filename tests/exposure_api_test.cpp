// The package and advisory API of `cascade serve` on the real binary, a real registry and
// real buildah: an external base carrying this machine's real dpkg database (Debian 12 with
// bash) and a fleet image built on it. The `scan` schedule action indexes them; POST
// /api/advisories refuses a missing token and a malformed record (naming its JSON path),
// stores a valid advisory and answers with the exposure; GET /api/affected?package= and POST
// /api/affected answer from the store; /metrics counts the exposed images per advisory; and
// "patch": true reports a base not fixed upstream, then, once upstream publishes the fix,
// runs the fix through the coordinator until nothing is exposed.
#include <doctest/doctest.h>

#include "serve_fixture.hpp"

using nlohmann::json;
using namespace cascade;

namespace {

constexpr const char* kId = "CASCADE-TEST-0001";

std::map<std::string, std::string> bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

std::set<std::string> subjects(const json& rows) {
  std::set<std::string> out;
  for (const auto& row : rows) out.insert(row["subject"].get<std::string>());
  return out;
}

double exposed_images(test::ServeProcess& serve) {
  auto answer = serve.get("/metrics");
  REQUIRE(answer);
  return test::metric_sample(answer->body, std::string("cascade_exposed_images{advisory=\"") + kId + "\"}");
}

}  // namespace

TEST_CASE("advisories over the API: stored, answered with their exposure, fixed by one run through the coordinator") {
  test::ExposureFleet fleet;
  std::string vulnerable = fleet.publish_base(false);
  fleet.build_app();
  fleet.scan_at_next_start();
  test::ServeProcess serve(fleet.pipeline, fleet.port, {{"CASCADE_API_TOKEN", "api-token"}});

  // The missed `scan` runs at start: the base and the app are indexed.
  json bash = serve.wait_for("/api/affected?package=bash", [](const json& answer) {
    return answer["images"].size() == 2;
  }, std::chrono::seconds(60));
  CHECK(subjects(bash["images"]) == std::set<std::string>{fleet.base, fleet.app});
  CHECK(serve.log().find("scan: indexed the fleet") != std::string::npos);
  CHECK(serve.json("/api/schedule")["schedule"][0]["action"] == "scan");

  json record = test::ExposureFleet::advisory(kId);
  {  // refused: no token, a wrong token, a malformed record (nothing stored)
    std::string body = json{{"advisories", {record}}}.dump();
    CHECK(serve.post("/api/advisories", body)->status == 401);
    CHECK(serve.post("/api/advisories", body, bearer("wrong"))->status == 401);
    json bad = test::ExposureFleet::advisory("CASCADE-TEST-0002");
    bad["affected"][0]["package"]["ecosystem"] = "Debain:12";
    auto refused = serve.post("/api/advisories", json{{"advisories", {record, bad}}}.dump(), bearer("api-token"));
    REQUIRE(refused);
    CHECK(refused->status == 400);
    CHECK(json::parse(refused->body)["error"].get<std::string>().find("advisories[1].affected[0].package.ecosystem: ") == 0);
    auto not_json = serve.post("/api/advisories", "{\"advisories\": [", bearer("api-token"));
    CHECK(not_json->status == 400);
    CHECK(serve.post("/api/advisories", json{{"advisories", {record}}, {"patch", "yes"}}.dump(), bearer("api-token"))
              ->status == 400);
    CHECK(serve.json("/api/exposure")["advisories"].empty());
  }

  {  // stored and answered: both images carry bash below the fixed version; it enters at the base
    auto stored = serve.post("/api/advisories", json{{"advisories", {record}}, {"patch", false}}.dump(), bearer("api-token"));
    REQUIRE(stored);
    REQUIRE_MESSAGE(stored->status == 200, stored->body);
    json answer = json::parse(stored->body);
    CHECK(answer["stored"] == json::array({kId}));
    CHECK(answer["patch"].is_null());
    json images = answer["exposure"]["images"];
    CHECK(subjects(images) == std::set<std::string>{fleet.base, fleet.app});
    for (const auto& row : images) {
      CHECK(row["package"] == "bash");
      CHECK(row["distro"] == "debian 12");
      CHECK(row["matched_by"] == kId);
      CHECK(row["fixed"] == test::ExposureFleet::kFixed);
      CHECK(row["enters"] == fleet.base);
      CHECK(row["enters_role"] == "external");
    }
  }

  // The same questions without storing anything: a constraint (URL-encoded) and OSV records.
  CHECK(subjects(serve.json("/api/affected?package=bash%3C99")["images"]) == std::set<std::string>{fleet.base, fleet.app});
  CHECK(serve.json("/api/affected?package=bash%3C1")["images"].empty());
  CHECK(serve.get("/api/affected?package=bash%3C%3C1")->status == 400);
  auto posted = serve.post("/api/affected", json{{"vulns", {test::ExposureFleet::advisory("CASCADE-TEST-0003")}}}.dump());
  REQUIRE(posted);
  REQUIRE_MESSAGE(posted->status == 200, posted->body);
  CHECK(subjects(json::parse(posted->body)["images"]) == std::set<std::string>{fleet.base, fleet.app});
  CHECK(serve.json("/api/exposure")["advisories"].size() == 1);  // POST /api/affected stored nothing

  // A bare record is stored too (no patch): one fixed below the installed bash exposes nothing.
  auto old = serve.post("/api/advisories", test::ExposureFleet::advisory("CASCADE-TEST-0000", "5.2.15-1").dump(),
                        bearer("api-token"));
  REQUIRE(old);
  REQUIRE_MESSAGE(old->status == 200, old->body);
  CHECK(json::parse(old->body)["exposure"]["images"].empty());

  // The dashboard's view and the gauges, per stored advisory.
  json views = serve.json("/api/exposure")["advisories"];
  REQUIRE(views.size() == 2);
  CHECK(views[0]["id"] == "CASCADE-TEST-0000");
  CHECK(views[0]["images_exposed"] == 0);
  json view = views[1];
  CHECK(view["id"] == kId);
  CHECK(view["images_exposed"] == 2);
  CHECK(view["workloads_exposed"] == 0);
  CHECK(view["run"].is_null());
  CHECK(exposed_images(serve) == 2);
  auto metrics = serve.get("/metrics");
  CHECK(test::metric_sample(metrics->body, "cascade_exposed_images{advisory=\"CASCADE-TEST-0000\"}") == 0);
  CHECK(test::metric_sample(metrics->body, std::string("cascade_exposed_workloads{advisory=\"") + kId + "\"}") == 0);

  {  // a fix with no fixed base upstream: nothing to rebuild, the base named
    auto fix = serve.post("/api/advisories", json{{"advisories", {record}}, {"patch", true}}.dump(), bearer("api-token"));
    REQUIRE(fix);
    CHECK_MESSAGE(fix->status == 200, fix->body);
    json patch = json::parse(fix->body)["patch"];
    CHECK(patch["run"].is_null());
    REQUIRE(patch["unfixed"].size() == 1);
    CHECK(patch["unfixed"][0].get<std::string>().find(fleet.base + " at " + vulnerable.substr(0, 19) + " still has bash") == 0);
  }

  // Upstream publishes the fixed base: the fix runs, verifies and ends the exposure.
  fleet.publish_base(true);
  auto fix = serve.post("/api/advisories", json{{"advisories", {record}}, {"patch", true}}.dump(), bearer("api-token"));
  REQUIRE(fix);
  REQUIRE_MESSAGE(fix->status == 202, fix->body);
  json patch = json::parse(fix->body)["patch"];
  REQUIRE(patch["run"].is_number());
  CHECK(patch["unfixed"].empty());
  std::string run_path = "/api/runs/" + std::to_string(patch["run"].get<long long>());
  json run = serve.wait_for(run_path, [](const json& answer) {
    return answer["state"] == "succeeded" || answer["state"] == "failed";
  }, std::chrono::seconds(120));
  CHECK_MESSAGE(run["state"] == "succeeded", serve.log());
  CHECK(run["trigger"]["image"] == std::string("advisory:") + kId);
  CHECK(run["trigger"]["kind"] == "api");
  json after = serve.json("/api/exposure")["advisories"][1];
  CHECK(after["images_exposed"] == 0);
  CHECK(after["run"]["state"] == "succeeded");
  CHECK(exposed_images(serve) == 0);
  CHECK(serve.stop() == 0);
}
