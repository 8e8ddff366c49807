// Token flows docker-registry cannot show by itself, against a scripted token-protected
// registry and token server on 127.0.0.1: identity tokens by OAuth POST, registry tokens
// sent as they are, token reuse, realms with a query, and retried timeouts.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cascade/registry.hpp"
#include "registry_fixture.hpp"

namespace registry = cascade::registry;
using cascade::test::Received;
using cascade::test::Reply;
using cascade::test::ScriptedServer;
using cascade::test::TempDir;

namespace {

constexpr const char* kDigest = "sha256:178d7dd050ecb121c4efcdcbb0692369feec610eaaf04c326835322f937c47dd";

// A registry that wants "Bearer <accepted>" and otherwise challenges with `realm`.
Reply protected_registry(const Received& request, const std::string& realm, const std::string& accepted) {
  if (request.header("authorization") != "Bearer " + accepted) {
    std::string challenge = "Bearer realm=\"" + realm + "\",service=\"scripted\"";
    if (request.target != "/v2/") challenge += ",scope=\"repository:team/app:pull\"";
    return Reply{401, {{"WWW-Authenticate", challenge}}, R"({"errors":[{"code":"UNAUTHORIZED"}]})"};
  }
  return Reply{200, {{"Docker-Content-Digest", kDigest}}, ""};
}

registry::Options options_for(const TempDir& dir, const std::vector<std::string>& hosts) {
  registry::Options options;
  for (const auto& host : hosts) options.registries.push_back({host, true, ""});
  options.docker_config = (dir / "config.json").string();
  options.read_auth_config_env = false;
  options.retry.initial_delay = std::chrono::milliseconds(1);
  return options;
}

cascade::reference::Reference image_ref(const std::string& text) { return *cascade::reference::parse(text); }

}  // namespace

TEST_CASE("registry::Client token flows against a scripted registry") {
  TempDir dir;
  std::string form_seen;
  ScriptedServer tokens([&](const Received& request) {
    if (request.method == "POST") {
      form_seen = request.body;
      if (request.body.find("refresh_token=id-token-1") == std::string::npos) return Reply{401, {}, "{}"};
      return Reply{200, {}, R"({"access_token":"from-oauth","expires_in":5})"};
    }
    return Reply{200, {}, R"({"token":"from-get","access_token":"from-get"})"};
  });
  std::string realm = tokens.url("/token?client=cascade");
  std::string accepted = "from-get";
  ScriptedServer server([&](const Received& request) { return protected_registry(request, realm, accepted); });
  registry::Options options = options_for(dir, {server.host(), tokens.host()});
  auto resolve = [&](registry::Client& client) { return client.resolve_digest(image_ref(server.host() + "/team/app:1")); };

  SUBCASE("anonymous: one token by GET, reused while it lives (expires_in below 60 counts as 60)") {
    registry::Client client(options);
    for (int i = 0; i < 4; ++i) {
      auto digest = resolve(client);
      REQUIRE_MESSAGE(digest, digest.error().str());
      CHECK(*digest == kDigest);
    }
    REQUIRE(tokens.requests() == 1);
    Received asked = tokens.received().at(0);
    CHECK(asked.target == "/token?client=cascade&service=scripted&scope=repository%3Ateam%2Fapp%3Apull");
    CHECK(asked.header("authorization").empty());
    CHECK(server.requests() == 5);  // one challenge, then four with the token
  }
  SUBCASE("an identity token goes to the realm by OAuth POST") {
    accepted = "from-oauth";
    cascade::test::write_file(dir / "config.json",
                              nlohmann::json{{"auths", {{server.host(), {{"identitytoken", "id-token-1"}}}}}}.dump());
    registry::Client client(options);
    auto digest = resolve(client);
    REQUIRE_MESSAGE(digest, digest.error().str());
    CHECK(form_seen.find("grant_type=refresh_token") != std::string::npos);
    CHECK(form_seen.find("service=scripted") != std::string::npos);
    CHECK(form_seen.find("scope=repository%3Ateam%2Fapp%3Apull") != std::string::npos);
    CHECK(form_seen.find("client_id=cascade") != std::string::npos);
  }
  SUBCASE("a rejected identity token: unauthorized without the token in the message") {
    cascade::test::write_file(dir / "config.json",
                              nlohmann::json{{"auths", {{server.host(), {{"identitytoken", "stale-id-token"}}}}}}.dump());
    registry::Client client(options);
    auto digest = resolve(client);
    REQUIRE_FALSE(digest);
    CHECK(digest.error().kind == registry::ErrorKind::unauthorized);
    CHECK(digest.error().str().find("stale-id-token") == std::string::npos);
  }
  SUBCASE("a registry token is sent as it is, with no exchange") {
    accepted = "ready-made";
    cascade::test::write_file(dir / "config.json",
                              nlohmann::json{{"auths", {{server.host(), {{"registrytoken", "ready-made"}}}}}}.dump());
    registry::Client client(options);
    auto digest = resolve(client);
    REQUIRE_MESSAGE(digest, digest.error().str());
    CHECK(tokens.requests() == 0);
  }
}

