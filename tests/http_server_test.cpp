// http::Server on 127.0.0.1 (port 0), driven by http::Client and, where the client cannot
// say it (Connection: close, HTTP/1.0, half requests, pipelining, garbage), by plain POSIX
// sockets with a receive timeout so no test can hang.
#include "http_server_support.hpp"

using namespace http_server_test;

TEST_CASE("http::Server serves requests") {
  std::mutex mutex;
  std::optional<ServerRequest> seen;
  auto server = start({}, [&](ServerRequest&& request, Respond respond) {
    ServerResponse response = ServerResponse::json(201, "{\"echo\":\"" + request.body + "\"}");
    response.headers.set("X-Path", request.path);
    response.headers.set("Content-Length", "999");  // the server's own framing wins
    {
      std::lock_guard lock(mutex);
      seen = std::move(request);
    }
    respond(std::move(response));
  });
  Client client = make_client();

  SUBCASE("GET: method, raw target, decoded path and query, headers and remote reach the handler") {
    Request request{"GET", url(*server, "/a%20b/c?x=1&y=hello%20world&y=last&z=a+b&empty="), {}, {}};
    request.headers.add("X-Test", "value");
    auto response = client.request(request);
    REQUIRE(response);
    CHECK(response->status == 201);
    CHECK(response->headers.get("X-Path") == "/a b/c");
    CHECK(response->headers.get("Server") == "cascade");
    CHECK(response->headers.get("Content-Type") == "application/json");
    CHECK(response->headers.get("Content-Length") == std::to_string(response->body.size()));
    std::lock_guard lock(mutex);
    REQUIRE(seen);
    CHECK(seen->method == "GET");
    CHECK(seen->target == "/a%20b/c?x=1&y=hello%20world&y=last&z=a+b&empty=");
    CHECK(seen->path == "/a b/c");
    CHECK(seen->query.size() == 4);
    CHECK(seen->query["x"] == "1");
    CHECK(seen->query["y"] == "last");
    CHECK(seen->query["z"] == "a b");
    CHECK(seen->query["empty"] == "");
    CHECK(seen->headers.get("x-test") == "value");
    CHECK(seen->body.empty());
    CHECK(starts_with(seen->remote, "127.0.0.1:"));
    CHECK(seen->remote.size() > std::string("127.0.0.1:").size());
  }
  SUBCASE("POST: the body goes in and comes back") {
    std::string body(1000, 'x');
    auto response = client.request(Request{"POST", url(*server, "/hooks/generic"), {}, body});
    REQUIRE(response);
    CHECK(response->body == "{\"echo\":\"" + body + "\"}");
    std::lock_guard lock(mutex);
    CHECK(seen->method == "POST");
    CHECK(seen->body == body);
    CHECK(seen->query.empty());
  }
  SUBCASE("keep-alive: many requests over one connection") {
    for (int i = 0; i < 50; ++i) {
      auto response = client.request(Request{"POST", url(*server, "/k"), {}, std::to_string(i)});
      REQUIRE(response);
      CHECK(response->body == "{\"echo\":\"" + std::to_string(i) + "\"}");
    }
    CHECK(client.connections_opened() == 1);
    CHECK(server->connections() == 1);
  }
  SUBCASE("HEAD: the GET answer's headers with its Content-Length, and no body") {
    auto head = client.request(Request{"HEAD", url(*server, "/h"), {}, {}});
    REQUIRE(head);
    CHECK(head->status == 201);
    CHECK(head->body.empty());
    CHECK(head->headers.get("Content-Length") == "11");  // {"echo":""}
    auto get = client.request(Request{"GET", url(*server, "/h"), {}, {}});
    REQUIRE(get);
    CHECK(get->body == "{\"echo\":\"\"}");
    CHECK(client.connections_opened() == 1);  // no stray body bytes broke the connection
  }
}

