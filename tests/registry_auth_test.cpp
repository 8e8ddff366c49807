// registry auth, credentials, TLS, retries and timeouts against real peers on 127.0.0.1:
// docker-registry with htpasswd, with `auth: token` and a token server signing RS256 JWTs
// (a key and certificate made by openssl), and with TLS; scripted servers for 5xx/429/hangs.
#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cascade/registry.hpp"
#include "registry_fixture.hpp"

namespace registry = cascade::registry;
namespace fs = std::filesystem;
using cascade::test::DockerRegistry;
using cascade::test::Received;
using cascade::test::Reply;
using cascade::test::ScriptedServer;
using cascade::test::TempDir;

namespace {

std::string base64(const std::string& bytes, bool url = false) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n);
  if (!url) return out;
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (auto& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

registry::Options base_options(const TempDir& dir) {
  registry::Options options;
  options.docker_config = (dir / "docker/config.json").string();
  options.read_auth_config_env = false;
  options.retry.initial_delay = std::chrono::milliseconds(1);
  return options;
}

// A config.json for `host` holding user:password in the "auth" field.
void write_auth_config(const TempDir& dir, const std::string& host, const std::string& user, const std::string& password) {
  nlohmann::json config = {{"auths", {{host, {{"auth", base64(user + ":" + password)}}}}}};
  cascade::test::write_file(dir / "docker/config.json", config.dump());
}

// A bcrypt htpasswd file with one user, made by htpasswd (apache2-utils).
std::string make_htpasswd(const TempDir& dir, const std::string& user, const std::string& password) {
  auto result = cascade::test::run({"htpasswd", "-Bbn", user, password});
  REQUIRE_MESSAGE(result.exit_code == 0, (std::string("htpasswd (apache2-utils) failed: ") + result.err));
  cascade::test::write_file(dir / "htpasswd", result.out);
  return (dir / "htpasswd").string();
}

// PATH with `dir` in front, restored on destruction.
struct PathPrefix {
  std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  explicit PathPrefix(const fs::path& dir) { setenv("PATH", (dir.string() + ":" + saved).c_str(), 1); }
  ~PathPrefix() { setenv("PATH", saved.c_str(), 1); }
};

// A docker-credential-<name> script answering `get` for `key` with user/secret, else "not found".
void write_helper(const fs::path& dir, const std::string& name, const std::string& key, const std::string& user,
                  const std::string& secret) {
  fs::path script = dir / ("docker-credential-" + name);
  cascade::test::write_file(script, "#!/bin/sh\nread server\nif [ \"$1\" = get ] && [ \"$server\" = '" + key +
                                        "' ]; then\n  printf '{\"ServerURL\":\"%s\",\"Username\":\"" + user +
                                        "\",\"Secret\":\"" + secret + "\"}' \"$server\"\n  exit 0\nfi\n"
                                        "echo 'credentials not found in native keychain'\nexit 1\n");
  fs::permissions(script, fs::perms::owner_all);
}

}  // namespace

TEST_CASE("registry::parse_challenges") {
  SUBCASE("quoted values keep their commas; several scopes") {
    auto found = registry::parse_challenges(
        R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull,push repository:base/rt:pull")");
    REQUIRE(found.size() == 1);
    CHECK(found[0].scheme == "bearer");
    CHECK(found[0].params.at("realm") == "https://auth.example.com/token");
    CHECK(found[0].params.at("scope") == "repository:team/app:pull,push repository:base/rt:pull");
  }
  SUBCASE("several challenges, spaces, escapes, error parameter") {
    auto found = registry::parse_challenges(
        R"(Basic realm="a \"quoted\" realm" , Bearer realm="https://t/x", error="insufficient_scope",Newauth  token=abc)");
    REQUIRE(found.size() == 3);
    CHECK(found[0].scheme == "basic");
    CHECK(found[0].params.at("realm") == "a \"quoted\" realm");
    CHECK(found[1].params.at("error") == "insufficient_scope");
    CHECK(found[2].scheme == "newauth");
    CHECK(found[2].params.at("token") == "abc");
  }
  SUBCASE("no parameters at all") {
    auto found = registry::parse_challenges("Bearer");
    REQUIRE(found.size() == 1);
    CHECK(found[0].params.empty());
  }
}

