// Rendering for the CLI: escaping for the terminal; the graph as JSON, a text tree, DOT and
// Mermaid; what is affected; a Dockerfile's analysis.
#include "render.hpp"

#include "json_writer.hpp"

#include "cascade/util/dot.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <sstream>

namespace cascade::cli {

using nlohmann::json;

std::string terminal_safe(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  auto escape = [&](const char* prefix, unsigned value) {
    out += prefix;
    out += kHex[(value >> 4) & 0xF];
    out += kHex[value & 0xF];
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\n' || byte == '\t' || (byte >= 0x20 && byte < 0x7F)) {
      out += static_cast<char>(byte);
      ++i;
      continue;
    }
    if (byte < 0x80) {  // C0 controls and DEL
      escape("\\x", byte);
      ++i;
      continue;
    }
    // UTF-8: the length the lead byte announces, continuation bytes, no overlong form, no
    // surrogates, at most U+10FFFF; C1 controls (U+0080..U+009F) escaped.
    std::size_t length = byte >= 0xC2 && byte <= 0xDF ? 2 : byte >= 0xE0 && byte <= 0xEF ? 3 : byte >= 0xF0 && byte <= 0xF4 ? 4 : 0;
    std::uint32_t code = length == 2 ? byte & 0x1F : length == 3 ? byte & 0x0F : byte & 0x07;
    bool valid = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    if (valid) {
      valid = !(length == 3 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) &&
              !(length == 4 && (code < 0x10000 || code > 0x10FFFF));
    }
    if (!valid) {
      escape("\\x", byte);
      ++i;
    } else if (code < 0xA0) {
      escape("\\u00", code);
      i += length;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

std::string familiar(const std::string& image) {
  auto parsed = reference::parse(image);
  return parsed ? parsed->familiar() : image;
}

namespace {

// Groups the recipe nodes by source, in build order; external roots under "".
std::map<std::string, std::vector<graph::NodeId>> by_source(const graph::Graph& graph) {
  std::map<std::string, std::vector<graph::NodeId>> groups;
  for (auto id : graph.topological_order()) {
    const auto* recipe = graph.recipe_of(id);
    groups[recipe ? recipe->source : ""].push_back(id);
  }
  return groups;
}

void tree_lines(const graph::Graph& graph, graph::NodeId id, const std::string& prefix, bool last,
                std::set<graph::NodeId>& shown, std::ostringstream& out) {
  const auto* recipe = graph.recipe_of(id);
  out << prefix << (last ? "└── " : "├── ") << familiar(graph.node(id).image);
  if (shown.count(id)) {
    out << "  (see above)\n";
    return;
  }
  shown.insert(id);
  if (recipe) out << "  [" << recipe->source << ": " << recipe->dockerfile << "]";
  out << "\n";
  const auto& children = graph.node(id).children;
  for (std::size_t i = 0; i < children.size(); ++i)
    tree_lines(graph, children[i], prefix + (last ? "    " : "│   "), i + 1 == children.size(), shown, out);
}

}  // namespace

std::string graph_json(const fleet::Fleet& fleet) {
  const auto& graph = fleet.graph;
  JsonWriter out;
  out.begin_object().key("pipeline").value(fleet.pipeline.file);
  out.key("sources").begin_array();
  for (const auto& source : fleet.sources) {
    out.begin_object().key("name").value(source.name).key("commit").value(source.commit);
    out.key("dockerfiles").value(source.dockerfiles).end_object();
  }
  out.end_array().key("images").begin_array();
  for (auto id : graph.topological_order()) {
    const auto* recipe = graph.recipe_of(id);
    if (!recipe) continue;
    out.begin_object().key("image").value(recipe->image).key("familiar").value(familiar(recipe->image));
    out.key("bases").strings(recipe->bases);  // as the Dockerfile names them, digests kept
    out.key("source").value(recipe->source).key("dockerfile").value(recipe->dockerfile);
    out.key("context").value(recipe->context).key("target");
    recipe->target.empty() ? out.null() : out.value(recipe->target);
    out.key("build_args").begin_object();
    for (const auto& [name, value] : recipe->build_args) out.key(name).value(value);
    out.end_object().key("commit").value(recipe->commit).key("frontend");
    recipe->frontend ? out.value(*recipe->frontend) : out.null();
    out.end_object();
  }
  out.end_array().key("external").begin_array();
  for (auto id : graph.external()) out.value(graph.node(id).image);
  out.end_array().end_object();
  return out.str() + "\n";
}

std::string graph_text(const fleet::Fleet& fleet) {
  const auto& graph = fleet.graph;
  std::ostringstream out;
  std::size_t produced = graph.recipes().size();
  out << fleet.pipeline.file << ": " << fleet.sources.size() << " sources, " << produced << " images, "
      << graph.external().size() << " external bases\n";
  for (const auto& source : fleet.sources)
    out << "  " << source.name << " @ " << source.commit.substr(0, 12) << " (" << source.dockerfiles
        << " Dockerfiles)\n";
  out << "\n";
  std::set<graph::NodeId> shown;
  for (auto id : graph.topological_order()) {
    if (!graph.node(id).bases.empty()) continue;
    const auto* recipe = graph.recipe_of(id);
    out << familiar(graph.node(id).image)
        << (recipe ? "  [" + recipe->source + ": " + recipe->dockerfile + "]" : std::string("  (external)")) << "\n";
    shown.insert(id);
    const auto& children = graph.node(id).children;
    for (std::size_t i = 0; i < children.size(); ++i)
      tree_lines(graph, children[i], "", i + 1 == children.size(), shown, out);
  }
  return terminal_safe(out.str());
}

std::string graph_dot(const fleet::Fleet& fleet) {
  const auto& graph = fleet.graph;
  util::dot::Digraph dot{.name = "cascade",
                         .attributes = {"rankdir=LR", "node [shape=box, style=\"rounded,filled\", "
                                                      "fillcolor=\"#eef3fb\", fontname=\"Helvetica\"]"}};
  for (const auto& [source, ids] : by_source(graph)) {
    auto& cluster = dot.clusters.emplace_back();
    cluster.label = source.empty() ? "external" : source;
    if (source.empty()) cluster.attributes.push_back("style=dashed");
    for (auto id : ids)
      cluster.nodes.push_back({"n" + std::to_string(id), familiar(graph.node(id).image),
                               source.empty() ? ", fillcolor=\"#f4f4f4\", style=\"rounded,dashed,filled\"" : ""});
  }
  for (auto id : graph.topological_order())
    for (auto child : graph.node(id).children) dot.edges.push_back({"n" + std::to_string(id), "n" + std::to_string(child)});
  return util::dot::render(dot);
}

std::string graph_mermaid(const fleet::Fleet& fleet) {
  const auto& graph = fleet.graph;
  std::ostringstream out;
  out << "flowchart LR\n";
  int group = 0;
  for (const auto& [source, ids] : by_source(graph)) {
    out << "  subgraph s" << group++ << "[" << util::dot::quoted(source.empty() ? "external" : source) << "]\n";
    for (auto id : ids) {
      std::string label = familiar(graph.node(id).image);
      for (char& c : label)
        if (c == '"') c = '\'';
      out << "    n" << id << (source.empty() ? "([\"" : "[\"") << label << (source.empty() ? "\"])" : "\"]") << "\n";
    }
    out << "  end\n";
  }
  for (auto id : graph.topological_order())
    for (auto child : graph.node(id).children) out << "  n" << id << " --> n" << child << "\n";
  return out.str();
}

std::string affected_text(const graph::Graph& graph, const AffectedReport& report) {
  std::ostringstream out;
  if (report.matched.empty()) {
    out << "no image in the fleet matches " << report.query << "\n";
    if (!report.suggestions.empty()) {
      out << "did you mean:";
      for (const auto& name : report.suggestions) out << " " << name;
      out << "\n";
    }
    return terminal_safe(out.str());
  }
  out << report.query << " matches";
  for (auto id : report.matched) out << " " << familiar(graph.node(id).image);
  out << "; " << report.affected.size() << (report.affected.size() == 1 ? " image" : " images")
      << " affected, in build order:\n";
  for (const auto& item : report.affected) {
    out << "  " << item.depth << "  " << familiar(graph.node(item.node).image) << "  via ";
    for (std::size_t i = 0; i < item.via.size(); ++i)
      out << (i ? " -> " : "") << familiar(graph.node(item.via[i]).image);
    out << "\n";
    if (auto running = report.workloads.find(graph.node(item.node).image); running != report.workloads.end())
      for (const auto& workload : running->second) out << "       runs in " << workload << "\n";
  }
  return terminal_safe(out.str());
}

json dockerfile_json(const std::string& file, const dockerfile::Analysis& analysis) {
  json stages = json::array();
  for (const auto& stage : analysis.stages) {
    json base;
    if (stage.scratch) base = {{"scratch", true}};
    else if (stage.base_stage) base = {{"stage", analysis.stages[*stage.base_stage].label()}};
    else if (stage.base_image) base = {{"image", stage.base_image->str()}};
    stages.push_back({{"index", stage.index},
                      {"name", stage.name.empty() ? json(nullptr) : json(stage.name)},
                      {"label", stage.label()},
                      {"line", stage.line},
                      {"base", base},
                      {"platform", stage.platform.empty() ? json(nullptr) : json(stage.platform)},
                      {"needed", stage.needed}});
  }
  json uses = json::array();
  for (const auto& use : analysis.uses)
    uses.push_back({{"image", use.image.str()},
                    {"stage", analysis.stages[use.stage].label()},
                    {"kind", std::string(dockerfile::to_string(use.kind))},
                    {"line", use.line}});
  return {{"file", file},
          {"frontend", analysis.frontend ? json(analysis.frontend->str()) : json(nullptr)},
          {"target", analysis.stages[analysis.target].label()},
          {"bases", analysis.bases},
          {"stages", stages},
          {"uses", uses}};
}

std::string dockerfile_text(const std::string& file, const dockerfile::Analysis& analysis) {
  std::ostringstream out;
  out << file << ": " << analysis.stages.size() << (analysis.stages.size() == 1 ? " stage" : " stages")
      << ", target " << analysis.stages[analysis.target].label() << "\n";
  out << "frontend: " << (analysis.frontend ? analysis.frontend->str() : std::string("(none)")) << "\n";
  out << "stages:\n";
  for (const auto& stage : analysis.stages) {
    out << "  line " << stage.line << "  " << stage.label() << "  FROM ";
    if (stage.scratch) out << "scratch";
    else if (stage.base_stage) out << "stage " << analysis.stages[*stage.base_stage].label();
    else if (stage.base_image) out << stage.base_image->str();
    if (!stage.platform.empty()) out << "  --platform=" << stage.platform;
    if (!stage.needed) out << "  (not needed for the target)";
    out << "\n";
  }
  out << "bases:\n";
  for (const auto& base : analysis.bases) out << "  " << base << "\n";
  if (analysis.bases.empty()) out << "  (none)\n";
  return terminal_safe(out.str());
}

}  // namespace cascade::cli
