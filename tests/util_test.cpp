// Tests of the util module: text (lowercase, percent-encoding), time stamps, edit distance,
// git locations, DOT output and the error-propagation macros of expected.hpp.
#include <doctest/doctest.h>

#include <string>

#include "cascade/util/dot.hpp"

namespace dot = cascade::util::dot;

TEST_CASE("dot::quoted escapes quotes and backslashes only") {
  CHECK(dot::quoted("") == "\"\"");
  CHECK(dot::quoted("docker.io/library/debian:12") == "\"docker.io/library/debian:12\"");
  CHECK(dot::quoted("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(dot::quoted("line\nbreak") == "\"line\nbreak\"");
}

TEST_CASE("dot::render: attributes, nodes, clusters, edges in that order") {
  SUBCASE("top-level nodes with quoted ids (the dashboard's shape)") {
    dot::Digraph graph{.name = "cascade", .attributes = {"rankdir=LR", "edge [color=\"#8894a8\"]"}};
    graph.nodes.push_back({dot::quoted("r/base:1"), "base:1", ""});
    graph.nodes.push_back({dot::quoted("r/app:\"x\""), "app", ", style=\"dashed\""});
    graph.edges.push_back({dot::quoted("r/base:1"), dot::quoted("r/app:\"x\"")});
    CHECK(dot::render(graph) ==
          "digraph cascade {\n"
          "  rankdir=LR;\n"
          "  edge [color=\"#8894a8\"];\n"
          "  \"r/base:1\" [label=\"base:1\"];\n"
          "  \"r/app:\\\"x\\\"\" [label=\"app\", style=\"dashed\"];\n"
          "  \"r/base:1\" -> \"r/app:\\\"x\\\"\";\n"
          "}\n");
  }
  SUBCASE("clusters numbered in order with their own attributes (the CLI's shape)") {
    dot::Digraph graph{.name = "cascade", .attributes = {"rankdir=LR"}};
    graph.clusters.push_back({.label = "external", .attributes = {"style=dashed"}, .nodes = {{"n0", "debian:12", ", x=1"}}});
    graph.clusters.push_back({.label = "platform", .nodes = {{"n1", "base", ""}, {"n2", "tools", ""}}});
    graph.edges = {{"n0", "n1"}, {"n1", "n2"}};
    CHECK(dot::render(graph) ==
          "digraph cascade {\n"
          "  rankdir=LR;\n"
          "  subgraph cluster_0 {\n"
          "    label=\"external\";\n"
          "    style=dashed;\n"
          "    n0 [label=\"debian:12\", x=1];\n"
          "  }\n"
          "  subgraph cluster_1 {\n"
          "    label=\"platform\";\n"
          "    n1 [label=\"base\"];\n"
          "    n2 [label=\"tools\"];\n"
          "  }\n"
          "  n0 -> n1;\n"
          "  n1 -> n2;\n"
          "}\n");
  }
  SUBCASE("an empty graph") { CHECK(dot::render({.name = "g"}) == "digraph g {\n}\n"); }
}
