// The dashboard's release view in a real browser, against real peers only: a registry, buildah,
// a podman API service running the fleet's image, and the real `cascade serve`, whose podman
// target needs one approval. A patched base makes a run that builds and pushes, then awaits
// the approval; headless Chromium, driven over the DevTools protocol, shows the run's blast
// radius, is refused with a wrong token, then approves with an approver's token by a real mouse
// click on the Approve button. The daemon records the approval under the approver's name and
// rolls the container over to the new digest; the page follows it to the end. The token stays
// in the tab's sessionStorage: never in the DOM, the URL, localStorage or the console.
#include <doctest/doctest.h>

#include "builder_fixture.hpp"
#include "chromium_cdp.hpp"
#include "podman_fixture.hpp"
#include "serve_fixture.hpp"

using nlohmann::json;
using namespace cascade;

namespace {

constexpr const char* kApproverToken = "alice-7f3c9a1e5d";
constexpr const char* kApiToken = "api-2b8e4d6f0a";

// A fleet of one image, `app`, built on the external base `base`, both in a real registry.
struct ReleaseFleet {
  ReleaseFleet() {
    test::make_repo(dir / "app", {{"Dockerfile", "FROM " + base + "\nRUN echo app > /app\n"}});
    write_pipeline("");
  }
  // The pipeline, with `more` (deploy:, triggers:) after its sources.
  void write_pipeline(const std::string& more) const {
    test::write_file(pipeline, "version: 1\nregistries:\n  - host: " + registry.host() +
                                   "\n    insecure: true\nsources:\n  - name: app\n    git: app\n    ref: main\n"
                                   "    images:\n      - image: " + app + "\n        dockerfile: Dockerfile\n" + more);
  }
  std::string publish_base(const std::string& name, const std::string& more) {
    return test::buildah_push(sandbox, base, test::busybox_dockerfile(more), name);
  }

  test::TempDir dir;
  test::DockerRegistry registry;
  test::BuildahSandbox sandbox;
  std::string base = registry.host() + "/lib/base:1";
  std::string app_repository = registry.host() + "/team/app";
  std::string app = app_repository + ":1";
  std::string pipeline = (dir / "pipeline.yaml").string();
};

json container(const std::string& image) {
  return {{"Image", image},
          {"Cmd", {"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"}},
          {"StopTimeout", 1},
          {"HostConfig", {{"NetworkMode", "none"}}}};
}

std::string hex12(const std::string& digest) { return digest.substr(digest.find(':') + 1, 12); }

// A JavaScript expression: the element `selector` names, or null.
std::string query(const std::string& selector) { return "document.querySelector(" + json(selector).dump() + ")"; }

// A JavaScript expression: the outcome of the run's decision once posted ("approved|text").
std::string decided(long long run) {
  return "(() => { const node = document.getElementById('decided-" + std::to_string(run) +
         "'); const outcome = node?.dataset.outcome ?? ''; return outcome && outcome !== 'pending' ?"
         " outcome + '|' + node.textContent : ''; })()";
}

}  // namespace

