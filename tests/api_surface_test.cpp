// The daemon's API surface on the real binary: a slow deploy target (an engine endpoint that
// accepts and never answers) does not starve the other reads, the read token, the Host check,
// JSON-only POSTs, bearer in any case, the text log's escaping, and error answers that name
// an id instead of the daemon's internals.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <future>

#include "serve_fixture.hpp"

using nlohmann::json;
using namespace cascade;
using namespace std::chrono_literals;

namespace {

// A TCP endpoint that accepts connections and never answers: a hung engine.
class Blackhole {
 public:
  Blackhole() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Blackhole() { close(); }
  int port() const { return port_; }
  int accepted() const { return accepted_; }
  /// Stops listening and closes what it holds: the engine's calls fail at once.
  void close() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto& socket : held_) socket.close(ec);
    });
    io_.stop();
    thread_.join();
    held_.clear();
  }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, boost::asio::ip::tcp::socket socket) {
      if (ec) return;
      ++accepted_;
      held_.push_back(std::move(socket));
      accept();
    });
  }
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<boost::asio::ip::tcp::socket> held_;
  std::atomic<int> accepted_{0};
  int port_ = 0;
  std::thread thread_;
};

// Sends `text` on a new connection and reads until the server closes (30 s at most).
std::string raw_exchange(int port, const std::string& text) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size())) {
    char chunk[4096];
    ssize_t n;
    while ((n = ::recv(fd, chunk, sizeof chunk, 0)) > 0) answer.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

std::map<std::string, std::string> bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return predicate();
}

}  // namespace

