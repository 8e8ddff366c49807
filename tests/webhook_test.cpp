// Webhook adapters and authentication: every sender on the example payloads of
// shared/reference/PROTOCOLS.md section 4 (elided digests filled in), the variants each
// sender really sends (envelope types, untagged pushes, old and form-encoded bodies), the
// GitHub HMAC test vector, every token form, and the errors, which name the JSON path and
// never the secret or the token.
#include "webhook_support.hpp"

using namespace webhook_test;

TEST_CASE("webhook::Sender names") {
  CHECK(wh::all_senders().size() == 6);
  for (auto sender : wh::all_senders()) CHECK(wh::parse_sender(wh::to_string(sender)) == sender);
  CHECK(wh::to_string(wh::Sender::dockerhub) == "dockerhub");
  CHECK_FALSE(wh::parse_sender("gitlab"));
  CHECK(wh::carries_digest(wh::Sender::distribution));
  CHECK(wh::carries_digest(wh::Sender::github));
  CHECK_FALSE(wh::carries_digest(wh::Sender::dockerhub));
  CHECK_FALSE(wh::carries_digest(wh::Sender::quay));
}

TEST_CASE("webhook::decode distribution") {
  const auto config = config_for(wh::Sender::distribution);

  SUBCASE("the example: the index push is an event, the blob push is ignored") {
    auto result = decoded(wh::Sender::distribution, distribution_example());
    REQUIRE(result.events.size() == 1);
    CHECK(result.ignored == 1);
    const auto& event = result.events[0];
    CHECK(event.sender == wh::Sender::distribution);
    CHECK(event.repository == "registry.internal/base/runtime");
    CHECK(event.tag == "bookworm");
    CHECK(event.digest == kIndexDigest);
    CHECK(event.event_id == "6f0c2a8e-1b7d-4c55-9a51-0d3e2f9b7a10");
    CHECK(event.image() == "registry.internal/base/runtime:bookworm");
  }
  SUBCASE("both envelope media types and plain JSON read the same") {
    for (const char* type : {"application/vnd.docker.distribution.events.v1+json",
                             "application/vnd.docker.distribution.events.v2+json", "application/json"}) {
      CAPTURE(type);
      Request request{distribution_example()};
      request.with("Content-Type", type);
      auto result = decoded(config, request);
      REQUIRE(result.events.size() == 1);
      CHECK(result.events[0].image() == "registry.internal/base/runtime:bookworm");
    }
  }
  SUBCASE("a multi-arch push: children by digest only, then the index by tag") {
    const std::string body = R"({"events": [)" +
                             distribution_event("push", manifest_target("application/vnd.oci.image.manifest.v1+json",
                                                                        kChildDigest, "")) + "," +
                             distribution_event("push", manifest_target("application/vnd.oci.image.index.v1+json",
                                                                        kIndexDigest, "bookworm")) + "]}";
    auto result = decoded(wh::Sender::distribution, body);
    REQUIRE(result.events.size() == 2);
    CHECK(result.events[0].repository == "127.0.0.1:5000/base/runtime");
    CHECK_FALSE(result.events[0].tag);
    CHECK(result.events[0].digest == kChildDigest);
    CHECK(result.events[0].image() == "127.0.0.1:5000/base/runtime");
    CHECK(result.events[1].image() == "127.0.0.1:5000/base/runtime:bookworm");
  }
  SUBCASE("every manifest type counts, the legacy signed v1 included") {
    for (const char* type : {"application/vnd.docker.distribution.manifest.v2+json",
                             "application/vnd.docker.distribution.manifest.list.v2+json",
                             "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
                             "application/vnd.docker.distribution.manifest.v1+prettyjws"}) {
      CAPTURE(type);
      auto result = decoded(wh::Sender::distribution,
                            R"({"events": [)" + distribution_event("push", manifest_target(type, kIndexDigest, "1")) + "]}");
      CHECK(result.events.size() == 1);
      CHECK(result.ignored == 0);
    }
  }
  SUBCASE("pulls, mounts, deletes and layer pushes are ignored") {
    const auto manifest = manifest_target("application/vnd.oci.image.manifest.v1+json", kIndexDigest, "1");
    const std::string body =
        R"({"events": [)" + distribution_event("pull", manifest) + "," + distribution_event("mount", manifest) + "," +
        distribution_event("delete", R"("digest": ")" + kIndexDigest + R"(", "repository": "base/runtime")") + "," +
        distribution_event("push", manifest_target("application/vnd.oci.image.layer.v1.tar+gzip", kBlobDigest, "")) +
        "]}";
    auto result = decoded(wh::Sender::distribution, body);
    CHECK(result.events.empty());
    CHECK(result.ignored == 4);
  }
  SUBCASE("config.registry overrides request.host") {
    auto result = decoded(config_for(wh::Sender::distribution, "127.0.0.1:5000"), Request{distribution_example()});
    REQUIRE(result.events.size() == 1);
    CHECK(result.events[0].image() == "127.0.0.1:5000/base/runtime:bookworm");
  }
  SUBCASE("without request.host the target URL's host serves") {
    const std::string body = R"({"events": [{"id": "x", "action": "push", "target": {)" +
                             manifest_target("application/vnd.oci.image.index.v1+json", kIndexDigest, "1") +
                             R"(, "url": "http://localhost:5000/v2/base/runtime/manifests/1"}}]})";
    auto result = decoded(wh::Sender::distribution, body);
    REQUIRE(result.events.size() == 1);
    CHECK(result.events[0].repository == "localhost:5000/base/runtime");
  }
  SUBCASE("rejections name the JSON path") {
    CHECK(rejection(wh::Sender::distribution, R"({"evts": []})") == "events: expected an array");
    CHECK(rejection(wh::Sender::distribution, R"([1, 2])") == "body: expected an object");
    CHECK(rejection(wh::Sender::distribution, R"({"events": [{"action": "push", "target": 7}]})") ==
          "events[0].target: expected an object");
    const auto good = distribution_event("push", manifest_target("application/vnd.oci.image.index.v1+json",
                                                                 kIndexDigest, "1"));
    const std::string third_bad = R"({"events": [)" + good + "," + good + "," +
                                  R"({"action": "push", "target": {"mediaType": "application/vnd.oci.image.index.v1+json",
                                      "digest": ")" + kIndexDigest + R"(", "repository": 42}}]})";
    CHECK(rejection(wh::Sender::distribution, third_bad) == "events[2].target.repository: expected a string");
    const std::string no_host = R"({"events": [{"action": "push", "target": {)" +
                                manifest_target("application/vnd.oci.image.index.v1+json", kIndexDigest, "1") + "}}]}";
    CHECK(rejection(wh::Sender::distribution, no_host).starts_with("events[0].request.host: expected a string"));
  }
  SUBCASE("a bad digest, repository or tag is 400 naming the field") {
    const auto body_with = [](const std::string& digest, const std::string& repository, const std::string& tag) {
      return R"({"events": [{"action": "push", "request": {"host": "registry.internal"}, "target": {
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": ")" +
             digest + R"(", "repository": ")" + repository + R"(", "tag": ")" + tag + R"("}}]})";
    };
    auto short_digest = rejection(wh::Sender::distribution, body_with("sha256:4b1f0d3c", "base/runtime", "1"));
    CHECK(short_digest.starts_with("events[0].target.digest: "));
    auto upper_digest = rejection(wh::Sender::distribution,
                                  body_with("sha256:" + std::string(64, 'A'), "base/runtime", "1"));
    CHECK(upper_digest.starts_with("events[0].target.digest: "));
    auto upper_repo = rejection(wh::Sender::distribution, body_with(kIndexDigest, "Base/Runtime", "1"));
    CHECK(upper_repo.starts_with("events[0].target.repository: "));
    CHECK(upper_repo.find("lowercase") != std::string::npos);
    auto bad_tag = rejection(wh::Sender::distribution, body_with(kIndexDigest, "base/runtime", "-bad"));
    CHECK(bad_tag.starts_with("events[0].target.tag: "));
    auto with_tag = rejection(wh::Sender::distribution, body_with(kIndexDigest, "base/runtime:1", "1"));
    CHECK(with_tag.starts_with("events[0].target.repository: "));
  }
}

