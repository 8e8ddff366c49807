// The daemon's webhook intake against the real binary, a real registry and real git
// repositories: a pathological Dockerfile is a broken recipe while the rest of the fleet is
// served; dedupe is per hook and within a window (a second push of the same tag is a new
// event, a signed body replayed under a new delivery id is not); a delivery naming unknown
// images costs no git fetch; the pending queue is bounded (503 + Retry-After); an event whose
// registry is briefly unreachable stays pending and is retried, across a restart too.
#include <doctest/doctest.h>

#include "cascade/webhook.hpp"
#include "flaky_proxy.hpp"
#include "serve_fixture.hpp"

using nlohmann::json;
using namespace cascade;

namespace {

/// A fleet in one git repository: `apps/good:1` built FROM `base/os:1` (pushed, a file-only
/// image), optionally `apps/bad:1` from a Dockerfile nested 20,000 deep; the pipeline serves on
/// `port` with the given triggers text (webhooks etc.) appended.
struct IntakeFleet {
  explicit IntakeFleet(bool with_bad, std::optional<std::string> host_override = std::nullopt) {
    host = host_override.value_or(registry.host());
    base = host + "/base/os:1";
    good = host + "/apps/good:1";
    bad = host + "/apps/bad:1";
    std::map<std::string, std::string> files = {{"good/Dockerfile", "FROM " + base + "\nCOPY hello /hello\n"},
                                                {"good/hello", "hello\n"}};
    std::string images = "      - image: " + good + "\n        dockerfile: good/Dockerfile\n";
    if (with_bad) {
      std::string nested = "ARG a=" + base + "\nFROM ";
      for (int i = 0; i < 20000; ++i) nested += "${a:-\\\n";  // one level per continuation line
      nested += base + std::string(20000, '}') + "\nCOPY hello /hello\n";
      files["bad/Dockerfile"] = nested;
      files["bad/hello"] = "hello\n";
      images += "      - image: " + bad + "\n        dockerfile: bad/Dockerfile\n";
    }
    test::make_repo(dir / "fleet", files);
    head = "version: 1\nregistries:\n  - host: " + host + "\n    insecure: true\nsources:\n  - name: fleet\n"
           "    git: fleet\n    ref: main\n    images:\n" + images;
  }
  /// Pushes the base (through `push_host` when given) and notes its digest as the latest
  /// known, so a notice of it needs no run.
  std::string publish_base(const std::string& push_host = "") {
    base_digest = test::push_image(dir / "layout", push_host.empty() ? host : push_host, "base/os:1");
    return base_digest;
  }
  void base_is_up_to_date() const {
    auto store = store::open_sqlite((dir / ".cascade/state.db").string());
    REQUIRE(store);
    REQUIRE((*store)->record_digest(base, base_digest, store::DigestSource::registry));
  }
  std::string pipeline(const std::string& triggers) const {
    std::string path = (dir / "pipeline.yaml").string();
    test::write_file(path, head + "triggers:\n  listen: 127.0.0.1:" + std::to_string(port) + "\n" + triggers);
    return path;
  }

  test::TempDir dir;
  test::DockerRegistry registry;
  int port = test::free_port();
  std::string host, base, good, bad, base_digest, head;
};

std::string signature(const std::string& secret, const std::string& body) {
  return "sha256=" + webhook::hmac_sha256_hex(secret, body);
}

json post_json(test::ServeProcess& serve, const std::string& path, const std::string& body,
               const std::map<std::string, std::string>& headers = {}, int status = 202) {
  auto answer = serve.post(path, body, headers);
  REQUIRE(answer);
  REQUIRE_MESSAGE(answer->status == status, answer->body);
  return json::parse(answer->body);
}

/// Waits until every stored event is settled or joined a run; returns them.
json settled_events(test::ServeProcess& serve) {
  return serve.wait_for("/api/events?limit=500", [](const json& answer) {
    for (const auto& event : answer["events"])
      if (event["outcome"].is_null() && event["run"].is_null()) return false;
    return true;
  }, std::chrono::seconds(120));
}

double metric(test::ServeProcess& serve, const std::string& series) {
  auto answer = serve.get("/metrics");
  REQUIRE(answer);
  return test::metric_sample(answer->body, series);
}

}  // namespace

