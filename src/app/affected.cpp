// The affected-images report shared by `cascade affected` and the daemon's API.
#include "cascade/app.hpp"

namespace cascade::app {

using nlohmann::json;

json affected_json(const graph::Graph& graph, const AffectedReport& report) {
  json matched = json::array();
  for (auto id : report.matched) matched.push_back(graph.node(id).image);
  json images = json::array();
  for (const auto& item : report.affected) {
    json via = json::array();
    for (auto id : item.via) via.push_back(graph.node(id).image);
    const auto* recipe = graph.recipe_of(item.node);
    auto running = report.workloads.find(graph.node(item.node).image);
    images.push_back({{"image", graph.node(item.node).image},
                      {"workloads", running == report.workloads.end() ? json::array() : json(running->second)},
                      {"depth", item.depth},
                      {"via", via},
                      {"source", recipe ? json(recipe->source) : json(nullptr)},
                      {"dockerfile", recipe ? json(recipe->dockerfile) : json(nullptr)}});
  }
  json out = {{"query", report.query}, {"matched", matched}, {"images", images}};
  if (report.matched.empty()) out["suggestions"] = report.suggestions;
  return out;
}

}  // namespace cascade::app
