// The cascade binary end to end on the bundled example fleet (examples/ turned into real
// git repositories by scripts/make-example-repos.sh) and on bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "../src/cli/common.hpp"
#include "../src/cli/package_commands.hpp"
#include "../src/cli/render.hpp"
#include "support.hpp"

using nlohmann::json;
using namespace cascade;
using test::TempDir;

namespace {

const std::string kRegistry = "127.0.0.1:5000/";

std::string img(const std::string& name) { return kRegistry + name; }

// A copy of the example fleet: TMP/pipelines/example.yaml and TMP/examples/.repos/*.
struct ExampleFleet {
  TempDir dir;
  std::string pipeline;
  ExampleFleet() {
    auto made = test::run({"bash", (test::source_dir() / "scripts/make-example-repos.sh").string(),
                           (dir / "examples/.repos").string()});
    REQUIRE_MESSAGE(made.exit_code == 0, made.err);
    pipeline = (dir / "pipelines/example.yaml").string();
    test::write_file(pipeline, test::read_file(test::source_dir() / "pipelines/example.yaml"));
  }
  std::string commit(const std::string& repo) const {
    return test::git(dir / "examples/.repos" / repo, {"rev-parse", "HEAD"}).substr(0, 40);
  }
};

json run_json(std::vector<std::string> args) {
  auto result = test::cascade(args);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  return json::parse(result.out);
}

const json& image_entry(const json& graph, const std::string& image) {
  for (const auto& entry : graph["images"])
    if (entry["image"] == image) return entry;
  FAIL("no entry for " << image);
  throw std::logic_error("unreachable");
}

std::vector<std::string> strings(const json& array) { return array.get<std::vector<std::string>>(); }

}  // namespace

TEST_CASE("cli graph on the example fleet") {
  ExampleFleet fleet;
  json graph = run_json({"graph", "-p", fleet.pipeline, "--format", "json"});
  SUBCASE("every recipe is an image with its normalized bases, source, Dockerfile and commit") {
    REQUIRE(graph["images"].size() == 9);
    CHECK(strings(image_entry(graph, img("platform/base:1"))["bases"]).empty());
    CHECK(strings(image_entry(graph, img("platform/toolbox:1"))["bases"]) == std::vector{img("platform/base:1")});
    // ARG-templated FROM, with the pipeline's build argument
    CHECK(strings(image_entry(graph, img("runtimes/web:1"))["bases"]) == std::vector{img("platform/base:1")});
    // the diamond: FROM web, COPY --from worker
    CHECK(strings(image_entry(graph, img("runtimes/combo:1"))["bases"]) ==
          std::vector{img("runtimes/web:1"), img("runtimes/worker:1")});
    // multi-stage: a builder stage on the toolbox, the runtime stage on web
    CHECK(strings(image_entry(graph, img("apps/shop:1"))["bases"]) ==
          std::vector{img("platform/toolbox:1"), img("runtimes/web:1")});
    const auto& status = image_entry(graph, img("apps/status:1"));
    CHECK(status["frontend"] == "docker.io/docker/dockerfile:1");
    CHECK(status["source"] == "apps");
    CHECK(status["dockerfile"] == "services/status/Dockerfile");
    CHECK(status["commit"] == fleet.commit("apps"));
    CHECK(image_entry(graph, img("runtimes/web:1"))["commit"] == fleet.commit("runtimes"));
    CHECK(graph["external"].empty());
  }
  SUBCASE("images come in build order") {
    std::vector<std::string> order;
    for (const auto& entry : graph["images"]) order.push_back(entry["image"]);
    for (const auto& entry : graph["images"])
      for (const auto& base : entry["bases"]) {
        auto base_at = std::find(order.begin(), order.end(), base.get<std::string>());
        auto self_at = std::find(order.begin(), order.end(), entry["image"].get<std::string>());
        CHECK(base_at < self_at);
      }
  }
  SUBCASE("text shows the tree from the base") {
    auto result = test::cascade({"graph", "-p", fleet.pipeline});
    REQUIRE(result.exit_code == 0);
    CHECK(result.out.find("3 sources, 9 images") != std::string::npos);
    CHECK(result.out.find("127.0.0.1:5000/platform/base:1  [platform: base/Dockerfile]") != std::string::npos);
    CHECK(result.out.find("└── ") != std::string::npos);
  }
  SUBCASE("dot output is a valid graphviz graph, grouped by source") {
    auto result = test::cascade({"graph", "-p", fleet.pipeline, "--format", "dot"});
    REQUIRE(result.exit_code == 0);
    for (const char* cluster : {"label=\"platform\"", "label=\"runtimes\"", "label=\"apps\""})
      CHECK(result.out.find(cluster) != std::string::npos);
    std::size_t edges = 0;
    for (std::size_t at = result.out.find(" -> "); at != std::string::npos; at = result.out.find(" -> ", at + 1)) ++edges;
    CHECK(edges == 10);
    process::Options options;
    options.input = result.out;
    auto rendered = test::run({"dot", "-Tsvg"}, options);
    CHECK_MESSAGE(rendered.exit_code == 0, rendered.err);
    CHECK(rendered.out.find("<svg") != std::string::npos);
  }
  SUBCASE("mermaid output has a subgraph per source and every edge") {
    auto result = test::cascade({"graph", "-p", fleet.pipeline, "--format", "mermaid"});
    REQUIRE(result.exit_code == 0);
    CHECK(result.out.rfind("flowchart LR\n", 0) == 0);
    CHECK(result.out.find("[\"platform\"]") != std::string::npos);
    std::size_t edges = 0;
    for (std::size_t at = result.out.find(" --> "); at != std::string::npos; at = result.out.find(" --> ", at + 1)) ++edges;
    CHECK(edges == 10);
  }
}

