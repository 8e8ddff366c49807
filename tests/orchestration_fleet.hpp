// The in-process fleet the orchestration tests step: debian:12 -> base -> {web, worker} -> app
// on an app::Wiring whose peers are the scripted fakes of orchestration_fakes.hpp (a real,
// temporary SQLite store behind a FaultyStore switch). Used by trigger_test.cpp and
// resume_records_test.cpp; orchestration_test.cpp drives the executor below it.
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cascade/trigger.hpp"
#include "orchestration_fakes.hpp"
#include "support.hpp"

namespace fakes {

inline const std::string kDebian = "docker.io/library/debian:12";
inline std::string image(const std::string& name) { return "r.example/" + name + ":1"; }

inline graph::Recipe recipe(const std::string& name, std::vector<std::string> bases) {
  graph::Recipe r;
  r.image = image(name);
  r.source = "fleet";
  r.dockerfile = name + "/Dockerfile";
  r.context = name;
  r.commit = "c0ffee";
  for (auto& base : bases) r.bases.push_back(base == kDebian ? base : image(base));
  std::sort(r.bases.begin(), r.bases.end());
  return r;
}

// debian:12 -> base -> {web, worker} -> app, on a wiring whose peers are in-process.
class Fleet {
 public:
  Fleet() {
    auto built = graph::Graph::build({recipe("base", {kDebian}), recipe("web", {"base"}), recipe("worker", {"base"}),
                                      recipe("app", {"web", "worker"})});
    REQUIRE(built);
    fleet::Fleet fleet;
    fleet.graph = std::move(built).value();
    fleet.pipeline.file = (dir / "cascade.yaml").string();
    fleet.pipeline.state = (dir / "state.db").string();
    wiring.fleet.set(std::move(fleet));
    wiring.state_dir = dir.str();
    store::StoreOptions options;
    options.sync = store::StoreOptions::Sync::normal;
    auto opened = store::open_sqlite(wiring.fleet->pipeline.state, options);
    REQUIRE(opened);
    sqlite = std::move(opened).value();
    auto faulty = std::make_unique<fakes::FaultyStore>(*sqlite);
    store = faulty.get();
    wiring.store = std::move(faulty);
    auto fake_registry = std::make_unique<fakes::Registry>(images);
    registry = fake_registry.get();
    wiring.registry = std::move(fake_registry);
    auto fake_builder = std::make_unique<fakes::Builder>(images);
    builder = fake_builder.get();
    app::BuildWorker local;
    local.name = "local";
    local.builder = std::move(fake_builder);
    wiring.workers.push_back(std::move(local));
    wiring.workspace = std::make_unique<fakes::Workspace>();
    debian = images.push(kDebian);
  }

  Expected<app::Handled, app::Failure> handle(const app::Trigger& trigger, app::HandleOptions options = {}) {
    options.run.parallel = 1;
    options.deploy = false;
    return app::handle(wiring, trigger, options);
  }

  static app::Trigger notice(const std::string& image, std::optional<std::string> digest) {
    app::Trigger trigger;
    trigger.source = store::TriggerKind::webhook;
    trigger.actor = "distribution";
    trigger.image = image;
    trigger.digest = std::move(digest);
    return trigger;
  }
  static app::Trigger exact(const std::string& query) {
    app::Trigger trigger;
    trigger.image = query;
    trigger.exact = true;
    return trigger;
  }

  // Every fleet image in the registry was built on what its bases are now.
  void check_consistent() {
    for (const auto& recipe : wiring.fleet->graph.recipes()) {
      auto pushed = images.get(recipe.image);
      REQUIRE_MESSAGE(pushed, recipe.image);
      auto bases = nlohmann::json::parse(pushed->labels.at(executor::kLabelBases));
      for (const auto& base : recipe.bases) {
        INFO(recipe.image << " on " << base);
        CHECK(bases.at(base).get<std::string>() == images.get(base)->digest);
      }
    }
  }

  test::TempDir dir;
  fakes::Images images;
  app::Wiring wiring;
  std::unique_ptr<store::Store> sqlite;
  fakes::FaultyStore* store = nullptr;
  fakes::Registry* registry = nullptr;
  fakes::Builder* builder = nullptr;
  std::string debian;
};

}  // namespace fakes
