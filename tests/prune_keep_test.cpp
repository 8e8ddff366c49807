// What the build workers keep after a run (app::keep_set, from a real SQLite store) and
// pruning every worker with one failing (app::prune_builders, on scripted builders).
#include <doctest/doctest.h>

#include "cascade/app.hpp"
#include "store_support.hpp"
#include "support.hpp"

namespace {

using namespace cascade;
namespace st = cascade::store;

std::string digest(char c) { return "sha256:" + std::string(64, c); }

// Adds run with one task per entry of `tasks` (image -> {new digest or "", bases}).
struct TaskOutcome {
  std::string image;
  std::string new_digest;  // empty: the task failed
  std::map<std::string, std::string> bases;
};

st::RunId add_run(st::Store& store, const std::vector<TaskOutcome>& outcomes) {
  st::RunId run = test::ok(store.create_run(test::sample_run()));
  std::vector<st::TaskSpec> specs;
  for (const auto& outcome : outcomes)
    specs.push_back(st::TaskSpec{outcome.image, "src", "Dockerfile", std::string(40, 'c'), {}, std::nullopt});
  test::ok(store.add_tasks(run, specs));
  for (const auto& outcome : outcomes) {
    st::TaskUpdate building;
    building.base_digests = outcome.bases;
    test::ok(store.transition_task(run, outcome.image, st::TaskState::building, "attempt", building));
    if (outcome.new_digest.empty()) {
      test::ok(store.transition_task(run, outcome.image, st::TaskState::failed, "RUN failed"));
      continue;
    }
    test::ok(store.transition_task(run, outcome.image, st::TaskState::pushing, "built"));
    st::TaskUpdate pushed;
    pushed.new_digest = outcome.new_digest;
    test::ok(store.transition_task(run, outcome.image, st::TaskState::pushed, "pushed", pushed));
  }
  return run;
}

class ScriptedBuilder final : public builder::Builder {
 public:
  explicit ScriptedBuilder(std::optional<builder::Error> failure = std::nullopt) : failure_(std::move(failure)) {}
  std::string name() const override { return "scripted"; }
  Expected<builder::BuildResult, builder::Error> build_and_push(const builder::BuildRequest&, const CancelToken&) override {
    return unexpected(builder::Error{builder::Error::Kind::setup, "not for builds"});
  }
  Expected<builder::PruneReport, builder::Error> prune(const std::set<std::string>& keep, const CancelToken&) override {
    seen = keep;
    if (failure_) return unexpected(*failure_);
    builder::PruneReport report;
    report.removed = 3;
    report.kept = keep.size();
    return report;
  }
  std::set<std::string> seen;

 private:
  std::optional<builder::Error> failure_;
};

}  // namespace

TEST_CASE("app::keep_set") {
  test::TempDir dir;
  auto store = test::open_store((dir / "state.db").string());
  const std::string debian = "docker.io/library/debian:12";
  // run 1: a on debian b1, b failed on debian b1; run 2: a again on debian b2; run 3: c on a's new digest.
  add_run(*store, {{"r.example/a:1", digest('1'), {{debian, digest('b')}}},
                   {"r.example/b:1", "", {{debian, digest('b')}}}});
  add_run(*store, {{"r.example/a:1", digest('2'), {{debian, digest('c')}}}});
  add_run(*store, {{"r.example/c:1", digest('3'), {{"r.example/a:1", digest('2')}}}});

  SUBCASE("the newest runs: pushed images and their bases, as repository@digest and digest") {
    auto keep = app::keep_set(*store, 2);
    REQUIRE_MESSAGE(keep, keep.error().message);
    CHECK(*keep == std::set<std::string>{"r.example/c@" + digest('3'), digest('3'), "r.example/a@" + digest('2'),
                                         digest('2'), "docker.io/library/debian@" + digest('c'), digest('c')});
  }
  SUBCASE("older runs add what they built and built on, failed tasks their bases") {
    auto keep = app::keep_set(*store, 3);
    REQUIRE(keep);
    CHECK(keep->count("r.example/a@" + digest('1')));
    CHECK(keep->count("docker.io/library/debian@" + digest('b')));
    CHECK(keep->size() == 10);
    CHECK(app::keep_set(*store, 50)->size() == 10);
  }
  SUBCASE("keep_runs below 1 is bad input, never an empty set that would prune everything") {
    auto keep = app::keep_set(*store, 0);
    REQUIRE_FALSE(keep);
    CHECK(keep.error().kind == app::Failure::Kind::bad_input);
  }
}

TEST_CASE("app::prune_builders") {
  ScriptedBuilder first, down(builder::Error{builder::Error::Kind::worker_unavailable, "engine down"});
  const std::set<std::string> keep = {"r/a@" + digest('1'), digest('1')};
  auto summary = app::prune_builders({{"local", &first}, {"remote", &down}, {"missing", nullptr}}, keep, {});
  CHECK(summary.workers.size() == 2);
  REQUIRE(summary.workers.count("local"));
  REQUIRE(summary.workers.at("local"));
  CHECK(summary.workers.at("local")->removed == 3);
  CHECK(first.seen == keep);
  REQUIRE(summary.workers.count("remote"));
  REQUIRE_FALSE(summary.workers.at("remote"));
  CHECK(summary.workers.at("remote").error().kind == builder::Error::Kind::worker_unavailable);
  CHECK(down.seen == keep);  // tried, and the others still pruned
  // A backend without a prune of its own keeps everything.
  builder::Buildctl buildctl;
  auto kept = app::prune_builders({{"buildkit", &buildctl}}, keep, {});
  REQUIRE(kept.workers.at("buildkit"));
  CHECK(kept.workers.at("buildkit")->removed == 0);
}