TEST_CASE("webhook::decode refuses a number no double holds with 400, for every sender") {
  for (auto sender : {wh::Sender::distribution, wh::Sender::dockerhub, wh::Sender::harbor, wh::Sender::quay,
                      wh::Sender::github, wh::Sender::generic}) {
    auto rejected_with = webhook_test::rejected(webhook_test::config_for(sender), webhook_test::Request{R"({"events":[1e999999]})"});
    CHECK(rejected_with.status == 400);
    CHECK(rejected_with.reason.find("out of range") != std::string::npos);
  }
}

TEST_CASE("webhook::decode dockerhub") {
  SUBCASE("the example: repo_name and push_data.tag on docker.io, no digest") {
    auto result = decoded(wh::Sender::dockerhub, kDockerHubExample);
    REQUIRE(result.events.size() == 1);
    const auto& event = result.events[0];
    CHECK(event.sender == wh::Sender::dockerhub);
    CHECK(event.image() == "docker.io/acme/runtime:bookworm");
    CHECK_FALSE(event.digest);
    CHECK_FALSE(event.event_id);
  }
  SUBCASE("official images get library/") {
    auto result = decoded(wh::Sender::dockerhub, R"({"push_data": {"tag": "12"}, "repository": {"repo_name": "debian"}})");
    REQUIRE(result.events.size() == 1);
    CHECK(result.events[0].image() == "docker.io/library/debian:12");
  }
  SUBCASE("config.registry overrides docker.io") {
    auto result = decoded(config_for(wh::Sender::dockerhub, "127.0.0.1:5000"), Request{kDockerHubExample});
    CHECK(result.events.at(0).image() == "127.0.0.1:5000/acme/runtime:bookworm");
  }
  SUBCASE("what Docker Hub always sends is required") {
    CHECK(rejection(wh::Sender::dockerhub, R"({"repository": {"repo_name": "acme/runtime"}})") ==
          "push_data.tag: expected a string");
    CHECK(rejection(wh::Sender::dockerhub, R"({"push_data": {"tag": "1"}, "repository": "acme/runtime"})") ==
          "repository.repo_name: expected a string");
  }
}

