// The trigger path (app::handle, app::decide) stepped in-process on a wiring of scripted
// peers (tests/orchestration_fakes.hpp): up-to-date notices, a tag that lags its notice,
// join or follow, finishing an unfinished run, and a crash at every store write followed by
// the rerun a person would type. The same paths run end to end against the real registry,
// buildah and `cascade serve` in tests/patch_test.cpp and tests/daemon_test.cpp.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "orchestration_fleet.hpp"

using namespace cascade;
using fakes::Attempt;
using fakes::Fleet;
using fakes::image;
using fakes::kDebian;

TEST_CASE("trigger: a notice runs once; the same digest again is up to date, a new one runs again") {
  Fleet fleet;
  auto first = fleet.handle(Fleet::notice(kDebian, fleet.debian));
  REQUIRE_MESSAGE(first, first.error().message);
  CHECK(first->result == app::Handled::Result::ran);
  CHECK(first->run->state == store::RunState::succeeded);
  CHECK(first->digest == fleet.debian);
  CHECK(fleet.builder->started().size() == 4);
  fleet.check_consistent();

  auto again = fleet.handle(Fleet::notice(kDebian, fleet.debian));
  REQUIRE(again);
  CHECK(again->result == app::Handled::Result::up_to_date);
  CHECK(again->by == first->run->run);
  CHECK(fleet.builder->started().size() == 4);

  auto moved = fleet.images.push(kDebian);
  auto second = fleet.handle(Fleet::notice(kDebian, moved));
  REQUIRE(second);
  CHECK(second->result == app::Handled::Result::ran);
  CHECK(fleet.builder->started().size() == 8);
  fleet.check_consistent();
}

TEST_CASE("trigger: a notice whose image every child is already built on records it and runs nothing") {
  Fleet fleet;
  REQUIRE(fleet.handle(Fleet::exact(kDebian)));  // a person's patch: no digest recorded for notices
  auto notice = fleet.handle(Fleet::notice(kDebian, fleet.debian));
  REQUIRE(notice);
  CHECK(notice->result == app::Handled::Result::up_to_date);
  CHECK(notice->message.find("nothing to rebuild") == 0);
  CHECK(fleet.builder->started().size() == 4);
  auto recorded = fleet.sqlite->latest_digest(kDebian);
  REQUIRE(recorded);
  CHECK((*recorded)->digest == fleet.debian);
}

TEST_CASE("trigger: a tag behind its notice is asked again while retries remain, then its digest is cascaded") {
  Fleet fleet;
  std::string notified = "sha256:" + std::string(64, 'e');  // a push the tag has not caught up with
  app::HandleOptions options;
  options.may_retry = true;
  options.attempt = 0;
  auto early = fleet.handle(Fleet::notice(kDebian, notified), options);
  REQUIRE_FALSE(early);
  CHECK(early.error().kind == app::Failure::Kind::unavailable);
  CHECK(fleet.builder->started().empty());
  options.attempt = options.catch_up_tries;  // the tag never caught up: the notice was overtaken
  std::vector<std::string> notes;
  options.note = [&](const std::string& note) { notes.push_back(note); };
  auto late = fleet.handle(Fleet::notice(kDebian, notified), options);
  REQUIRE(late);
  CHECK(late->digest == fleet.debian);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("moved on since the notice") != std::string::npos);
}

TEST_CASE("trigger: a notice of an image the fleet does not use is bad input and costs no registry call") {
  Fleet fleet;
  auto unknown = fleet.handle(Fleet::notice("docker.io/library/alpine:3", std::nullopt));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().kind == app::Failure::Kind::bad_input);
  CHECK(fleet.registry->calls == 0);
  auto malformed = fleet.handle(Fleet::notice("Not An Image!", std::nullopt));
  REQUIRE_FALSE(malformed);
  CHECK(malformed.error().kind == app::Failure::Kind::bad_input);
}

