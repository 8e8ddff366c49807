// fleet::scan carries the pipeline's `platforms:` and `test:` into each graph recipe, against
// real git repositories created by the test.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "cascade/fleet.hpp"
#include "support.hpp"

using namespace cascade;
using test::TempDir;

namespace {

using Platforms = std::vector<std::string>;

fleet::Fleet scan_ok(const TempDir& dir, const std::string& yaml) {
  test::write_file(dir / "fleet.yaml", yaml);
  auto pipeline = pipeline::load((dir / "fleet.yaml").string());
  REQUIRE_MESSAGE(pipeline, (pipeline ? "" : pipeline.error().str()));
  auto fleet = fleet::scan(std::move(pipeline).value());
  if (!fleet) {
    for (const auto& problem : fleet.error()) MESSAGE(problem.str());
  }
  REQUIRE(fleet);
  return std::move(fleet).value();
}

Platforms platforms_of(const fleet::Fleet& fleet, const std::string& image) {
  auto id = fleet.graph.find(image);
  REQUIRE_MESSAGE(id, image);
  return fleet.graph.recipe_of(*id)->platforms;
}

void make_repos(const TempDir& dir) {
  test::make_repo(dir / "platform", {{"debian/Dockerfile", "FROM debian:12\n"}});
  test::make_repo(dir / "apps", {{"services/shop/Dockerfile", "FROM r.example.com/base/debian:12\n"},
                                 {"services/cart/Dockerfile", "FROM r.example.com/base/debian:12\n"},
                                 {"jobs/nightly/Dockerfile", "FROM r.example.com/base/debian:12\n"},
                                 {"api/Dockerfile", "FROM r.example.com/base/debian:12\n"},
                                 {"web/Dockerfile", "FROM r.example.com/base/debian:12\n"}});
}

// The fleet's default at the top; the apps source overrides it; entries override the source.
constexpr const char* kPipeline = R"(version: 1
platforms: [linux/amd64]
sources:
  - name: platform
    git: platform
    images:
      - {image: r.example.com/base/debian:12, dockerfile: debian/Dockerfile}
  - name: apps
    git: apps
    platforms: [linux/amd64, linux/arm64]
    images:
      - {image: r.example.com/apps/api:1, dockerfile: api/Dockerfile, platforms: [linux/arm64, linux/arm/v7]}
      - {image: r.example.com/apps/web:1, dockerfile: web/Dockerfile}
      - {image: r.example.com/apps/cart:2, dockerfile: services/cart/Dockerfile}
    discover:
      - {dockerfiles: "services/*/Dockerfile", image: "r.example.com/apps/{dir}:1", platforms: [linux/s390x]}
      - {dockerfiles: "jobs/*/Dockerfile", image: "r.example.com/jobs/{dir}:1"}
)";

}  // namespace

TEST_CASE("fleet::scan carries each recipe's platforms into the graph") {
  // The image entry's `platforms:`, else its discover rule's, else its source's, else the
  // pipeline's top-level list, else none.
  TempDir dir;
  make_repos(dir);
  SUBCASE("the nearest declaration wins") {
    auto fleet = scan_ok(dir, kPipeline);
    CHECK(platforms_of(fleet, "r.example.com/apps/api:1") == Platforms{"linux/arm64", "linux/arm/v7"});  // its own
    CHECK(platforms_of(fleet, "r.example.com/apps/web:1") == Platforms{"linux/amd64", "linux/arm64"});  // source's
    CHECK(platforms_of(fleet, "r.example.com/apps/shop:1") == Platforms{"linux/s390x"});  // its discover rule's
    CHECK(platforms_of(fleet, "r.example.com/jobs/nightly:1") == Platforms{"linux/amd64", "linux/arm64"});
    CHECK(platforms_of(fleet, "r.example.com/base/debian:12") == Platforms{"linux/amd64"});  // the top level's
    // An explicit recipe for a discovered file replaces it, and with it the discover rule's list.
    CHECK_FALSE(fleet.graph.find("r.example.com/apps/cart:1"));
    CHECK(platforms_of(fleet, "r.example.com/apps/cart:2") == Platforms{"linux/amd64", "linux/arm64"});
  }
  SUBCASE("normalized spellings reach the recipe as normalized") {
    std::string yaml = kPipeline;
    yaml.replace(yaml.find("[linux/arm64, linux/arm/v7]"), 27, "[linux/aarch64, linux/arm]");
    auto fleet = scan_ok(dir, yaml);
    CHECK(platforms_of(fleet, "r.example.com/apps/api:1") == Platforms{"linux/arm64", "linux/arm/v7"});
  }
  SUBCASE("without the top-level list, a recipe of a source without one has none") {
    std::string yaml = kPipeline;
    yaml.erase(yaml.find("platforms: [linux/amd64]\n"), 25);
    auto fleet = scan_ok(dir, yaml);
    CHECK(platforms_of(fleet, "r.example.com/base/debian:12").empty());
    CHECK(platforms_of(fleet, "r.example.com/apps/web:1") == Platforms{"linux/amd64", "linux/arm64"});
  }
}