TEST_CASE("cli affected on the example fleet") {
  ExampleFleet fleet;
  SUBCASE("a patch of the base affects every image below it, in build order, with depth and chain") {
    json affected = run_json({"affected", "-p", fleet.pipeline, img("platform/base:1"), "--format", "json"});
    CHECK(strings(affected["matched"]) == std::vector{img("platform/base:1")});
    REQUIRE(affected["images"].size() == 8);
    std::map<std::string, json> by_image;
    std::vector<std::string> order;
    for (const auto& entry : affected["images"]) {
      by_image[entry["image"]] = entry;
      order.push_back(entry["image"]);
    }
    CHECK(by_image[img("runtimes/web:1")]["depth"] == 1);
    CHECK(by_image[img("runtimes/combo:1")]["depth"] == 2);
    CHECK(by_image[img("apps/reports:1")]["depth"] == 3);
    CHECK(strings(by_image[img("apps/reports:1")]["via"]) ==
          std::vector{img("platform/base:1"), img("runtimes/web:1"), img("runtimes/combo:1"), img("apps/reports:1")});
    auto at = [&](const std::string& image) { return std::find(order.begin(), order.end(), img(image)) - order.begin(); };
    CHECK(at("runtimes/worker:1") < at("runtimes/combo:1"));
    CHECK(at("runtimes/web:1") < at("runtimes/combo:1"));
    CHECK(at("platform/toolbox:1") < at("apps/shop:1"));
  }
  SUBCASE("a repository without a tag matches all its tags; text names the chain") {
    auto result = test::cascade({"affected", "-p", fleet.pipeline, "127.0.0.1:5000/runtimes/worker"});
    REQUIRE(result.exit_code == 0);
    CHECK(result.out.find("3 images affected") != std::string::npos);
    CHECK(result.out.find("runtimes/worker:1 -> 127.0.0.1:5000/runtimes/combo:1 -> 127.0.0.1:5000/apps/reports:1") !=
          std::string::npos);
  }
  SUBCASE("an image the fleet does not know: an empty list, near names, exit 0") {
    json affected = run_json({"affected", "-p", fleet.pipeline, "127.0.0.1:5000/runtimes/wrker:1", "--format", "json"});
    CHECK(affected["images"].empty());
    CHECK(affected["matched"].empty());
    CHECK(strings(affected["suggestions"]).front() == img("runtimes/worker:1"));
    auto text = test::cascade({"affected", "-p", fleet.pipeline, "debian:12"});
    CHECK(text.exit_code == 0);
    CHECK(text.err.find("no image in the fleet matches debian:12") != std::string::npos);
  }
  SUBCASE("an invalid reference is bad input") {
    auto result = test::cascade({"affected", "-p", fleet.pipeline, "Debian:12"});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find("lowercase") != std::string::npos);
  }
}

