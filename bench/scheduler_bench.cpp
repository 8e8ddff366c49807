// Scheduler benchmark on a simulated clock, in process: makespan of cascade's scheduler
// (longest remaining path first) against the lower bound max(critical path, work / workers),
// next to level-by-level scheduling (every image of depth d before any of depth d+1) in
// the same run. DAGs are generated in the shape of real fleets, or read from a file:
//   scheduler_bench [--file graph.json] [--dags N] [--images N] [--seed S]
// graph.json: {"images": [{"image": "...", "bases": ["..."], "duration": seconds}, ...]}
// (`cascade graph --format json` output works; a missing duration counts as 60 s).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "cascade/plan.hpp"

using namespace cascade;

namespace {

struct Fleet {
  std::vector<graph::Recipe> recipes;
  std::map<std::string, double> duration;  // true build time per image
  std::string root;                        // the external image everything descends from
};

// A fleet shaped like real ones: a few bases on the root, runtimes on bases, apps on
// runtimes or other apps (up to ~7 levels), some with two parents; log-normal durations.
Fleet generate(std::size_t images, std::mt19937& rng) {
  Fleet fleet;
  fleet.root = "docker.io/library/debian:12";
  std::lognormal_distribution<double> build_time(std::log(90.0), 0.8);
  std::vector<std::vector<std::string>> levels(1, {fleet.root});
  std::size_t bases = std::max<std::size_t>(3, images / 100), runtimes = std::max<std::size_t>(10, images / 10);
  auto add = [&](std::size_t level, std::vector<std::string> parents) {
    std::string image = "r.example.com/l" + std::to_string(level) + "/i" + std::to_string(fleet.recipes.size()) + ":1";
    graph::Recipe recipe;
    recipe.image = image;
    recipe.bases = std::move(parents);
    std::sort(recipe.bases.begin(), recipe.bases.end());
    recipe.bases.erase(std::unique(recipe.bases.begin(), recipe.bases.end()), recipe.bases.end());
    fleet.recipes.push_back(recipe);
    fleet.duration[image] = build_time(rng);
    if (levels.size() <= level) levels.resize(level + 1);
    levels[level].push_back(image);
  };
  auto pick = [&](std::size_t level) {
    auto& pool = levels[level];
    return pool[std::uniform_int_distribution<std::size_t>(0, pool.size() - 1)(rng)];
  };
  for (std::size_t i = 0; i < bases && fleet.recipes.size() < images; ++i) add(1, {fleet.root});
  for (std::size_t i = 0; i < runtimes && fleet.recipes.size() < images; ++i) add(2, {pick(1)});
  std::uniform_real_distribution<double> coin(0, 1);
  while (fleet.recipes.size() < images) {
    // apps: mostly on runtimes, some on apps of the previous levels, a few with two parents
    std::size_t top = levels.size() - 1;
    std::size_t parent_level = coin(rng) < 0.6 ? 2 : std::uniform_int_distribution<std::size_t>(2, std::min<std::size_t>(top, 6))(rng);
    std::vector<std::string> parents{pick(parent_level)};
    if (coin(rng) < 0.15) parents.push_back(pick(2));
    add(parent_level + 1, parents);
  }
  return fleet;
}

Fleet read_file(const std::string& path) {
  std::ifstream in(path);
  auto doc = nlohmann::json::parse(in);
  Fleet fleet;
  std::map<std::string, bool> produced;
  for (const auto& entry : doc["images"]) produced[entry["image"]] = true;
  for (const auto& entry : doc["images"]) {
    graph::Recipe recipe;
    recipe.image = entry["image"];
    recipe.bases = entry["bases"].get<std::vector<std::string>>();
    fleet.duration[recipe.image] = entry.value("duration", 60.0);
    fleet.recipes.push_back(recipe);
  }
  return fleet;
}

// Simulates running `plan` on `workers` workers: `choose` picks among startable steps.
double simulate(const plan::Plan& plan, const std::map<std::string, double>& duration, std::size_t workers,
                const std::function<std::optional<std::size_t>()>& next, const std::function<void(std::size_t)>& done) {
  using Event = std::pair<double, std::size_t>;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> running;
  double now = 0;
  for (;;) {
    while (running.size() < workers) {
      auto step = next();
      if (!step) break;
      running.push({now + duration.at(plan.steps[*step].image), *step});
    }
    if (running.empty()) break;
    auto [finish, step] = running.top();
    running.pop();
    now = finish;
    done(step);
  }
  return now;
}

struct Result {
  double lower_bound, cascade, cascade_noisy, levels;
};

Result measure(const Fleet& fleet, std::size_t workers, std::mt19937& rng) {
  auto graph = graph::Graph::build(fleet.recipes);
  if (!graph) throw std::runtime_error(graph.error().message);
  plan::Origin trigger;
  trigger.query = "all";
  for (auto id : graph->external()) {
    trigger.start.push_back(id);
    trigger.digests[id] = "sha256:" + std::string(64, '1');
  }
  auto p = plan::make(*graph, trigger, {}, {});

  // lower bound: max(critical path, total work / workers)
  std::vector<double> finish(p.steps.size(), 0);
  double total = 0, critical = 0;
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    double start = 0;
    for (auto dep : p.steps[i].after) start = std::max(start, finish[dep]);
    finish[i] = start + fleet.duration.at(p.steps[i].image);
    total += fleet.duration.at(p.steps[i].image);
    critical = std::max(critical, finish[i]);
  }
  Result result{std::max(critical, total / workers), 0, 0, 0};

