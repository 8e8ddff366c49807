// The dashboard in a real browser: Debian's headless Chromium loads GET / from the real
// `cascade serve` while a real cascade runs (registry, buildah), and again when it has
// ended. The page must render the graph (Graphviz SVG), colour each image by its task's
// state, show the run's state as it progresses, and throw no script error. Its exposure
// view shows a stored advisory's exposed images and where the package enters, then none
// once the advisory's fix run has ended.
#include <doctest/doctest.h>

#include <regex>

#include "chromium.hpp"
#include "serve_fixture.hpp"

using nlohmann::json;
using namespace cascade;

namespace {

// data-state of every graph node in the dumped DOM, by the node's <title> (the image).
std::map<std::string, std::string> node_states(const std::string& dom) {
  std::map<std::string, std::string> out;
  std::regex node(R"re(<g[^>]*class="node"[^>]*>\s*<title>([^<]*)</title>)re");
  std::regex state(R"re(data-state="([a-z_]+)")re");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), node); it != std::sregex_iterator(); ++it) {
    std::string tag = it->str(0);
    std::smatch found;
    std::string image = (*it)[1];  // references hold no character HTML escapes
    out[image] = std::regex_search(tag, found, state) ? found[1].str() : "";
  }
  return out;
}

std::string text_of(const std::string& dom, const std::string& id) {
  auto at = dom.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "";
  auto open = dom.find('>', at);
  auto close = dom.find('<', open);
  return dom.substr(open + 1, close - open - 1);
}

void no_script_errors(const test::ChromiumPage& page) {
  for (const auto& line : page.console) CHECK_MESSAGE(line.find("Uncaught") == std::string::npos, line);
}

}  // namespace

TEST_CASE("the dashboard shows the graph and a run as it progresses, in headless Chromium") {
  if (!test::chromium_available()) {
    MESSAGE("chromium is not installed (scripts/setup.sh installs it): skipped");
    return;
  }
  int port = test::free_port();
  test::PatchFleet fleet;
  test::write_file(fleet.pipeline(), test::read_file(fleet.pipeline()) + "triggers:\n  listen: 127.0.0.1:" +
                                         std::to_string(port) + "\n  debounce: 0s\n");
  test::ServeProcess serve(fleet.pipeline(), port, {{"CASCADE_API_TOKEN", "api-token"}});

  // Before any run: the page loads and draws every image of the fleet.
  auto idle = test::chromium_load(serve.url("/"));
  no_script_errors(idle);
  auto nodes = node_states(idle.dom);
  CHECK(nodes.size() == 9);
  CHECK(nodes.count(fleet.image("platform/base:1")) == 1);

  auto posted = serve.post("/api/patch", json{{"image", fleet.image("platform/base:1")}}.dump(),
                           {{"Authorization", "Bearer api-token"}});
  REQUIRE(posted);
  REQUIRE_MESSAGE(posted->status == 202, posted->body);
  long long run = json::parse(posted->body)["run"];

  // Mid-run: some images pushed, some not yet.
  serve.wait_for("/api/runs/" + std::to_string(run), [](const json& answer) {
    return answer["state"] == "running" && answer["summary"]["pushed"].get<int>() >= 1 &&
           answer["summary"]["pushed"].get<int>() <= 6;
  });
  auto during = test::chromium_load(serve.url("/"));
  no_script_errors(during);
  CHECK(text_of(during.dom, "run-state").find("running") != std::string::npos);
  auto mid = node_states(during.dom);
  REQUIRE(mid.size() == 9);
  int pushed = 0, waiting = 0;
  for (const auto& [image, state] : mid) {
    if (state == "pushed") ++pushed;
    if (state == "pending" || state == "building" || state == "pushing") ++waiting;
  }
  CHECK(pushed >= 1);
  CHECK(waiting >= 1);
  CHECK(mid[fleet.image("platform/base:1")] != "");

  // The end: every image green, the run succeeded.
  serve.wait_for("/api/runs/" + std::to_string(run), [](const json& answer) { return answer["state"] != "running"; });
  auto after = test::chromium_load(serve.url("/"));
  no_script_errors(after);
  CHECK(text_of(after.dom, "run-state").find("succeeded") != std::string::npos);
  for (const auto& [image, state] : node_states(after.dom)) CHECK_MESSAGE(state == "pushed", image);
  CHECK(after.dom.find("id=\"tasks\"") != std::string::npos);
  CHECK(after.dom.find("data-image=\"" + fleet.image("apps/billing:1") + "\"") != std::string::npos);
  CHECK(serve.stop() == 0);
}

namespace {

// The exposure view's element of advisory `id` (its opening tag and everything to the next advisory).
std::string advisory_block(const std::string& dom, const std::string& id) {
  auto at = dom.find("data-advisory=\"" + id + "\"");
  if (at == std::string::npos) return "";
  auto start = dom.rfind('<', at);
  auto next = dom.find("class=\"advisory\"", at);
  return dom.substr(start, next == std::string::npos ? std::string::npos : next - start);
}

}  // namespace

TEST_CASE("the dashboard's exposure view: exposed images, where bash enters, none after the fix run") {
  if (!test::chromium_available()) {
    MESSAGE("chromium is not installed (scripts/setup.sh installs it): skipped");
    return;
  }
  test::ExposureFleet fleet;
  fleet.publish_base(false);
  fleet.build_app();
  fleet.scan_at_next_start();
  test::ServeProcess serve(fleet.pipeline, fleet.port, {{"CASCADE_API_TOKEN", "api-token"}});
  serve.wait_for("/api/affected?package=bash", [](const json& answer) { return answer["images"].size() == 2; },
                 std::chrono::seconds(60));
  const std::string id = "CASCADE-TEST-0001";
  std::map<std::string, std::string> token{{"Authorization", "Bearer api-token"}};
  json body = {{"advisories", {test::ExposureFleet::advisory(id)}}, {"patch", false}};
  auto stored = serve.post("/api/advisories", body.dump(), token);
  REQUIRE(stored);
  REQUIRE_MESSAGE(stored->status == 200, stored->body);

  auto before = test::chromium_load(serve.url("/"));
  no_script_errors(before);
  std::string block = advisory_block(before.dom, id);
  REQUIRE_MESSAGE(!block.empty(), before.dom);
  CHECK(block.find("data-images=\"2\"") != std::string::npos);
  CHECK(block.find("data-workloads=\"0\"") != std::string::npos);
  for (const auto& image : {fleet.base, fleet.app})
    CHECK(block.find("data-subject=\"" + image + "\" data-kind=\"image\" data-enters=\"" + fleet.base + "\"") !=
          std::string::npos);
  CHECK(block.find("external base") != std::string::npos);
  CHECK(block.find("2 images exposed") != std::string::npos);

  fleet.publish_base(true);
  body["patch"] = true;
  auto fix = serve.post("/api/advisories", body.dump(), token);
  REQUIRE(fix);
  REQUIRE_MESSAGE(fix->status == 202, fix->body);
  long long run = json::parse(fix->body)["patch"]["run"];
  serve.wait_for("/api/runs/" + std::to_string(run), [](const json& answer) { return answer["state"] != "running"; },
                 std::chrono::seconds(120));
  auto after = test::chromium_load(serve.url("/"));
  no_script_errors(after);
  block = advisory_block(after.dom, id);
  CHECK(block.find("data-images=\"0\"") != std::string::npos);
  CHECK(block.find("nothing exposed") != std::string::npos);
  CHECK(block.find("fix run") != std::string::npos);
  CHECK(serve.stop() == 0);
}
