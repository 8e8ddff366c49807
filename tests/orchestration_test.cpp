// The executor stepped in-process, with scripted builders, deploy targets and a store that
// refuses writes on cue (tests/orchestration_fakes.hpp): build order, digests of the same
// run, retries, blocking, stop and cancel, rollout gates and refused writes, in milliseconds.
// The same paths run end to end against the real registry and buildah in tests/patch_test.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <thread>

#include "orchestration_bench.hpp"

using namespace cascade;
using fakes::Attempt;
using fakes::Bench;
using fakes::diamond;
using fakes::kDebianDigest;
using fakes::image;
using fakes::kDebian;
using fakes::recipe;

TEST_CASE("executor: a diamond builds each child after its parents, on their digests of this run") {
  Bench bench(diamond());
  auto outcome = bench.execute();
  CHECK(outcome.state == store::RunState::succeeded);
  CHECK(bench.builder.started().size() == 4);
  CHECK(bench.position("base") == 0);
  CHECK(bench.position("app") == 3);
  CHECK(bench.builder.max_running() <= 2);
  // app's Dockerfile is pinned to what web and worker pushed in this run, base's to the trigger
  std::string app = bench.builder.dockerfile(image("app"));
  CHECK(app.find("r.example/web@" + bench.pushed("web")) != std::string::npos);
  CHECK(app.find("r.example/worker@" + bench.pushed("worker")) != std::string::npos);
  CHECK(bench.builder.dockerfile(image("base")).find("docker.io/library/debian@" + kDebianDigest) != std::string::npos);
  for (auto name : {"base", "web", "worker", "app"}) {
    CHECK(bench.task(name).state == store::TaskState::pushed);
    CHECK(bench.task(name).new_digest == bench.pushed(name));
  }
}

TEST_CASE("executor: the ready build with the longest remaining path goes first") {
  // debian -> base -> {aaa-leaf, chain1 -> chain2 -> chain3}; one build at a time. A FIFO or
  // name order would build aaa-leaf right after base.
  Bench bench({recipe("base", {kDebian}), recipe("aaa-leaf", {"base"}), recipe("chain1", {"base"}),
               recipe("chain2", {"chain1"}), recipe("chain3", {"chain2"})});
  bench.options.parallel = 1;
  REQUIRE(bench.execute().state == store::RunState::succeeded);
  CHECK(bench.position("base") == 0);
  CHECK(bench.position("chain1") == 1);
  CHECK(bench.position("chain2") == 2);
  CHECK(bench.builder.max_running() == 1);
}

TEST_CASE("executor: transient failures are retried, then succeed") {
  Bench bench(diamond());
  bench.builder.script(image("web"), {Attempt::transient, Attempt::transient});
  REQUIRE(bench.execute().state == store::RunState::succeeded);
  CHECK(bench.builder.builds_of(image("web")) == 3);
  CHECK(bench.task("web").attempts == 3);
  CHECK(bench.task("web").state == store::TaskState::pushed);
  CHECK(bench.was_told(executor::Progress::Kind::retrying, "connection refused"));
}

TEST_CASE("executor: retries exhausted fail the build and block only its descendants") {
  Bench bench(diamond());
  bench.builder.script(image("web"), {Attempt::transient, Attempt::transient, Attempt::transient});
  CHECK(bench.execute().state == store::RunState::failed);
  CHECK(bench.builder.builds_of(image("web")) == 3);
  CHECK(bench.task("web").state == store::TaskState::failed);
  CHECK(bench.task("web").reason.find("push-failed") != std::string::npos);
  CHECK(bench.task("worker").state == store::TaskState::pushed);  // a sibling is not a descendant
  CHECK(bench.task("app").state == store::TaskState::blocked);
  CHECK(bench.task("app").reason == "blocked by r.example/web:1 (failed): r.example/web:1 -> r.example/app:1");
  CHECK(bench.builder.builds_of(image("app")) == 0);
}

