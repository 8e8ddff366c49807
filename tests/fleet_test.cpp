// fleet::scan against real git repositories created by the test.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "cascade/fleet.hpp"
#include "support.hpp"

using namespace cascade;
using test::TempDir;

namespace {

fleet::Fleet scan_ok(const TempDir& dir, const std::string& yaml, unsigned threads = 0) {
  test::write_file(dir / "fleet.yaml", yaml);
  auto pipeline = pipeline::load((dir / "fleet.yaml").string());
  REQUIRE_MESSAGE(pipeline, (pipeline ? "" : pipeline.error().str()));
  fleet::Options options;
  options.threads = threads;
  auto fleet = fleet::scan(std::move(pipeline).value(), options);
  if (!fleet) {
    for (const auto& problem : fleet.error()) MESSAGE(problem.str());
  }
  REQUIRE(fleet);
  return std::move(fleet).value();
}

std::vector<fleet::Problem> scan_fails(const TempDir& dir, const std::string& yaml) {
  test::write_file(dir / "fleet.yaml", yaml);
  auto pipeline = pipeline::load((dir / "fleet.yaml").string());
  REQUIRE_MESSAGE(pipeline, (pipeline ? "" : pipeline.error().str()));
  auto fleet = fleet::scan(std::move(pipeline).value());
  REQUIRE_FALSE(fleet);
  return fleet.error();
}

bool any_problem(const std::vector<fleet::Problem>& problems, std::initializer_list<std::string> parts) {
  return std::any_of(problems.begin(), problems.end(), [&](const fleet::Problem& problem) {
    std::string text = problem.str();
    return std::all_of(parts.begin(), parts.end(), [&](const std::string& part) { return text.find(part) != std::string::npos; });
  });
}

std::vector<std::string> bases_of(const fleet::Fleet& fleet, const std::string& image) {
  auto id = fleet.graph.find(image);
  REQUIRE_MESSAGE(id, image);
  std::vector<std::string> out;
  for (auto base : fleet.graph.node(*id).bases) out.push_back(fleet.graph.node(base).image);
  return out;
}

const char* kTwoRepos = R"(version: 1
sources:
  - name: platform
    git: platform
    images:
      - image: r.example.com/base/debian:12
        dockerfile: debian/Dockerfile
  - name: apps
    git: apps
    ref: main
    discover:
      - dockerfiles: "services/*/Dockerfile"
        image: "r.example.com/apps/{dir}:latest"
)";

std::string make_two_repos(const TempDir& dir) {
  test::make_repo(dir / "platform", {{"debian/Dockerfile", "FROM debian:12\nRUN apt-get update\n"}});
  return test::make_repo(dir / "apps", {{"services/shop/Dockerfile", "FROM r.example.com/base/debian:12\n"},
                                        {"services/cart/Dockerfile",
                                         "FROM golang:1.22 AS build\nFROM r.example.com/base/debian:12\n"
                                         "COPY --from=build /x /x\n"},
                                        {"services/cart/main.go", "package main\n"},
                                        {"README.md", "apps\n"}});
}

}  // namespace

