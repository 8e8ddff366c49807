// Which credential a git remote is offered: tokens scoped per host, git credential helpers,
// never anything over plain http; against a scripted HTTP server that asks for credentials.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "../src/git/credentials.hpp"
#include "cascade/git.hpp"
#include "registry_fixture.hpp"
#include "support.hpp"

namespace git = cascade::git;
namespace fixture = cascade::test;
namespace fs = std::filesystem;
namespace detail = cascade::git::detail;
using detail::Offer;

namespace {

// A server that answers every request "401, Basic auth please", as a private git host does.
fixture::ScriptedServer asking_server() {
  return fixture::ScriptedServer([](const fixture::Received&) {
    fixture::Reply reply;
    reply.status = 401;
    reply.headers = {{"WWW-Authenticate", "Basic realm=\"git\""}};
    reply.body = "authentication required";
    return reply;
  });
}

// A git configuration whose credential helper answers every host with user "helper" and
// password "helper-s3cret".
fs::path helper_config(const fs::path& dir) {
  fs::path config = dir / "gitconfig";
  std::ofstream(config) << "[credential]\n\thelper = \"!f() { echo username=helper; echo password=helper-s3cret; }; f\"\n";
  return config;
}

}  // namespace

TEST_CASE("git::Repository::clone_or_fetch never sends credentials over plain http") {
  fixture::TempDir tmp;
  auto server = asking_server();
  std::string url = "http://" + server.host() + "/org/repo.git";
  std::string cache = (tmp / "cache").string();
  cascade::test::ScopedVariable helper("GIT_CONFIG_GLOBAL", helper_config(tmp.path()).string());

  SUBCASE("the unscoped CASCADE_GIT_TOKEN is offered to no host") {
    cascade::test::ScopedVariable token("CASCADE_GIT_TOKEN", "unscoped-s3cret");
    auto clone = git::Repository::clone_or_fetch(url, cache);
    REQUIRE_FALSE(clone.has_value());
    CHECK(clone.error().message.find("s3cret") == std::string::npos);
  }
  SUBCASE("a token scoped to this host is refused over http, with a message saying so") {
    cascade::test::ScopedVariable token("CASCADE_GIT_TOKEN_127_0_0_1_" + std::to_string(server.port()), "scoped-s3cret");
    auto clone = git::Repository::clone_or_fetch(url, cache);
    REQUIRE_FALSE(clone.has_value());
    CHECK(clone.error().message.find("plain http") != std::string::npos);
    CHECK(clone.error().message.find("s3cret") == std::string::npos);
  }
  SUBCASE("credentials written in an http URL are refused before any request") {
    std::string with_password = "http://me:url-s3cret@" + server.host() + "/org/repo.git";
    auto clone = git::Repository::clone_or_fetch(with_password, cache);
    REQUIRE_FALSE(clone.has_value());
    CHECK(clone.error().message.find("plain http") != std::string::npos);
    CHECK(clone.error().message.find("s3cret") == std::string::npos);
  }
  REQUIRE(server.requests() >= 0);
  for (const auto& request : server.received()) {
    CAPTURE(request.target);
    CHECK(request.header("authorization").empty());
  }
}

TEST_CASE("git credentials: the variable scoped to a host") {
  CHECK(detail::token_variable("github.com", "") == "CASCADE_GIT_TOKEN_GITHUB_COM");
  CHECK(detail::token_variable("github.com", "443") == "CASCADE_GIT_TOKEN_GITHUB_COM");
  CHECK(detail::token_variable("git.example.com", "8443") == "CASCADE_GIT_TOKEN_GIT_EXAMPLE_COM_8443");
  CHECK(detail::token_variable("my-git.example.com", "") == "CASCADE_GIT_TOKEN_MY__GIT_EXAMPLE_COM");
  CHECK(detail::token_variable("127.0.0.1", "5000") == "CASCADE_GIT_TOKEN_127_0_0_1_5000");
  CHECK(detail::token_variable("[::1]", "") == "");
  CHECK(detail::token_variable("", "") == "");
  CHECK(detail::token_variable("a_b.com", "") == "");
  std::set<std::string> names;
  const std::vector<std::pair<std::string, std::string>> hosts = {
      {"github.com", ""},     {"github-com", ""},      {"github.com", "8443"}, {"git.hub.com", ""},
      {"git-hub.com", ""},    {"githubcom", ""},       {"a-b.c", ""},          {"a.b-c", ""},
      {"a--b.c", ""},         {"a-.b.c", ""},          {"gitlab.com", ""},     {"github.com.evil.com", ""}};
  for (const auto& [host, port] : hosts) {
    CAPTURE(host);
    CHECK(names.insert(detail::token_variable(host, port)).second);  // one variable per host
  }
}