TEST_CASE("executor: a build that fails for good is not retried; the blocked chain is named") {
  // debian -> base -> {web, worker}; web -> mid -> leaf
  Bench bench({recipe("base", {kDebian}), recipe("web", {"base"}), recipe("worker", {"base"}), recipe("mid", {"web"}),
               recipe("leaf", {"mid"})});
  bench.builder.script(image("web"), {Attempt::broken});
  CHECK(bench.execute().state == store::RunState::failed);
  CHECK(bench.builder.builds_of(image("web")) == 1);
  CHECK(bench.task("worker").state == store::TaskState::pushed);
  CHECK(bench.task("mid").state == store::TaskState::blocked);
  CHECK(bench.task("leaf").state == store::TaskState::blocked);
  CHECK(bench.task("leaf").reason ==
        "blocked by r.example/web:1 (failed): r.example/web:1 -> r.example/mid:1 -> r.example/leaf:1");
}

TEST_CASE("executor: a stop lets the running build finish and starts nothing; a cancel ends it") {
  SUBCASE("stop, then the build finishes") {
    Bench bench(diamond());
    bench.builder.script(image("base"), {Attempt::hold});
    std::stop_source stop;
    std::thread stopper([&] {
      bench.builder.wait_held(1);
      stop.request_stop();
      bench.builder.release();
    });
    auto outcome = bench.execute(stop.get_token());
    stopper.join();
    CHECK(outcome.state == store::RunState::interrupted);
    CHECK(bench.task("base").state == store::TaskState::pushed);
    CHECK(bench.task("web").state == store::TaskState::pending);
    CHECK(bench.builder.started().size() == 1);
  }
  SUBCASE("stop, then cancel") {
    Bench bench(diamond());
    bench.builder.script(image("base"), {Attempt::hold});
    std::stop_source stop, cancel;
    std::thread stopper([&] {
      bench.builder.wait_held(1);
      stop.request_stop();
      cancel.request_stop();
    });
    auto outcome = bench.execute(stop.get_token(), cancel.get_token());
    stopper.join();
    CHECK(outcome.state == store::RunState::interrupted);
    CHECK(bench.task("base").state == store::TaskState::pending);  // a resume builds it again
    CHECK(bench.task("base").reason == "cancelled; a resumed run builds it again");
    CHECK(bench.sqlite->get_run(bench.run)->state == store::RunState::interrupted);
  }
}

TEST_CASE("executor: a rollout that fails its gate fails the run and quarantines the digest") {
  Bench bench(diamond());
  fakes::Target target("prod");
  target.fail_gate("app-1");
  for (auto [name, workload] : {std::pair{"app", "app-1"}, std::pair{"worker", "worker-1"}}) {
    executor::Deployment deployment;
    deployment.target = &target;
    deployment.workload.name = workload;
    bench.deployments[image(name)].push_back(deployment);
  }
  CHECK(bench.execute().state == store::RunState::failed);
  CHECK(target.rolled().size() == 2);
  CHECK(*bench.sqlite->is_quarantined(image("app"), bench.pushed("app")));
  CHECK_FALSE(*bench.sqlite->is_quarantined(image("worker"), bench.pushed("worker")));
  auto stored = bench.sqlite->get_rollout_steps(bench.run);
  REQUIRE(stored);
  auto steps = *stored;
  CHECK(std::any_of(steps.begin(), steps.end(), [](const auto& s) { return s.state == store::RolloutState::rolled_back; }));
  CHECK(std::any_of(steps.begin(), steps.end(), [](const auto& s) { return s.state == store::RolloutState::healthy; }));
}

