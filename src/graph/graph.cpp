// The image graph: nodes keyed by normalized reference, built from the recipes (one node per
// image a recipe produces, one per external base), cycle detection, matching a query to
// nodes, the downstream closure with depth and path, and build order.
#include "cascade/graph.hpp"

#include <algorithm>
#include <functional>
#include <queue>
#include <set>

namespace cascade::graph {

namespace {

// The key a base reference is looked up by: repo:tag for a tagged reference (a digest
// pinned on top of a tag only records the version), repo@digest for a digest-only one.
std::string lookup_key(const reference::Reference& ref) {
  if (!ref.tag.empty()) return ref.repository() + ":" + ref.tag;
  return ref.str();
}

}  // namespace

const Recipe* Graph::recipe_of(NodeId id) const {
  const auto& recipe = nodes_[id].recipe;
  return recipe ? &recipes_[*recipe] : nullptr;
}

std::optional<NodeId> Graph::find(const std::string& image) const {
  auto it = index_.find(image);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

Expected<Graph, Error> Graph::build(std::vector<Recipe> recipes) {
  Graph graph;
  graph.recipes_ = std::move(recipes);
  auto add_node = [&graph](const std::string& image, const std::string& repository) {
    NodeId id = graph.nodes_.size();
    graph.nodes_.push_back(Node{image, std::nullopt, {}, {}});
    graph.index_.emplace(image, id);
    graph.by_repository_[repository].push_back(id);
    return id;
  };

  // Produced images first, so bases can find them.
  for (std::size_t i = 0; i < graph.recipes_.size(); ++i) {
    const Recipe& recipe = graph.recipes_[i];
    auto existing = graph.index_.find(recipe.image);
    if (existing != graph.index_.end()) {
      const Recipe& first = graph.recipes_[*graph.nodes_[existing->second].recipe];
      return unexpected(Error{"two recipes produce " + recipe.image + ": " + first.source + ":" + first.dockerfile +
                                  " and " + recipe.source + ":" + recipe.dockerfile,
                              {}});
    }
    auto parsed = reference::parse(recipe.image);
    std::string repository = parsed ? parsed->repository() : recipe.image;
    NodeId id = add_node(recipe.image, repository);
    graph.nodes_[id].recipe = i;
  }

  // Edges: base -> derived, creating external roots on the way.
  for (std::size_t i = 0; i < graph.recipes_.size(); ++i) {
    NodeId derived = *graph.find(graph.recipes_[i].image);
    for (const std::string& base_text : graph.recipes_[i].bases) {
      auto base_ref = reference::parse(base_text);
      if (!base_ref) return unexpected(Error{"invalid base " + base_text + ": " + base_ref.error().message, {}});
      NodeId base = 0;
      std::string key = lookup_key(*base_ref);
      if (auto found = graph.find(key)) {
        base = *found;
      } else if (base_ref->tag.empty() && graph.by_repository_.count(base_ref->repository())) {
        // Digest-only pin: built on the recipe of that repository when exactly one produces it.
        std::vector<NodeId> produced;
        for (NodeId candidate : graph.by_repository_[base_ref->repository()])
          if (graph.nodes_[candidate].recipe) produced.push_back(candidate);
        base = produced.size() == 1 ? produced.front() : add_node(key, base_ref->repository());
      } else {
        base = add_node(key, base_ref->repository());
      }
      auto& bases = graph.nodes_[derived].bases;
      if (std::find(bases.begin(), bases.end(), base) != bases.end()) continue;
      bases.push_back(base);
      graph.nodes_[base].children.push_back(derived);
    }
  }
  for (auto& node : graph.nodes_) {
    auto by_image = [&graph](NodeId a, NodeId b) { return graph.nodes_[a].image < graph.nodes_[b].image; };
    std::sort(node.bases.begin(), node.bases.end(), by_image);
    std::sort(node.children.begin(), node.children.end(), by_image);
  }
  if (auto cycle = graph.find_cycle(); !cycle.empty()) {
    std::string text;
    for (const auto& image : cycle) text += (text.empty() ? "" : " -> ") + image;
    return unexpected(Error{"the image graph has a cycle: " + text, std::move(cycle)});
  }
  graph.order_ = graph.compute_order();
  graph.position_.assign(graph.nodes_.size(), 0);
  for (std::size_t i = 0; i < graph.order_.size(); ++i) graph.position_[graph.order_[i]] = i;
  return graph;
}

std::vector<std::string> Graph::find_cycle() const {
  enum class Mark { none, active, done };
  std::vector<Mark> marks(nodes_.size(), Mark::none);
  std::vector<NodeId> stack;
  std::vector<std::string> cycle;
  std::function<bool(NodeId)> visit = [&](NodeId id) {
    marks[id] = Mark::active;
    stack.push_back(id);
    for (NodeId child : nodes_[id].children) {
      if (marks[child] == Mark::active) {
        auto start = std::find(stack.begin(), stack.end(), child);
        for (auto it = start; it != stack.end(); ++it) cycle.push_back(nodes_[*it].image);
        cycle.push_back(nodes_[child].image);
        return true;
      }
      if (marks[child] == Mark::none && visit(child)) return true;
    }
    stack.pop_back();
    marks[id] = Mark::done;
    return false;
  };
  for (NodeId id = 0; id < nodes_.size(); ++id)
    if (marks[id] == Mark::none && visit(id)) return cycle;
  return {};
}

std::vector<NodeId> Graph::compute_order() const {
  // Kahn's algorithm; among ready nodes the smallest image name goes first, so the
  // order is stable whatever order the recipes came in.
  std::vector<std::size_t> waiting(nodes_.size());
  auto later = [this](NodeId a, NodeId b) { return nodes_[a].image > nodes_[b].image; };
  std::priority_queue<NodeId, std::vector<NodeId>, decltype(later)> ready(later);
  for (NodeId id = 0; id < nodes_.size(); ++id) {
    waiting[id] = nodes_[id].bases.size();
    if (waiting[id] == 0) ready.push(id);
  }
  std::vector<NodeId> order;
  order.reserve(nodes_.size());
  while (!ready.empty()) {
    NodeId id = ready.top();
    ready.pop();
    order.push_back(id);
    for (NodeId child : nodes_[id].children)
      if (--waiting[child] == 0) ready.push(child);
  }
  return order;
}

std::vector<NodeId> Graph::match(const reference::Reference& query) const {
  auto it = by_repository_.find(query.repository());
  if (it == by_repository_.end()) return {};
  std::vector<NodeId> matches;
  for (NodeId id : it->second) {
    const std::string& image = nodes_[id].image;
    bool digest_only = image.find('@') != std::string::npos;
    bool same_tag = image == query.repository() + ":" + query.tag;
    if (query.tag_implied || same_tag || digest_only) matches.push_back(id);
  }
  std::sort(matches.begin(), matches.end(), [this](NodeId a, NodeId b) { return nodes_[a].image < nodes_[b].image; });
  return matches;
}

std::vector<NodeId> Graph::external() const {
  std::vector<NodeId> roots;
  for (NodeId id = 0; id < nodes_.size(); ++id)
    if (!nodes_[id].recipe) roots.push_back(id);
  std::sort(roots.begin(), roots.end(), [this](NodeId a, NodeId b) { return nodes_[a].image < nodes_[b].image; });
  return roots;
}

std::vector<Graph::Affected> Graph::downstream(const std::vector<NodeId>& start) const {
  // Walk the reachable set, then visit it in build order: a node's depth is one more than
  // its deepest affected base, and its chain runs through that base.
  std::vector<char> reached(nodes_.size(), 0);
  std::vector<NodeId> frontier(start.begin(), start.end());
  std::vector<char> is_start(nodes_.size(), 0);
  for (NodeId id : start) is_start[id] = 1;
  std::vector<NodeId> found;
  while (!frontier.empty()) {
    NodeId id = frontier.back();
    frontier.pop_back();
    for (NodeId child : nodes_[id].children) {
      if (reached[child] || is_start[child]) continue;
      reached[child] = 1;
      found.push_back(child);
      frontier.push_back(child);
    }
  }
  std::sort(found.begin(), found.end(), [this](NodeId a, NodeId b) { return position_[a] < position_[b]; });

  std::vector<int> depth(nodes_.size(), 0);
  std::vector<std::size_t> slot(nodes_.size(), 0);
  std::vector<Affected> affected;
  affected.reserve(found.size());
  for (NodeId id : found) {
    int best_depth = -1;
    std::optional<NodeId> through;
    for (NodeId base : nodes_[id].bases) {
      if (!is_start[base] && !reached[base]) continue;
      if (depth[base] > best_depth) best_depth = depth[base], through = base;
    }
    depth[id] = best_depth + 1;
    std::vector<NodeId> via;
    if (is_start[*through]) via = {*through};
    else via = affected[slot[*through]].via;
    via.push_back(id);
    slot[id] = affected.size();
    affected.push_back(Affected{id, depth[id], std::move(via)});
  }
  return affected;
}

}  // namespace cascade::graph