TEST_CASE("cli validate and errors") {
  ExampleFleet fleet;
  SUBCASE("the example pipeline is valid") {
    auto result = test::cascade({"validate", "-p", fleet.pipeline});
    CHECK(result.exit_code == 0);
    CHECK(result.out.find("ok: ") != std::string::npos);
  }
  SUBCASE("validate says which storage driver buildah will use, and why") {
    // The default state folder is <pipeline folder>/.cascade; buildah's root is under it.
    const std::string root = (fleet.dir / "pipelines/.cascade/buildah/root").string();
    auto result = test::cascade({"validate", "-p", fleet.pipeline});
    CHECK(result.exit_code == 0);
    CHECK_MESSAGE(result.out.find("buildah storage driver: overlay: an overlay mount works under " + root) !=
                      std::string::npos, result.out);
    CHECK_FALSE(std::filesystem::exists(root));  // the mount was tried in a scratch folder, removed after
    // A root that already holds vfs images keeps vfs: switching would lose them.
    test::write_file(std::filesystem::path(root) / "vfs-images/images.json", R"([{"id": "0123", "names": ["a:1"]}])");
    result = test::cascade({"validate", "-p", fleet.pipeline});
    CHECK_MESSAGE(result.out.find("buildah storage driver: vfs: " + root + " already holds 1 vfs images") !=
                      std::string::npos, result.out);
    // The pipeline's own choice wins.
    std::string text = test::read_file(fleet.pipeline);
    test::write_file(fleet.pipeline, text + "builders:\n  storage_driver: overlay\n");
    result = test::cascade({"validate", "-p", fleet.pipeline});
    CHECK_MESSAGE(result.out.find("buildah storage driver: overlay: builders.storage_driver in ") != std::string::npos,
                  result.err);
  }
  SUBCASE("an unknown key names file, line and column, exit 2") {
    std::string text = test::read_file(fleet.pipeline);
    text.replace(text.find("    ref: main"), 13, "    reff: main");
    test::write_file(fleet.pipeline, text);
    auto result = test::cascade({"validate", "-p", fleet.pipeline});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find("example.yaml:11:5") != std::string::npos);
    CHECK(result.err.find("reff") != std::string::npos);
  }
  SUBCASE("an invalid Dockerfile in a source names source, commit, path and line, exit 2") {
    std::string commit = test::commit_files(fleet.dir / "examples/.repos/apps",
                                            {{"services/broken/Dockerfile", "FROM alpine\nRUN true\nFROM ${NOPE}\n"}});
    auto result = test::cascade({"graph", "-p", fleet.pipeline});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find("apps@" + commit.substr(0, 7) + ":services/broken/Dockerfile:3") != std::string::npos);
    CHECK(result.out.empty());
  }
  SUBCASE("a missing pipeline file and bad usage are exit 2") {
    CHECK(test::cascade({"graph", "-p", (fleet.dir / "nope.yaml").string()}).exit_code == 2);
    CHECK(test::cascade({"frobnicate"}).exit_code == 2);
    CHECK(test::cascade({"graph", "-p", fleet.pipeline, "--format", "xml"}).exit_code == 2);
    CHECK(test::cascade({}).exit_code == 2);
  }
}