TEST_CASE("daemon intake: a pathological Dockerfile is a broken recipe; the daemon serves the rest and triggers") {
  IntakeFleet fleet(true);
  fleet.publish_base();
  std::string pipeline = fleet.pipeline("  debounce: 0s\n  webhooks:\n    - sender: generic\n      auth: none\n");
  test::ServeProcess serve(pipeline, fleet.port, {});  // before: exit 2, the whole fleet refused

  json graph = serve.json("/api/graph");
  REQUIRE(graph["broken"].size() == 1);
  CHECK(graph["broken"][0]["image"] == fleet.bad);
  CHECK(graph["broken"][0]["dockerfile"] == "bad/Dockerfile");
  CHECK_MESSAGE(graph["broken"][0]["problem"].get<std::string>().find("nested deeper") != std::string::npos, graph.dump());
  std::set<std::string> images;
  for (const auto& image : graph["images"]) images.insert(image["image"].get<std::string>());
  CHECK(images.count(fleet.good) == 1);
  CHECK(images.count(fleet.bad) == 0);
  CHECK(metric(serve, "cascade_broken_recipes") == 1);
  CHECK(serve.log().find("broken recipe") != std::string::npos);

  // A push of the good image's base still cascades: the good image is built and pushed.
  json accepted = post_json(serve, "/hooks/generic", json{{"image", fleet.base}, {"id", "base-1"}}.dump());
  CHECK(accepted["accepted"] == 1);
  json events = serve.wait_for("/api/events", [](const json& answer) {
    return !answer["events"].empty() && (!answer["events"][0]["run"].is_null() || !answer["events"][0]["outcome"].is_null());
  });
  REQUIRE_MESSAGE(!events["events"][0]["run"].is_null(), events.dump());
  long long run = events["events"][0]["run"];
  json finished = serve.wait_for("/api/runs/" + std::to_string(run), [](const json& answer) {
    return answer["state"] != "running" && answer["state"] != "planned";
  });
  CHECK_MESSAGE(finished["state"] == "succeeded", serve.log());
  CHECK(serve.stop() == 0);
}