TEST_CASE("the dashboard's release view: the blast radius, then a real click on Approve rolls the run out") {
  if (!test::chromium_available()) {
    MESSAGE("chromium is not installed (scripts/setup.sh installs it): skipped");
    return;
  }
  ReleaseFleet fleet;
  fleet.publish_base("base-1", "RUN echo one > /v1\n");
  auto built = test::cascade({"patch", "-p", fleet.pipeline, fleet.base, "--no-deploy"});
  REQUIRE_MESSAGE(built.exit_code == 0, built.err);

  test::PodmanService podman({fleet.registry.host()});
  test::EngineApi engine(podman.socket());
  engine.pull(fleet.app_repository, "1");
  std::string old_image = engine.image_id(fleet.app);
  engine.run("app", container(fleet.app));

  int port = test::free_port();
  fleet.write_pipeline("deploy:\n  - name: podman\n    kind: docker\n    endpoint: " + podman.endpoint() +
                       "\n    rollout: {batch: 1, max_unavailable: 1, health_timeout: 30s, stable_for: 1s}\n"
                       "    approval: {required: 1}\n"
                       "triggers:\n  listen: 127.0.0.1:" + std::to_string(port) +
                       "\n  debounce: 0s\n  api_token_env: CASCADE_API_TOKEN\n"
                       "  approvers:\n    - name: alice\n      token_env: ALICE_TOKEN\n");
  test::ServeProcess serve(fleet.pipeline, port, {{"CASCADE_API_TOKEN", kApiToken}, {"ALICE_TOKEN", kApproverToken}});

  fleet.publish_base("base-2", "RUN echo two > /v2\n");
  auto posted = serve.post("/api/patch", json{{"image", fleet.base}}.dump(),
                           {{"Authorization", std::string("Bearer ") + kApiToken}});
  REQUIRE(posted);
  REQUIRE_MESSAGE(posted->status == 202, posted->body);
  long long run = json::parse(posted->body)["run"];
  const std::string id = std::to_string(run);
  json awaiting = serve.wait_for("/api/runs/" + id, [](const json& answer) {
    if (answer["state"] != "awaiting") return false;
    for (const auto& release : answer["releases"])
      if (release["detail"].get<std::string>().find("awaiting approval (0 of 1)") != std::string::npos) return true;
    return false;
  });
  REQUIRE(awaiting["releases"].size() == 1);
  json release = awaiting["releases"][0];
  CHECK(release["state"] == "held");
  std::string workload = release["workload"], from = release["from_digest"], to = release["to_digest"];
  REQUIRE(from != to);
  CHECK(engine.inspect("app")["Image"] == old_image);  // held: nothing moved yet

  test::ChromiumSession browser;
  browser.navigate(serve.url("/"));
  const std::string block = "#releases div.release[data-run=\"" + id + "\"]";
  const std::string row = block + " tr[data-workload]";
  browser.wait_for(query(row) + " !== null");

  // (1) The blast radius: the workload, its image, from -> to digests, and what it waits for.
  std::string dom = browser.dom();
  std::string attributes = "data-release=\"" + std::to_string(release["id"].get<long long>()) +
                           "\" data-target=\"podman\" data-workload=\"" + workload +
                           "\" data-state=\"held\" data-from=\"" + from + "\" data-to=\"" + to + "\"";
  CHECK_MESSAGE(dom.find(attributes) != std::string::npos, dom);
  json shown = browser.evaluate("(() => { const row = " + query(row) + "; return {text: row.textContent, "
                                "digests: row.querySelector('td.digests').textContent}; })()");
  CHECK(shown["digests"] == hex12(from) + " → " + hex12(to));
  CHECK(shown["text"].get<std::string>().find(workload) != std::string::npos);
  CHECK(shown["text"].get<std::string>().find("team/app:1") != std::string::npos);
  CHECK(shown["text"].get<std::string>().find("awaiting approval (0 of 1)") != std::string::npos);
  CHECK(browser.evaluate("document.getElementById('approve-" + id + "').disabled") == false);

  // (2) A wrong token: refused, shown, nothing recorded.
  browser.type("#token", "not-a-token");
  browser.click("#approve-" + id);
  std::string refused = browser.wait_for(decided(run)).get<std::string>();
  CHECK_MESSAGE(refused.rfind("error|401", 0) == 0, refused);
  CHECK(serve.json("/api/runs/" + id)["approvals"].empty());

  // (3) The approver's token, a comment, and a real click on Approve.
  browser.type("#token", kApproverToken);
  browser.type("#comment-" + id, "canary looked fine");
  CHECK(browser.evaluate("sessionStorage.getItem('cascade.token')") == kApproverToken);
  browser.click("#approve-" + id);
  std::string outcome = browser.wait_for(decided(run)).get<std::string>();
  REQUIRE_MESSAGE(outcome.rfind("approved|approved by alice", 0) == 0, outcome);

  // The daemon recorded it under the approver's name and rolled the container over.
  json done = serve.wait_for("/api/runs/" + id, [](const json& answer) { return answer["state"] != "awaiting" &&
                                                                                 answer["state"] != "running"; },
                             std::chrono::seconds(180));
  CHECK_MESSAGE(done["state"] == "succeeded", done.dump());
  REQUIRE(done["approvals"].size() == 1);
  CHECK(done["approvals"][0]["actor"] == "alice");
  CHECK(done["approvals"][0]["decision"] == "approved");
  CHECK(done["approvals"][0]["comment"] == "canary looked fine");
  REQUIRE(done["releases"].size() == 1);
  CHECK(done["releases"][0]["state"] == "done");
  auto now = engine.inspect("app");
  CHECK(now["State"]["Running"] == true);
  CHECK(now["Image"] == engine.image_id(fleet.app_repository + "@" + to));
  CHECK(now["Image"] != old_image);

  // The page followed it: the decided run stays shown with its new state and the decision.
  browser.wait_for(query(block) + "?.dataset.state === 'succeeded'");
  browser.wait_for(query(row) + "?.dataset.state === 'done'");
  CHECK(browser.evaluate(query(block + " li[data-actor=\"alice\"]") + "?.dataset.decision") == "approved");
  CHECK(browser.evaluate("document.getElementById('approve-" + id + "').disabled") == true);

  // The token: in this tab's sessionStorage only.
  dom = browser.dom();
  CHECK(dom.find(kApproverToken) == std::string::npos);
  CHECK(browser.evaluate("localStorage.length") == 0);
  CHECK(browser.evaluate("location.href").get<std::string>().find(kApproverToken) == std::string::npos);
  CHECK(browser.evaluate("document.getElementById('token').hasAttribute('value')") == false);
  // A reload in the same tab finds it again; the finished run is no longer listed.
  browser.navigate(serve.url("/index.html"));
  browser.wait_for("document.querySelector('#releases p.empty[data-none]') !== null");
  CHECK(browser.evaluate("document.getElementById('token').value") == kApproverToken);
  CHECK(browser.dom().find(kApproverToken) == std::string::npos);

  for (const auto& error : browser.errors()) CHECK_MESSAGE(false, error);
  for (const auto& line : browser.console()) {
    CHECK_MESSAGE(line.find(kApproverToken) == std::string::npos, line);
    CHECK_MESSAGE(line.find("Uncaught") == std::string::npos, line);
  }
  CHECK(serve.log().find(kApproverToken) == std::string::npos);
  CHECK(serve.stop() == 0);
}