TEST_CASE("cli dockerfile") {
  TempDir dir;
  std::string path = (dir / "Dockerfile").string();
  test::write_file(path, "# syntax=docker/dockerfile:1.9\nARG BASE=debian:12\nFROM ${BASE} AS build\n"
                         "RUN make\nFROM gcr.io/distroless/static:nonroot AS runtime\n"
                         "COPY --from=build /app /app\nCOPY --from=busybox:1.36 /bin/busybox /bin/\n");
  SUBCASE("json has bases, frontend and stages with lines") {
    json out = run_json({"dockerfile", path, "--format", "json"});
    CHECK(strings(out["bases"]) == std::vector<std::string>{"docker.io/library/busybox:1.36", "docker.io/library/debian:12",
                                                             "gcr.io/distroless/static:nonroot"});
    CHECK(out["frontend"] == "docker.io/docker/dockerfile:1.9");
    REQUIRE(out["stages"].size() == 2);
    CHECK(out["stages"][0]["name"] == "build");
    CHECK(out["stages"][0]["line"] == 3);
    CHECK(out["stages"][0]["base"]["image"] == "docker.io/library/debian:12");
    CHECK(out["stages"][1]["line"] == 5);
  }
  SUBCASE("--build-arg and --target change the result") {
    json out = run_json({"dockerfile", path, "--format", "json", "--build-arg", "BASE=alpine:3.20", "--target", "build"});
    CHECK(strings(out["bases"]) == std::vector<std::string>{"docker.io/library/alpine:3.20"});
    CHECK(out["target"] == "build");
  }
  SUBCASE("an invalid Dockerfile: the line, exit 2") {
    test::write_file(path, "FROM alpine\n\nFROM Debian:12\n");
    auto result = test::cascade({"dockerfile", path});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find(path + ":3:") != std::string::npos);
  }
  SUBCASE("a missing file and a malformed --build-arg are exit 2") {
    CHECK(test::cascade({"dockerfile", (dir / "nope").string()}).exit_code == 2);
    CHECK(test::cascade({"dockerfile", path, "--build-arg", "=x"}).exit_code == 2);
  }
}

TEST_CASE("the ready daemon pipeline validates, and serve refuses to start without its secrets") {
  ExampleFleet fleet;
  std::string serve_pipeline = (fleet.dir / "pipelines/serve-example.yaml").string();
  test::write_file(serve_pipeline, test::read_file(test::source_dir() / "pipelines/serve-example.yaml"));
  auto validated = test::cascade({"validate", "-p", serve_pipeline});
  CHECK_MESSAGE(validated.exit_code == 0, validated.err);
  // $HOOK_TOKEN is not set: bad input, naming the file, line and variable; nothing listens.
  process::Options options;
  options.env["HOOK_TOKEN"] = "";
  auto served = test::cascade({"serve", "-p", serve_pipeline}, options);
  CHECK(served.exit_code == 2);
  CHECK(served.err.find("serve-example.yaml:") != std::string::npos);
  CHECK(served.err.find("$HOOK_TOKEN") != std::string::npos);
  // A pipeline without a triggers section cannot be served.
  auto plain = test::cascade({"serve", "-p", fleet.pipeline});
  CHECK(plain.exit_code == 2);
  CHECK(plain.err.find("triggers:") != std::string::npos);
}

