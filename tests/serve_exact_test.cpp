// POST /api/patch with IMAGE@sha256:... patches exactly that digest, also when the daemon
// stopped after storing the request and before acting on it (the event waits in the store).
// Real peers: docker-registry, buildah, the cascade binary.
#include <doctest/doctest.h>

#include "serve_fixture.hpp"

using nlohmann::json;
using namespace cascade;

TEST_CASE("serve: an API patch of an exact digest stays exact after a restart") {
  test::ExposureFleet fleet;
  std::string asked = fleet.publish_base(false);
  fleet.build_app();
  std::string current = fleet.publish_base(true);  // the tag moved on meanwhile
  REQUIRE(asked != current);

  {  // what POST /api/patch stored before the daemon stopped, not acted on yet
    auto store = store::open_sqlite((fleet.dir / ".cascade/state.db").string());
    REQUIRE(store);
    store::Event event;
    event.dedupe_key = "api:exact-before-restart";
    event.sender = "api";
    event.image = fleet.base + "@" + asked;
    event.action = store::EventAction::patch;
    event.source = store::TriggerKind::api;
    auto recorded = (*store)->record_events({event});
    REQUIRE(recorded);
  }

  test::ServeProcess serve(fleet.pipeline, fleet.port, {});
  json runs = serve.wait_for("/api/runs", [](const json& answer) {
    for (const auto& run : answer["runs"])
      if (run["trigger"]["kind"] == "api" &&
          (run["state"] == "succeeded" || run["state"] == "failed" || run["state"] == "interrupted"))
        return true;
    return false;
  });
  std::vector<json> api_runs;
  for (const auto& run : runs["runs"])
    if (run["trigger"]["kind"] == "api") api_runs.push_back(run);
  REQUIRE(api_runs.size() == 1);
  // Before the fix the recovered event was a push notice: the tag's current digest.
  CHECK(api_runs.front()["trigger"]["image"] == fleet.base + "@" + asked);
  CHECK(api_runs.front()["trigger"]["image"].get<std::string>().find(current) == std::string::npos);
  CHECK(serve.stop() == 0);
}
