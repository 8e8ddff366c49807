// http::Server on 127.0.0.1 (port 0), driven by http::Client and, where the client cannot
// say it (Connection: close, HTTP/1.0, half requests, pipelining, garbage), by plain POSIX
// sockets with a receive timeout so no test can hang.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cascade/http.hpp"
#include "cascade/http_server.hpp"

using namespace std::chrono_literals;
using cascade::http::AccessEntry;
using cascade::http::Client;
using cascade::http::Handler;
using cascade::http::Request;
using cascade::http::Respond;
using cascade::http::Server;
using cascade::http::ServerOptions;
using cascade::http::ServerRequest;
using cascade::http::ServerResponse;
using Clock = std::chrono::steady_clock;

namespace {

std::unique_ptr<Server> start(ServerOptions options, Handler handler) {
  auto server = Server::start(std::move(options), std::move(handler));
  REQUIRE_MESSAGE(server, (server ? "" : server.error()));
  return std::move(*server);
}

Client make_client() {
  cascade::http::Options options;
  options.hosts["127.0.0.1"].insecure = true;
  options.read_timeout = 5s;
  return Client(options);
}

std::string url(const Server& server, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(server.port()) + path;
}

long long millis_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = 3s) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return predicate();
}

// A blocking TCP connection to the server with a 5 s receive timeout.
class Raw {
 public:
  explicit Raw(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Raw() { ::close(fd_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  bool connected() const { return connected_; }
  void send(const std::string& text) {
    std::size_t sent = 0;
    while (sent < text.size()) {
      ssize_t n = ::send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }
  /// Everything until the server closes; `closed` says whether it did (not a timeout).
  std::string read_to_close(bool* closed = nullptr) {
    std::string text = std::move(pending_);
    pending_.clear();
    bool eof = false;
    while (!eof) {
      int n = read_some();
      if (n < 0) break;
      eof = n == 0;
    }
    text += pending_;
    pending_.clear();
    if (closed) *closed = eof;
    return text;
  }
  /// One response (head and Content-Length body); empty when the server closed first.
  std::string read_response() {
    std::size_t head_end;
    while ((head_end = pending_.find("\r\n\r\n")) == std::string::npos)
      if (read_some() <= 0) return {};
    std::size_t length = content_length(pending_.substr(0, head_end));
    std::size_t total = head_end + 4 + length;
    while (pending_.size() < total)
      if (read_some() <= 0) return {};
    std::string response = pending_.substr(0, total);
    pending_.erase(0, total);
    return response;
  }

 private:
  int read_some() {
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) pending_.append(chunk, static_cast<std::size_t>(n));
    if (n < 0 && errno == ECONNRESET) return 0;  // closed, abruptly
    return static_cast<int>(n);
  }
  static std::size_t content_length(std::string head) {
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto at = head.find("\r\ncontent-length:");
    if (head.rfind("http/1.1 1", 0) == 0 || at == std::string::npos) return 0;
    return std::stoul(head.substr(at + 17));
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Answers inline with the body echoed, counting calls.
struct Echo {
  std::atomic<int> calls{0};
  Handler handler() {
    return [this](ServerRequest&& request, Respond respond) {
      ++calls;
      ServerResponse response = ServerResponse::text(200, request.method + " " + request.path + " " + request.body);
      if (request.path == "/bye") response.headers.set("Connection", "close");
      respond(std::move(response));
    };
  }
};

}  // namespace

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
