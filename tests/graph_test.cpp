#include <doctest/doctest.h>

#include <algorithm>

#include "cascade/graph.hpp"

using cascade::graph::Graph;
using cascade::graph::NodeId;
using cascade::graph::Recipe;

namespace {

Recipe recipe(std::string image, std::vector<std::string> bases) {
  Recipe r;
  r.image = std::move(image);
  r.source = "src";
  r.dockerfile = "Dockerfile";
  r.bases = std::move(bases);
  return r;
}

std::vector<std::string> images(const Graph& graph, const std::vector<NodeId>& ids) {
  std::vector<std::string> out;
  for (NodeId id : ids) out.push_back(graph.node(id).image);
  return out;
}

std::size_t position(const Graph& graph, const std::string& image) {
  const auto& order = graph.topological_order();
  NodeId id = *graph.find(image);
  return std::find(order.begin(), order.end(), id) - order.begin();
}

cascade::reference::Reference ref(const char* text) { return *cascade::reference::parse(text); }

const char* kDebian = "docker.io/library/debian:12";
const char* kBase = "r.example.com/base/debian:12";
const char* kRuntime = "r.example.com/runtime/python:3";
const char* kWorker = "r.example.com/runtime/worker:1";
const char* kApp = "r.example.com/apps/shop:latest";

Graph diamond() {
  auto graph = Graph::build({recipe(kApp, {kRuntime, kWorker}), recipe(kRuntime, {kBase}),
                             recipe(kWorker, {kBase}), recipe(kBase, {kDebian})});
  REQUIRE(graph);
  return std::move(graph).value();
}

}  // namespace

TEST_CASE("graph::build") {
  SUBCASE("an image no recipe produces is an external root") {
    Graph graph = diamond();
    CHECK(images(graph, graph.external()) == std::vector<std::string>{kDebian});
    CHECK(graph.nodes().size() == 5);
    CHECK(graph.recipe_of(*graph.find(kDebian)) == nullptr);
    CHECK(graph.recipe_of(*graph.find(kApp))->image == kApp);
  }
  SUBCASE("edges run base -> derived") {
    Graph graph = diamond();
    const auto& app = graph.node(*graph.find(kApp));
    CHECK(images(graph, app.bases) == std::vector<std::string>{kRuntime, kWorker});
    const auto& base = graph.node(*graph.find(kBase));
    CHECK(images(graph, base.children) == std::vector<std::string>{kRuntime, kWorker});
  }
  SUBCASE("a base pinned by tag and digest is built on the recipe producing repo:tag") {
    std::string pinned = std::string(kBase) + "@sha256:" + std::string(64, 'a');
    auto graph = Graph::build({recipe(kBase, {kDebian}), recipe(kRuntime, {pinned})});
    REQUIRE(graph);
    CHECK(images(*graph, graph->node(*graph->find(kRuntime)).bases) == std::vector<std::string>{kBase});
    CHECK_FALSE(graph->find(pinned));
  }
  SUBCASE("a digest-only base is built on the single recipe producing that repository") {
    std::string pinned = "r.example.com/base/debian@sha256:" + std::string(64, 'b');
    auto graph = Graph::build({recipe(kBase, {kDebian}), recipe(kRuntime, {pinned})});
    REQUIRE(graph);
    CHECK(images(*graph, graph->node(*graph->find(kRuntime)).bases) == std::vector<std::string>{kBase});
  }
  SUBCASE("a digest-only base stays external when several tags of the repository are produced") {
    std::string pinned = "r.example.com/base/debian@sha256:" + std::string(64, 'b');
    auto graph = Graph::build(
        {recipe(kBase, {kDebian}), recipe("r.example.com/base/debian:11", {kDebian}), recipe(kRuntime, {pinned})});
    REQUIRE(graph);
    CHECK(images(*graph, graph->node(*graph->find(kRuntime)).bases) == std::vector<std::string>{pinned});
    CHECK(images(*graph, graph->external()) == std::vector<std::string>{kDebian, pinned});
  }
  SUBCASE("an external base pinned by tag and digest is keyed by its tag") {
    std::string pinned = std::string(kDebian) + "@sha256:" + std::string(64, 'c');
    auto graph = Graph::build({recipe(kBase, {pinned}), recipe(kRuntime, {kDebian})});
    REQUIRE(graph);
    CHECK(images(*graph, graph->external()) == std::vector<std::string>{kDebian});
  }
  SUBCASE("two recipes producing one image are an error naming both") {
    auto first = recipe(kBase, {kDebian});
    auto second = recipe(kBase, {kDebian});
    second.source = "other";
    second.dockerfile = "x/Dockerfile";
    auto graph = Graph::build({first, second});
    REQUIRE_FALSE(graph);
    CHECK(graph.error().message.find("src:Dockerfile") != std::string::npos);
    CHECK(graph.error().message.find("other:x/Dockerfile") != std::string::npos);
  }
  SUBCASE("a cycle is an error that prints the cycle") {
    auto graph = Graph::build({recipe(kBase, {kApp}), recipe(kRuntime, {kBase}), recipe(kApp, {kRuntime})});
    REQUIRE_FALSE(graph);
    const auto& cycle = graph.error().cycle;
    REQUIRE(cycle.size() == 4);
    CHECK(cycle.front() == cycle.back());
    CHECK(graph.error().message.find(" -> ") != std::string::npos);
    for (const char* image : {kBase, kRuntime, kApp})
      CHECK(std::find(cycle.begin(), cycle.end(), image) != cycle.end());
  }
  SUBCASE("an image built on itself is a cycle") {
    auto graph = Graph::build({recipe(kBase, {kBase})});
    REQUIRE_FALSE(graph);
    CHECK(graph.error().cycle == std::vector<std::string>{kBase, kBase});
  }
}