TEST_CASE("fleet::scan") {
  TempDir dir;
  SUBCASE("explicit and discovered recipes across repositories form one graph") {
    std::string apps_commit = make_two_repos(dir);
    auto fleet = scan_ok(dir, kTwoRepos);
    CHECK(fleet.graph.recipes().size() == 3);
    CHECK(bases_of(fleet, "r.example.com/apps/shop:latest") == std::vector<std::string>{"r.example.com/base/debian:12"});
    CHECK(bases_of(fleet, "r.example.com/apps/cart:latest") ==
          std::vector<std::string>{"docker.io/library/golang:1.22", "r.example.com/base/debian:12"});
    CHECK(bases_of(fleet, "r.example.com/base/debian:12") == std::vector<std::string>{"docker.io/library/debian:12"});
    const auto* cart = fleet.graph.recipe_of(*fleet.graph.find("r.example.com/apps/cart:latest"));
    CHECK(cart->commit == apps_commit);
    CHECK(cart->context == "services/cart");
    CHECK(cart->source == "apps");
    REQUIRE(fleet.sources.size() == 2);
    CHECK(fleet.sources[1].commit == apps_commit);
    CHECK(fleet.sources[1].dockerfiles == 2);
  }
  SUBCASE("the Dockerfile is read at the ref, not at the work tree or a later commit") {
    test::make_repo(dir / "platform", {{"debian/Dockerfile", "FROM debian:11\n"}});
    test::git(dir / "platform", {"tag", "v1"});
    test::commit_files(dir / "platform", {{"debian/Dockerfile", "FROM debian:12\n"}});
    test::write_file(dir / "platform/debian/Dockerfile", "FROM debian:13\n");  // uncommitted
    std::string yaml = R"(version: 1
sources:
  - name: platform
    git: platform
    ref: v1
    images:
      - image: r.example.com/base/debian:x
        dockerfile: debian/Dockerfile
)";
    auto fleet = scan_ok(dir, yaml);
    CHECK(bases_of(fleet, "r.example.com/base/debian:x") == std::vector<std::string>{"docker.io/library/debian:11"});
  }
  SUBCASE("build args and target of the recipe reach the Dockerfile analysis") {
    test::make_repo(dir / "platform", {{"Dockerfile", "ARG SUITE=bookworm\nFROM debian:${SUITE} AS a\n"
                                                      "FROM alpine:3.20 AS b\n"}});
    std::string yaml = R"(version: 1
sources:
  - name: platform
    git: platform
    images:
      - image: r.example.com/x:1
        dockerfile: Dockerfile
        target: a
        build_args: {SUITE: trixie}
)";
    auto fleet = scan_ok(dir, yaml);
    CHECK(bases_of(fleet, "r.example.com/x:1") == std::vector<std::string>{"docker.io/library/debian:trixie"});
  }
  SUBCASE("an explicit recipe overrides the discovered one for the same Dockerfile") {
    make_two_repos(dir);
    std::string yaml = std::string(kTwoRepos) + R"(    images:
      - image: r.example.com/apps/shop:2
        dockerfile: services/shop/Dockerfile
)";
    auto fleet = scan_ok(dir, yaml);
    CHECK(fleet.graph.find("r.example.com/apps/shop:2"));
    CHECK_FALSE(fleet.graph.find("r.example.com/apps/shop:latest"));
  }
  SUBCASE("a remote source is cloned into the cache and read there") {
    make_two_repos(dir);
    std::string yaml = "version: 1\ncache: cache\nsources:\n  - name: platform\n    git: file://" +
                       (dir / "platform").string() +
                       "\n    ref: main\n    images:\n      - image: r.example.com/base/debian:12\n"
                       "        dockerfile: debian/Dockerfile\n";
    auto fleet = scan_ok(dir, yaml);
    CHECK(bases_of(fleet, "r.example.com/base/debian:12") == std::vector<std::string>{"docker.io/library/debian:12"});
    CHECK(std::filesystem::exists(dir / "cache"));
  }
  SUBCASE("many sources read in parallel give the same graph as one thread") {
    std::string yaml = "version: 1\nsources:\n";
    for (int i = 0; i < 12; ++i) {
      std::string name = "repo" + std::to_string(i);
      std::string from = i == 0 ? "debian:12" : "r.example.com/repo" + std::to_string(i - 1) + "/app:1";
      test::make_repo(dir / name, {{"app/Dockerfile", "FROM " + from + "\n"}});
      yaml += "  - name: " + name + "\n    git: " + name + "\n    images:\n      - image: r.example.com/" + name +
              "/app:1\n        dockerfile: app/Dockerfile\n";
    }
    auto parallel = scan_ok(dir, yaml, 4);
    auto serial = scan_ok(dir, yaml, 1);
    std::vector<std::string> parallel_order, serial_order;
    for (auto id : parallel.graph.topological_order()) parallel_order.push_back(parallel.graph.node(id).image);
    for (auto id : serial.graph.topological_order()) serial_order.push_back(serial.graph.node(id).image);
    CHECK(parallel_order == serial_order);
    CHECK(parallel.graph.downstream(parallel.graph.match(*reference::parse("debian:12"))).size() == 12);
  }
  SUBCASE("a glob that matches nothing is a warning, not an error") {
    make_two_repos(dir);
    std::string yaml = std::string(kTwoRepos) + R"(      - dockerfiles: "nothing/*/Dockerfile"
        image: "r.example.com/none/{dir}:1"
)";
    auto fleet = scan_ok(dir, yaml);
    REQUIRE(fleet.warnings.size() == 1);
    CHECK(fleet.warnings[0].str().find("nothing/*/Dockerfile") != std::string::npos);
  }
}

