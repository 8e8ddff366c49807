// registry::Client::inspect's platforms against a real docker-registry: an index buildah's
// manifest commands pushed (no RUN, so no emulation: fast), an OCI index with an attestation
// entry, and single-platform images.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "cascade/http.hpp"
#include "cascade/registry.hpp"
#include "registry_fixture.hpp"

namespace registry = cascade::registry;
using cascade::test::DockerRegistry;
using cascade::test::TempDir;
using cascade::test::TestImage;

namespace {

// buildah on a storage of its own in `dir`; each command must succeed.
struct Buildah {
  const TempDir& dir;
  std::string run(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"buildah", "--root", (dir / "R").string(), "--runroot", (dir / "RR").string(),
                                     "--storage-driver", "vfs"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto result = cascade::test::run(argv);
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    return result.out;
  }
  // An image of `platform` holding one file (FROM scratch, no RUN); returns its id.
  std::string build(const std::string& platform) const {
    cascade::test::write_file(dir / "ctx/Dockerfile", "FROM scratch\nCOPY f /f\n");
    cascade::test::write_file(dir / "ctx/f", platform + "\n");
    std::string iidfile = (dir / "iid").string();
    run({"bud", "-q", "--isolation", "chroot", "--format", "docker", "--platform", platform, "--iidfile", iidfile,
         (dir / "ctx").string()});
    return cascade::test::read_file(iidfile);
  }
};

// PUTs `body` as an OCI index under repo:tag.
void put_index(const std::string& host, const std::string& repo, const std::string& tag, const std::string& body) {
  cascade::http::Options options;
  options.hosts[host].insecure = true;
  cascade::http::Client client(options);
  cascade::http::Request request{"PUT", "http://" + host + "/v2/" + repo + "/manifests/" + tag, {}, body};
  request.headers.set("Content-Type", "application/vnd.oci.image.index.v1+json");
  auto response = client.request(request);
  REQUIRE(response);
  REQUIRE_MESSAGE(response->status == 201, response->body);
}

}  // namespace

TEST_CASE("registry::Client::inspect platforms") {
  TempDir dir;
  DockerRegistry server;
  const std::string host = server.host();
  registry::Client client(cascade::test::plain_http_options(host, dir));

  SUBCASE("an index buildah pushed: every platform in order, variant included, each with its child's digest") {
    Buildah buildah{dir};
    std::vector<std::string> ids = {buildah.build("linux/amd64"), buildah.build("linux/arm64"), buildah.build("linux/arm/v7")};
    buildah.run({"manifest", "create", "localhost/platforms-test"});
    for (const auto& id : ids) buildah.run({"manifest", "add", "localhost/platforms-test", id});
    std::string digestfile = (dir / "digest").string();
    buildah.run({"manifest", "push", "--all", "--format", "v2s2", "--tls-verify=false", "--digestfile", digestfile,
                 "localhost/platforms-test", "docker://" + host + "/multi/app:1"});

    auto info = client.inspect(cascade::test::image_ref(host + "/multi/app:1"));
    REQUIRE_MESSAGE(info, info.error().str());
    CHECK(info->digest == cascade::test::read_file(digestfile));
    CHECK(info->index);
    auto index = nlohmann::json::parse(client.get_manifest(cascade::test::image_ref(host + "/multi/app:1"))->body);
    REQUIRE(info->platforms.size() == 3);
    const char* expected[] = {"linux/amd64", "linux/arm64", "linux/arm/v7"};
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(info->platforms[i].platform == expected[i]);
      CHECK(info->platforms[i].digest == index["manifests"][i]["digest"].get<std::string>());
    }
    CHECK(info->image_digest == info->platforms[0].digest);

    SUBCASE("and by digest, the same") {
      auto pinned = client.inspect(cascade::test::image_ref(host + "/multi/app@" + info->digest));
      REQUIRE_MESSAGE(pinned, pinned.error().str());
      CHECK(pinned->index);
      REQUIRE(pinned->platforms.size() == 3);
      CHECK(pinned->platforms[2].digest == info->platforms[2].digest);
    }
    SUBCASE("one platform's manifest alone: that platform, with its own digest") {
      auto child = client.inspect(cascade::test::image_ref(host + "/multi/app@" + info->platforms[2].digest));
      REQUIRE_MESSAGE(child, child.error().str());
      CHECK_FALSE(child->index);
      REQUIRE(child->platforms.size() == 1);
      CHECK(child->platforms[0].platform == "linux/arm/v7");
      CHECK(child->platforms[0].digest == info->platforms[2].digest);
    }
  }
  SUBCASE("an OCI index: attestations and entries without a platform left out") {
    std::string amd64 = cascade::test::push_image(dir / "a", host, "oci/app:amd64", TestImage{"amd64", "linux", {}, "x86\n"});
    std::string arm64 = cascade::test::push_image(dir / "b", host, "oci/app:arm64", TestImage{"arm64", "linux", {}, "arm\n"});
    std::string attestation = cascade::test::push_image(dir / "c", host, "oci/app:att", TestImage{"unknown", "unknown", {}, "in-toto\n"});
    auto entry = [&](const std::string& digest, nlohmann::json platform) {
      auto manifest = client.get_manifest(cascade::test::image_ref(host + "/oci/app@" + digest));
      REQUIRE(manifest);
      nlohmann::json described = {{"mediaType", manifest->media_type}, {"digest", digest}, {"size", manifest->body.size()}};
      if (!platform.is_null()) described["platform"] = std::move(platform);
      return described;
    };
    nlohmann::json attested = entry(attestation, {{"os", "unknown"}, {"architecture", "unknown"}});
    attested["annotations"] = {{"vnd.docker.reference.type", "attestation-manifest"},
                               {"vnd.docker.reference.digest", arm64}};
    nlohmann::json index = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"},
                            {"manifests", {entry(arm64, {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}}),
                                           attested, entry(attestation, nullptr),
                                           entry(amd64, {{"os", "linux"}, {"architecture", "amd64"}})}}};
    put_index(host, "oci/app", "1", index.dump());

    auto info = client.inspect(cascade::test::image_ref(host + "/oci/app:1"));
    REQUIRE_MESSAGE(info, info.error().str());
    CHECK(info->index);
    REQUIRE(info->platforms.size() == 2);
    CHECK(info->platforms[0].platform == "linux/arm64/v8");
    CHECK(info->platforms[0].digest == arm64);
    CHECK(info->platforms[1].platform == "linux/amd64");
    CHECK(info->platforms[1].digest == amd64);
  }
  SUBCASE("a single image: the one platform of its config, with the manifest's digest") {
    std::string pushed = cascade::test::push_image(dir / "img", host, "single/app:1", TestImage{"arm64", "linux", {{"v", "1"}}, "x\n"});
    auto info = client.inspect(cascade::test::image_ref(host + "/single/app:1"));
    REQUIRE_MESSAGE(info, info.error().str());
    CHECK_FALSE(info->index);
    REQUIRE(info->platforms.size() == 1);
    CHECK(info->platforms[0].platform == "linux/arm64");
    CHECK(info->platforms[0].digest == pushed);
    CHECK(info->labels.at("v") == "1");
  }
}