TEST_CASE("graph::topological_order") {
  SUBCASE("bases come before the images built on them") {
    Graph graph = diamond();
    REQUIRE(graph.topological_order().size() == graph.nodes().size());
    for (const auto& node : graph.nodes())
      for (NodeId base : node.bases) CHECK(position(graph, graph.node(base).image) < position(graph, node.image));
  }
  SUBCASE("the order does not depend on the order of the recipes") {
    auto reversed = Graph::build({recipe(kBase, {kDebian}), recipe(kWorker, {kBase}), recipe(kRuntime, {kBase}),
                                  recipe(kApp, {kRuntime, kWorker})});
    REQUIRE(reversed);
    Graph graph = diamond();
    CHECK(images(*reversed, reversed->topological_order()) == images(graph, graph.topological_order()));
  }
}

TEST_CASE("graph::match") {
  Graph graph = diamond();
  SUBCASE("any spelling of a reference finds the node") {
    CHECK(images(graph, graph.match(ref("debian:12"))) == std::vector<std::string>{kDebian});
    CHECK(images(graph, graph.match(ref("docker.io/library/debian:12"))) == std::vector<std::string>{kDebian});
    CHECK(images(graph, graph.match(ref("index.docker.io/library/debian:12"))) == std::vector<std::string>{kDebian});
  }
  SUBCASE("a repository without a tag matches all its tags") {
    auto graph2 = Graph::build({recipe(kBase, {kDebian}), recipe("r.example.com/base/debian:11", {"debian:11"})});
    REQUIRE(graph2);
    CHECK(images(*graph2, graph2->match(ref("debian"))) ==
          std::vector<std::string>{"docker.io/library/debian:11", kDebian});
  }
  SUBCASE("another tag does not match") { CHECK(graph.match(ref("debian:11")).empty()); }
  SUBCASE("a digest in the query is ignored for matching") {
    auto query = ref("debian:12@sha256:9c1e4b7a2d5f8c0e3a6b9d2f5c8e1a4b7d0f3c6e9a2b5d8f1c4e7a0b3d6f9c2e");
    CHECK(images(graph, graph.match(query)) == std::vector<std::string>{kDebian});
  }
}

TEST_CASE("graph::downstream") {
  Graph graph = diamond();
  SUBCASE("every image below the start, in build order, with depth and chain") {
    auto affected = graph.downstream(graph.match(ref("debian:12")));
    REQUIRE(affected.size() == 4);
    CHECK(graph.node(affected[0].node).image == kBase);
    CHECK(affected[0].depth == 1);
    CHECK(images(graph, affected[0].via) == std::vector<std::string>{kDebian, kBase});
    CHECK(graph.node(affected[3].node).image == kApp);
    CHECK(affected[3].depth == 3);
    CHECK(affected[3].via.size() == 4);
    for (std::size_t i = 1; i < affected.size(); ++i) CHECK(affected[i - 1].depth <= affected[i].depth);
  }
  SUBCASE("a diamond child appears once") {
    auto affected = graph.downstream({*graph.find(kBase)});
    CHECK(affected.size() == 3);
    CHECK(std::count_if(affected.begin(), affected.end(),
                        [&](const auto& a) { return graph.node(a.node).image == kApp; }) == 1);
  }
  SUBCASE("a leaf affects nothing; the start itself is not listed") {
    CHECK(graph.downstream({*graph.find(kApp)}).empty());
    auto affected = graph.downstream({*graph.find(kRuntime)});
    REQUIRE(affected.size() == 1);
    CHECK(graph.node(affected[0].node).image == kApp);
  }
  SUBCASE("depth follows the longest chain from the start") {
    auto graph2 = Graph::build({recipe(kBase, {kDebian}), recipe(kRuntime, {kBase}), recipe(kApp, {kRuntime, kBase})});
    REQUIRE(graph2);
    auto affected = graph2->downstream({*graph2->find(kBase)});
    REQUIRE(affected.size() == 2);
    CHECK(affected[1].depth == 2);
    CHECK(images(*graph2, affected[1].via) == std::vector<std::string>{kBase, kRuntime, kApp});
  }
}