TEST_CASE("fleet::scan problems") {
  TempDir dir;
  SUBCASE("a missing repository names the source and the pipeline line") {
    make_two_repos(dir);
    std::filesystem::remove_all(dir / "apps");
    auto problems = scan_fails(dir, kTwoRepos);
    CHECK(any_problem(problems, {"fleet.yaml:8:5", "source 'apps'"}));
  }
  SUBCASE("a missing ref names the ref") {
    make_two_repos(dir);
    std::string yaml = kTwoRepos;
    yaml.replace(yaml.find("ref: main"), 9, "ref: nope");
    auto problems = scan_fails(dir, yaml);
    CHECK(any_problem(problems, {"source 'apps'", "nope"}));
  }
  SUBCASE("a missing Dockerfile names the recipe's line and the path") {
    make_two_repos(dir);
    std::string yaml = kTwoRepos;
    yaml.replace(yaml.find("debian/Dockerfile"), 17, "debian/Nope");
    auto problems = scan_fails(dir, yaml);
    CHECK(any_problem(problems, {"fleet.yaml:6:", "debian/Nope"}));
  }
  SUBCASE("an invalid Dockerfile names source, commit, path and line") {
    make_two_repos(dir);
    std::string commit = test::commit_files(dir / "apps", {{"services/bad/Dockerfile", "FROM alpine\nFROM Debian\n"}});
    auto problems = scan_fails(dir, kTwoRepos);
    CHECK(any_problem(problems, {"apps@" + commit.substr(0, 7) + ":services/bad/Dockerfile:2", "lowercase"}));
  }
  SUBCASE("two recipes producing one image name both declarations") {
    make_two_repos(dir);
    std::string yaml = std::string(kTwoRepos) + R"(    images:
      - image: r.example.com/apps/shop:latest
        dockerfile: services/cart/Dockerfile
)";
    auto problems = scan_fails(dir, yaml);
    CHECK(any_problem(problems, {"two recipes produce r.example.com/apps/shop:latest", "services/shop/Dockerfile",
                                 "services/cart/Dockerfile"}));
  }
  SUBCASE("a discover template that gives one image for two files is an error") {
    test::make_repo(dir / "apps", {{"a/svc/Dockerfile", "FROM alpine\n"}, {"b/svc/Dockerfile", "FROM alpine\n"}});
    std::string yaml = R"(version: 1
sources:
  - name: apps
    git: apps
    discover:
      - dockerfiles: "**/Dockerfile"
        image: "r.example.com/{dir}:1"
)";
    auto problems = scan_fails(dir, yaml);
    CHECK(any_problem(problems, {"fleet.yaml:6:", "a/svc/Dockerfile", "b/svc/Dockerfile"}));
  }
  SUBCASE("a cycle across repositories is an error that prints it") {
    test::make_repo(dir / "a", {{"Dockerfile", "FROM r.example.com/b:1\n"}});
    test::make_repo(dir / "b", {{"Dockerfile", "FROM r.example.com/a:1\n"}});
    std::string yaml = R"(version: 1
sources:
  - name: a
    git: a
    images: [{image: "r.example.com/a:1", dockerfile: Dockerfile}]
  - name: b
    git: b
    images: [{image: "r.example.com/b:1", dockerfile: Dockerfile}]
)";
    auto problems = scan_fails(dir, yaml);
    CHECK(any_problem(problems, {"cycle", "r.example.com/a:1 -> r.example.com/b:1 -> r.example.com/a:1"}));
  }
}

TEST_CASE("fleet::scan: a hostile Dockerfile is that recipe's error, never a crash") {
  TempDir dir;
  std::string hostile = "FROM ";
  for (int i = 0; i < 15000; ++i) hostile += "${a:-\\\n";
  hostile += "alpine" + std::string(15000, '}') + "\n";
  std::string commit = make_two_repos(dir);
  test::commit_files(dir / "apps", {{"services/evil/Dockerfile", hostile}});
  test::write_file(dir / "fleet.yaml", kTwoRepos);
  auto pipeline = pipeline::load((dir / "fleet.yaml").string());
  REQUIRE(pipeline);
  SUBCASE("by default the scan fails, naming the file, its line and the bound") {
    auto problems = scan_fails(dir, kTwoRepos);
    CHECK(problems.size() == 1);
    CHECK(any_problem(problems, {"services/evil/Dockerfile:1: ", "limit of 64", "r.example.com/apps/evil:latest"}));
  }
  SUBCASE("partial: the rest of the fleet scans and the recipe is listed as broken") {
    fleet::Options options;
    options.partial = true;
    auto scanned = fleet::scan(*pipeline, options);
    REQUIRE(scanned);
    CHECK(scanned->graph.recipes().size() == 3);
    CHECK(scanned->graph.find("r.example.com/apps/shop:latest"));
    CHECK_FALSE(scanned->graph.find("r.example.com/apps/evil:latest"));
    REQUIRE(scanned->broken.size() == 1);
    const auto& broken = scanned->broken.front();
    CHECK(broken.image == "r.example.com/apps/evil:latest");
    CHECK(broken.source == "apps");
    CHECK(broken.dockerfile == "services/evil/Dockerfile");
    CHECK(broken.problem.where.find("services/evil/Dockerfile:1") != std::string::npos);
    CHECK(broken.problem.message.find("limit of 64") != std::string::npos);
  }
  SUBCASE("partial: a Dockerfile gone from the commit is a broken recipe too") {
    test::git(dir / "platform", {"rm", "-q", "debian/Dockerfile"});
    test::git(dir / "platform", {"commit", "-q", "-m", "gone"});
    fleet::Options options;
    options.partial = true;
    auto scanned = fleet::scan(*pipeline, options);
    REQUIRE(scanned);
    CHECK(scanned->broken.size() == 2);
    CHECK(scanned->graph.find("r.example.com/apps/shop:latest"));
  }
}

