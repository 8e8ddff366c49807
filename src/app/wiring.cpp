// The composition root: a pipeline's fleet wired to its state store, registry client,
// builder, scanner and the git workspace that materializes build contexts at a commit.
#include <cstdlib>
#include <filesystem>

#include "cascade/app.hpp"
#include "cascade/git.hpp"

namespace cascade::app {

namespace {

namespace fs = std::filesystem;

class GitWorkspace final : public executor::Workspace {
 public:
  explicit GitWorkspace(pipeline::Pipeline pipeline) : pipeline_(std::move(pipeline)) {}

  Expected<executor::Prepared, std::string> prepare(const graph::Recipe& recipe, const std::string& into) override {
    const pipeline::Source* source = nullptr;
    for (const auto& candidate : pipeline_.sources)
      if (candidate.name == recipe.source) source = &candidate;
    if (!source) return unexpected("no source named '" + recipe.source + "' in " + pipeline_.file);
    std::string path = source->remote ? git::cache_path_for(source->git, pipeline_.cache) : source->git;
    auto repo = git::Repository::open(path);
    if (!repo) return unexpected("source '" + recipe.source + "': " + repo.error().message);
    std::string context = (fs::path(into) / "context").string();
    if (auto exported = repo->export_tree(recipe.commit, recipe.context, context); !exported)
      return unexpected("source '" + recipe.source + "': " + exported.error().message);
    auto text = repo->read_file(recipe.commit, recipe.dockerfile);
    if (!text) return unexpected("source '" + recipe.source + "': " + text.error().message);
    return executor::Prepared{context, std::move(text).value()};
  }

 private:
  pipeline::Pipeline pipeline_;
};

// docker's config.json when there is one ($DOCKER_CONFIG, else ~/.docker), so buildah
// pushes with the credentials the registry client uses; empty otherwise.
std::string docker_config_file() {
  const char* dir = std::getenv("DOCKER_CONFIG");
  const char* home = std::getenv("HOME");
  fs::path file = dir ? fs::path(dir) / "config.json" : home ? fs::path(home) / ".docker/config.json" : fs::path();
  std::error_code ec;
  return !file.empty() && fs::is_regular_file(file, ec) ? file.string() : std::string();
}

}  // namespace

std::unique_ptr<executor::Workspace> git_workspace(const pipeline::Pipeline& pipeline) {
  return std::make_unique<GitWorkspace>(pipeline);
}

Expected<Wiring, Failure> wire(fleet::Fleet fleet, std::stop_token cancel) {
  Wiring wiring;
  const pipeline::Pipeline& pipeline = fleet.pipeline;
  wiring.state_dir = fs::path(pipeline.state).parent_path().string();
  auto store = store::open_sqlite(pipeline.state);
  if (!store) return unexpected(Failure::failed(store.error().message));
  wiring.store = std::move(store).value();

  registry::Options registry_options;
  registry_options.stop = cancel;
  builder::BuilderConfig builder_config;
  builder_config.buildah.state_dir = wiring.state_dir;
  for (const auto& entry : pipeline.registries) {
    registry_options.registries.push_back({entry.host, entry.insecure, ""});
    if (entry.insecure) builder_config.buildah.insecure_registries.insert(entry.host);
  }
  builder_config.buildah.auth_file = docker_config_file();
  wiring.registry = std::make_unique<registry::Client>(registry_options);
  wiring.builder = builder::make_builder(builder_config);
  wiring.workspace = git_workspace(pipeline);
  wiring.scanner = std::make_unique<scan::Scanner>(*wiring.registry, *wiring.store);
  wiring.fleet.set(std::move(fleet));
  wiring.cancel = cancel;
  return wiring;
}

}  // namespace cascade::app
