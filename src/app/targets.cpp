// Deploy targets from the pipeline's `deploy:` section, what they run, and which of those
// workloads each image of a plan is rolled out to.
#include <set>

#include "cascade/app.hpp"
#include "cascade/release.hpp"
#include "cascade/deploy_command.hpp"
#include "cascade/deploy_kubernetes.hpp"

namespace cascade::app {

namespace {

deploy::RolloutPolicy policy_of(const pipeline::DeployTarget& config) {
  deploy::RolloutPolicy policy;
  policy.batch = config.rollout.batch;
  policy.max_unavailable = std::max(1, config.rollout.max_unavailable);
  policy.health_timeout = config.rollout.health_timeout;
  policy.rollback = config.rollout.rollback;
  if (!config.rollout.http_probe.empty()) policy.http_probe = config.rollout.http_probe;
  policy.insecure_probe = config.insecure;
  if (config.rollout.stable_for.count() > 0) policy.stable_for = config.rollout.stable_for;
  return policy;
}

Expected<std::unique_ptr<deploy::Target>, deploy::Error> connect(const pipeline::DeployTarget& config,
                                                                 const std::string& run, std::stop_token cancel) {
  using Kind = pipeline::DeployKind;
  if (config.kind == Kind::docker) {
    deploy::DockerOptions options;
    options.name = config.name;
    options.endpoint = config.endpoint;
    options.insecure = config.insecure;
    if (config.tls) {
      options.tls = true;
      options.ca_file = config.tls->ca;
      options.cert_file = config.tls->cert;
      options.key_file = config.tls->key;
    }
    options.group_label = config.group_by == "com.docker.compose.service" ? "" : config.group_by;
    options.cancel = cancel;
    auto target = deploy::DockerTarget::connect(options);
    if (!target) return unexpected(target.error());
    return std::unique_ptr<deploy::Target>(std::move(*target));
  }
  if (config.kind == Kind::kubernetes) {
    deploy::KubernetesOptions options;
    options.name = config.name;
    options.kubeconfig = config.kubeconfig;
    options.context = config.context;
    options.namespaces = config.namespaces;
    options.cancel = cancel;
    auto target = deploy::KubernetesTarget::connect(options);
    if (!target) return unexpected(target.error());
    return std::unique_ptr<deploy::Target>(std::move(*target));
  }
  deploy::CommandOptions options;
  options.name = config.name;
  options.argv = config.argv;
  options.env = config.env;
  options.run = run;
  options.timeout = config.timeout;
  auto target = deploy::CommandTarget::create(options);
  if (!target) return unexpected(target.error());
  return std::unique_ptr<deploy::Target>(std::move(*target));
}

// The fleet image a workload runs: its repo:tag, or a digest-only reference's repository
// when exactly one image of the fleet is in it.
std::optional<std::string> fleet_image_of(const graph::Graph& graph, const std::string& workload_image) {
  auto parsed = reference::parse(workload_image);
  if (!parsed) return std::nullopt;
  if (!parsed->tag.empty() && !parsed->tag_implied) {
    if (auto id = graph.find(parsed->repository() + ":" + parsed->tag); id && graph.recipe_of(*id)) return graph.node(*id).image;
    return std::nullopt;
  }
  std::optional<std::string> only;
  for (const auto& recipe : graph.recipes()) {
    auto candidate = reference::parse(recipe.image);
    if (!candidate || candidate->repository() != parsed->repository()) continue;
    if (only) return std::nullopt;
    only = recipe.image;
  }
  return only;
}

}  // namespace

// One attempt at a time, from any thread. The targets are set once, whole, under the lock
// (every later reader sees them complete). A caller that waited while another attempt ran
// takes that attempt's failure instead of trying again: a hung engine costs one connection
// and one wait, not one per caller (the API's inventory beside the coordinator's).
Expected<void, Failure> connect_targets(Wiring& wiring) {
  auto& state = *wiring.targets_lock;
  std::uint64_t seen = state.attempts.load();
  std::lock_guard lock(state.mutex);
  if (!wiring.targets.empty()) return {};
  if (state.attempts.load() != seen && state.failure) return unexpected(*state.failure);
  std::vector<TargetEntry> connected;
  auto fleet = wiring.fleet.get();
  state.failure.reset();
  for (const auto& config : fleet->pipeline.deploy) {
    auto target = connect(config, "", wiring.cancel);
    if (!target) {
      state.failure = Failure::failed("deploy target '" + config.name + "': " + target.error().str());
      break;
    }
    connected.push_back({std::move(*target), config});
  }
  ++state.attempts;
  if (state.failure) return unexpected(*state.failure);
  wiring.targets = std::move(connected);
  return {};
}

Expected<std::vector<PlannedDeployment>, Failure> plan_deployments(Wiring& wiring, const std::vector<std::string>& images) {
  if (auto connected = connect_targets(wiring); !connected) return unexpected(connected.error());
  std::set<std::string> wanted(images.begin(), images.end());
  auto fleet = wiring.fleet.get();  // one snapshot for the whole answer
  std::vector<PlannedDeployment> out;
  for (std::size_t index = 0; index < wiring.targets.size(); ++index) {
    const auto& [target, config] = wiring.targets[index];
    if (config.kind == pipeline::DeployKind::command) {
      for (const auto& image : images) {  // a command target deploys the images its globs select
        auto parsed = reference::parse(image);
        if (parsed && pipeline::deploys(config, parsed->repository()))
          out.push_back({index, image, deploy::Workload{config.name, image, image, "", std::nullopt, {}}});
      }
      continue;
    }
    auto workloads = target->inventory(std::nullopt);
    if (!workloads)
      return unexpected(Failure::failed("deploy target '" + config.name + "': " + workloads.error().str()));
    for (auto& workload : *workloads) {
      if (workload.policy == "skip") continue;  // io.cascade.policy=skip: its owners keep cascade out
      auto image = fleet_image_of(fleet->graph, workload.image);
      if (!image || !wanted.count(*image)) continue;
      auto parsed = reference::parse(*image);
      if (!parsed || !pipeline::deploys(config, parsed->repository())) continue;
      out.push_back({index, *image, std::move(workload)});
    }
  }
  return out;
}

Expected<std::vector<std::unique_ptr<deploy::Target>>, Failure> run_targets(Wiring& wiring, store::RunId run) {
  std::vector<std::unique_ptr<deploy::Target>> command_targets(wiring.targets.size());
  for (std::size_t index = 0; index < wiring.targets.size(); ++index) {
    const auto& config = wiring.targets[index].config;
    if (config.kind != pipeline::DeployKind::command) continue;
    auto target = connect(config, std::to_string(run), wiring.cancel);
    if (!target) return unexpected(Failure::failed("deploy target '" + config.name + "': " + target.error().str()));
    command_targets[index] = std::move(*target);
  }
  return command_targets;
}

std::map<std::string, std::vector<executor::Deployment>> deployments_for(
    Wiring& wiring, const std::vector<PlannedDeployment>& planned,
    const std::vector<std::unique_ptr<deploy::Target>>& command_targets) {
  std::map<std::string, std::vector<executor::Deployment>> out;
  auto fleet = wiring.fleet.get();
  for (const auto& item : planned) {
    const auto& entry = wiring.targets[item.target];
    deploy::Target* target = command_targets[item.target] ? command_targets[item.target].get() : entry.target.get();
    // Release control: a gated target's (or a held workload's) rollout waits for the release passes.
    bool held = release::gated(fleet->pipeline, entry.config, item.workload.policy);
    out[item.image].push_back(
        {target, item.workload, policy_of(entry.config), held, release::wave_of(fleet->pipeline, entry.config.name)});
  }
  return out;
}

deploy::RolloutPolicy rollout_policy(const pipeline::DeployTarget& config) { return policy_of(config); }

}  // namespace cascade::app