namespace {

using Tests = std::vector<graph::TestCommand>;

Tests tests_of(const fleet::Fleet& fleet, const std::string& image) {
  auto id = fleet.graph.find(image);
  REQUIRE_MESSAGE(id, image);
  return fleet.graph.recipe_of(*id)->tests;
}

graph::TestCommand test_command(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  return graph::TestCommand{std::move(argv), timeout};
}

// Tests at every level, as kPipeline declares platforms: the top level's, the apps source's,
// an image entry's own and a discover rule's; `test: []` on the web entry turns them off.
constexpr const char* kTestedPipeline = R"(version: 1
test:
  - run: [/bin/sh, -c, "test -x /bin/sh"]
sources:
  - name: platform
    git: platform
    images:
      - {image: r.example.com/base/debian:12, dockerfile: debian/Dockerfile}
  - name: apps
    git: apps
    test:
      - {run: [bash, --version], timeout: 30s}
    images:
      - image: r.example.com/apps/api:1
        dockerfile: api/Dockerfile
        test:
          - {run: [api, --self-test], timeout: 2m}
          - {run: [curl, --version]}
      - {image: r.example.com/apps/web:1, dockerfile: web/Dockerfile, test: []}
      - {image: r.example.com/apps/cart:2, dockerfile: services/cart/Dockerfile}
    discover:
      - {dockerfiles: "services/*/Dockerfile", image: "r.example.com/apps/{dir}:1", test: [{run: [shop, check]}]}
      - {dockerfiles: "jobs/*/Dockerfile", image: "r.example.com/jobs/{dir}:1"}
)";

}  // namespace

TEST_CASE("fleet::scan carries each recipe's tests into the graph") {
  // The image entry's `test:`, else its discover rule's, else its source's, else the
  // pipeline's top-level list, else none; in the order written, with their timeouts.
  using namespace std::chrono_literals;
  TempDir dir;
  make_repos(dir);
  auto fleet = scan_ok(dir, kTestedPipeline);
  CHECK(tests_of(fleet, "r.example.com/apps/api:1") ==
        Tests{test_command({"api", "--self-test"}, 2min), test_command({"curl", "--version"}, 5min)});
  CHECK(tests_of(fleet, "r.example.com/apps/web:1").empty());  // `test: []` overrides the source's
  CHECK(tests_of(fleet, "r.example.com/apps/shop:1") == Tests{test_command({"shop", "check"}, 5min)});
  CHECK(tests_of(fleet, "r.example.com/jobs/nightly:1") == Tests{test_command({"bash", "--version"}, 30s)});
  CHECK(tests_of(fleet, "r.example.com/apps/cart:2") == Tests{test_command({"bash", "--version"}, 30s)});
  CHECK(tests_of(fleet, "r.example.com/base/debian:12") ==
        Tests{test_command({"/bin/sh", "-c", "test -x /bin/sh"}, 5min)});
}
