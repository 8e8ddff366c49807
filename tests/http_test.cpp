// http::Client against real peers on 127.0.0.1: a scripted Beast server and docker-registry
// serving TLS with a certificate made by openssl.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "cascade/http.hpp"
#include "registry_fixture.hpp"

using cascade::http::Client;
using cascade::http::Options;
using cascade::http::Request;
using cascade::test::Received;
using cascade::test::Reply;
using cascade::test::ScriptedServer;

namespace {

Options insecure_for(const ScriptedServer& server, Options options = {}) {
  options.hosts[server.host()].insecure = true;
  return options;
}

Request get(const std::string& url) { return Request{"GET", url, {}, {}}; }

Reply echo(const Received& request) {
  Reply reply;
  reply.headers = {{"X-Method", request.method}, {"X-Target", request.target}, {"X-Auth", request.header("authorization")}};
  reply.body = request.body;
  return reply;
}

}  // namespace

TEST_CASE("http::Client talks HTTP/1.1 to a plain server") {
  ScriptedServer server(echo);
  Client client(insecure_for(server));

  SUBCASE("method, target, headers and body arrive; status, headers and body come back") {
    Request request{"POST", server.url("/upload?x=1"), {}, "payload"};
    request.headers.add("Content-Type", "text/plain");
    auto response = client.request(request);
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->body == "payload");
    CHECK(response->headers.get("x-method") == "POST");
    CHECK(response->headers.get("X-TARGET") == "/upload?x=1");
    CHECK(server.received().back().header("content-type") == "text/plain");
    CHECK(server.received().back().header("host") == server.host());
    CHECK(response->url == server.url("/upload?x=1"));
  }
  SUBCASE("HEAD reads no body") {
    auto response = client.request(Request{"HEAD", server.url("/h"), {}, {}});
    REQUIRE(response);
    CHECK(response->body.empty());
    CHECK(response->headers.get("Content-Length") == "0");
  }
  SUBCASE("sequential requests reuse one kept-alive connection") {
    for (int i = 0; i < 5; ++i) REQUIRE(client.request(get(server.url("/k"))));
    CHECK(server.connections() == 1);
    CHECK(client.connections_opened() == 1);
  }
  SUBCASE("many threads at once") {
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 16; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 25; ++i) {
          auto response = client.request(get(server.url("/t")));
          if (response && response->status == 200) ++ok;
        }
      });
    for (auto& thread : threads) thread.join();
    CHECK(ok == 400);
    CHECK(server.connections() <= 16);
  }
}

TEST_CASE("http::Client pool") {
  SUBCASE("open connections per host stay under the cap; other requests wait") {
    ScriptedServer server([](const Received& request) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return echo(request);
    });
    Options options;
    options.connections_per_host = 2;
    Client client(insecure_for(server, options));
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 3; ++i) ok += client.request(get(server.url("/p"))) ? 1 : 0;
      });
    for (auto& thread : threads) thread.join();
    CHECK(ok == 24);
    CHECK(server.connections() <= 2);
  }
  SUBCASE("a kept-alive connection the server dropped is replaced without an error") {
    ScriptedServer server([](const Received& request) {
      Reply reply = echo(request);
      reply.drop = true;
      return reply;
    });
    Client client(insecure_for(server));
    for (int i = 0; i < 3; ++i) {
      auto response = client.request(get(server.url("/d")));
      REQUIRE_MESSAGE(response, response.error().str());
    }
    CHECK(server.connections() == 3);
  }
  SUBCASE("Connection: close is honoured") {
    ScriptedServer server([](const Received& request) {
      Reply reply = echo(request);
      reply.close = true;
      return reply;
    });
    Client client(insecure_for(server));
    for (int i = 0; i < 2; ++i) REQUIRE(client.request(get(server.url("/c"))));
    CHECK(server.connections() == 2);
  }
}