TEST_CASE("fleet::scan carries each recipe's builder choice into the graph") {
  // The recipe's own `builder:`, else its discover entry's, else its source's, else any.
  TempDir dir;
  test::make_repo(dir / "platform", {{"debian/Dockerfile", "FROM debian:12\n"}});
  test::make_repo(dir / "apps", {{"services/shop/Dockerfile", "FROM r.example.com/base/debian:12\n"},
                                 {"services/cart/Dockerfile", "FROM r.example.com/base/debian:12\n"},
                                 {"jobs/nightly/Dockerfile", "FROM r.example.com/base/debian:12\n"},
                                 {"api/Dockerfile", "FROM r.example.com/base/debian:12\n"},
                                 {"web/Dockerfile", "FROM r.example.com/base/debian:12\n"},
                                 {"any/Dockerfile", "FROM r.example.com/base/debian:12\n"}});
  auto fleet = scan_ok(dir, R"(version: 1
builders:
  workers:
    - {name: local, kind: buildah, labels: {arch: amd64}}
    - {name: docker-a, kind: docker, endpoint: "unix:///run/docker-a.sock", labels: {arch: amd64, pool: fast}}
sources:
  - name: platform
    git: platform
    images:
      - {image: r.example.com/base/debian:12, dockerfile: debian/Dockerfile}
  - name: apps
    git: apps
    builder: {labels: {arch: amd64}}
    images:
      - {image: r.example.com/apps/api:1, dockerfile: api/Dockerfile, builder: {name: local}}
      - {image: r.example.com/apps/web:1, dockerfile: web/Dockerfile}
      - {image: r.example.com/apps/any:1, dockerfile: any/Dockerfile, builder: {}}
      - {image: r.example.com/apps/cart:2, dockerfile: services/cart/Dockerfile}
    discover:
      - {dockerfiles: "services/*/Dockerfile", image: "r.example.com/apps/{dir}:1",
         builder: {name: docker-a, labels: {pool: fast}}}
      - {dockerfiles: "jobs/*/Dockerfile", image: "r.example.com/jobs/{dir}:1"}
)");
  auto worker_of = [&](const std::string& image) {
    auto id = fleet.graph.find(image);
    REQUIRE_MESSAGE(id, image);
    return fleet.graph.recipe_of(*id)->worker;
  };
  using Labels = std::map<std::string, std::string>;
  const graph::WorkerChoice source_choice{"", Labels{{"arch", "amd64"}}};
  CHECK(worker_of("r.example.com/apps/api:1") == graph::WorkerChoice{"local", {}});  // its own
  CHECK(worker_of("r.example.com/apps/web:1") == source_choice);                    // its source's
  CHECK(worker_of("r.example.com/apps/any:1").any());  // `builder: {}` overrides the source's: any worker
  CHECK(worker_of("r.example.com/apps/shop:1") == graph::WorkerChoice{"docker-a", Labels{{"pool", "fast"}}});
  CHECK(worker_of("r.example.com/jobs/nightly:1") == source_choice);  // a discover entry without a choice
  // An explicit recipe for a discovered file replaces it, and with it the discover entry's choice.
  CHECK_FALSE(fleet.graph.find("r.example.com/apps/cart:1"));
  CHECK(worker_of("r.example.com/apps/cart:2") == source_choice);
  CHECK(worker_of("r.example.com/base/debian:12").any());  // no choice anywhere
}