TEST_CASE("webhook::decode harbor") {
  SUBCASE("Default format: PUSH_ARTIFACT with the host from resource_url") {
    auto result = decoded(wh::Sender::harbor, harbor_default("PUSH_ARTIFACT", "bookworm", kIndexDigest));
    REQUIRE(result.events.size() == 1);
    const auto& event = result.events[0];
    CHECK(event.sender == wh::Sender::harbor);
    CHECK(event.image() == "harbor.internal/base/runtime:bookworm");
    CHECK(event.digest == kIndexDigest);
    CHECK_FALSE(event.event_id);
  }
  SUBCASE("an untagged push carries the digest in the tag field") {
    auto result = decoded(wh::Sender::harbor, harbor_default("PUSH_ARTIFACT", kChildDigest, kChildDigest));
    REQUIRE(result.events.size() == 1);
    CHECK_FALSE(result.events[0].tag);
    CHECK(result.events[0].digest == kChildDigest);
    CHECK(result.events[0].image() == "harbor.internal/base/runtime");
  }
  SUBCASE("CloudEvents by content type, with the event id") {
    Request request{harbor_cloud_event("harbor.artifact.pushed", "bookworm", kIndexDigest)};
    request.with("Content-Type", "application/cloudevents+json");
    auto result = decoded(config_for(wh::Sender::harbor), request);
    REQUIRE(result.events.size() == 1);
    CHECK(result.events[0].image() == "harbor.internal/base/runtime:bookworm");
    CHECK(result.events[0].digest == kIndexDigest);
    CHECK(result.events[0].event_id == "7c1d-42");
  }
  SUBCASE("CloudEvents recognized by specversion alone, untagged too") {
    auto result = decoded(wh::Sender::harbor, harbor_cloud_event("harbor.artifact.pushed", kChildDigest, kChildDigest));
    REQUIRE(result.events.size() == 1);
    CHECK_FALSE(result.events[0].tag);
    CHECK(result.events[0].digest == kChildDigest);
  }
  SUBCASE("other event types are ignored") {
    for (const auto& body : {harbor_default("PULL_ARTIFACT", "1", kIndexDigest),
                             harbor_default("DELETE_ARTIFACT", "1", kIndexDigest),
                             harbor_cloud_event("harbor.artifact.deleted", "1", kIndexDigest)}) {
      auto result = decoded(wh::Sender::harbor, body);
      CHECK(result.events.empty());
      CHECK(result.ignored == 1);
    }
  }
  SUBCASE("config.registry overrides resource_url") {
    auto result = decoded(config_for(wh::Sender::harbor, "127.0.0.1:5000"),
                          Request{harbor_default("PUSH_ARTIFACT", "bookworm", kIndexDigest)});
    CHECK(result.events.at(0).image() == "127.0.0.1:5000/base/runtime:bookworm");
  }
  SUBCASE("rejections") {
    CHECK(rejection(wh::Sender::harbor, harbor_default("PUSH_ARTIFACT", "1", "sha256:abc"))
              .starts_with("event_data.resources[0].digest: "));
    CHECK(rejection(wh::Sender::harbor, harbor_cloud_event("harbor.artifact.pushed", "1", "sha256:abc"))
              .starts_with("data.resources[0].digest: "));
    CHECK(rejection(wh::Sender::harbor, R"({"type": "PUSH_ARTIFACT"})") == "event_data: expected an object");
  }
}