TEST_CASE("http::Client redirects") {
  ScriptedServer other(echo);
  ScriptedServer server([&](const Received& request) {
    Reply reply;
    if (request.target == "/same") reply = {307, {{"Location", "/final"}}, ""};
    else if (request.target == "/cross") reply = {307, {{"Location", "http://localhost:" + std::to_string(other.port()) + "/there"}}, ""};
    else if (request.target == "/see-other") reply = {303, {{"Location", "/final"}}, ""};
    else if (request.target == "/loop") reply = {302, {{"Location", "/loop"}}, ""};
    else reply = echo(request);
    return reply;
  });
  Options options = insecure_for(server);
  options.hosts["localhost:" + std::to_string(other.port())].insecure = true;
  Client client(options);
  Request request = get(server.url("/same"));
  request.headers.add("Authorization", "Bearer secret-token");

  SUBCASE("same host keeps Authorization, relative Location resolved") {
    auto response = client.request(request);
    REQUIRE(response);
    CHECK(response->headers.get("X-Target") == "/final");
    CHECK(response->headers.get("X-Auth") == "Bearer secret-token");
    CHECK(response->url == server.url("/final"));
  }
  SUBCASE("another host never gets Authorization") {
    request.url = server.url("/cross");
    auto response = client.request(request);
    REQUIRE(response);
    CHECK(response->headers.get("X-Target") == "/there");
    CHECK(response->headers.get("X-Auth") == "");
    CHECK(other.received().at(0).header("authorization").empty());
  }
  SUBCASE("303 turns a POST into a GET without body") {
    Request post{"POST", server.url("/see-other"), {}, "data"};
    auto response = client.request(post);
    REQUIRE(response);
    CHECK(response->headers.get("X-Method") == "GET");
    CHECK(response->body.empty());
  }
  SUBCASE("redirects are bounded") {
    auto response = client.request(get(server.url("/loop")));
    REQUIRE_FALSE(response);
    CHECK(response.error().step == "redirect");
    CHECK(server.requests() == options.max_redirects + 1);
  }
}

TEST_CASE("http::Client failures name the step and host") {
  SUBCASE("plain http to a host not marked insecure is refused before connecting") {
    ScriptedServer server(echo);
    Client client;
    auto response = client.request(get(server.url("/")));
    REQUIRE_FALSE(response);
    CHECK(response.error().step == "url");
    CHECK(response.error().host == server.host());
    CHECK(server.connections() == 0);
  }
  SUBCASE("a server that never answers times out quickly") {
    ScriptedServer server([](const Received&) {
      Reply reply;
      reply.hang = true;
      return reply;
    });
    Options options;
    options.read_timeout = std::chrono::milliseconds(200);
    Client client(insecure_for(server, options));
    auto started = std::chrono::steady_clock::now();
    auto response = client.request(get(server.url("/slow")));
    auto took = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(response);
    CHECK(response.error().step == "timeout");
    CHECK(response.error().message.find("read") != std::string::npos);
    CHECK(took < std::chrono::seconds(2));
  }
  SUBCASE("body limit") {
    ScriptedServer server([](const Received&) { return Reply{200, {}, std::string(5000, 'x')}; });
    Options options;
    options.body_limit = 1000;
    Client client(insecure_for(server, options));
    auto response = client.request(get(server.url("/big")));
    REQUIRE_FALSE(response);
    CHECK(response.error().step == "read");
    CHECK(response.error().message.find("body exceeds 1000 bytes") != std::string::npos);
  }
  SUBCASE("nobody listening: connect") {
    int port = cascade::test::free_port();
    Options options;
    options.hosts["127.0.0.1:" + std::to_string(port)].insecure = true;
    Client client(options);
    auto response = client.request(get("http://127.0.0.1:" + std::to_string(port) + "/"));
    REQUIRE_FALSE(response);
    CHECK(response.error().step == "connect");
    CHECK(response.error().host == "127.0.0.1:" + std::to_string(port));
  }
  SUBCASE("unknown host: resolve") {
    Options options;
    options.resolve_timeout = std::chrono::milliseconds(2000);
    Client client(options);
    auto response = client.request(get("https://no-such-host.invalid/v2/"));
    REQUIRE_FALSE(response);
    CHECK((response.error().step == "resolve" || response.error().step == "timeout"));
  }
  SUBCASE("not a URL") {
    Client client;
    auto response = client.request(get("ftp://example.com/x"));
    REQUIRE_FALSE(response);
    CHECK(response.error().step == "url");
  }
}