TEST_CASE("http::Server keep-alive rules") {
  Echo echo;
  auto server = start({}, echo.handler());

  SUBCASE("Connection: close is answered with Connection: close, then the server closes") {
    Raw raw(server->port());
    raw.send("GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    bool closed = false;
    std::string text = raw.read_to_close(&closed);
    CHECK(starts_with(text, "HTTP/1.1 200"));
    CHECK(contains(text, "Connection: close\r\n"));
    CHECK(contains(text, "GET /c "));
    CHECK(closed);
    CHECK(eventually([&] { return server->connections() == 0; }));
  }
  SUBCASE("a handler's Connection: close closes after its answer") {
    Raw raw(server->port());
    raw.send("GET /bye HTTP/1.1\r\nHost: x\r\n\r\n");
    bool closed = false;
    std::string text = raw.read_to_close(&closed);
    CHECK(contains(text, "Connection: close\r\n"));
    CHECK(closed);
  }
  SUBCASE("HTTP/1.0 without keep-alive closes after the answer") {
    Raw raw(server->port());
    raw.send("GET /old HTTP/1.0\r\n\r\n");
    bool closed = false;
    std::string text = raw.read_to_close(&closed);
    CHECK(starts_with(text, "HTTP/1.0 200"));
    CHECK(contains(text, "Content-Length: 9\r\n"));
    CHECK(closed);
  }
  SUBCASE("HTTP/1.0 with Connection: keep-alive stays open") {
    Raw raw(server->port());
    raw.send("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    std::string first = raw.read_response();
    CHECK(contains(first, "Connection: keep-alive\r\n"));
    raw.send("GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(contains(raw.read_response(), "GET /2 "));
    CHECK(echo.calls == 2);
  }
  SUBCASE("pipelined requests are answered in order") {
    Raw raw(server->port());
    raw.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\nPOST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody");
    CHECK(contains(raw.read_response(), "GET /first "));
    CHECK(contains(raw.read_response(), "POST /second body"));
  }
  SUBCASE("Expect: 100-continue gets an interim answer before the body is sent") {
    Raw raw(server->port());
    raw.send("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    CHECK(starts_with(raw.read_response(), "HTTP/1.1 100 Continue"));
    raw.send("hello");
    CHECK(contains(raw.read_response(), "POST /e hello"));
  }
}

TEST_CASE("http::Server refuses bad requests without calling the handler") {
  Echo echo;
  ServerOptions options;
  options.body_limit = 1024;
  options.header_limit = 1024;
  auto server = start(options, echo.handler());

  SUBCASE("a body over the limit by Content-Length: 413 and the connection closed") {
    Client client = make_client();
    auto response = client.request(Request{"POST", url(*server, "/big"), {}, std::string(4096, 'b')});
    REQUIRE(response);
    CHECK(response->status == 413);
    CHECK(response->headers.get("Connection") == "close");
    CHECK(contains(response->body, "1024"));
    auto small = client.request(Request{"POST", url(*server, "/small"), {}, std::string(1024, 's')});
    REQUIRE(small);
    CHECK(small->status == 200);
    CHECK(echo.calls == 1);
    CHECK(client.connections_opened() == 2);
  }
  SUBCASE("a chunked body that grows over the limit: 413") {
    Raw raw(server->port());
    std::string chunk(600, 'c');
    raw.send("POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n" + chunk + "\r\n258\r\n" +
             chunk + "\r\n0\r\n\r\n");
    bool closed = false;
    std::string text = raw.read_to_close(&closed);
    CHECK(starts_with(text, "HTTP/1.1 413"));
    CHECK(closed);
  }
  SUBCASE("a chunked body under the limit is reassembled") {
    Raw raw(server->port());
    raw.send("POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    CHECK(contains(raw.read_response(), "POST /chunked abcde"));
    CHECK(echo.calls == 1);
  }
  SUBCASE("a head over the limit: 431") {
    Client client = make_client();
    Request request{"GET", url(*server, "/h"), {}, {}};
    request.headers.add("X-Large", std::string(2000, 'h'));
    auto response = client.request(request);
    REQUIRE(response);
    CHECK(response->status == 431);
  }
  SUBCASE("a malformed request line: 400 with the reason") {
    Raw raw(server->port());
    raw.send("GET /x HTTX/1.1\r\nHost: x\r\n\r\n");
    bool closed = false;
    std::string text = raw.read_to_close(&closed);
    CHECK(starts_with(text, "HTTP/1.1 400"));
    CHECK(contains(text, "bad version"));
    CHECK(closed);
  }
  SUBCASE("a bad Content-Length: 400") {
    Raw raw(server->port());
    raw.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n");
    std::string text = raw.read_to_close();
    CHECK(starts_with(text, "HTTP/1.1 400"));
    CHECK(contains(text, "bad Content-Length"));
  }
  SUBCASE("a target that is not a path: 400") {
    Raw raw(server->port());
    raw.send("GET a|b HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(starts_with(raw.read_to_close(), "HTTP/1.1 400"));
  }
  CHECK(echo.calls <= 1);
}

TEST_CASE("http::Server deadlines") {
  Echo echo;
  ServerOptions options;
  options.read_timeout = 200ms;
  options.idle_timeout = 300ms;
  auto server = start(options, echo.handler());

  SUBCASE("a client that sends half a request is answered 408 and cut at read_timeout") {
    Raw raw(server->port());
    auto begin = Clock::now();
    raw.send("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    bool closed = false;
    std::string text = raw.read_to_close(&closed);
    auto elapsed = millis_since(begin);
    CHECK(starts_with(text, "HTTP/1.1 408"));
    CHECK(closed);
    CHECK(elapsed >= 180);
    CHECK(elapsed < 2000);
    CHECK(echo.calls == 0);
  }
  SUBCASE("trickling bytes does not extend read_timeout") {
    Raw raw(server->port());
    auto begin = Clock::now();
    raw.send("GET /trickle HTTP/1.1\r\n");
    for (int i = 0; i < 5; ++i) {
      std::this_thread::sleep_for(60ms);
      raw.send("X-A: b\r\n");
    }
    std::string text = raw.read_to_close();
    CHECK(starts_with(text, "HTTP/1.1 408"));
    CHECK(millis_since(begin) < 1000);
    CHECK(echo.calls == 0);
  }
  SUBCASE("an idle kept-alive connection is closed after idle_timeout, not before") {
    Raw raw(server->port());
    raw.send("GET /once HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(contains(raw.read_response(), "GET /once"));
    auto begin = Clock::now();
    REQUIRE(server->connections() == 1);
    bool closed = false;
    CHECK(raw.read_to_close(&closed).empty());
    auto elapsed = millis_since(begin);
    CHECK(closed);
    CHECK(elapsed >= 250);
    CHECK(elapsed < 2000);
    CHECK(eventually([&] { return server->connections() == 0; }));
  }
  SUBCASE("a connection that never sends is closed silently at read_timeout") {
    Raw raw(server->port());
    bool closed = false;
    CHECK(raw.read_to_close(&closed).empty());
    CHECK(closed);
  }
}

TEST_CASE("http::Server answers given later from another thread") {
  ServerOptions options;
  options.handler_timeout = 300ms;
  std::mutex mutex;
  std::vector<std::thread> workers;
  std::vector<Respond> parked;  // never answered by the handler
  std::atomic<int> calls{0};
  auto server = start(options, [&](ServerRequest&& request, Respond respond) {
    ++calls;
    std::lock_guard lock(mutex);
    if (request.path == "/later") {
      workers.emplace_back([respond, body = request.body] {
        std::this_thread::sleep_for(50ms);
        respond(ServerResponse::text(200, "later " + body));
        respond(ServerResponse::text(500, "second answer"));  // ignored
      });
    } else if (request.path == "/never") {
      parked.push_back(std::move(respond));
    } else {
      respond(ServerResponse::text(200, "now"));
    }
  });
  Client client = make_client();

  SUBCASE("a response 50 ms later from a worker thread arrives; a second call is ignored") {
    auto begin = Clock::now();
    auto response = client.request(Request{"POST", url(*server, "/later"), {}, "x"});
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->body == "later x");
    CHECK(millis_since(begin) >= 45);
    auto next = client.request(Request{"GET", url(*server, "/now"), {}, {}});
    REQUIRE(next);
    CHECK(next->body == "now");
    CHECK(client.connections_opened() == 1);
  }
  SUBCASE("no answer within handler_timeout: 503, the late answer is dropped, the connection goes on") {
    auto begin = Clock::now();
    auto response = client.request(Request{"GET", url(*server, "/never"), {}, {}});
    REQUIRE(response);
    CHECK(response->status == 503);
    CHECK(millis_since(begin) >= 280);
    {
      std::lock_guard lock(mutex);
      REQUIRE(parked.size() == 1);
      parked[0](ServerResponse::text(200, "too late"));
    }
    auto next = client.request(Request{"GET", url(*server, "/now"), {}, {}});
    REQUIRE(next);
    CHECK(next->body == "now");
    CHECK(client.connections_opened() == 1);
  }
  SUBCASE("pipelined requests are answered in order even when the first answer comes later") {
    Raw raw(server->port());
    raw.send("POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(contains(raw.read_response(), "later 1"));
    CHECK(contains(raw.read_response(), "\r\n\r\nnow"));
  }
  SUBCASE("many threads at once, answered inline and later") {
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int t = 0; t < 8; ++t)
      clients.emplace_back([&, t] {
        for (int i = 0; i < 20; ++i) {
          std::string path = (i % 4 == 0) ? "/later" : "/now";
          auto response = client.request(Request{"POST", url(*server, path), {}, std::to_string(t)});
          if (response && response->status == 200) ++ok;
        }
      });
    for (auto& thread : clients) thread.join();
    CHECK(ok == 160);
  }
  server->stop(0ms);
  for (auto& worker : workers) worker.join();
  // Answering after the server stopped is safe and does nothing.
  for (auto& respond : parked) respond(ServerResponse::text(200, "after stop"));
}

TEST_CASE("http::Server stop") {
  std::mutex mutex;
  std::vector<std::thread> workers;
  std::vector<Respond> parked;
  std::atomic<int> calls{0};
  auto handler = [&](ServerRequest&& request, Respond respond) {
    ++calls;
    std::lock_guard lock(mutex);
    if (request.path == "/slow") {
      workers.emplace_back([respond] {
        std::this_thread::sleep_for(200ms);
        respond(ServerResponse::text(200, "done"));
      });
    } else if (request.path == "/never") {
      parked.push_back(std::move(respond));
    } else {
      respond(ServerResponse::text(200, "now"));
    }
  };
  auto server = start({}, handler);
  std::uint16_t port = server->port();

  SUBCASE("a request in flight is answered within the grace; new connections are refused afterwards") {
    Raw idle(port);  // an idle keep-alive connection is closed at once
    idle.send("GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(contains(idle.read_response(), "now"));
    Raw busy(port);
    busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(eventually([&] { return calls == 2; }));
    auto begin = Clock::now();
    server->stop(5s);
    auto elapsed = millis_since(begin);
    CHECK(elapsed >= 100);
    CHECK(elapsed < 2000);
    std::string text = busy.read_to_close();
    CHECK(starts_with(text, "HTTP/1.1 200"));
    CHECK(contains(text, "Connection: close\r\n"));
    CHECK(contains(text, "done"));
    bool closed = false;
    CHECK(idle.read_to_close(&closed).empty());
    CHECK(closed);
    Raw refused(port);
    CHECK_FALSE(refused.connected());
    CHECK(server->connections() == 0);
    server->stop(5s);  // twice is fine
  }
  SUBCASE("a handler that does not answer within the grace: 503; stop does not wait for it") {
    Raw raw(port);
    raw.send("GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(eventually([&] { return calls == 1; }));
    auto begin = Clock::now();
    server->stop(100ms);
    CHECK(millis_since(begin) < 1500);
    std::string text = raw.read_to_close();
    CHECK(starts_with(text, "HTTP/1.1 503"));
    std::lock_guard lock(mutex);
    REQUIRE(parked.size() == 1);
    parked[0](ServerResponse::text(200, "after stop"));  // ignored, no crash
  }
  SUBCASE("the destructor stops; held Respond callbacks outlive the server safely") {
    Raw raw(port);
    raw.send("GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(eventually([&] { return calls == 1; }));
    server.reset();
    CHECK(starts_with(raw.read_to_close(), "HTTP/1.1 503"));
    std::lock_guard lock(mutex);
    parked.at(0)(ServerResponse::text(200, "after destruction"));
  }
  server.reset();
  for (auto& worker : workers) worker.join();
}

TEST_CASE("http::Server access log") {
  std::mutex mutex;
  std::vector<AccessEntry> entries;
  ServerOptions options;
  options.body_limit = 100;
  options.access_log = [&](const AccessEntry& entry) {
    std::lock_guard lock(mutex);
    entries.push_back(entry);
  };
  Echo echo;
  auto server = start(options, echo.handler());
  Client client = make_client();
  REQUIRE(client.request(Request{"POST", url(*server, "/hooks/x?token=secret"), {}, "12345"}));
  REQUIRE(client.request(Request{"HEAD", url(*server, "/head"), {}, {}}));
  REQUIRE(client.request(Request{"POST", url(*server, "/big"), {}, std::string(200, 'b')}));

  REQUIRE(eventually([&] {
    std::lock_guard lock(mutex);
    return entries.size() == 3;
  }));
  std::lock_guard lock(mutex);
  CHECK(entries[0].method == "POST");
  CHECK(entries[0].path == "/hooks/x");  // never the query
  CHECK(entries[0].status == 200);
  CHECK(entries[0].request_bytes == 5);
  CHECK(entries[0].response_bytes == std::string("POST /hooks/x 12345").size());
  CHECK(starts_with(entries[0].remote, "127.0.0.1:"));
  CHECK(entries[0].duration.count() >= 0);
  CHECK(entries[1].method == "HEAD");
  CHECK(entries[1].status == 200);
  CHECK(entries[1].response_bytes == 0);
  CHECK(entries[2].method == "POST");
  CHECK(entries[2].path == "/big");
  CHECK(entries[2].status == 413);
}

TEST_CASE("http::Server start") {
  Echo echo;
  auto first = start({}, echo.handler());

  SUBCASE("a port in use is refused with the address and the reason") {
    ServerOptions options;
    options.port = first->port();
    auto second = Server::start(options, echo.handler());
    REQUIRE_FALSE(second);
    CHECK(second.error() == "listen 127.0.0.1:" + std::to_string(first->port()) + ": Address already in use");
  }
  SUBCASE("an address that is not an IP literal is refused") {
    ServerOptions options;
    options.address = "example.invalid";
    auto second = Server::start(options, echo.handler());
    REQUIRE_FALSE(second);
    CHECK(starts_with(second.error(), "listen example.invalid:0: "));
  }
  SUBCASE("localhost binds the loopback address") {
    ServerOptions options;
    options.address = "localhost";
    auto second = start(options, echo.handler());
    Client client = make_client();
    auto response = client.request(Request{"GET", url(*second, "/l"), {}, {}});
    REQUIRE(response);
    CHECK(response->body == "GET /l ");
  }
}
