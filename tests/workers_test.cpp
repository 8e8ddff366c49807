// The executor over a pool of build workers, stepped in-process with scripted builders
// (orchestration_fakes.hpp): capacities, builder choices, the parent's worker preferred, a
// worker that goes away marked down and its build placed elsewhere, and a run that says so
// when no worker can take a build. tests/builders_e2e_test.cpp runs the same against two
// real dockerd engines and buildah.
#include <doctest/doctest.h>

#include "orchestration_bench.hpp"

using namespace cascade;
using fakes::Attempt;
using fakes::Bench;
using fakes::image;
using fakes::kDebian;
using fakes::recipe;

namespace {

graph::Recipe on(graph::Recipe recipe, std::string worker, std::map<std::string, std::string> labels = {}) {
  recipe.worker.name = std::move(worker);
  recipe.worker.labels = std::move(labels);
  return recipe;
}

}  // namespace

TEST_CASE("workers: builds spread over two workers within their capacities, and each is recorded") {
  // Four independent images on debian:12: two workers of one slot each must share them.
  Bench bench({recipe("a", {kDebian}), recipe("b", {kDebian}), recipe("c", {kDebian}), recipe("d", {kDebian})});
  fakes::Builder one(bench.images), two(bench.images);
  bench.pool = {{"one", &one, 1, {}}, {"two", &two, 1, {}}};
  for (auto name : {"a", "b", "c", "d"}) {
    one.script(image(name), {Attempt::hold});
    two.script(image(name), {Attempt::hold});
  }
  std::thread release([&] {
    one.wait_held(1);
    two.wait_held(1);  // both workers busy at once
    one.release();
    two.release();
  });
  auto outcome = bench.execute();
  release.join();
  CHECK(outcome.state == store::RunState::succeeded);
  CHECK(one.max_running() == 1);
  CHECK(two.max_running() == 1);
  CHECK(one.started().size() + two.started().size() == 4);
  CHECK_FALSE(one.started().empty());
  CHECK_FALSE(two.started().empty());
  for (auto name : {"a", "b", "c", "d"}) CHECK(bench.task(name).worker == (one.builds_of(image(name)) == 1 ? "one" : "two"));
}

TEST_CASE("workers: a child goes to the worker that built its parent, when it has a free slot") {
  // base is asked on "two"; web and app may go anywhere, both workers idle: the parent's
  // worker wins over the first-declared one.
  Bench bench({on(recipe("base", {kDebian}), "two"), recipe("web", {"base"}), recipe("app", {"web"})});
  fakes::Builder one(bench.images), two(bench.images);
  bench.pool = {{"one", &one, 2, {}}, {"two", &two, 2, {}}};
  auto outcome = bench.execute();
  CHECK(outcome.state == store::RunState::succeeded);
  CHECK(one.started().empty());
  CHECK(two.started() == std::vector<std::string>{image("base"), image("web"), image("app")});
  CHECK(bench.task("app").worker == "two");
}

TEST_CASE("workers: a builder choice by labels sends the build only to the workers that carry them") {
  Bench bench({on(recipe("arm", {kDebian}), "", {{"arch", "arm64"}}), recipe("any", {kDebian})});
  fakes::Builder amd(bench.images), arm(bench.images);
  bench.pool = {{"amd", &amd, 4, {{"arch", "amd64"}}}, {"arm", &arm, 4, {{"arch", "arm64"}, {"pool", "slow"}}}};
  auto outcome = bench.execute();
  CHECK(outcome.state == store::RunState::succeeded);
  CHECK(arm.builds_of(image("arm")) == 1);
  CHECK(amd.builds_of(image("arm")) == 0);
  CHECK(bench.task("arm").worker == "arm");
}

TEST_CASE("workers: a worker that goes away is marked down and its build is placed on another one") {
  Bench bench(fakes::diamond());
  fakes::Builder one(bench.images), two(bench.images);
  bench.pool = {{"one", &one, 1, {}}, {"two", &two, 1, {}}};
  one.kill();  // its engine is gone: every build there fails as unreachable
  auto outcome = bench.execute();
  CHECK(outcome.state == store::RunState::succeeded);
  CHECK(one.started().size() == 1);  // tried once, then left alone
  CHECK(two.started().size() == 4);  // every image built once, on the worker still up
  for (auto name : {"base", "web", "worker", "app"}) {
    CHECK(bench.task(name).worker == "two");
    CHECK(bench.task(name).state == store::TaskState::pushed);
  }
  CHECK(bench.was_told(executor::Progress::Kind::retrying, "worker one unavailable"));
}

