// Helpers of the http::Server tests: starting a server, a client for plain http, and Raw, a
// blocking POSIX socket with a receive timeout for what the client cannot say (half requests,
// pipelining, Connection: close, garbage), so no test can hang.
#pragma once
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

namespace http_server_test {

inline std::unique_ptr<Server> start(ServerOptions options, Handler handler) {
  auto server = Server::start(std::move(options), std::move(handler));
  REQUIRE_MESSAGE(server, (server ? "" : server.error()));
  return std::move(*server);
}

inline Client make_client() {
  cascade::http::Options options;
  options.hosts["127.0.0.1"].insecure = true;
  options.read_timeout = 5s;
  return Client(options);
}

inline std::string url(const Server& server, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(server.port()) + path;
}

inline long long millis_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

template <typename Predicate>
inline bool eventually(Predicate predicate, std::chrono::milliseconds limit = 3s) {
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

inline bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

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

}  // namespace http_server_test