TEST_CASE("the API surface: slow inventory, read token, Host, content types, bearer case, log escaping, error ids") {
  test::TempDir dir;
  Blackhole engine;
  int port = test::free_port();
  test::make_repo(dir / "app", {{"Dockerfile", "FROM busybox:1.36\nRUN echo app > /app\n"}});
  std::string pipeline = (dir / "pipeline.yaml").string();
  test::write_file(pipeline, "version: 1\nsources:\n  - name: app\n    git: app\n    ref: main\n    images:\n"
                             "      - image: 127.0.0.1:9/team/app:1\n        dockerfile: Dockerfile\n"
                             "deploy:\n  - name: hung\n    kind: docker\n    insecure: true\n    endpoint: tcp://127.0.0.1:" +
                                 std::to_string(engine.port()) +
                                 "\ntriggers:\n  listen: 127.0.0.1:" + std::to_string(port) +
                                 "\n  debounce: 0s\n  log: text\n  read_token_env: READ_TOKEN\n"
                                 "  hosts: [cascade.example.com]\n  webhooks:\n    - sender: generic\n"
                                 "      path: open\n      auth: none\n");
  test::ServeProcess serve(pipeline, port, {{"READ_TOKEN", "read-token"}, {"CASCADE_API_TOKEN", "api-token"}});
  CHECK(serve.log().find("auth: none") != std::string::npos);  // warned at start

  auto get = [&](const std::string& path, const std::map<std::string, std::string>& headers) {
    http::Client client(test::ServeProcess::plain_http(port));
    http::Request request;
    request.url = serve.url(path);
    for (const auto& [name, value] : headers) request.headers.set(name, value);
    auto answer = client.request(std::move(request));
    REQUIRE_MESSAGE(answer, answer.error().str());
    return *answer;
  };

  SUBCASE("a hung deploy target: inventory callers share one refresh, every other read answers") {
    std::vector<std::future<http::Response>> inventories;
    for (int i = 0; i < 6; ++i)
      inventories.push_back(std::async(std::launch::async, [&] { return get("/api/inventory", bearer("read-token")); }));
    REQUIRE(eventually([&] { return engine.accepted() >= 1; }, 30s));
    std::this_thread::sleep_for(500ms);
    // One refresh for all six (and the coordinator's own connection at start): never one per caller.
    CHECK(engine.accepted() <= 2);
    for (int i = 0; i < 8; ++i) {    // more than the worker pool's threads and in a row
      auto runs = get("/api/runs", bearer("read-token"));
      CHECK(runs.status == 200);
      CHECK(get("/api/events", bearer("read-token")).status == 200);
    }
    engine.close();  // the engine fails: the waiting callers get 502 with an id, not its address
    for (auto& inventory : inventories) {
      auto answer = inventory.get();
      CHECK(answer.status == 502);
      auto body = json::parse(answer.body);
      CHECK(body["error"] == "internal error; the daemon's log has the details");
      REQUIRE(body["id"].is_string());
      CHECK(answer.body.find("127.0.0.1") == std::string::npos);
      CHECK(answer.body.find(std::to_string(engine.port())) == std::string::npos);
      CHECK(eventually([&] { return serve.log().find(body["id"].get<std::string>()) != std::string::npos; }, 10s));
    }
  }

  SUBCASE("reads need the read token (or the API token), in any bearer case; /healthz stays open") {
    CHECK(get("/api/runs", {}).status == 401);
    CHECK(get("/api/runs", bearer("wrong")).status == 401);
    CHECK(get("/api/runs", bearer("read-token")).status == 200);
    CHECK(get("/api/runs", {{"Authorization", "bearer read-token"}}).status == 200);
    CHECK(get("/api/runs", bearer("api-token")).status == 200);
    CHECK(get("/api/graph", {}).status == 401);
    CHECK(get("/healthz", {}).status == 200);
    auto missing = get("/api/runs/999", bearer("read-token"));  // the store's message names its file
    CHECK(missing.status == 404);
    CHECK(missing.body.find(dir.str()) == std::string::npos);
    // Changes take the API token, `bearer` in lower case too: an unknown image is a 400, not a 401.
    auto patched = serve.post("/api/patch", json{{"image", "nothing/here:1"}}.dump(), {{"Authorization", "bearer api-token"}});
    REQUIRE(patched);
    CHECK(patched->status == 400);
    auto read_only = serve.post("/api/patch", json{{"image", "nothing/here:1"}}.dump(), bearer("read-token"));
    REQUIRE(read_only);
    CHECK(read_only->status == 401);
  }

  SUBCASE("POSTs take JSON only: a cross-site text/plain post to an `auth: none` hook is 415 and stores nothing") {
    std::string push = json{{"image", "127.0.0.1:9/team/app:1"}, {"digest", "sha256:" + std::string(64, 'a')}, {"id", "x-1"}}.dump();
    auto form = serve.post("/hooks/open", push, {{"Content-Type", "text/plain"}});
    REQUIRE(form);
    CHECK(form->status == 415);
    auto none = serve.post("/hooks/open", push, {{"Content-Type", "application/x-www-form-urlencoded"}});
    REQUIRE(none);
    CHECK(none->status == 415);
    CHECK(json::parse(get("/api/events", bearer("read-token")).body)["events"].empty());
    auto api = serve.post("/api/patch", json{{"image", "nothing/here:1"}}.dump(),
                          {{"Content-Type", "text/plain"}, {"Authorization", "Bearer api-token"}});
    REQUIRE(api);
    CHECK(api->status == 415);
    auto accepted = serve.post("/hooks/open", push);  // application/json
    REQUIRE(accepted);
    CHECK(accepted->status == 202);
  }

  SUBCASE("the Host must name this server") {
    auto request = [&](const std::string& host) {
      return raw_exchange(port, "GET /api/runs HTTP/1.1\r\nHost: " + host +
                                    "\r\nAuthorization: Bearer read-token\r\nConnection: close\r\n\r\n");
    };
    CHECK(request("attacker.example:" + std::to_string(port)).rfind("HTTP/1.1 421", 0) == 0);
    CHECK(request("127.0.0.1:" + std::to_string(port)).rfind("HTTP/1.1 200", 0) == 0);
    CHECK(request("localhost:" + std::to_string(port)).rfind("HTTP/1.1 200", 0) == 0);
    CHECK(request("cascade.example.com").rfind("HTTP/1.1 200", 0) == 0);
  }

  SUBCASE("nothing a client sends forges a line of the text log") {
    std::string forged = "2026-01-01T00:00:00.000Z error forged-line";
    auto answer = raw_exchange(port, "GET /nothing%0a2026-01-01T00:00:00.000Z%20error%20forged-line%1b%5b2J HTTP/1.1\r\n"
                                     "Host: 127.0.0.1\r\nConnection: close\r\n\r\n");
    CHECK(answer.rfind("HTTP/1.1 404", 0) == 0);
    REQUIRE(eventually([&] { return serve.log().find("forged-line") != std::string::npos; }, 10s));
    std::string log = serve.log();
    CHECK(log.find("\n" + forged) == std::string::npos);
    CHECK(log.find('\x1b') == std::string::npos);
    CHECK(log.find("\\n2026-01-01T00:00:00.000Z error forged-line\\x1b[2J") != std::string::npos);
  }
}
