// plan::make for multi-platform recipes: what each step builds, the refusal to narrow a
// tag's index, a platform a base lacks, and a rebuild that only adds a platform.
#include <doctest/doctest.h>

#include "cascade/plan.hpp"

using namespace cascade;
using plan::Action;

namespace {

const std::string kDebian = "docker.io/library/debian:12";
const std::string kBase = "r.example.com/base:1";
const std::string kApp = "r.example.com/app:1";
const std::string kAmd = "linux/amd64";
const std::string kArm = "linux/arm64";

std::string digest_of(char c) { return "sha256:" + std::string(64, c); }

// debian:12 -> base -> app; the platforms each recipe declares.
graph::Graph fleet(std::vector<std::string> base_platforms, std::vector<std::string> app_platforms) {
  graph::Recipe base;
  base.image = kBase;
  base.bases = {kDebian};
  base.platforms = std::move(base_platforms);
  graph::Recipe app;
  app.image = kApp;
  app.bases = {kBase};
  app.platforms = std::move(app_platforms);
  auto graph = graph::Graph::build({base, app});
  REQUIRE(graph);
  return std::move(graph).value();
}

plan::Origin debian_moved(const graph::Graph& graph) {
  plan::Origin origin;
  origin.query = kDebian;
  origin.start = {*graph.find(kDebian)};
  origin.digests[origin.start[0]] = digest_of('d');
  return origin;
}

// An image the registry has: an index of `platforms` (or one manifest), built on `bases`.
plan::Observed index_of(std::vector<std::string> platforms, std::map<std::string, std::string> bases = {},
                        bool index = true) {
  return plan::Observed{digest_of('e'), std::move(bases), "", index, std::move(platforms)};
}

const plan::Step& step(const plan::Plan& p, const std::string& image) {
  auto at = p.find(image);
  REQUIRE_MESSAGE(at, image);
  return p.steps[*at];
}

}  // namespace

TEST_CASE("plan: a step builds its recipe's platforms, else its tag's index's, else the engine's own") {
  SUBCASE("declared") {
    auto graph = fleet({kAmd, kArm}, {kAmd, kArm});
    std::map<std::string, plan::Observed> observed{{kDebian, index_of({kAmd, kArm})}};
    auto p = plan::make(graph, debian_moved(graph), observed, {});
    CHECK(p.problems.empty());
    CHECK(step(p, kBase).platforms == std::vector<std::string>{kAmd, kArm});
    CHECK(step(p, kApp).platforms == std::vector<std::string>{kAmd, kArm});
  }
  SUBCASE("undeclared: the platforms of the tag's index are kept") {
    auto graph = fleet({}, {});
    std::map<std::string, plan::Observed> observed{{kBase, index_of({kArm, kAmd})}, {kApp, index_of({kAmd}, {}, false)}};
    auto p = plan::make(graph, debian_moved(graph), observed, {});
    CHECK(p.problems.empty());
    CHECK(step(p, kBase).platforms == std::vector<std::string>{kArm, kAmd});
    CHECK(step(p, kApp).platforms.empty());  // one manifest: built as ever, for the engine's platform
  }
}

TEST_CASE("plan: a build that would narrow its tag's index is refused, naming the platforms it would drop") {
  auto graph = fleet({kAmd}, {kAmd});
  std::map<std::string, plan::Observed> observed{{kBase, index_of({kAmd, kArm})}};
  auto p = plan::make(graph, debian_moved(graph), observed, {});
  REQUIRE(p.problems.size() == 1);
  CHECK(p.problems[0].find(kBase + ": its tag is an image index with linux/amd64, linux/arm64") == 0);
  CHECK(p.problems[0].find("take linux/arm64 away") != std::string::npos);
  CHECK(p.problems[0].find("Add linux/arm64 to the recipe's platforms") != std::string::npos);

  SUBCASE("a skipped step pushes nothing: no refusal") {
    auto unchanged = plan::make(graph, debian_moved(graph),
                                {{kBase, index_of({kAmd, kArm}, {{kDebian, digest_of('d')}})},
                                 {kApp, index_of({kAmd}, {{kBase, digest_of('e')}}, false)}},
                                {});
    CHECK(step(unchanged, kBase).action == Action::skip);
    CHECK(unchanged.problems.empty());
  }
}

TEST_CASE("plan: a platform a base lacks is refused at plan time, naming both images") {
  SUBCASE("an external base without arm64") {
    auto graph = fleet({kAmd, kArm}, {kAmd, kArm});
    auto p = plan::make(graph, debian_moved(graph), {{kDebian, index_of({kAmd}, {}, false)}}, {});
    REQUIRE(p.problems.size() == 1);
    CHECK(p.problems[0] == kBase + " is built for linux/arm64, which its base " + kDebian +
                               " does not have (it has linux/amd64): build " + kDebian +
                               " for linux/arm64 too, or leave linux/arm64 out of " + kBase + "'s platforms");
  }
  SUBCASE("a base rebuilt in the run for fewer platforms") {
    auto graph = fleet({kAmd}, {kAmd, kArm});
    auto p = plan::make(graph, debian_moved(graph), {}, {});
    REQUIRE(p.problems.size() == 1);
    CHECK(p.problems[0].find(kApp + " is built for linux/arm64, which its base " + kBase) == 0);
  }
  SUBCASE("a base whose platforms are unknown is checked by the build instead") {
    auto graph = fleet({kAmd, kArm}, {kAmd, kArm});
    CHECK(plan::make(graph, debian_moved(graph), {}, {}).problems.empty());
  }
}

TEST_CASE("plan: an image built on the current bases still builds when it lacks a declared platform") {
  auto graph = fleet({kAmd, kArm}, {kAmd, kArm});
  std::map<std::string, plan::Observed> observed{
      {kBase, index_of({kAmd, kArm}, {{kDebian, digest_of('d')}})},
      {kApp, index_of({kAmd}, {{kBase, digest_of('e')}}, false)}};
  auto p = plan::make(graph, debian_moved(graph), observed, {});
  CHECK(step(p, kBase).action == Action::skip);
  CHECK(step(p, kApp).action == Action::build);
  CHECK(step(p, kApp).reason == "adds platform linux/arm64 (the tag has linux/amd64)");

  SUBCASE("and skips once it has them all") {
    observed[kApp] = index_of({kArm, kAmd}, {{kBase, digest_of('e')}});
    CHECK(step(plan::make(graph, debian_moved(graph), observed, {}), kApp).action == Action::skip);
  }
}