  auto run_cascade = [&](const std::function<double(const std::string&)>& estimate) {
    plan::Scheduler scheduler(p, estimate);
    return simulate(p, fleet.duration, workers, [&] { return scheduler.next(); }, [&](std::size_t s) { scheduler.finished(s, true); });
  };
  result.cascade = run_cascade([&](const std::string& image) { return fleet.duration.at(image); });
  std::uniform_real_distribution<double> noise(0.7, 1.3);
  std::map<std::string, double> estimates;
  for (const auto& [image, seconds] : fleet.duration) estimates[image] = seconds * noise(rng);
  result.cascade_noisy = run_cascade([&](const std::string& image) { return estimates.at(image); });

  // level by level: a level starts when the previous one has finished entirely
  std::map<int, std::vector<std::size_t>> by_depth;
  for (std::size_t i = 0; i < p.steps.size(); ++i) by_depth[p.steps[i].depth].push_back(i);
  double level_total = 0;
  for (auto& [depth, steps] : by_depth) {
    std::size_t cursor = 0;
    level_total += simulate(
        p, fleet.duration, workers,
        [&]() -> std::optional<std::size_t> { return cursor < steps.size() ? std::optional(steps[cursor++]) : std::nullopt; },
        [](std::size_t) {});
  }
  result.levels = level_total;
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  std::string file;
  std::size_t dags = 20, images = 1000;
  unsigned seed = 42;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--file") file = argv[i + 1];
    else if (flag == "--dags") dags = std::stoul(argv[i + 1]);
    else if (flag == "--images") images = std::stoul(argv[i + 1]);
    else if (flag == "--seed") seed = std::stoul(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: scheduler_bench [--file graph.json] [--dags N] [--images N] [--seed S]\n");
      return 2;
    }
  }
  std::mt19937 rng(seed);
  std::vector<Fleet> fleets;
  if (!file.empty()) fleets.push_back(read_file(file));
  else
    for (std::size_t i = 0; i < dags; ++i) fleets.push_back(generate(images, rng));

  std::printf("scheduler benchmark: %zu DAG(s) of %zu images, simulated clock; ratios are makespan / lower bound\n",
              fleets.size(), fleets.front().recipes.size());
  std::printf("| workers | cascade (mean) | cascade (worst) | cascade, estimates +-30%% (mean) | level by level (mean) | goal |\n");
  std::printf("|---|---|---|---|---|---|\n");
  bool all_met = true;
  for (std::size_t workers : {4, 16, 64}) {
    double sum = 0, worst = 0, noisy = 0, levels = 0;
    for (const auto& fleet : fleets) {
      Result r = measure(fleet, workers, rng);
      sum += r.cascade / r.lower_bound;
      worst = std::max(worst, r.cascade / r.lower_bound);
      noisy += r.cascade_noisy / r.lower_bound;
      levels += r.levels / r.lower_bound;
    }
    double n = static_cast<double>(fleets.size());
    bool met = sum / n <= 1.05;
    all_met = all_met && met;
    std::printf("| %zu | %.3f | %.3f | %.3f | %.3f | <= 1.05: %s |\n", workers, sum / n, worst, noisy / n, levels / n,
                met ? "PASS" : "FAIL");
  }
  return all_met ? 0 : 1;
}
