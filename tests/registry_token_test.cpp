// Token flows docker-registry cannot show by itself, against a scripted token-protected
// registry and token server on 127.0.0.1: identity tokens by OAuth POST, registry tokens
// sent as they are, token reuse, realms with a query, and retried timeouts.
#include <doctest/doctest.h>

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
