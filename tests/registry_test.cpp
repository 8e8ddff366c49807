// registry::Client against a real docker-registry on 127.0.0.1, images pushed by skopeo and
// buildah; pagination against a scripted server (docker-registry 2.8 does not paginate tags).
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cascade/http.hpp"
#include "cascade/registry.hpp"
#include "hanging_peer.hpp"
#include "registry_fixture.hpp"

namespace registry = cascade::registry;
using cascade::test::DockerRegistry;
using cascade::test::TempDir;
using cascade::test::TestImage;

namespace {

// PUTs `body` as an OCI index under repo:tag, the way a multi-arch push ends.
void put_index(const std::string& host, const std::string& repo_tag, const std::string& body) {
  cascade::http::Options options;
  options.hosts[host].insecure = true;
  cascade::http::Client client(options);
  auto colon = repo_tag.find(':');
  cascade::http::Request request{"PUT", "http://" + host + "/v2/" + repo_tag.substr(0, colon) + "/manifests/" + repo_tag.substr(colon + 1), {}, body};
  request.headers.set("Content-Type", "application/vnd.oci.image.index.v1+json");
  auto response = client.request(request);
  REQUIRE(response);
  REQUIRE_MESSAGE(response->status == 201, response->body);
}

nlohmann::json entry(const registry::Manifest& manifest, const std::string& os, const std::string& arch) {
  return {{"mediaType", manifest.media_type}, {"digest", manifest.digest}, {"size", manifest.body.size()},
          {"platform", {{"os", os}, {"architecture", arch}}}};
}

}  // namespace