TEST_CASE("registry::find_credentials") {
  TempDir dir;
  registry::CredentialOptions options{(dir / "config.json").string(), false, std::chrono::milliseconds(5000)};
  auto write = [&](const nlohmann::json& config) { cascade::test::write_file(dir / "config.json", config.dump()); };

  SUBCASE("the auth field splits at the first colon; Hub uses its URL key") {
    write({{"auths", {{"https://index.docker.io/v1/", {{"auth", base64("ci-bot:s3cr:et")}}}}}});
    auto creds = registry::find_credentials("docker.io", options);
    REQUIRE(creds);
    CHECK(creds->username == "ci-bot");
    CHECK(creds->password == "s3cr:et");
    CHECK(registry::credential_key("docker.io") == "https://index.docker.io/v1/");
    CHECK(registry::credential_key("127.0.0.1:5000") == "127.0.0.1:5000");
    CHECK(registry::credential_key("index.docker.io") == "https://index.docker.io/v1/");
    CHECK(registry::credential_key("registry-1.docker.io") == "https://index.docker.io/v1/");
  }
  SUBCASE("old keys with scheme and path match by host; identity and registry tokens") {
    write({{"auths", {{"https://registry.example.com/v2/", {{"identitytoken", "refresh-me"}}},
                      {"ghcr.io", {{"registrytoken", "ready"}}}}}});
    CHECK(registry::find_credentials("registry.example.com", options)->identity_token == "refresh-me");
    CHECK(registry::find_credentials("ghcr.io", options)->registry_token == "ready");
    CHECK(registry::find_credentials("quay.io", options)->anonymous());
  }
  SUBCASE("a missing file is anonymous; a broken one is an error naming it") {
    CHECK(registry::find_credentials("quay.io", options)->anonymous());
    cascade::test::write_file(dir / "config.json", "{not json");
    auto creds = registry::find_credentials("quay.io", options);
    REQUIRE_FALSE(creds);
    CHECK(creds.error().message.find("config.json") != std::string::npos);
  }
  SUBCASE("credHelpers beat credsStore beat auths; 'not found' is anonymous") {
    write_helper(dir.path(), "cascade-a", "reg.example.com", "helper-user", "helper-secret");
    write_helper(dir.path(), "cascade-b", "other.example.com", "<token>", "identity");
    PathPrefix path(dir.path());
    write({{"auths", {{"reg.example.com", {{"auth", base64("file:user")}}}}},
           {"credsStore", "cascade-b"}, {"credHelpers", {{"reg.example.com", "cascade-a"}}}});
    auto helper = registry::find_credentials("reg.example.com", options);
    REQUIRE_MESSAGE(helper, helper.error().str());
    CHECK(helper->username == "helper-user");
    CHECK(helper->password == "helper-secret");
    auto store = registry::find_credentials("other.example.com", options);
    REQUIRE(store);
    CHECK(store->identity_token == "identity");
    auto none = registry::find_credentials("third.example.com", options);
    REQUIRE(none);
    CHECK(none->anonymous());
  }
  SUBCASE("a missing helper is an error naming the helper") {
    write({{"credsStore", "cascade-missing"}});
    auto creds = registry::find_credentials("reg.example.com", options);
    REQUIRE_FALSE(creds);
    CHECK(creds.error().message.find("docker-credential-cascade-missing") != std::string::npos);
  }
  SUBCASE("DOCKER_AUTH_CONFIG comes first") {
    write({{"auths", {{"reg.example.com", {{"auth", base64("file:user")}}}}}});
    setenv("DOCKER_AUTH_CONFIG", nlohmann::json{{"auths", {{"reg.example.com", {{"auth", base64("env:user")}}}}}}.dump().c_str(), 1);
    options.read_auth_config_env = true;
    auto creds = registry::find_credentials("reg.example.com", options);
    unsetenv("DOCKER_AUTH_CONFIG");
    REQUIRE(creds);
    CHECK(creds->username == "env");
  }
}