TEST_CASE("registry::Client retries a timed-out request") {
  TempDir dir;
  int calls = 0;
  ScriptedServer server([&](const Received&) {
    Reply reply;
    reply.hang = ++calls == 1;
    return reply;
  });
  registry::Options options = options_for(dir, {server.host()});
  options.io_timeout = std::chrono::milliseconds(200);
  registry::Client client(options);
  auto pinged = client.ping(server.host());
  CHECK_MESSAGE(pinged, pinged.error().str());
  CHECK(server.requests() == 2);
  CHECK(server.connections() == 2);
}

TEST_CASE("registry::Client::copy uploads a blob the registry would not mount") {
  TempDir dir;
  const std::string config = R"({"architecture":"amd64","os":"linux","config":{"Labels":{"a":"b"}}})";
  const std::string config_digest = registry::sha256_digest(config);
  const std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                               config_digest + R"(","size":)" + std::to_string(config.size()) + R"(},"layers":[]})";
  std::string uploaded;
  ScriptedServer server([&](const Received& request) {
    const std::string& target = request.target;
    if (request.method == "GET" && target == "/v2/src/app/manifests/1")
      return Reply{200, {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}, manifest};
    if (request.method == "GET" && target == "/v2/src/app/blobs/" + config_digest) return Reply{200, {}, config};
    if (request.method == "POST" && target.rfind("/v2/dst/app/blobs/uploads/?mount=", 0) == 0)
      return Reply{202, {{"Location", "/v2/dst/app/blobs/uploads/session-1?_state=x"}}, ""};
    if (request.method == "DELETE" && target == "/v2/dst/app/blobs/uploads/session-1?_state=x") return Reply{204, {}, ""};
    if (request.method == "POST" && target == "/v2/dst/app/blobs/uploads/")
      return Reply{202, {{"Location", "/v2/dst/app/blobs/uploads/session-2?_state=y"}}, ""};
    if (request.method == "PUT" && target == "/v2/dst/app/blobs/uploads/session-2?_state=y&digest=" + config_digest) {
      uploaded = request.body;
      return Reply{201, {}, ""};
    }
    if (request.method == "PUT" && target == "/v2/dst/app/manifests/1" && request.body == manifest)
      return Reply{201, {{"Docker-Content-Digest", registry::sha256_digest(manifest)}}, ""};
    return Reply{404, {}, R"({"errors":[{"code":"UNSUPPORTED","message":")" + request.method + " " + target + "\"}]}"};
  });
  registry::Client client(options_for(dir, {server.host()}));
  auto copied = client.copy(image_ref(server.host() + "/src/app:1"), image_ref(server.host() + "/dst/app:1"));
  REQUIRE_MESSAGE(copied, copied.error().str());
  CHECK(*copied == registry::sha256_digest(manifest));
  CHECK(uploaded == config);
  auto seen = server.received();
  CHECK(std::any_of(seen.begin(), seen.end(), [](const Received& r) { return r.method == "DELETE"; }));
}