TEST_CASE("daemon intake: dedupe per hook and within a window; unknown images cost no fetch; other notices ignored") {
  IntakeFleet fleet(false);
  fleet.publish_base();
  fleet.base_is_up_to_date();
  std::string pipeline = fleet.pipeline(
      "  debounce: 0s\n  webhooks:\n"
      "    - sender: generic\n      path: open\n      auth: none\n"
      "    - sender: generic\n      path: signed\n      secret_env: SIGNED_SECRET\n"
      "    - sender: quay\n      path: quay\n      auth: none\n      registry: " + fleet.host + "\n"
      "    - sender: github\n      path: github\n      secret_env: GITHUB_SECRET\n      registry: " + fleet.host + "\n"
      "    - sender: distribution\n      path: registry\n      auth: none\n");
  test::ServeProcess serve(pipeline, fleet.port, {{"SIGNED_SECRET", "signed-secret"}, {"GITHUB_SECRET", "gh-secret"}});

  SUBCASE("an id one hook saw does not shadow another hook's event") {
    std::string body = json{{"image", fleet.base}, {"id", "shared-1"}}.dump();
    CHECK(post_json(serve, "/hooks/open", body)["accepted"] == 1);
    json from_signed = post_json(serve, "/hooks/signed", body, {{"X-Cascade-Signature-256", signature("signed-secret", body)}});
    CHECK(from_signed["accepted"] == 1);  // before: "duplicates": 1, suppressed by the unauthenticated hook
    CHECK(post_json(serve, "/hooks/open", body)["duplicates"] == 1);  // the sender's own id: a replay
  }
  SUBCASE("Quay: the same body again is a duplicate within the window, a new push after it") {
    std::string body = json{{"repository", "base/os"}, {"namespace", "base"}, {"name", "os"},
                            {"docker_url", fleet.host + "/base/os"}, {"updated_tags", {"1"}}}.dump();
    CHECK(post_json(serve, "/hooks/quay", body)["accepted"] == 1);
    CHECK(post_json(serve, "/hooks/quay", body)["duplicates"] == 1);  // a retry of the same delivery
    std::this_thread::sleep_for(std::chrono::seconds(11));            // the window is 10 s
    json second = post_json(serve, "/hooks/quay", body);
    CHECK(second["accepted"] == 1);  // before: "duplicates": 1 forever, the push never rebuilt
    json events = settled_events(serve);
    REQUIRE(events["events"].size() == 2);
    for (const auto& event : events["events"])  // both checked with the registry
      CHECK(event["outcome"].get<std::string>().find("already at") != std::string::npos);
  }
  SUBCASE("Quay's vulnerability notice is ignored with 200 and a reason") {
    std::string body = R"({"repository": "base/os", "namespace": "base", "name": "os",
      "docker_url": "quay.io/base/os", "homepage": "https://quay.io/repository/base/os",
      "tags": ["latest", "prod"], "image": "some-image-id",
      "vulnerability": {"id": "CVE-FAKE-CVE", "description": "A futurist vulnerability",
        "link": "https://security-tracker.debian.org/tracker/CVE-FAKE-CVE", "priority": "Critical", "has_fix": true}})";
    json answer = post_json(serve, "/hooks/quay", body, {}, 200);
    CHECK(answer["ignored"] == 1);
    CHECK(answer["reason"].get<std::string>().find("not a repository push") != std::string::npos);
  }
  SUBCASE("GitHub: a signed body replayed under a new delivery id is a duplicate") {
    std::string body = json{{"action", "published"},
                            {"package",
                             {{"name", "os"},
                              {"package_type", "CONTAINER"},
                              {"owner", {{"login", "base"}}},
                              {"package_version",
                               {{"name", fleet.base_digest},
                                {"container_metadata", {{"tag", {{"name", "1"}, {"digest", fleet.base_digest}}}}}}}}}}
                           .dump();
    auto headers = [&](const std::string& delivery) {
      return std::map<std::string, std::string>{{"X-GitHub-Event", "package"}, {"X-GitHub-Delivery", delivery},
                                                {"X-Hub-Signature-256", signature("gh-secret", body)},
                                                {"Content-Type", "application/json"}};
    };
    CHECK(post_json(serve, "/hooks/github", body, headers("d-1"))["accepted"] == 1);
    json replay = post_json(serve, "/hooks/github", body, headers("d-2-forged"));
    CHECK(replay["accepted"] == 0);  // before: accepted again
    CHECK(replay["duplicates"] == 1);
  }
  SUBCASE("200 unknown images in one delivery: ignored, no git fetch") {
    // a notice of a known image that is up to date needs no fetch either
    CHECK(post_json(serve, "/hooks/open", json{{"image", fleet.base}, {"id", "known"}}.dump())["accepted"] == 1);
    settled_events(serve);
    json envelope = {{"events", json::array()}};
    for (int i = 0; i < 200; ++i)
      envelope["events"].push_back(
          {{"id", "u-" + std::to_string(i)},
           {"action", "push"},
           {"target", {{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", fleet.base_digest},
                       {"repository", "unknown/image-" + std::to_string(i)}, {"tag", "1"}}},
           {"request", {{"host", fleet.host}}}});
    CHECK(envelope.dump().size() > 40'000);
    json answer = post_json(serve, "/hooks/registry", envelope.dump(), {}, 200);
    CHECK(answer["accepted"] == 0);
    CHECK(answer["ignored"] == 200);
    CHECK(answer["reason"].get<std::string>().find("200 image(s) not in the fleet") != std::string::npos);
    settled_events(serve);
    CHECK(metric(serve, "cascade_fleet_scans_total") == 0);  // before: one rescan (fetch) per image
  }
  CHECK(serve.stop() == 0);
}

TEST_CASE("daemon intake: the pending queue is bounded; a full queue answers 503 with Retry-After") {
  IntakeFleet fleet(false);
  fleet.publish_base();
  std::string pipeline = fleet.pipeline("  debounce: 1h\n  body_limit: 8MiB\n  webhooks:\n"
                                        "    - sender: distribution\n      path: registry\n      auth: none\n");
  test::ServeProcess serve(pipeline, fleet.port, {});
  auto envelope = [&](int count, const std::string& prefix) {
    json body = {{"events", json::array()}};
    for (int i = 0; i < count; ++i)
      body["events"].push_back({{"action", "push"},
                                {"target", {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                            {"digest", fleet.base_digest}, {"repository", "base/os"}, {"tag", "1"}}},
                                {"request", {{"host", fleet.host}, {"id", prefix + std::to_string(i)}}}});
    return body.dump();
  };
  CHECK(post_json(serve, "/hooks/registry", envelope(10'000, "a"))["accepted"] == 10'000);  // waiting out 1 h
  auto full = serve.post("/hooks/registry", envelope(1, "b"));
  REQUIRE(full);
  CHECK(full->status == 503);
  CHECK(full->headers.get("Retry-After") == "30");
  CHECK(serve.stop() == 0);
}

TEST_CASE("daemon intake: a registry briefly unreachable keeps the event pending; it is retried, across a restart") {
  int proxy_port = test::free_port();
  IntakeFleet fleet(false, "127.0.0.1:" + std::to_string(proxy_port));
  test::FlakyProxy proxy(proxy_port, std::stoi(fleet.registry.host().substr(10)));
  fleet.publish_base();
  fleet.base_is_up_to_date();
  std::string pipeline = fleet.pipeline("  debounce: 0s\n  webhooks:\n    - sender: generic\n      auth: none\n");
  auto retrying = [](const json& answer) {
    return !answer["events"].empty() && answer["events"][0]["outcome"].is_null() &&
           answer["events"][0].contains("retry") && answer["events"][0]["retry"]["attempt"] >= 1;
  };
  auto up_to_date = [](const json& answer) {
    return !answer["events"].empty() && !answer["events"][0]["outcome"].is_null();
  };
  {
    test::ServeProcess serve(pipeline, fleet.port, {});
    proxy.refuse(true);
    CHECK(post_json(serve, "/hooks/generic", json{{"image", fleet.base}, {"id", "t-1"}}.dump())["accepted"] == 1);
    serve.wait_for("/api/events?limit=1", retrying, std::chrono::seconds(60));  // before: settled failed at once
    proxy.refuse(false);
    json settled = serve.wait_for("/api/events?limit=1", up_to_date, std::chrono::seconds(60));
    CHECK(settled["events"][0]["outcome"].get<std::string>().find("already at") != std::string::npos);
    CHECK(metric(serve, "cascade_triggers_total{source=\"generic\",outcome=\"failed\"}") < 0);

    // The next one is still retrying when the daemon stops.
    proxy.refuse(true);
    CHECK(post_json(serve, "/hooks/generic", json{{"image", fleet.base}, {"id", "t-2"}}.dump())["accepted"] == 1);
    serve.wait_for("/api/events?limit=1", retrying, std::chrono::seconds(60));
    CHECK(serve.stop() == 0);
  }
  proxy.refuse(false);
  test::ServeProcess again(pipeline, fleet.port, {});
  json settled = again.wait_for("/api/events?limit=1", up_to_date, std::chrono::seconds(120));
  CHECK(settled["events"][0]["event_id"] == "t-2");
  CHECK_MESSAGE(settled["events"][0]["outcome"].get<std::string>().find("already at") != std::string::npos, again.log());
  CHECK(again.stop() == 0);
}

TEST_CASE("daemon intake: a notice that arrives before the registry moved the tag waits for the tag, then cascades it") {
  // docker-registry sends its push notice before it moves the tag (found by bench/chaos):
  // the daemon used to read the old digest, call the notice overtaken and settle it
  // "already at <old>"; the patched base was never rebuilt.
  IntakeFleet fleet(false);
  fleet.publish_base();
  fleet.base_is_up_to_date();
  test::TestImage patched;
  patched.file = "patched\n";
  std::string next = test::push_image(fleet.dir / "next", fleet.host, "base/os:next", patched);  // the tag lags
  std::string pipeline = fleet.pipeline("  debounce: 0s\n  webhooks:\n    - sender: generic\n      auth: none\n");
  test::ServeProcess serve(pipeline, fleet.port, {});
  CHECK(post_json(serve, "/hooks/generic", json{{"image", fleet.base}, {"digest", next}, {"id", "lag-1"}}.dump())
            ["accepted"] == 1);
  serve.wait_for("/api/events?limit=1", [](const json& answer) {
    return !answer["events"].empty() && answer["events"][0].contains("retry");
  }, std::chrono::seconds(60));
  auto copy = test::run({"skopeo", "copy", "-q", "--preserve-digests", "--src-tls-verify=false",
                         "--dest-tls-verify=false", "docker://" + fleet.host + "/base/os:next", "docker://" + fleet.base});
  REQUIRE_MESSAGE(copy.exit_code == 0, copy.err);  // the registry catches up: the tag points at the notice's digest
  json events = settled_events(serve);
  REQUIRE(events["events"].size() == 1);
  REQUIRE_MESSAGE(!events["events"][0]["run"].is_null(), serve.log());
  long long run = events["events"][0]["run"];
  json done = serve.wait_for("/api/runs/" + std::to_string(run), [](const json& answer) {
    return answer.value("state", "") != "running";
  }, std::chrono::seconds(300));
  CHECK_MESSAGE(done["state"] == "succeeded", serve.log());
  CHECK(serve.log().find(next.substr(0, 19)) != std::string::npos);
  CHECK(serve.stop() == 0);
}
