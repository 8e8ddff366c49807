// Graphviz DOT output: string quoting and the emission of a digraph (graph attributes, nodes,
// clusters of nodes, edges) from plain values. Knows nothing of cascade's image graph: the
// callers (the dashboard, `cascade graph --format dot`) map their nodes to these values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cascade::util::dot {

/// `text` as a DOT quoted string: wrapped in double quotes, `"` and `\` escaped.
std::string quoted(std::string_view text);

struct Node {
  std::string id{};          ///< emitted as given: quote it with quoted() unless it is a plain identifier
  std::string label{};       ///< quoted on output
  std::string attributes{};  ///< appended after the label as given, e.g. `, style="dashed"` (may be empty)
};

struct Edge {
  std::string from{}, to{};  ///< node ids, emitted as given
};

/// A `subgraph cluster_<index>` with a quoted label, its own attribute statements and nodes.
struct Cluster {
  std::string label{};
  std::vector<std::string> attributes{};  ///< statements such as `style=dashed`, one per line
  std::vector<Node> nodes{};
};

struct Digraph {
  std::string name{};
  std::vector<std::string> attributes{};  ///< statements such as `rankdir=LR` or `node [shape=box]`
  std::vector<Node> nodes{};              ///< top-level nodes, before the clusters
  std::vector<Cluster> clusters{};
  std::vector<Edge> edges{};
};

/// The digraph as DOT text: two-space indentation, one statement per line, `;`-terminated,
/// in the order attributes, nodes, clusters, edges.
std::string render(const Digraph& graph);

}  // namespace cascade::util::dot