TEST_CASE("registry::Client with a Basic (htpasswd) docker-registry") {
  TempDir dir;
  cascade::test::RegistryAuth auth;
  auth.htpasswd_file = make_htpasswd(dir, "alice", "wonder-land-42");
  DockerRegistry server(auth);
  std::string host = server.host();
  std::string pushed = cascade::test::push_image(dir / "img", host, "team/app:1", {}, "alice:wonder-land-42");
  registry::Options options = base_options(dir);
  options.registries = {{host, true, ""}};

  SUBCASE("credentials from the config's auth field") {
    write_auth_config(dir, host, "alice", "wonder-land-42");
    registry::Client client(options);
    auto digest = client.resolve_digest(cascade::test::image_ref(host + "/team/app:1"));
    REQUIRE_MESSAGE(digest, digest.error().str());
    CHECK(*digest == pushed);
    CHECK(client.inspect(cascade::test::image_ref(host + "/team/app:1")));
  }
  SUBCASE("credentials from a credential helper on PATH") {
    write_helper(dir.path(), "cascade-test", host, "alice", "wonder-land-42");
    PathPrefix path(dir.path());
    cascade::test::write_file(dir / "docker/config.json", nlohmann::json{{"credHelpers", {{host, "cascade-test"}}}}.dump());
    registry::Client client(options);
    auto digest = client.resolve_digest(cascade::test::image_ref(host + "/team/app:1"));
    REQUIRE_MESSAGE(digest, digest.error().str());
    CHECK(*digest == pushed);
  }
  SUBCASE("wrong credentials: unauthorized, naming registry, scope and user, never the password") {
    write_auth_config(dir, host, "alice", "not-the-password");
    registry::Client client(options);
    auto digest = client.resolve_digest(cascade::test::image_ref(host + "/team/app:1"));
    REQUIRE_FALSE(digest);
    const registry::Error& error = digest.error();
    CHECK(error.kind == registry::ErrorKind::unauthorized);
    CHECK(error.str().find(host) != std::string::npos);
    CHECK(error.str().find("repository:team/app:pull") != std::string::npos);
    CHECK(error.str().find("alice") != std::string::npos);
    CHECK(error.str().find("not-the-password") == std::string::npos);
    MESSAGE(error.str());
    write_auth_config(dir, host, "alice", "wonder-land-42");  // fixed: rejected credentials are read again
    auto fixed = client.resolve_digest(cascade::test::image_ref(host + "/team/app:1"));
    CHECK_MESSAGE(fixed, fixed.error().str());
  }
  SUBCASE("no credentials: unauthorized, saying where they were looked for") {
    registry::Client client(options);
    auto digest = client.resolve_digest(cascade::test::image_ref(host + "/team/app:1"));
    REQUIRE_FALSE(digest);
    CHECK(digest.error().kind == registry::ErrorKind::unauthorized);
    CHECK(digest.error().message.find(host) != std::string::npos);
  }
}

namespace {

// Signs RS256 JWTs the way distribution's token auth expects: x5c header with the
// certificate, issuer, audience = service, access entries for the requested scopes.
struct TokenIssuer {
  std::string key_pem;
  std::string cert_der_base64;

  TokenIssuer(const cascade::test::Certificate& certificate, const TempDir& dir) {
    key_pem = cascade::test::read_file(certificate.key);
    auto der = cascade::test::run({"openssl", "x509", "-in", certificate.cert, "-outform", "DER", "-out", (dir / "token.der").string()});
    REQUIRE(der.exit_code == 0);
    cert_der_base64 = base64(cascade::test::read_file(dir / "token.der"));
  }

