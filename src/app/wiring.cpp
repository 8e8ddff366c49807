// The composition root: a pipeline's fleet wired to its state store, registry client,
// builder, scanner and the git workspace that materializes build contexts at a commit.
#include <cstdlib>
#include <filesystem>
#include <set>

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

builder::PullPolicy pull_policy(pipeline::PullPolicy pull) {
  return pull == pipeline::PullPolicy::always ? builder::PullPolicy::always : builder::PullPolicy::missing;
}

// A worker's client certificates, for the docker and buildctl options alike.
template <typename Options>
void set_tls(Options& options, const std::optional<pipeline::TlsFiles>& tls) {
  if (!tls) return;
  options.tls_ca_cert = tls->ca;
  options.tls_cert = tls->cert;
  options.tls_key = tls->key;
}

// The backend of one declared worker, configured for the pipeline's registries.
std::unique_ptr<builder::Builder> make_worker_builder(const pipeline::Worker& worker, const pipeline::Builders& builders,
                                                      const builder::BuildahOptions& buildah,
                                                      const std::set<std::string>& insecure) {
  builder::BuilderConfig config;
  config.buildah = buildah;
  switch (worker.kind) {
    case pipeline::WorkerKind::buildah: config.kind = builder::BackendKind::buildah; break;
    case pipeline::WorkerKind::docker:
      config.kind = builder::BackendKind::docker;
      config.docker.host = worker.endpoint;
      set_tls(config.docker, worker.tls);
      config.docker.network = worker.network;
      config.docker.pull = pull_policy(builders.pull);
      config.docker.state_dir = buildah.state_dir;
      break;
    case pipeline::WorkerKind::buildkit:
      config.kind = builder::BackendKind::buildctl;
      config.buildctl.addr = worker.endpoint;
      set_tls(config.buildctl, worker.tls);
      config.buildctl.insecure_registries = insecure;
      config.buildctl.state_dir = buildah.state_dir;
      break;
  }
  return builder::make_builder(config);
}

std::vector<BuildWorker> make_workers(const pipeline::Pipeline& pipeline, const builder::BuildahOptions& buildah,
                                      const std::set<std::string>& insecure) {
  std::vector<BuildWorker> workers;
  if (pipeline.builders.workers.empty()) {  // the implicit local worker, as without a builders section
    BuildWorker local;
    local.name = "local";
    local.builder = builder::make_builder(builder::BuilderConfig{builder::BackendKind::buildah, buildah, {}, {}});
    workers.push_back(std::move(local));
    return workers;
  }
  for (const auto& declared : pipeline.builders.workers) {
    BuildWorker worker;
    worker.name = declared.name;
    worker.kind = declared.kind;
    worker.endpoint = declared.endpoint;
    worker.capacity = std::max<std::size_t>(1, declared.capacity);
    worker.labels = declared.labels;
    worker.builder = make_worker_builder(declared, pipeline.builders, buildah, insecure);
    workers.push_back(std::move(worker));
  }
  return workers;
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
  builder::BuildahOptions buildah;
  buildah.state_dir = wiring.state_dir;
  std::set<std::string> insecure;
  for (const auto& entry : pipeline.registries) {
    registry_options.registries.push_back({entry.host, entry.insecure, ""});
    if (entry.insecure) insecure.insert(entry.host);
  }
  buildah.insecure_registries = insecure;
  buildah.auth_file = docker_config_file();
  buildah.pull = pull_policy(pipeline.builders.pull);
  if (!pipeline.builders.storage_driver.empty()) {
    buildah.storage_driver = pipeline.builders.storage_driver;
    wiring.storage_driver = buildah.storage_driver + " (the pipeline's builders.storage_driver)";
  } else {
    std::string root = buildah.root.empty() ? wiring.state_dir + "/buildah/root" : buildah.root;
    auto choice = builder::choose_storage_driver(root);
    buildah.storage_driver = choice.driver;
    wiring.storage_driver = choice.driver + " (" + choice.reason + ")";
  }
  wiring.registry = std::make_unique<registry::Client>(registry_options);
  wiring.workers = make_workers(pipeline, buildah, insecure);
  wiring.workspace = git_workspace(pipeline);
  wiring.scanner = std::make_unique<scan::Scanner>(*wiring.registry, *wiring.store);
  wiring.fleet.set(std::move(fleet));
  wiring.cancel = cancel;
  return wiring;
}

}  // namespace cascade::app
