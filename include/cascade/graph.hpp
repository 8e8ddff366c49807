// The image graph: node = an image the fleet produces or consumes; edge = base -> derived.
// Plain data owned in one place; pure (no I/O).
//
// Matching a base reference to a produced image:
//  - tags are compared after normalization: FROM debian:12 and docker.io/library/debian:12
//    are one node;
//  - a base pinned by tag and digest (repo:tag@sha256:...) is built on the recipe that
//    produces repo:tag: the pin only records which version was used;
//  - a base pinned by digest alone (repo@sha256:...) is built on the recipe producing that
//    repository when exactly one recipe produces it; otherwise it stays an external root;
//  - everything no recipe produces is an external root.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cascade/reference.hpp"
#include "cascade/util/expected.hpp"

namespace cascade::graph {

/// Which build workers may build a recipe: the one named, or those carrying every label;
/// both empty: any worker.
struct WorkerChoice {
  std::string name;
  std::map<std::string, std::string> labels;
  bool any() const { return name.empty() && labels.empty(); }
  bool operator==(const WorkerChoice&) const = default;
};

/// A command run in the freshly built image before it is pushed (the pipeline's `test:`).
struct TestCommand {
  std::vector<std::string> argv;
  std::chrono::milliseconds timeout{300'000};
  bool operator==(const TestCommand&) const = default;
};

/// How one image of the fleet is built.
struct Recipe {
  std::string image;       // normalized reference it produces (the node's key)
  std::string source;      // pipeline source name
  std::string dockerfile;  // path in the repository
  std::string context;     // folder in the repository
  std::string target;      // stage, empty for the last
  std::map<std::string, std::string> build_args;
  std::string commit;      // the commit the Dockerfile was read at
  std::vector<std::string> bases;  // normalized external images the build uses (sorted)
  std::optional<std::string> frontend;  // normalized `# syntax=` image
  WorkerChoice worker;  // which build workers may build it (the pipeline's `builder:`)
  // The platforms to build ("linux/amd64", "linux/arm64"), from the pipeline's `platforms:`
  // (the image's, else its discover rule's, else its source's, else the fleet's); empty when
  // none is declared: then the plan keeps the platforms its tag has in the registry.
  std::vector<std::string> platforms;
  // Run in the built image before it is pushed, in order; any failure fails the build (the
  // pipeline's `test:`: the image's, else its discover rule's, else its source's, else the fleet's).
  std::vector<TestCommand> tests;
};

using NodeId = std::size_t;

struct Node {
  std::string image;                 // normalized reference; an external base pinned by tag and digest
                                     // is keyed by repo:tag, one pinned by digest only by repo@digest
  std::optional<std::size_t> recipe; // index into recipes(); empty for an external root
  std::vector<NodeId> bases;         // nodes this one is built on
  std::vector<NodeId> children;      // nodes built on this one
};

struct Error {
  std::string message;                // e.g. "cycle: a -> b -> a"
  std::vector<std::string> cycle;     // the images of the cycle, first repeated at the end
};

class Graph {
 public:
  /// Builds the graph; fails when two recipes produce one image or the graph has a cycle.
  static Expected<Graph, Error> build(std::vector<Recipe> recipes);

  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<Recipe>& recipes() const { return recipes_; }
  const Node& node(NodeId id) const { return nodes_[id]; }
  const Recipe* recipe_of(NodeId id) const;

  /// The node whose image is exactly this normalized reference.
  std::optional<NodeId> find(const std::string& image) const;

  /// Nodes matching a query reference in any spelling: an exact reference, or every
  /// tag of the repository when the query named no tag; digests are ignored.
  std::vector<NodeId> match(const reference::Reference& query) const;

  /// External roots (nodes no recipe produces), sorted by image.
  std::vector<NodeId> external() const;

  /// Every node in a valid build order (bases before the images built on them);
  /// ties broken by image name so the order is stable.
  const std::vector<NodeId>& topological_order() const { return order_; }

  struct Affected {
    NodeId node;
    int depth;                 // 1 for a direct child of a start node
    std::vector<NodeId> via;   // the chain from a start node to this node (inclusive)
  };
  /// Every node downstream of `start` (excluding the start nodes), in build order.
  std::vector<Affected> downstream(const std::vector<NodeId>& start) const;

 private:
  std::vector<Recipe> recipes_;
  std::vector<Node> nodes_;
  std::map<std::string, NodeId> index_;             // image -> node
  std::map<std::string, std::vector<NodeId>> by_repository_;  // domain/path -> nodes
  std::vector<NodeId> order_;          // topological order, computed once by build()
  std::vector<std::size_t> position_;  // node -> its index in order_

  /// The images of one cycle (first repeated at the end), or empty when there is none.
  std::vector<std::string> find_cycle() const;
  std::vector<NodeId> compute_order() const;
};

}  // namespace cascade::graph
