// http::Server's bounds on 127.0.0.1: the connection limit (clamped to the descriptor limit,
// a 503 over it), idle connections under pressure, and what a handler learns of its request
// (local address, deadline, abandoned when answered, timed out or the client left).
#include <sys/resource.h>

#include "http_server_support.hpp"

using namespace http_server_test;

TEST_CASE("http::Server max_connections") {
  Echo echo;
  ServerOptions options;
  options.max_connections = 2;
  auto server = start(options, echo.handler());
  Raw first(server->port());
  Raw second(server->port());
  REQUIRE(eventually([&] { return server->connections() == 2; }));

  Raw third(server->port());  // accepted, answered 503 and closed (not silently dropped)
  third.send("GET /3 HTTP/1.1\r\nHost: x\r\n\r\n");
  bool closed = false;
  std::string refused = third.read_to_close(&closed);
  CHECK(starts_with(refused, "HTTP/1.1 503"));
  CHECK(contains(refused, "Retry-After: 1"));
  CHECK(contains(refused, "too many connections"));
  CHECK(closed);
  CHECK(server->connections() == 2);
  first.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(contains(first.read_response(), "GET /1"));
  CHECK(echo.calls == 1);

  second.send("GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(contains(second.read_to_close(), "GET /2"));
  REQUIRE(eventually([&] { return server->connections() == 1; }));
  Raw fourth(server->port());
  fourth.send("GET /4 HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(contains(fourth.read_response(), "GET /4"));
}

TEST_CASE("http::Server connection bounds") {
  SUBCASE("max_connections is clamped to the descriptor limit less a reserve of max(64, a quarter)") {
    rlimit saved{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    REQUIRE(saved.rlim_cur >= 512);
    rlimit lowered = saved;
    lowered.rlim_cur = 512;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
    std::size_t default_limit = cascade::http::connection_limit(ServerOptions{}.max_connections);
    std::size_t small = cascade::http::connection_limit(100);
    lowered.rlim_cur = 200;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
    std::size_t tiny = cascade::http::connection_limit(10'000);
    Echo echo;
    ServerOptions options;
    auto server = start(options, echo.handler());
    std::size_t started = server->max_connections();
    REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
    CHECK(default_limit == 384);  // 512 - 128
    CHECK(small == 100);
    CHECK(tiny == 136);  // 200 - 64
    CHECK(started == 136);
  }
  SUBCASE("over half the limit open, idle connections are closed after busy_idle_timeout") {
    Echo echo;
    ServerOptions options;
    options.max_connections = 4;
    options.idle_timeout = 60s;
    options.busy_idle_timeout = 300ms;
    auto server = start(options, echo.handler());
    Raw first(server->port());
    first.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(contains(first.read_response(), "GET /1"));
    Raw second(server->port());
    second.send("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(contains(second.read_response(), "GET /2"));
    Raw third(server->port());  // 3 of 4: under pressure
    bool closed[3] = {false, false, false};
    CHECK(first.read_to_close(&closed[0]).empty());   // Raw gives up after 5 s: far below idle_timeout
    CHECK(second.read_to_close(&closed[1]).empty());
    CHECK(third.read_to_close(&closed[2]).empty());
    CHECK(closed[0]);
    CHECK(closed[1]);
    CHECK(closed[2]);
    CHECK(eventually([&] { return server->connections() == 0; }, 10s));
    Raw calm(server->port());  // 1 of 4: idle_timeout again
    calm.send("GET /calm HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(contains(calm.read_response(), "GET /calm"));
    std::this_thread::sleep_for(1s);
    CHECK(server->connections() == 1);
  }
}

TEST_CASE("http::Server tells the handler the local address, the deadline and whether the request is abandoned") {
  ServerOptions options;
  options.handler_timeout = 300ms;
  std::mutex mutex;
  std::function<bool()> abandoned;
  std::optional<bool> abandoned_in_handler;
  std::string local;
  Clock::time_point deadline;
  auto called = Clock::now();
  auto server = start(options, [&](ServerRequest&& request, Respond) {
    std::lock_guard lock(mutex);
    abandoned = request.abandoned;
    abandoned_in_handler = abandoned && abandoned();
    local = request.local;
    deadline = request.deadline;
    called = Clock::now();
  });
  Client client = make_client();
  auto response = client.request(Request{"GET", url(*server, "/never"), {}, {}});
  REQUIRE(response);
  CHECK(response->status == 503);
  std::lock_guard lock(mutex);
  REQUIRE(abandoned);
  CHECK(abandoned_in_handler == false);
  CHECK(abandoned());  // answered 503: work for it is wasted
  CHECK(local == "127.0.0.1");
  CHECK(deadline > called);
  CHECK(deadline <= called + 300ms);
}

TEST_CASE("http::Server: a client that closes while its handler works abandons the request") {
  ServerOptions options;
  options.handler_timeout = 30s;
  std::mutex mutex;
  std::vector<std::function<bool()>> abandoned;
  std::vector<Respond> parked;
  auto server = start(options, [&](ServerRequest&& request, Respond respond) {
    std::lock_guard lock(mutex);
    abandoned.push_back(request.abandoned);
    parked.push_back(std::move(respond));
  });
  {
    Raw raw(server->port());
    raw.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(eventually([&] {
      std::lock_guard lock(mutex);
      return abandoned.size() == 1;
    }));
    std::lock_guard lock(mutex);
    CHECK_FALSE(abandoned[0]());
  }  // closed
  CHECK(eventually([&] {
    std::lock_guard lock(mutex);
    return abandoned[0]();
  }, 10s));  // long before handler_timeout
  CHECK(eventually([&] { return server->connections() == 0; }, 10s));
  // A client that stays gets its answer, and pipelined bytes do not count as leaving.
  Raw stays(server->port());
  stays.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(eventually([&] {
    std::lock_guard lock(mutex);
    return abandoned.size() == 2;
  }));
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard lock(mutex);
    CHECK_FALSE(abandoned[1]());
    parked[1](ServerResponse::text(200, "answered"));
  }
  CHECK(contains(stays.read_response(), "answered"));
}

