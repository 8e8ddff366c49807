// Resume reads a run's typed records: an interrupted rebuild is planned again from its stored
// globs (its trigger image is only its name), also when an older cascade stored the run (its
// action in the trigger image, its plan as the CLI's JSON). In-process on scripted peers
// (tests/orchestration_fakes.hpp); the same resume runs end to end in tests/patch_test.cpp.
#include <doctest/doctest.h>

#include <thread>

#include "orchestration_fleet.hpp"
#include "store_support.hpp"

using namespace cascade;
using fakes::Attempt;
using fakes::image;
using fakes::kDebian;

namespace {

// The in-process fleet, and a rebuild of it left interrupted.
class RecordingFleet : public fakes::Fleet {
 public:
  // A rebuild of web (and app, built on it) stopped while web builds: interrupted, app not built.
  store::RunId interrupted_rebuild() {
    app::Trigger patch;
    patch.image = kDebian;
    patch.exact = true;
    REQUIRE(handle(patch));
    builder->script(image("web"), {Attempt::hold});
    std::stop_source stop;
    std::thread stopper([&] {
      builder->wait_held(1);
      stop.request_stop();
      builder->release();
    });
    app::Trigger rebuild;
    rebuild.action = app::Trigger::Action::rebuild;
    rebuild.globs = {"r.example/web"};
    app::HandleOptions options;
    options.run.stop = stop.get_token();
    auto first = handle(rebuild, options);
    stopper.join();
    REQUIRE(first);
    REQUIRE(first->run);
    CHECK(first->run->state == store::RunState::interrupted);
    CHECK(builder->builds_of(image("app")) == 1);
    return first->run->run;
  }
};

}  // namespace

TEST_CASE("resume: an interrupted rebuild is planned again from its typed records") {
  RecordingFleet fleet;
  store::RunId run = fleet.interrupted_rebuild();
  auto stored = fleet.wiring.store->get_run(run);
  REQUIRE(stored);
  CHECK(stored->trigger.action == store::TriggerAction::rebuild);
  CHECK(stored->trigger.globs == std::vector<std::string>{"r.example/web"});
  CHECK(stored->trigger.image == "rebuild:r.example/web");
  auto plan = fleet.wiring.store->get_plan(run);
  REQUIRE(plan);
  CHECK(plan->rebuilt_starts == std::vector<std::string>{image("web")});

  SUBCASE("its trigger image is only its name: resume reads the globs") {
    test::RawDb(fleet.wiring.fleet->pipeline.state)
        .exec("UPDATE runs SET trigger_image = 'rebuild:matches-nothing' WHERE id = " + std::to_string(run));
  }
  SUBCASE("a run an older cascade stored: the action in its image, its plan the CLI's JSON") {
    auto planned = app::plan_rebuild(fleet.wiring, {"r.example/web"}, false);
    REQUIRE(planned);
    test::RawDb(fleet.wiring.fleet->pipeline.state)
        .exec("UPDATE runs SET plan_version = 0, trigger_action = 'patch', trigger_args = NULL, plan_json = " +
              test::sql_text(app::plan_json(*planned, fleet.wiring).dump()) + " WHERE id = " + std::to_string(run));
    auto legacy = fleet.wiring.store->get_run(run);
    REQUIRE(legacy);
    CHECK(legacy->trigger.action == store::TriggerAction::rebuild);
    CHECK(legacy->trigger.globs == std::vector<std::string>{"r.example/web"});
    CHECK(fleet.wiring.store->get_plan(run)->rebuilt_starts == std::vector<std::string>{image("web")});
  }

  app::RunOptions options;
  options.parallel = 1;
  options.deploy = false;
  auto resumed = app::resume(fleet.wiring, run, options);
  REQUIRE_MESSAGE(resumed, resumed.error().message);
  CHECK(resumed->resumed);
  CHECK(resumed->state == store::RunState::succeeded);
  // web was rebuilt before the stop and kept; app is rebuilt now; base and worker never.
  CHECK(fleet.builder->builds_of(image("web")) == 2);
  CHECK(fleet.builder->builds_of(image("app")) == 2);
  CHECK(fleet.builder->builds_of(image("worker")) == 1);
  CHECK(fleet.builder->builds_of(image("base")) == 1);
}
