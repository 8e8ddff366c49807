// The fleet graph on the API: GET /api/graph (the images, their bases and children, the
// broken recipes, as the coordinator last scanned them), GET /api/graph.svg (the dashboard's
// picture: Graphviz over dashboard_dot, kept per fleet generation in GraphSvg) and
// GET /api/affected?image= (what is downstream of an image, and the workloads running it).
#include "cascade/process.hpp"
#include "cascade/util/dot.hpp"
#include "internal.hpp"

namespace cascade::daemon {

using nlohmann::json;

namespace {

json graph_view_json(const FleetView& view) {
  const auto& graph = view.fleet->graph;
  json images = json::array();
  for (auto id : graph.topological_order()) {
    const auto& node = graph.node(id);
    const auto* recipe = graph.recipe_of(id);
    json bases = json::array(), children = json::array();
    for (auto base : node.bases) bases.push_back(graph.node(base).image);
    for (auto child : node.children) children.push_back(graph.node(child).image);
    images.push_back({{"image", node.image},
                      {"external", recipe == nullptr},
                      {"source", recipe ? json(recipe->source) : json(nullptr)},
                      {"dockerfile", recipe ? json(recipe->dockerfile) : json(nullptr)},
                      {"bases", bases},
                      {"children", children}});
  }
  json broken = json::array();  // recipes left out: their Dockerfile could not be read or analyzed
  for (const auto& recipe : view.fleet->broken)
    broken.push_back({{"image", recipe.image}, {"source", recipe.source}, {"dockerfile", recipe.dockerfile},
                      {"problem", recipe.problem.str()}});
  return {{"generation", view.generation}, {"pipeline", view.fleet->pipeline.file}, {"images", images},
          {"broken", broken}};
}

/// The images downstream of `ref` in the fleet `view`, and (with deploy targets) the
/// workloads running each, asked through the API's own wiring.
app::AffectedReport affected_by_image(Routes& routes, const FleetView& view, const std::string& query,
                                      const reference::Reference& ref) {
  app::AffectedReport report;
  report.query = query;
  report.matched = view.fleet->graph.match(ref);
  report.affected = view.fleet->graph.downstream(report.matched);
  if (routes.pipeline.deploy.empty() || report.affected.empty()) return report;
  std::vector<std::string> images;
  for (const auto& item : report.affected) images.push_back(view.fleet->graph.node(item.node).image);
  if (auto deployments = app::plan_deployments(routes.wiring, images))
    for (const auto& item : *deployments)
      report.workloads[item.image].push_back(routes.wiring.targets[item.target].config.name + "/" +
                                             item.workload.name);
  return report;
}

}  // namespace

std::string dashboard_dot(const graph::Graph& graph) {
  util::dot::Digraph dot{.name = "cascade",
                         .attributes = {"rankdir=LR", "bgcolor=\"transparent\"",
                                        "node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", "
                                        "fontname=\"Helvetica\", fontsize=11]",
                                        "edge [color=\"#8894a8\"]"}};
  for (auto id : graph.topological_order()) {
    const auto& node = graph.node(id);
    auto ref = reference::parse(node.image);
    dot.nodes.push_back({util::dot::quoted(node.image), ref ? ref->familiar() : node.image,
                         graph.recipe_of(id) ? "" : ", style=\"rounded,dashed,filled\", fillcolor=\"#f4f4f4\""});
    for (auto child : node.children)
      dot.edges.push_back({util::dot::quoted(node.image), util::dot::quoted(graph.node(child).image)});
  }
  return util::dot::render(dot);
}

Expected<std::string, std::string> GraphSvg::get(const FleetView& view) {
  std::lock_guard lock(mutex_);
  if (generation_ != view.generation) {
    process::Options options;
    options.input = dashboard_dot(view.fleet->graph);
    options.timeout = std::chrono::seconds(30);
    auto result = process::run({"dot", "-Tsvg"}, options);
    if (!result || result->exit_code != 0) return unexpected("graphviz: " + (result ? result->err : result.error()));
    svg_ = result->out;
    generation_ = view.generation;
  }
  return svg_;
}

void Routes::graph_get(http::ServerRequest&&, http::Respond respond) {
  respond(json_ok(graph_view_json(coordinator.fleet())));
}

void Routes::graph_svg_get(http::ServerRequest&& request, http::Respond respond) {
  auto svg = graph_svg.get(coordinator.fleet());
  if (!svg) return respond(internal_error(502, request.path, svg.error()));
  http::ServerResponse page;
  page.headers.set("Content-Type", "image/svg+xml");
  page.body = std::move(*svg);
  respond(std::move(page));
}

void Routes::image_affected_get(http::ServerRequest&& request, http::Respond respond) {
  auto query = request.query.find("image");
  if (query == request.query.end()) return respond(json_error(400, "give ?image=IMAGE or ?package=NAME[OP VERSION]"));
  auto ref = reference::parse(query->second);
  if (!ref) return respond(json_error(400, "'" + query->second + "' is not an image reference: " + ref.error().message));
  auto view = coordinator.fleet();
  respond(json_ok(app::affected_json(view.fleet->graph, affected_by_image(*this, view, query->second, *ref))));
}

}  // namespace cascade::daemon