TEST_CASE("webhook::decode quay") {
  SUBCASE("the example: one event per updated tag, host from docker_url, no digest") {
    auto result = decoded(wh::Sender::quay, kQuayExample);
    REQUIRE(result.events.size() == 1);
    CHECK(result.events[0].sender == wh::Sender::quay);
    CHECK(result.events[0].image() == "quay.io/acme/runtime:bookworm");
    CHECK_FALSE(result.events[0].digest);
  }
  SUBCASE("several tags and the old object form") {
    auto listed = decoded(wh::Sender::quay, R"({"repository": "acme/runtime", "docker_url": "quay.internal:8443/acme/runtime",
                                                 "updated_tags": ["1", "1.2"]})");
    REQUIRE(listed.events.size() == 2);
    CHECK(listed.events[0].image() == "quay.internal:8443/acme/runtime:1");
    CHECK(listed.events[1].image() == "quay.internal:8443/acme/runtime:1.2");
    auto object = decoded(wh::Sender::quay, R"({"repository": "acme/runtime", "docker_url": "quay.io/acme/runtime",
                                                 "updated_tags": {"latest": "b8a2c6e4d1f0"}})");
    REQUIRE(object.events.size() == 1);
    CHECK(object.events[0].image() == "quay.io/acme/runtime:latest");
  }
  SUBCASE("config.registry makes docker_url unnecessary") {
    auto result = decoded(config_for(wh::Sender::quay, "127.0.0.1:5000"),
                          Request{R"({"repository": "acme/runtime", "updated_tags": ["v1"]})"});
    CHECK(result.events.at(0).image() == "127.0.0.1:5000/acme/runtime:v1");
  }
  SUBCASE("other notifications (Quay's published vulnerability_found sample) are ignored with a reason, not refused") {
    // quay notifications/notificationevent.py, VulnerabilityFoundEvent.get_sample_data
    auto result = decoded(wh::Sender::quay, R"({
      "repository": "mynamespace/myrepo", "namespace": "mynamespace", "name": "myrepo",
      "docker_url": "quay.io/mynamespace/myrepo", "homepage": "https://quay.io/repository/mynamespace/myrepo",
      "tags": ["latest", "prod", "foo", "bar", "baz"], "image": "some-image-id",
      "vulnerability": {"id": "CVE-FAKE-CVE", "description": "A futurist vulnerability",
                        "link": "https://security-tracker.debian.org/tracker/CVE-FAKE-CVE",
                        "priority": "Critical", "has_fix": true}})");
    CHECK(result.events.empty());
    CHECK(result.ignored == 1);
    CHECK(result.reason.find("not a repository push") != std::string::npos);
    // BuildSuccessEvent's sample: no updated_tags either
    auto build = decoded(wh::Sender::quay, R"({"build_id": "296ec063-5f86-4706-a469-f0a400bf9df2",
      "trigger_kind": "github", "name": "myrepo", "repository": "mynamespace/myrepo", "namespace": "mynamespace",
      "docker_url": "quay.io/mynamespace/myrepo", "homepage": "https://quay.io/repository/mynamespace/myrepo/build/1",
      "docker_tags": ["latest", "foo", "bar"], "image_id": "1245657346"})");
    CHECK(build.events.empty());
    CHECK(build.ignored == 1);
  }
  SUBCASE("rejections") {
    CHECK(rejection(wh::Sender::quay, R"({"repository": "acme/runtime", "updated_tags": ["v1"]})") ==
          "docker_url: expected a string");
    CHECK(rejection(wh::Sender::quay, R"({"repository": "acme/runtime", "docker_url": "quay.io/acme/runtime",
                                          "updated_tags": ["v1", 2]})") == "updated_tags[1]: expected a string");
    CHECK(rejection(wh::Sender::quay, R"({"repository": "acme/runtime", "docker_url": "quay.io/acme/runtime",
                                          "updated_tags": "v1"})") == "updated_tags: expected an array");
  }
}

