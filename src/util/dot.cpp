// Graphviz DOT output (cascade/util/dot.hpp): quoting and the digraph's statements.
#include "cascade/util/dot.hpp"

namespace cascade::util::dot {

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

namespace {

void node_line(std::string& out, std::string_view indent, const Node& node) {
  out.append(indent).append(node.id).append(" [label=").append(quoted(node.label));
  out.append(node.attributes).append("];\n");
}

}  // namespace

std::string render(const Digraph& graph) {
  std::string out = "digraph " + graph.name + " {\n";
  for (const auto& attribute : graph.attributes) out.append("  ").append(attribute).append(";\n");
  for (const auto& node : graph.nodes) node_line(out, "  ", node);
  for (std::size_t i = 0; i < graph.clusters.size(); ++i) {
    const auto& cluster = graph.clusters[i];
    out.append("  subgraph cluster_").append(std::to_string(i)).append(" {\n    label=").append(quoted(cluster.label));
    out.append(";\n");
    for (const auto& attribute : cluster.attributes) out.append("    ").append(attribute).append(";\n");
    for (const auto& node : cluster.nodes) node_line(out, "    ", node);
    out.append("  }\n");
  }
  for (const auto& edge : graph.edges) out.append("  ").append(edge.from).append(" -> ").append(edge.to).append(";\n");
  out.append("}\n");
  return out;
}

}  // namespace cascade::util::dot