TEST_CASE("http::Client gives up on a peer that never answers: at the request's deadline, at a stop") {
  ScriptedServer server([](const Received&) {
    Reply reply;
    reply.hang = true;
    return reply;
  });
  std::stop_source stop;
  Options options;  // the default step timeouts (30 s reads): the deadline and the stop end it first
  options.stop = stop.get_token();
  Client client(insecure_for(server, options));
  auto seconds_since = [](std::chrono::steady_clock::time_point started) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };

  SUBCASE("the deadline ends the request, whatever the step timeouts say") {
    auto started = std::chrono::steady_clock::now();
    Request request = get(server.url("/slow"));
    request.deadline = started + std::chrono::seconds(1);
    auto response = client.request(request);
    REQUIRE_FALSE(response);
    CHECK(response.error().step == "timeout");
    CHECK(response.error().host == server.host());
    CHECK(seconds_since(started) < 10);  // generous: the deadline is 1 s, the read timeout 30 s
    // Past its deadline a request does not start.
    request.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    CHECK(client.request(request).error().step == "timeout");
  }
  SUBCASE("a stop from another thread ends a running request; later ones fail before connecting") {
    auto started = std::chrono::steady_clock::now();
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      stop.request_stop();
    });
    auto response = client.request(get(server.url("/slow")));
    stopper.join();
    REQUIRE_FALSE(response);
    CHECK(response.error().step == "cancelled");
    CHECK(seconds_since(started) < 10);
    auto connections = server.connections();
    CHECK(client.request(get(server.url("/again"))).error().step == "cancelled");
    CHECK(server.connections() == connections);
  }
}

TEST_CASE("http::Client streams a 2xx body to a sink") {
  std::string big(3u << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  ScriptedServer server([&](const Received& request) {
    if (request.target == "/missing") return Reply{404, {}, "no such blob"};
    return Reply{200, {}, big};
  });
  Options options;
  options.body_limit = 1000;  // applies to kept bodies only
  Client client(insecure_for(server, options));

  SUBCASE("past the body limit, in chunks, in order, nothing kept in the response") {
    std::string received;
    std::size_t chunks = 0;
    Request request = get(server.url("/blob"));
    request.body_sink = [&](std::string_view chunk) {
      received.append(chunk);
      ++chunks;
      return true;
    };
    auto response = client.request(request);
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->body.empty());
    CHECK(received == big);
    CHECK(chunks > 1);
  }
  SUBCASE("a sink that stops the transfer fails the request") {
    Request request = get(server.url("/blob"));
    request.body_sink = [](std::string_view) { return false; };
    auto response = client.request(request);
    REQUIRE_FALSE(response);
    CHECK(response.error().message.find("stopped by the reader") != std::string::npos);
  }
  SUBCASE("another status is read into the response as usual, under the limit") {
    bool called = false;
    Request request = get(server.url("/missing"));
    request.body_sink = [&](std::string_view) { return called = true; };
    auto response = client.request(request);
    REQUIRE(response);
    CHECK(response->status == 404);
    CHECK(response->body == "no such blob");
    CHECK_FALSE(called);
  }
}

TEST_CASE("http::Client TLS against docker-registry") {
  cascade::test::TempDir dir;
  auto certificate = cascade::test::make_certificate(dir.path());
  cascade::test::DockerRegistry registry({}, certificate);
  std::string url = "https://" + registry.host() + "/v2/";

  SUBCASE("verified with the CA file given for the host") {
    Options options;
    options.hosts[registry.host()].ca_file = certificate.cert;
    Client client(options);
    auto response = client.request(get(url));
    REQUIRE_MESSAGE(response, response.error().str());
    CHECK(response->status == 200);
  }
  SUBCASE("refused against the system roots") {
    Client client;
    auto response = client.request(get(url));
    REQUIRE_FALSE(response);
    CHECK(response.error().step == "handshake");
    CHECK(response.error().certificate);
    CHECK(response.error().message.find("self-signed") != std::string::npos);
  }
  SUBCASE("refused when the certificate names another host") {
    auto elsewhere = cascade::test::make_certificate(dir.path(), "elsewhere", "DNS:registry.example.com");
    cascade::test::DockerRegistry misnamed({}, elsewhere);
    Options options;
    options.hosts[misnamed.host()].ca_file = elsewhere.cert;
    Client client(options);
    auto response = client.request(get("https://" + misnamed.host() + "/v2/"));
    REQUIRE_FALSE(response);
    CHECK(response.error().certificate);
  }
  SUBCASE("insecure hosts skip verification") {
    Options options;
    options.hosts[registry.host()].insecure = true;
    Client client(options);
    auto response = client.request(get(url));
    REQUIRE_MESSAGE(response, response.error().str());
    CHECK(response->status == 200);
  }
  SUBCASE("a CA file that does not exist fails the handshake step") {
    Options options;
    options.hosts[registry.host()].ca_file = (dir.path() / "missing.pem").string();
    Client client(options);
    auto response = client.request(get(url));
    REQUIRE_FALSE(response);
    CHECK(response.error().step == "handshake");
  }
}

TEST_CASE("http::redact_url drops user info and query") {
  CHECK(cascade::http::redact_url("https://user:pw@auth.example.com/token?scope=x&password=y") ==
        "https://auth.example.com/token");
}
