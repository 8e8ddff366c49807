// `cascade deploy` (roll an already-pushed image out) and `cascade inventory` (what runs
// where, and what is behind its image's newest digest).
#include <set>

#include "cascade/app.hpp"

namespace cascade::app {

namespace {

// The fleet image `query` names (one image, tag included) and the digest to deploy.
Expected<std::pair<graph::NodeId, std::string>, Failure> deploy_target_image(Wiring& wiring, const std::string& query) {
  auto ref = reference::parse(query);
  if (!ref) return unexpected(Failure::bad_input("'" + query + "' is not an image reference: " + ref.error().message));
  auto matches = wiring.fleet->graph.match(*ref);
  std::vector<graph::NodeId> built;
  for (auto id : matches)
    if (wiring.fleet->graph.recipe_of(id)) built.push_back(id);
  if (built.size() != 1)
    return unexpected(Failure::bad_input(built.empty() ? "no image the fleet builds matches " + query
                                                          : query + " matches several images; name one with its tag"));
  std::string digest = ref->digest;
  if (digest.empty()) {
    auto resolved = wiring.registry->resolve_digest(*reference::parse(wiring.fleet->graph.node(built[0]).image));
    if (!resolved)
      return unexpected(Failure::peer("cannot resolve " + query + ": " + resolved.error().str(),
                                      resolved.error().transient()));
    digest = *resolved;
  }
  return std::make_pair(built[0], digest);
}

}  // namespace

Expected<RunResult, Failure> deploy_image(Wiring& wiring, const std::string& query, const RunOptions& options) {
  auto chosen = deploy_target_image(wiring, query);
  if (!chosen) return unexpected(chosen.error());
  auto [node, digest] = *chosen;
  PlannedPatch planned;
  planned.action = store::TriggerAction::deploy;
  planned.origin.query = query;
  planned.origin.start = {node};
  planned.origin.digests[node] = digest;
  plan::Step step;
  step.image = wiring.fleet->graph.node(node).image;
  step.node = node;
  step.action = plan::Action::skip;
  step.reason = "deploy only: " + digest;
  step.via = {step.image};
  step.old_digest = digest;
  planned.plan.query = query;
  planned.plan.trigger_digests[step.image] = digest;
  planned.plan.steps.push_back(step);
  auto deployments = plan_deployments(wiring, {step.image});
  if (!deployments) return unexpected(deployments.error());
  planned.deployments = std::move(deployments).value();
  if (planned.deployments.empty())
    return unexpected(
        Failure::not_found("no deploy target runs " + step.image + " (cascade inventory lists what runs where)"));
  return run_patch(wiring, planned, options);
}

Expected<nlohmann::json, Failure> inventory_json(Wiring& wiring) {
  std::vector<std::string> images;
  auto fleet = wiring.fleet.get();  // one snapshot while it is read (the API reads it beside refreshes)
  for (const auto& recipe : fleet->graph.recipes()) images.push_back(recipe.image);
  auto deployments = plan_deployments(wiring, images);
  if (!deployments) return unexpected(deployments.error());
  std::map<std::string, std::string> newest;  // fleet image -> its tag's digest now
  nlohmann::json targets = nlohmann::json::array();
  std::map<std::size_t, nlohmann::json> workloads;
  for (const auto& item : *deployments) {
    if (!newest.count(item.image)) {
      auto digest = wiring.registry->resolve_digest(*reference::parse(item.image));
      newest[item.image] = digest ? *digest : "";
    }
    const std::string& now = newest[item.image];
    bool behind = !now.empty() && item.workload.digest != now;
    workloads[item.target].push_back({{"workload", item.workload.name},
                                      {"image", item.image},
                                      {"digest", item.workload.digest ? nlohmann::json(*item.workload.digest) : nullptr},
                                      {"newest_digest", now.empty() ? nlohmann::json(nullptr) : nlohmann::json(now)},
                                      {"behind", behind},
                                      {"instances", item.workload.instances}});
  }
  for (std::size_t index = 0; index < wiring.targets.size(); ++index) {
    const auto& config = wiring.targets[index].config;
    targets.push_back({{"name", config.name},
                       {"kind", pipeline::kind_name(config.kind)},
                       {"workloads", workloads.count(index) ? workloads[index] : nlohmann::json::array()}});
  }
  return nlohmann::json{{"targets", targets}};
}

}  // namespace cascade::app