TEST_CASE("executor: a write the store refuses stops the run, which says why") {
  // debian -> base -> w1..w6: after a refusal, a run that went on would try to start them all
  std::vector<graph::Recipe> wide = {recipe("base", {kDebian})};
  for (int i = 1; i <= 6; ++i) wide.push_back(recipe("w" + std::to_string(i), {"base"}));
  std::size_t clean_writes = 0;
  {
    Bench bench(wide);
    bench.builder.script(image("w1"), {Attempt::transient});
    REQUIRE(bench.execute().state == store::RunState::succeeded);
    clean_writes = bench.store.writes();
  }
  REQUIRE(clean_writes > 30);
  for (std::size_t n = 1; n <= clean_writes; ++n) {
    CAPTURE(n);
    Bench bench(wide);
    bench.builder.script(image("w1"), {Attempt::transient});  // a retry's writes are in the sequence too
    bench.store.refuse_from(n);
    auto outcome = bench.execute();
    if (outcome.state == store::RunState::succeeded) {
      // only a duration estimate (told, not fatal) or writes past the run's end were refused
      CHECK((bench.was_told(executor::Progress::Kind::store_error, "duration") || n >= clean_writes - 1));
      continue;
    }
    CHECK(outcome.state == store::RunState::interrupted);
    CHECK(outcome.detail.find("fault injected") != std::string::npos);
    CHECK(bench.was_told(executor::Progress::Kind::store_error, "fault injected"));
    // a refused write is no build failure: nothing is reported failed or blocked for it
    CHECK_FALSE(bench.was_told(executor::Progress::Kind::failed, ""));
    CHECK_FALSE(bench.was_told(executor::Progress::Kind::blocked, ""));
    // the run stops: at most the builds started together with the refused write try to start
    CHECK(bench.store.refused_starts() <= bench.options.parallel);
  }
}

TEST_CASE("executor: a failure leaves ready and waiting steps outside its descendants to build") {
  // debian -> base -> {web -> mid -> leaf, worker -> tool}; one build at a time: web goes
  // first (longest path) and fails while worker is ready and tool waits on it.
  Bench bench({recipe("base", {kDebian}), recipe("web", {"base"}), recipe("mid", {"web"}), recipe("leaf", {"mid"}),
               recipe("worker", {"base"}), recipe("tool", {"worker"})});
  bench.options.parallel = 1;
  bench.builder.script(image("web"), {Attempt::broken});
  CHECK(bench.execute().state == store::RunState::failed);
  CHECK(bench.position("web") == 1);
  CHECK(bench.task("mid").state == store::TaskState::blocked);
  CHECK(bench.task("leaf").state == store::TaskState::blocked);
  CHECK(bench.task("worker").state == store::TaskState::pushed);
  CHECK(bench.task("tool").state == store::TaskState::pushed);
}

TEST_CASE("executor: a held deployment is stored as a release once its image is pushed, and the run awaits its release") {
  // Release control: a gated target's rollouts are not made by the run; each is stored with the
  // digest this run pushed, for the release passes (app::advance_release).
  Bench bench({recipe("app", {kDebian}), recipe("worker", {kDebian})});
  fakes::Target target("prod");
  executor::Deployment held;
  held.target = &target;
  held.workload.name = "app-web";
  held.workload.digest = "sha256:" + std::string(64, '1');
  held.held = true;
  held.wave = 1;
  held.workload.policy = "hold";
  bench.deployments[image("app")].push_back(held);
  executor::Deployment direct;  // an ungated target's rollout is made at once, as before
  direct.target = &target;
  direct.workload.name = "worker-1";
  bench.deployments[image("worker")].push_back(direct);
  CHECK(bench.execute().state == store::RunState::awaiting);
  auto rolled = target.rolled();
  REQUIRE(rolled.size() == 1);
  CHECK(rolled[0].starts_with("worker-1 -> "));
  auto releases = bench.sqlite->get_releases(bench.run);
  REQUIRE(releases);
  REQUIRE(releases->size() == 1);
  const auto& release = releases->front();
  CHECK(release.target == "prod");
  CHECK(release.workload == "app-web");
  CHECK(release.image == image("app"));
  CHECK(release.from_digest == held.workload.digest);
  CHECK(release.to_digest == bench.pushed("app"));
  CHECK(release.wave == 1);
  CHECK(release.policy == "hold");
  CHECK(release.state == store::ReleaseState::held);
}