TEST_CASE("trigger: the registry away is unavailable (worth a retry), not a failure") {
  Fleet fleet;
  fleet.images.set_down(true);
  auto handled = fleet.handle(Fleet::notice(kDebian, fleet.debian));
  REQUIRE_FALSE(handled);
  CHECK(handled.error().kind == app::Failure::Kind::unavailable);
}

TEST_CASE("trigger: decide joins a notice of the run's own image and digest or of an image it builds") {
  app::ActiveRun active{7, kDebian, "sha256:aa", {image("base"), image("web")}};
  auto notice = Fleet::notice(kDebian, std::string("sha256:aa"));
  CHECK(app::decide(active, notice) == app::Decision::join);
  CHECK(app::decide(active, Fleet::notice(kDebian, std::nullopt)) == app::Decision::join);
  CHECK(app::decide(active, Fleet::notice(kDebian, std::string("sha256:bb"))) == app::Decision::follow);
  CHECK(app::decide(active, Fleet::notice(image("web"), std::string("sha256:cc"))) == app::Decision::join);
  CHECK(app::decide(active, Fleet::notice(image("app"), std::nullopt)) == app::Decision::follow);
  CHECK(app::decide(active, Fleet::exact(kDebian)) == app::Decision::follow);  // a person asked: its own run
  CHECK(app::decide(std::nullopt, notice) == app::Decision::follow);
  app::Trigger rebuild;
  rebuild.action = app::Trigger::Action::rebuild;
  rebuild.image = kDebian;
  CHECK(app::decide(active, rebuild) == app::Decision::follow);
}

TEST_CASE("trigger: a person's patch of a cascade left unfinished finishes that run") {
  Fleet fleet;
  fleet.builder->script(image("web"), {Attempt::hold});
  std::stop_source stop;
  std::thread stopper([&] {
    fleet.builder->wait_held(1);
    stop.request_stop();
    fleet.builder->release();
  });
  app::HandleOptions options;
  options.run.stop = stop.get_token();
  auto first = fleet.handle(Fleet::exact(kDebian), options);
  stopper.join();
  REQUIRE(first);
  CHECK(first->run->state == store::RunState::interrupted);
  std::optional<store::RunId> finishing;
  app::HandleOptions again;
  again.finishing = [&](store::RunId run) { finishing = run; };
  auto second = fleet.handle(Fleet::exact(kDebian), again);
  REQUIRE(second);
  CHECK(second->resumed);
  CHECK(finishing == first->run->run);
  CHECK(second->run->run == first->run->run);
  CHECK(second->run->state == store::RunState::succeeded);
  for (auto name : {"base", "web", "worker", "app"}) CHECK(fleet.builder->builds_of(image(name)) == 1);
}

TEST_CASE("trigger: a crash at any store write, then the same patch again, repeats nothing") {
  std::size_t writes = 0;
  {
    Fleet fleet;
    REQUIRE(fleet.handle(Fleet::exact(kDebian)));
    writes = fleet.store->writes();
  }
  REQUIRE(writes > 15);
  for (std::size_t n = 1; n <= writes; ++n) {
    CAPTURE(n);
    Fleet fleet;
    fleet.store->refuse_from(n);  // the process "dies" at write n: nothing later is kept
    auto crashed = fleet.handle(Fleet::exact(kDebian));
    if (crashed) CHECK(crashed->run->state != store::RunState::running);
    fleet.store->refuse_from(0);  // a new process, the same state file
    auto rerun = fleet.handle(Fleet::exact(kDebian));
    REQUIRE_MESSAGE(rerun, rerun.error().message);
    CHECK(rerun->run->state == store::RunState::succeeded);
    fleet.check_consistent();
    // each image was built once: a build pushed before the crash is found in the registry
    // on the same bases and kept, never built again
    for (auto name : {"base", "web", "worker", "app"}) CHECK(fleet.builder->builds_of(image(name)) == 1);
  }
}