  std::string sign(const std::string& input) const {
    BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t size = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(ctx, nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string signature(size, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &size,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    signature.resize(size);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    BIO_free(bio);
    return signature;
  }

  std::string token(const std::vector<std::string>& scopes, const std::string& subject) const {
    nlohmann::json access = nlohmann::json::array();
    for (const auto& scope : scopes) {
      auto first = scope.find(':'), last = scope.rfind(':');
      nlohmann::json actions = nlohmann::json::array();
      std::string list = scope.substr(last + 1);
      for (std::size_t at = 0; at <= list.size();) {
        auto comma = std::min(list.find(',', at), list.size());
        actions.push_back(list.substr(at, comma - at));
        at = comma + 1;
      }
      access.push_back({{"type", scope.substr(0, first)}, {"name", scope.substr(first + 1, last - first - 1)}, {"actions", actions}});
    }
    long now = static_cast<long>(std::time(nullptr));
    nlohmann::json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"x5c", {cert_der_base64}}};
    nlohmann::json claims = {{"iss", "cascade-test-issuer"}, {"sub", subject}, {"aud", "cascade-test-registry"},
                             {"exp", now + 300}, {"nbf", now - 10}, {"iat", now}, {"jti", std::to_string(now) + subject},
                             {"access", access}};
    std::string input = base64(header.dump(), true) + "." + base64(claims.dump(), true);
    return input + "." + base64(sign(input), true);
  }
};

std::string url_decode(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

std::vector<std::string> query_values(const std::string& target, const std::string& name) {
  std::vector<std::string> values;
  auto query = target.substr(std::min(target.find('?'), target.size()));
  for (std::size_t at = 1; at < query.size();) {
    auto end = std::min(query.find('&', at), query.size());
    auto pair = query.substr(at, end - at);
    if (pair.rfind(name + "=", 0) == 0) values.push_back(url_decode(pair.substr(name.size() + 1)));
    at = end + 1;
  }
  return values;
}

}  // namespace

TEST_CASE("registry::Client with a token-auth docker-registry and a JWT token server") {
  TempDir dir;
  auto signing = cascade::test::make_certificate(dir.path(), "token", "DNS:token.cascade.test");
  TokenIssuer issuer(signing, dir);
  const std::string good = "Basic " + base64("bob:token-pass-7");
  ScriptedServer tokens([&](const Received& request) {
    std::string auth = request.header("authorization");
    if (!auth.empty() && auth != good) return Reply{401, {}, R"({"details":"bad credentials"})"};
    std::string subject = auth.empty() ? "" : "bob";
    std::vector<std::string> scopes = auth.empty() ? std::vector<std::string>{} : query_values(request.target, "scope");
    Reply reply;
    reply.body = nlohmann::json{{"token", issuer.token(scopes, subject)}, {"expires_in", 300}}.dump();
    return reply;
  });
  cascade::test::RegistryAuth auth;
  auth.token_realm = tokens.url("/token");
  auth.token_service = "cascade-test-registry";
  auth.token_issuer = "cascade-test-issuer";
  auth.token_rootcert = signing.cert;
  DockerRegistry server(auth);
  std::string host = server.host();
  std::string pushed = cascade::test::push_image(dir / "img", host, "team/app:1", {}, "bob:token-pass-7");
  registry::Options options = base_options(dir);
  options.registries = {{host, true, ""}, {tokens.host(), true, ""}};
  int before = tokens.requests();

  SUBCASE("Basic credentials buy a token with the repository scope; the token is cached") {
    write_auth_config(dir, host, "bob", "token-pass-7");
    registry::Client client(options);
    for (int i = 0; i < 3; ++i) {
      auto digest = client.resolve_digest(cascade::test::image_ref(host + "/team/app:1"));
      REQUIRE_MESSAGE(digest, (digest.error().str() + "\n" + server.log()));
      CHECK(*digest == pushed);
    }
    CHECK(client.inspect(cascade::test::image_ref(host + "/team/app:1")));
    CHECK(tokens.requests() - before == 1);
    Received asked = tokens.received().back();
    CHECK(asked.header("authorization") == good);
    CHECK(query_values(asked.target, "service") == std::vector<std::string>{"cascade-test-registry"});
    CHECK(query_values(asked.target, "scope") == std::vector<std::string>{"repository:team/app:pull"});
    CHECK(query_values(asked.target, "account") == std::vector<std::string>{"bob"});
  }
  SUBCASE("copy across repositories asks for push on the target and pull on the source") {
    write_auth_config(dir, host, "bob", "token-pass-7");
    registry::Client client(options);
    auto copied = client.copy(cascade::test::image_ref(host + "/team/app:1"), cascade::test::image_ref(host + "/team/copy:1"));
    REQUIRE_MESSAGE(copied, copied.error().str());
    CHECK(*copied == pushed);
    auto scopes = query_values(tokens.received().back().target, "scope");
    CHECK(std::find(scopes.begin(), scopes.end(), "repository:team/copy:pull,push") != scopes.end());
  }
  SUBCASE("anonymous gets a token without access: unauthorized after a fresh token") {
    registry::Client client(options);
    auto digest = client.resolve_digest(cascade::test::image_ref(host + "/team/app:1"));
    REQUIRE_FALSE(digest);
    CHECK(digest.error().kind == registry::ErrorKind::unauthorized);
    CHECK(digest.error().str().find("repository:team/app:pull") != std::string::npos);
    CHECK(digest.error().str().find("anonymous") != std::string::npos);
  }
  SUBCASE("wrong password: the token server refuses, the error never holds the password") {
    write_auth_config(dir, host, "bob", "wrong-pass-9");
    registry::Client client(options);
    auto digest = client.resolve_digest(cascade::test::image_ref(host + "/team/app:1"));
    REQUIRE_FALSE(digest);
    CHECK(digest.error().kind == registry::ErrorKind::unauthorized);
    CHECK(digest.error().str().find("token server " + tokens.host()) != std::string::npos);
    CHECK(digest.error().str().find("wrong-pass-9") == std::string::npos);
  }
  SUBCASE("a realm on plain http not marked insecure is refused") {
    write_auth_config(dir, host, "bob", "token-pass-7");
    options.registries = {{host, true, ""}};
    registry::Client client(options);
    auto digest = client.resolve_digest(cascade::test::image_ref(host + "/team/app:1"));
    REQUIRE_FALSE(digest);
    CHECK(digest.error().kind == registry::ErrorKind::invalid);
    CHECK(tokens.requests() == before);
  }
}

TEST_CASE("registry::Client over TLS") {
  TempDir dir;
  auto certificate = cascade::test::make_certificate(dir.path());
  DockerRegistry server({}, certificate);
  registry::Options options = base_options(dir);
  SUBCASE("verified with the registry's CA file") {
    options.registries = {{server.host(), false, certificate.cert}};
    registry::Client client(options);
    auto pinged = client.ping(server.host());
    CHECK_MESSAGE(pinged, pinged.error().str());
  }
  SUBCASE("refused without it: kind tls, not retried as transient") {
    registry::Client client(options);
    auto pinged = client.ping(server.host());
    REQUIRE_FALSE(pinged);
    CHECK(pinged.error().kind == registry::ErrorKind::tls);
    CHECK_FALSE(pinged.error().transient());
  }
}

TEST_CASE("registry::Client retries and timeouts") {
  TempDir dir;
  registry::Options options = base_options(dir);
  int calls = 0;
  SUBCASE("503 twice, then 200") {
    ScriptedServer server([&](const Received&) { return Reply{++calls <= 2 ? 503 : 200, {}, "{}"}; });
    options.registries = {{server.host(), true, ""}};
    registry::Client client(options);
    CHECK(client.ping(server.host()));
    CHECK(server.requests() == 3);
  }
  SUBCASE("429 with Retry-After: 0, then 200") {
    ScriptedServer server([&](const Received&) {
      return ++calls == 1 ? Reply{429, {{"Retry-After", "0"}}, R"({"errors":[{"code":"TOOMANYREQUESTS"}]})"} : Reply{200, {}, "{}"};
    });
    options.registries = {{server.host(), true, ""}};
    registry::Client client(options);
    CHECK(client.ping(server.host()));
    CHECK(server.requests() == 2);
  }
  SUBCASE("retries are bounded; the error is transient") {
    ScriptedServer server([&](const Received&) { return Reply{429, {{"Retry-After", "0"}}, R"({"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]})"}; });
    options.registries = {{server.host(), true, ""}};
    options.retry.attempts = 3;
    registry::Client client(options);
    auto pinged = client.ping(server.host());
    REQUIRE_FALSE(pinged);
    CHECK(pinged.error().kind == registry::ErrorKind::rate_limited);
    CHECK(pinged.error().code == "TOOMANYREQUESTS");
    CHECK(pinged.error().transient());
    CHECK(server.requests() == 3);
  }
  SUBCASE("a server that never answers: a network error within the timeout") {
    ScriptedServer server([](const Received&) {
      Reply reply;
      reply.hang = true;
      return reply;
    });
    options.registries = {{server.host(), true, ""}};
    options.io_timeout = std::chrono::milliseconds(200);
    options.retry.attempts = 1;
    registry::Client client(options);
    auto started = std::chrono::steady_clock::now();
    auto pinged = client.ping(server.host());
    REQUIRE_FALSE(pinged);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
    CHECK(pinged.error().kind == registry::ErrorKind::network);
    CHECK(pinged.error().message.find("timeout") != std::string::npos);
    CHECK(pinged.error().transient());
  }
}