TEST_CASE("git credentials: parse_http_url") {
  auto url = detail::parse_http_url("HTTPS://Me:pw@Git.Example.com:8443/org/repo.git?x=1#f");
  REQUIRE(url);
  CHECK(url->scheme == "https");
  CHECK(url->host == "git.example.com");
  CHECK(url->port == "8443");
  CHECK(url->path == "org/repo.git");
  CHECK(url->username == "Me");
  CHECK(url->has_password);
  auto plain = detail::parse_http_url("http://github.com/org/repo");
  REQUIRE(plain);
  CHECK(plain->scheme == "http");
  CHECK(plain->port.empty());
  CHECK_FALSE(plain->has_password);
  auto v6 = detail::parse_http_url("https://[::1]:8443/r");
  REQUIRE(v6);
  CHECK(v6->host == "[::1]");
  CHECK(v6->port == "8443");
  for (const char* other : {"ssh://git@github.com/org/repo", "git@github.com:org/repo.git", "file:///srv/repo",
                            "/srv/repo", "https://", "https://host:port/x", "https://[::1/x", "https://h:1x/"}) {
    CAPTURE(std::string(other));
    CHECK_FALSE(detail::parse_http_url(other));
  }
}

TEST_CASE("git credentials: decide, for every URL shape and every state") {
  const std::map<std::string, std::string> environment = {
      {"CASCADE_GIT_TOKEN_GITHUB_COM", "gh-token"},
      {"CASCADE_GIT_TOKEN_GIT_EXAMPLE_COM_8443", "example-token"},
      {"CASCADE_GIT_TOKEN_EMPTY_EXAMPLE_COM", ""},
      {"CASCADE_GIT_TOKEN", "legacy-token"}};
  detail::Lookup env = [&](const std::string& name) -> std::optional<std::string> {
    auto found = environment.find(name);
    return found == environment.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
  auto decide = [&](const std::string& url, const detail::Attempts& tried, bool helper, std::string user = "") {
    return detail::decide(url, user, tried, env, helper);
  };

  SUBCASE("https: the host's own token first, with the user from the URL or x-access-token") {
    auto first = decide("https://github.com/org/repo.git", {}, true);
    CHECK(first.offer == Offer::token);
    CHECK(first.variable == "CASCADE_GIT_TOKEN_GITHUB_COM");
    CHECK(first.username == "x-access-token");
    CHECK(decide("https://GitHub.com:443/org/repo", {}, false, "me").username == "me");
    CHECK(decide("https://git.example.com:8443/r", {}, false).variable == "CASCADE_GIT_TOKEN_GIT_EXAMPLE_COM_8443");
  }
  SUBCASE("then the helper, then a refusal saying the credentials were rejected") {
    CHECK(decide("https://github.com/r", {true, false, true}, true).offer == Offer::helper);
    auto rejected = decide("https://github.com/r", {true, true, true}, true);
    CHECK(rejected.offer == Offer::refuse);
    CHECK(rejected.message.find("rejected") != std::string::npos);
    CHECK(decide("https://github.com/r", {true, false, true}, false).offer == Offer::refuse);
  }
  SUBCASE("no token is offered to any other host, nor another port, whatever else is set") {
    for (const char* url : {"https://gitlab.com/r", "https://github.com.evil.com/r", "https://evilgithub.com/r",
                            "https://github.com:8443/r", "https://git.example.com/r", "https://github-com/r",
                            "https://empty.example.com/r", "https://[::1]/r"}) {
      CAPTURE(std::string(url));
      for (bool helper : {false, true}) {
        auto decision = decide(url, {}, helper);
        CHECK(decision.offer == (helper ? Offer::helper : Offer::refuse));
        CHECK(decision.variable.empty());
      }
    }
  }
  SUBCASE("nothing to offer: the message names the variable to set and the unscoped one's new meaning") {
    auto none = decide("https://gitlab.com/r", {}, false);
    CHECK(none.offer == Offer::refuse);
    CHECK(none.message.find("CASCADE_GIT_TOKEN_GITLAB_COM") != std::string::npos);
    CHECK(none.message.find("no longer offered to every host") != std::string::npos);
    CHECK(none.message.find("token") != std::string::npos);
  }
  SUBCASE("plain http and non-http remotes: refused in every state, the message never holds a token") {
    for (const char* url : {"http://github.com/org/repo", "HTTP://github.com:80/r", "http://127.0.0.1:8080/r",
                            "ssh://git@github.com/r", "git@github.com:org/repo.git", "file:///srv/r", ""}) {
      for (int state = 0; state < 8; ++state) {
        detail::Attempts tried{(state & 1) != 0, (state & 2) != 0, (state & 4) != 0};
        for (bool helper : {false, true}) {
          CAPTURE(std::string(url));
          CAPTURE(state);
          auto decision = decide(url, tried, helper);
          CHECK(decision.offer == Offer::refuse);
          CHECK(decision.message.find("-token") == std::string::npos);
          if (std::string(url).starts_with("http") || std::string(url).starts_with("HTTP"))
            CHECK(decision.message.find("plain http") != std::string::npos);
        }
      }
    }
  }
}

TEST_CASE("git credentials: git credential fill as a source") {
  fixture::TempDir tmp;
  fs::path request = tmp / "request";
  fs::path environment = tmp / "environment";
  fs::path config = tmp / "gitconfig";
  std::ofstream(config) << "[credential]\n\thelper = \"!f() { cat > " << request.string() << "; env > "
                        << environment.string() << "; echo username=helper; echo password=helper-s3cret; }; f\"\n";
  cascade::test::ScopedVariable global("GIT_CONFIG_GLOBAL", config.string());
  cascade::test::ScopedVariable no_system("GIT_CONFIG_NOSYSTEM", "1");
  cascade::test::ScopedVariable token("CASCADE_GIT_TOKEN_GIT_EXAMPLE_COM_8443", "scoped-s3cret");

  SUBCASE("an https URL: the helper's answer, the request on stdin, no secret in its environment") {
    auto found = detail::credential_from_helper("https://git.example.com:8443/org/repo.git", "me");
    REQUIRE(found);
    CHECK(found->username == "helper");
    CHECK(found->password == "helper-s3cret");
    std::string sent = fixture::read_file(request);
    CHECK(sent.find("protocol=https\n") != std::string::npos);
    CHECK(sent.find("host=git.example.com:8443\n") != std::string::npos);
    CHECK(sent.find("username=me\n") != std::string::npos);
    std::string seen = fixture::read_file(environment);
    CHECK(seen.find("scoped-s3cret") == std::string::npos);
    CHECK(seen.find("GIT_TERMINAL_PROMPT=0") != std::string::npos);
  }
  SUBCASE("never for http, nor for a URL that would write its own lines into the request") {
    CHECK_FALSE(detail::credential_from_helper("http://git.example.com/org/repo.git", ""));
    CHECK_FALSE(detail::credential_from_helper("https://git.example.com/org\nhost=evil.com/repo.git", ""));
    CHECK_FALSE(detail::credential_from_helper("https://git.example.com/r", "me\nhost=evil.com"));
    CHECK_FALSE(fs::exists(request));
  }
  SUBCASE("no helper configured: nothing, at once, without a prompt") {
    std::ofstream(config, std::ios::trunc) << "";
    auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(detail::credential_from_helper("https://git.example.com/r", ""));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  }
}