TEST_CASE("registry::Client against docker-registry") {
  TempDir dir;
  DockerRegistry server;
  std::string host = server.host();
  registry::Client client(cascade::test::plain_http_options(host, dir));

  SUBCASE("ping") { CHECK(client.ping(host)); }
  SUBCASE("resolve_digest equals the digest skopeo pushed, over one kept-alive connection") {
    std::string pushed = cascade::test::push_image(dir / "img", host, "team/app:1");
    for (int i = 0; i < 3; ++i) {
      auto digest = client.resolve_digest(cascade::test::image_ref(host + "/team/app:1"));
      REQUIRE_MESSAGE(digest, digest.error().str());
      CHECK(*digest == pushed);
    }
    CHECK(client.connections_opened() == 1);
    auto manifest = client.get_manifest(cascade::test::image_ref(host + "/team/app@" + pushed));
    REQUIRE(manifest);
    CHECK(registry::sha256_digest(manifest->body) == pushed);
    CHECK(manifest->media_type == "application/vnd.oci.image.manifest.v1+json");
  }
  SUBCASE("a missing tag or repository is not_found") {
    cascade::test::push_image(dir / "img", host, "team/app:1");
    auto digest = client.resolve_digest(cascade::test::image_ref(host + "/team/app:2"));
    REQUIRE_FALSE(digest);
    CHECK(digest.error().kind == registry::ErrorKind::not_found);
    CHECK_FALSE(digest.error().transient());
    auto info = client.inspect(cascade::test::image_ref(host + "/nobody/here:1"));
    REQUIRE_FALSE(info);
    CHECK(info.error().kind == registry::ErrorKind::not_found);
    CHECK((info.error().code == "NAME_UNKNOWN" || info.error().code == "MANIFEST_UNKNOWN"));
  }
  SUBCASE("labels of an image buildah built with LABEL") {
    cascade::test::write_file(dir / "ctx/Dockerfile",
                              "FROM scratch\nLABEL org.opencontainers.image.base.digest=\"sha256:" + std::string(64, 'a') +
                                  "\" team=core\nCOPY f /f\n");
    cascade::test::write_file(dir / "ctx/f", "hi\n");
    std::vector<std::string> buildah = {"buildah", "--root", (dir / "R").string(), "--runroot", (dir / "RR").string(),
                                        "--storage-driver", "vfs"};
    auto with = [&](std::vector<std::string> args) {
      args.insert(args.begin(), buildah.begin(), buildah.end());
      auto result = cascade::test::run_build(args);
      REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    };
    with({"bud", "-q", "--isolation", "chroot", "-t", host + "/team/labelled:1", (dir / "ctx").string()});
    with({"push", "-q", "--tls-verify=false", "--digestfile", (dir / "digest").string(), host + "/team/labelled:1"});
    auto info = client.inspect(cascade::test::image_ref(host + "/team/labelled:1"));
    REQUIRE_MESSAGE(info, info.error().str());
    CHECK(info->digest == cascade::test::read_file(dir / "digest"));
    CHECK(info->image_digest == info->digest);
    CHECK(info->labels.at("org.opencontainers.image.base.digest") == "sha256:" + std::string(64, 'a'));
    CHECK(info->labels.at("team") == "core");
  }
  SUBCASE("an index: the linux/amd64 child is chosen, attestations skipped") {
    TestImage amd64{"amd64", "linux", {{"arch", "amd64"}}, "x86\n"};
    TestImage arm64{"arm64", "linux", {{"arch", "arm64"}}, "arm\n"};
    TestImage attestation{"unknown", "unknown", {}, "in-toto\n"};
    std::string amd64_digest = cascade::test::push_image(dir / "a", host, "multi/app:amd64", amd64);
    cascade::test::push_image(dir / "b", host, "multi/app:arm64", arm64);
    cascade::test::push_image(dir / "c", host, "multi/app:att", attestation);
    auto manifest_of = [&](const std::string& tag) { return *client.get_manifest(cascade::test::image_ref(host + "/multi/app:" + tag)); };
    nlohmann::json att = entry(manifest_of("att"), "unknown", "unknown");
    att["annotations"] = {{"vnd.docker.reference.type", "attestation-manifest"}};
    nlohmann::json index = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"},
                            {"manifests", {att, entry(manifest_of("arm64"), "linux", "arm64"), entry(manifest_of("amd64"), "linux", "amd64")}}};
    std::string body = index.dump();
    put_index(host, "multi/app:1", body);

    auto info = client.inspect(cascade::test::image_ref(host + "/multi/app:1"));
    REQUIRE_MESSAGE(info, info.error().str());
    CHECK(info->digest == registry::sha256_digest(body));
    CHECK(info->media_type == "application/vnd.oci.image.index.v1+json");
    CHECK(info->image_digest == amd64_digest);
    CHECK(info->labels.at("arch") == "amd64");
    CHECK(*client.resolve_digest(cascade::test::image_ref(host + "/multi/app:1")) == info->digest);

    SUBCASE("and the index copies to another repository with its children") {
      auto copied = client.copy(cascade::test::image_ref(host + "/multi/app:1"), cascade::test::image_ref(host + "/mirror/app:1"));
      REQUIRE_MESSAGE(copied, copied.error().str());
      CHECK(*copied == info->digest);
      auto mirrored = client.inspect(cascade::test::image_ref(host + "/mirror/app:1"));
      REQUIRE_MESSAGE(mirrored, mirrored.error().str());
      CHECK(mirrored->digest == info->digest);
      CHECK(mirrored->labels.at("arch") == "amd64");
    }
  }
  SUBCASE("copy to a new tag keeps the digest; across repositories the blobs are mounted") {
    std::string pushed = cascade::test::push_image(dir / "img", host, "team/app:1", TestImage{"amd64", "linux", {{"v", "1"}}, "x\n"});
    auto same = client.copy(cascade::test::image_ref(host + "/team/app:1"), cascade::test::image_ref(host + "/team/app:stable"));
    REQUIRE_MESSAGE(same, same.error().str());
    CHECK(*same == pushed);
    CHECK(*client.resolve_digest(cascade::test::image_ref(host + "/team/app:stable")) == pushed);
    auto across = client.copy(cascade::test::image_ref(host + "/team/app:1"), cascade::test::image_ref(host + "/other/app:1"));
    REQUIRE_MESSAGE(across, across.error().str());
    CHECK(*across == pushed);
    auto info = client.inspect(cascade::test::image_ref(host + "/other/app:1"));
    REQUIRE_MESSAGE(info, info.error().str());
    CHECK(info->labels.at("v") == "1");
    auto inspected = cascade::test::run({"skopeo", "inspect", "--tls-verify=false", "docker://" + host + "/other/app:1"});
    CHECK(inspected.exit_code == 0);
    CHECK(inspected.out.find(pushed) != std::string::npos);
  }
  SUBCASE("tags: five tags made by copy, all listed") {
    cascade::test::push_image(dir / "img", host, "team/tags:a");
    for (std::string tag : {"b", "c", "d", "e"}) REQUIRE(client.copy(cascade::test::image_ref(host + "/team/tags:a"), cascade::test::image_ref(host + "/team/tags:" + tag)));
    registry::Options paged = cascade::test::plain_http_options(host, dir);
    paged.tag_page_size = 2;
    registry::Client paging(paged);
    auto tags = paging.list_tags(cascade::test::image_ref(host + "/team/tags"));
    REQUIRE_MESSAGE(tags, tags.error().str());
    std::sort(tags->begin(), tags->end());
    CHECK(*tags == std::vector<std::string>{"a", "b", "c", "d", "e"});
  }
}