TEST_CASE("cli text output escapes terminal control sequences; JSON stays exact") {
  using cascade::cli::terminal_safe;
  const std::string evil = "boom \x1b]0;evil\x07 then \x1b[2J";
  SUBCASE("terminal_safe") {
    CHECK(terminal_safe(evil) == "boom \\x1b]0;evil\\x07 then \\x1b[2J");
    CHECK(terminal_safe("line\n\tindented") == "line\n\tindented");
    CHECK(terminal_safe("del\x7f cr\r bs\b") == "del\\x7f cr\\x0d bs\\x08");
    CHECK(terminal_safe("c1 \xc2\x9b" "31m raw \x9b" "31m") == "c1 \\u009b31m raw \\x9b31m");  // CSI as C1, UTF-8 and raw
    CHECK(terminal_safe("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\xb3") == "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\xb3");
    CHECK(terminal_safe("overlong \xc0\xaf cut \xe2\x9c") == "overlong \\xc0\\xaf cut \\xe2\\x9c");
  }
  json task = {{"image", "127.0.0.1:5000/apps/shop:1"}, {"state", "failed"}, {"reason", "build failed: " + evil},
               {"old_digest", nullptr}, {"new_digest", nullptr}, {"seconds", 1.5}, {"build_log", "/l/" + evil}};
  json run = {{"id", 7},
              {"state", "failed"},
              {"trigger", {{"kind", "cli"}, {"image", "127.0.0.1:5000/base:1" + evil}, {"digest", nullptr}}},
              {"created_at", "2026-12-05T10:00:00Z"},
              {"summary", {{"pushed", 0}, {"skipped", 0}, {"failed", 1}, {"blocked", 0}, {"pending", 0},
                           {"building", 0}, {"pushing", 0}}},
              {"tasks", {task}},
              {"rollouts", {{{"target", "podman"}, {"workload", "shop"}, {"state", "failed"}, {"detail", evil}}}}};
  SUBCASE("status and the report (run_text), the run list (runs_text)") {
    for (const std::string& text : {cascade::cli::run_text(run), cascade::cli::runs_text({{"runs", {run}}})}) {
      INFO(text);
      CHECK(text.find('\x1b') == std::string::npos);
      CHECK(text.find('\x07') == std::string::npos);
      CHECK(text.find("\\x1b]0;evil\\x07") != std::string::npos);
    }
    CHECK(cascade::cli::run_text(run).find("\\x1b[2J") != std::string::npos);
  }
  SUBCASE("plan_text") {
    json plan = {{"query", "base" + evil},
                 {"trigger", json::object()},
                 {"steps", {{{"image", "a:1"}, {"action", "skip"}, {"after", json::array()}, {"reason", evil}, {"depth", 1}}}}};
    std::string text = cascade::cli::plan_text(plan);
    CHECK(text.find('\x1b') == std::string::npos);
    CHECK(text.find("\\x1b[2J") != std::string::npos);
  }
  SUBCASE("exposure_text: package names and versions come from image contents") {
    cascade::app::ExposureReport report;
    report.question = "bash<5.2";
    cascade::app::Exposure item;
    item.subject = "127.0.0.1:5000/apps/shop:1";
    item.package.name = "bash" + evil;
    item.package.version = "5.1" + evil;
    item.matched_by = "bash<5.2";
    item.enters = "debian:12";
    report.images.push_back(item);
    report.unjudged.push_back({"127.0.0.1:5000/apps/web:1", "the registry said: " + evil});
    std::string text = cascade::cli::exposure_text(report);
    INFO(text);
    CHECK(text.find('\x1b') == std::string::npos);
    CHECK(text.find('\x07') == std::string::npos);
    CHECK(text.find("bashboom \\x1b]0;evil\\x07") != std::string::npos);
  }
  SUBCASE("JSON output keeps the exact value") {
    std::string dumped = run.dump(2);
    CHECK(dumped.find('\x1b') == std::string::npos);  // JSON escapes it as \u001b
    CHECK(json::parse(dumped)["tasks"][0]["reason"] == "build failed: " + evil);
  }
}

TEST_CASE("cli::exit_code_for: one exit code per failure kind") {
  using Kind = app::Failure::Kind;
  CHECK(cli::exit_code_for(Kind::bad_input) == 2);
  CHECK(cli::exit_code_for(Kind::not_found) == 2);    // "no run 7" (patch --resume 7, status 7)
  CHECK(cli::exit_code_for(Kind::conflict) == 2);     // "run 1 is already succeeded"
  CHECK(cli::exit_code_for(Kind::unavailable) == 1);  // a registry nobody answers on
  CHECK(cli::exit_code_for(Kind::failed) == 1);
  CHECK(cli::exit_code_for(app::Failure::conflict("run 1 is running in another process").kind) == cli::kBadInput);
  CHECK(cli::exit_code_for(app::Failure{}.kind) == cli::kFailed);  // a failure says what kind it is, or failed
}