TEST_CASE("workers: when every worker a build may use is down, the run says so instead of waiting") {
  Bench bench({recipe("base", {kDebian}), on(recipe("web", {"base"}), "", {{"arch", "arm64"}}),
               recipe("worker", {"base"}), recipe("app", {"web", "worker"})});
  fakes::Builder amd(bench.images), arm(bench.images);
  bench.pool = {{"amd", &amd, 2, {{"arch", "amd64"}}}, {"arm", &arm, 2, {{"arch", "arm64"}}}};
  arm.kill();
  auto outcome = bench.execute();
  CHECK(outcome.state == store::RunState::failed);
  auto web = bench.task("web");
  CHECK(web.state == store::TaskState::failed);
  CHECK(web.reason.find("no worker can build it") != std::string::npos);
  CHECK(web.reason.find("arm is down (Cannot connect to the Docker daemon)") != std::string::npos);
  CHECK(bench.task("app").state == store::TaskState::blocked);
  CHECK(bench.task("worker").state == store::TaskState::pushed);
}

TEST_CASE("workers: with a single worker, an unreachable engine is retried in place like any transient error") {
  Bench bench({recipe("base", {kDebian})});
  bench.builder.script(image("base"), {Attempt::unavailable, Attempt::ok});
  auto outcome = bench.execute();
  CHECK(outcome.state == store::RunState::succeeded);
  CHECK(bench.builder.builds_of(image("base")) == 2);
  CHECK(bench.task("base").worker == "local");
}

TEST_CASE("workers: a build for several platforms goes only to a worker that pushes an image index") {
  graph::Recipe multi = recipe("multi", {kDebian});
  multi.platforms = {"linux/amd64", "linux/arm64"};
  SUBCASE("placed on the buildah-like worker, though the docker-like one is declared first and idle") {
    Bench bench({multi, recipe("single", {kDebian})});
    fakes::Builder engine(bench.images), buildah(bench.images);
    bench.pool = {{"engine", &engine, 2, {}, false}, {"buildah", &buildah, 2, {}, true}};
    auto outcome = bench.execute();
    CHECK(outcome.state == store::RunState::succeeded);
    CHECK(bench.task("multi").worker == "buildah");
    CHECK(engine.builds_of(image("multi")) == 0);
  }
  SUBCASE("failed at once, saying why, when no such worker matches") {
    Bench bench({multi, recipe("leaf", {"multi"})});
    fakes::Builder engine(bench.images);
    bench.pool = {{"engine", &engine, 2, {}, false}};
    auto outcome = bench.execute();
    CHECK(outcome.state == store::RunState::failed);
    auto task = bench.task("multi");
    CHECK(task.state == store::TaskState::failed);
    CHECK(task.reason.find("no worker can build it: it is built for several platforms") != std::string::npos);
    CHECK(task.reason.find("give it a buildah worker") != std::string::npos);
    CHECK(engine.started().empty());
    CHECK(bench.task("leaf").state == store::TaskState::blocked);
  }
}

TEST_CASE("workers: a recipe with test: commands goes only to a worker that runs them before the push") {
  graph::Recipe tested = recipe("tested", {kDebian});
  tested.tests = {graph::TestCommand{{"/bin/true"}, std::chrono::seconds(30)}};
  SUBCASE("placed on the docker-like worker, though the buildkit-like one is declared first and idle; the request "
          "carries the tests") {
    Bench bench({tested, recipe("plain", {kDebian})});
    fakes::Builder buildkit(bench.images), docker(bench.images);
    bench.pool = {{"buildkit", &buildkit, 2, {}, false, false}, {"docker", &docker, 2, {}, false, true}};
    auto outcome = bench.execute();
    CHECK(outcome.state == store::RunState::succeeded);
    CHECK(bench.task("tested").worker == "docker");
    CHECK(buildkit.builds_of(image("tested")) == 0);
    CHECK(docker.tests_of(image("tested")) == 1);
  }
  SUBCASE("failed at once, saying why, when no such worker matches") {
    Bench bench({tested});
    fakes::Builder buildkit(bench.images);
    bench.pool = {{"buildkit", &buildkit, 2, {}, false, false}};
    auto outcome = bench.execute();
    CHECK(outcome.state == store::RunState::failed);
    CHECK(bench.task("tested").reason.find("it has `test:` commands") != std::string::npos);
    CHECK(buildkit.started().empty());
  }
}
