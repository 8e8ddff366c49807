// A run of a plan stepped by the executor in-process, on the scripted peers of
// orchestration_fakes.hpp, with a fresh store: the bench the executor tests share.
#pragma once

#include <algorithm>
#include <mutex>

#include "orchestration_fleet.hpp"
#include "support.hpp"

namespace fakes {

using namespace cascade;

inline const std::string kDebianDigest = "sha256:" + std::string(64, 'd');

// debian:12 -> base -> {web, worker} -> app
inline std::vector<graph::Recipe> diamond() {
  return {recipe("base", {kDebian}), recipe("web", {"base"}), recipe("worker", {"base"}),
          recipe("app", {"web", "worker"})};
}

inline std::unique_ptr<store::Store> open_store(const test::TempDir& dir) {
  store::StoreOptions options;
  options.sync = store::StoreOptions::Sync::normal;  // no power loss to survive here
  auto opened = store::open_sqlite((dir / "state.db").string(), options);
  REQUIRE(opened);
  return std::move(opened).value();
}

// A run of the plan for debian:12's new digest, in a fresh store, stepped by the executor.
class Bench {
 public:
  explicit Bench(const std::vector<graph::Recipe>& recipes) {
    auto built = graph::Graph::build(recipes);
    REQUIRE(built);
    graph = std::move(built).value();
    plan::Origin trigger;
    trigger.query = kDebian;
    trigger.start = {*graph.find(kDebian)};
    trigger.digests[trigger.start[0]] = kDebianDigest;
    plan = plan::make(graph, trigger, {}, {});
    store::NewRun run;
    run.trigger.image = kDebian;
    this->run = *sqlite->create_run(run);
    std::vector<store::TaskSpec> specs;
    for (const auto& step : plan.steps) {
      store::TaskSpec spec;
      spec.image = step.image;
      for (auto dep : step.after) spec.dependencies.push_back(plan.steps[dep].image);
      specs.push_back(spec);
    }
    REQUIRE(sqlite->add_tasks(this->run, specs));
    REQUIRE(sqlite->set_run_state(this->run, store::RunState::running));
    options.retry_delay = std::chrono::milliseconds(1);
    options.work_dir = (dir / "runs").string();
  }

  executor::RunOutcome execute(std::stop_token stop = {}, std::stop_token cancel = {}) {
    executor::Services services{workers(), store, workspace, [this](const executor::Progress& p) {
                                  std::lock_guard lock(mutex);
                                  told.push_back(p);
                                }};
    services.deployments = deployments;
    return executor::Executor(services, options).execute(graph, plan, run, stop, cancel);
  }

  store::Task task(const std::string& name) {
    auto tasks = sqlite->get_tasks(run);
    REQUIRE(tasks);
    for (auto& task : *tasks)
      if (task.image == image(name)) return task;
    FAIL("no task " << name);
    return {};
  }
  // The workers the run gets: `pool` when a test sets it, else one local worker.
  std::vector<executor::Worker> workers() {
    if (!pool.empty()) return pool;
    return {executor::Worker{"local", &builder, 64, {}}};
  }
  std::string pushed(const std::string& name) const { return images.get(image(name)).value().digest; }
  bool was_told(executor::Progress::Kind kind, const std::string& part) {
    std::lock_guard lock(mutex);
    return std::any_of(told.begin(), told.end(),
                       [&](const auto& p) { return p.kind == kind && p.detail.find(part) != std::string::npos; });
  }
  std::size_t position(const std::string& name) const {
    auto started = builder.started();
    return static_cast<std::size_t>(std::find(started.begin(), started.end(), image(name)) - started.begin());
  }

  test::TempDir dir;
  graph::Graph graph;
  plan::Plan plan;
  std::unique_ptr<store::Store> sqlite = open_store(dir);
  fakes::FaultyStore store{*sqlite};
  fakes::Images images;
  fakes::Builder builder{images};
  fakes::Workspace workspace;
  executor::Options options;
  std::map<std::string, std::vector<executor::Deployment>> deployments;
  std::vector<executor::Worker> pool;
  store::RunId run = 0;
  std::mutex mutex;
  std::vector<executor::Progress> told;
};

}  // namespace fakes