TEST_CASE("registry::Client::list_tags follows Link pages") {
  using cascade::test::Received;
  using cascade::test::Reply;
  const std::vector<std::string> all = {"1", "2", "3", "4", "5"};
  cascade::test::ScriptedServer server([&](const Received& request) {
    std::string last;
    if (auto at = request.target.find("last="); at != std::string::npos) last = request.target.substr(at + 5);
    auto start = last.empty() ? all.begin() : std::upper_bound(all.begin(), all.end(), last);
    auto end = std::min(start + 2, all.end());
    Reply reply;
    reply.body = nlohmann::json{{"name", "team/app"}, {"tags", std::vector<std::string>(start, end)}}.dump();
    if (end != all.end()) reply.headers.push_back({"Link", "</v2/team/app/tags/list?n=2&last=" + *(end - 1) + ">; rel=\"next\""});
    return reply;
  });
  TempDir dir;
  registry::Options options = cascade::test::plain_http_options(server.host(), dir);
  options.tag_page_size = 2;
  registry::Client client(options);
  auto tags = client.list_tags(cascade::test::image_ref(server.host() + "/team/app"));
  REQUIRE_MESSAGE(tags, tags.error().str());
  CHECK(*tags == all);
  CHECK(server.requests() == 3);
  CHECK(server.received().at(0).target == "/v2/team/app/tags/list?n=2");
}

TEST_CASE("registry::Client gives up on a registry that accepts and never answers") {
  cascade::test::HangingPeer peer;
  TempDir dir;
  registry::Options options = cascade::test::plain_http_options(peer.host(), dir);  // io_timeout stays 60 s, 4 attempts
  auto seconds_since = [](std::chrono::steady_clock::time_point started) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };

  SUBCASE("a lookup ends within its overall budget, tries and waits included") {
    options.retry.budget = std::chrono::seconds(2);
    registry::Client client(options);
    auto started = std::chrono::steady_clock::now();
    auto digest = client.resolve_digest(cascade::test::image_ref(peer.host() + "/team/app:1"));
    double took = seconds_since(started);
    REQUIRE_FALSE(digest);
    CHECK(digest.error().kind == registry::ErrorKind::network);
    CHECK_MESSAGE(digest.error().message.find("time budget is 2 s") != std::string::npos, digest.error().str());
    CHECK(took >= 1.5);
    CHECK(took < 15);  // generous on a loaded machine; without the budget: 4 x 60 s
  }
  SUBCASE("a stop ends a running lookup at once, and the next one before it connects") {
    std::stop_source stop;
    options.stop = stop.get_token();
    registry::Client client(options);
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      stop.request_stop();
    });
    auto started = std::chrono::steady_clock::now();
    auto digest = client.resolve_digest(cascade::test::image_ref(peer.host() + "/team/app:1"));
    stopper.join();
    REQUIRE_FALSE(digest);
    CHECK_MESSAGE(digest.error().message.find("cancelled") != std::string::npos, digest.error().str());
    CHECK(seconds_since(started) < 15);
    int accepted = peer.accepted();
    CHECK_FALSE(client.resolve_digest(cascade::test::image_ref(peer.host() + "/team/app:2")));
    CHECK(peer.accepted() == accepted);
  }
}

TEST_CASE("registry::sha256_digest") {
  CHECK(registry::sha256_digest("a small string") ==
        "sha256:178d7dd050ecb121c4efcdcbb0692369feec610eaaf04c326835322f937c47dd");
}