TEST_CASE("webhook::decode github") {
  const auto config = config_for(wh::Sender::github);

  SUBCASE("a package event: ghcr.io/<owner>/<name>, tag, digest, delivery id") {
    auto result = decoded(config, github_request("package", github_example()));
    REQUIRE(result.events.size() == 1);
    const auto& event = result.events[0];
    CHECK(event.sender == wh::Sender::github);
    CHECK(event.image() == "ghcr.io/acme/runtime:bookworm");
    CHECK(event.digest == kIndexDigest);
    CHECK(event.event_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  }
  SUBCASE("a registry_package event, owner lowercased, type compared case-insensitively") {
    auto body = github_example("registry_package", "updated", "container", "v2", "AcmeCorp");
    auto result = decoded(config, github_request("registry_package", body));
    REQUIRE(result.events.size() == 1);
    CHECK(result.events[0].image() == "ghcr.io/acmecorp/runtime:v2");
  }
  SUBCASE("an untagged version: no tag, the digest from package_version.name") {
    auto result = decoded(config, github_request("package", github_example("package", "published", "docker", "")));
    REQUIRE(result.events.size() == 1);
    CHECK_FALSE(result.events[0].tag);
    CHECK(result.events[0].digest == kIndexDigest);
  }
  SUBCASE("form-encoded: payload=<urlencoded json>") {
    Request request = github_request("package", "payload=" + form_encode(github_example()));
    request.with("Content-Type", "application/x-www-form-urlencoded");
    auto result = decoded(config, request);
    REQUIRE(result.events.size() == 1);
    CHECK(result.events[0].image() == "ghcr.io/acme/runtime:bookworm");
    CHECK(result.events[0].digest == kIndexDigest);
  }
  SUBCASE("ping, other events, other actions and other package types are ignored") {
    const std::vector<Request> ignored_requests = {
        github_request("ping", R"({"zen": "Keep it logically awesome.", "hook_id": 1})"),
        github_request("push", R"({"ref": "refs/heads/main"})"),
        github_request("package", github_example("package", "deleted")),
        github_request("package", github_example("package", "published", "npm")),
    };
    for (const auto& request : ignored_requests) {
      auto result = decoded(config, request);
      CHECK(result.events.empty());
      CHECK(result.ignored == 1);
    }
  }
  SUBCASE("a malformed optional digest field degrades to the valid one") {
    std::string body = github_example();
    auto truncated = body.find(R"("digest": ")" + kIndexDigest);  // container_metadata.tag.digest
    REQUIRE(truncated != std::string::npos);
    body.replace(truncated + 11, kIndexDigest.size(), kIndexDigest.substr(0, 30));
    auto result = decoded(config, github_request("package", body));
    REQUIRE(result.events.size() == 1);
    CHECK(result.events[0].image() == "ghcr.io/acme/runtime:bookworm");
    CHECK(result.events[0].digest == kIndexDigest);  // from package_version.name
    // no valid digest anywhere: still a push of the tag, a hint the daemon resolves
    std::string none = body;
    for (auto at = none.find(kIndexDigest); at != std::string::npos; at = none.find(kIndexDigest))
      none.replace(at, kIndexDigest.size(), "sha256:0123");
    auto hint = decoded(config, github_request("package", none));
    REQUIRE(hint.events.size() == 1);
    CHECK_FALSE(hint.events[0].digest);
    // untagged and no valid digest: nothing to act on but a malformed field, refused naming it
    auto untagged = github_example("package", "published", "CONTAINER", "");
    untagged.replace(untagged.find(kIndexDigest), kIndexDigest.size(), "sha256:0123");
    untagged.replace(untagged.find(kIndexDigest), kIndexDigest.size(), "sha256:0123");
    CHECK(rejected(config, github_request("package", untagged)).reason.find("package.package_version.name") == 0);
  }
  SUBCASE("config.registry overrides ghcr.io") {
    auto result = decoded(config_for(wh::Sender::github, "127.0.0.1:5000"), github_request("package", github_example()));
    CHECK(result.events.at(0).image() == "127.0.0.1:5000/acme/runtime:bookworm");
  }
  SUBCASE("rejections") {
    auto missing_owner = rejected(config, github_request("package", R"({"action": "published",
        "package": {"name": "runtime", "package_type": "CONTAINER", "package_version": {}}})"));
    CHECK(missing_owner.reason == "package.owner.login: expected a string");
    auto bad_form = rejected(config, github_request("package", "payload=%7B%zz"));
    CHECK(bad_form.reason == "payload: malformed percent-encoding");
    Request no_event{github_example()};
    auto guessed = decoded(config, no_event);  // no X-GitHub-Event: the body's key tells
    CHECK(guessed.events.size() == 1);
    auto no_package = rejected(config, Request{R"({"action": "published"})"});
    CHECK(no_package.reason == "missing X-GitHub-Event header");
  }
}

TEST_CASE("webhook::decode generic") {
  SUBCASE("one image with a tag, a digest and an id") {
    auto result = decoded(wh::Sender::generic, R"({"image": "127.0.0.1:5000/base/runtime:bookworm", "digest": ")" +
                                                   kIndexDigest + R"(", "id": "ci-42"})");
    REQUIRE(result.events.size() == 1);
    CHECK(result.events[0].image() == "127.0.0.1:5000/base/runtime:bookworm");
    CHECK(result.events[0].digest == kIndexDigest);
    CHECK(result.events[0].event_id == "ci-42");
  }
  SUBCASE("a list of events; the digest may come in the image; docker.io implied") {
    auto result = decoded(wh::Sender::generic, R"({"events": [{"image": "debian:12"},
        {"image": "ghcr.io/acme/runtime@)" + kIndexDigest + R"("}, {"image": "acme/app"}]})");
    REQUIRE(result.events.size() == 3);
    CHECK(result.events[0].image() == "docker.io/library/debian:12");
    CHECK_FALSE(result.events[0].digest);
    CHECK(result.events[1].image() == "ghcr.io/acme/runtime");
    CHECK(result.events[1].digest == kIndexDigest);
    CHECK(result.events[2].image() == "docker.io/acme/app:latest");
  }
  SUBCASE("config.registry fills in a missing registry only") {
    const auto config = config_for(wh::Sender::generic, "127.0.0.1:5000");
    auto result = decoded(config, Request{R"({"events": [{"image": "base/runtime:1"}, {"image": "quay.io/a/b:2"}]})"});
    REQUIRE(result.events.size() == 2);
    CHECK(result.events[0].image() == "127.0.0.1:5000/base/runtime:1");
    CHECK(result.events[1].image() == "quay.io/a/b:2");
    CHECK(rejected(config_for(wh::Sender::generic, "bad host"), Request{R"({"image": "a/b"})"})
              .reason.starts_with("registry (configured): "));
  }
  SUBCASE("rejections") {
    CHECK(rejection(wh::Sender::generic, R"({"digest": "sha256:x"})") == "image: expected a string");
    CHECK(rejection(wh::Sender::generic, R"({"events": [{"image": "a:1"}, {"image": "Bad/Name"}]})")
              .starts_with("events[1].image: "));
    CHECK(rejection(wh::Sender::generic, R"({"image": "a:1", "digest": "sha256:0123"})").starts_with("digest: "));
    CHECK(rejection(wh::Sender::generic, R"({"image": "a@)" + kIndexDigest + R"(", "digest": ")" + kChildDigest + R"("})")
              .starts_with("digest: does not match"));
  }
}

TEST_CASE("webhook::decode rejects malformed JSON with 400 and a reason") {
  for (auto sender : wh::all_senders()) {
    CAPTURE(wh::to_string(sender));
    auto config = config_for(sender);
    Request request = sender == wh::Sender::github ? github_request("package", R"({"action": "publ)")
                                                    : Request{R"({"events": [}")"};
    auto failure = rejected(config, request);
    CHECK(failure.status == 400);
    CHECK(failure.reason.starts_with("body is not valid JSON"));
    CHECK(rejected(config, Request{""}).status == 400);
  }
}

