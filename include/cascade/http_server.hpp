// HTTP/1.1 server over Boost.Beast: an acceptor and one session per connection on a few io
// threads. Every read and write has a deadline, request bodies have a limit, keep-alive
// follows HTTP/1.1 (and "Connection: close"), and stop() is graceful: it stops accepting,
// lets requests in flight be answered, closes idle connections and joins the threads.
//
// A handler answers through a Respond callback it may call later from any thread, so a
// handler can hold its answer until work elsewhere is durable (the webhook intake answers
// after its group commit) without blocking an io thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cascade/http.hpp"
#include "cascade/util/expected.hpp"

namespace cascade::http {

struct ServerRequest {
  std::string method;                        // "GET", "POST", ...
  std::string target;                        // as sent: "/hooks/generic?token=..." (never log it)
  std::string path;                          // percent-decoded path without the query: "/hooks/generic"
  std::map<std::string, std::string> query;  // percent-decoded query parameters (last one wins)
  Headers headers;
  std::string body;
  std::string remote;                        // peer "127.0.0.1:54321"
  std::string local;                         // the address the peer connected to, without port: "127.0.0.1", "::1"
  // When the server answers 503 for want of an answer (handler_timeout): work for the
  // request that is still queued then is wasted.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  /// True once no answer can reach the client any more (answered, handler_timeout passed, the
  /// connection or the server gone): queued work for it should not start. Empty: never.
  std::function<bool()> abandoned;
};

struct ServerResponse {
  int status = 200;
  Headers headers;   // Content-Type should be set; Content-Length, Server and Connection are set by the server
  std::string body;

  /// A response with Content-Type application/json.
  static ServerResponse json(int status, std::string body);
  /// A response with Content-Type text/plain; charset=utf-8.
  static ServerResponse text(int status, std::string body);
};

/// Call exactly once, from any thread; later calls are ignored.
using Respond = std::function<void(ServerResponse)>;
/// Runs on an io thread: must not block; answer now or hand `respond` to other work.
using Handler = std::function<void(ServerRequest&& request, Respond respond)>;

/// One answered request, for the access log (no query, no headers, no body).
struct AccessEntry {
  std::string method;
  std::string path;
  int status = 0;
  std::chrono::microseconds duration{0};  // from the end of the request head to the response written
  std::size_t request_bytes = 0;          // body
  std::size_t response_bytes = 0;         // body
  std::string remote;
};

struct ServerOptions {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal, or "localhost"
  std::uint16_t port = 0;             // 0: any free port (see Server::port())
  std::size_t threads = 2;            // io threads
  std::size_t body_limit = 1u << 20;  // bytes; a longer body is answered 413 and the connection closed
  std::size_t header_limit = 16u << 10;
  std::chrono::milliseconds read_timeout{10'000};      // a request (head and body) from its first byte
  std::chrono::milliseconds write_timeout{10'000};     // a response
  std::chrono::milliseconds idle_timeout{60'000};      // a keep-alive connection waiting for the next request
  std::chrono::milliseconds handler_timeout{30'000};   // no answer by then: 503, the late answer is dropped
  // Open connections at most; clamped to the descriptor limit (RLIMIT_NOFILE) minus a reserve
  // of max(64, a quarter of it) for git, registries and builds (see connection_limit()). One
  // more is answered 503 (Retry-After: 1) and closed; 32 such answers at once at most, the
  // rest are closed unanswered.
  std::size_t max_connections = 10'000;
  // Under pressure (more than half of the connection limit open) a connection waiting for
  // its next request (or its first) is closed after this instead of idle_timeout/read_timeout.
  std::chrono::milliseconds busy_idle_timeout{2'000};
  std::function<void(const AccessEntry&)> access_log;  // called after each response is written; may be empty
};

class Server {
 public:
  /// Binds, listens and starts the io threads. Fails with "listen 127.0.0.1:8080: Address
  /// already in use" and the like.
  static Expected<std::unique_ptr<Server>, std::string> start(ServerOptions options, Handler handler);

  virtual ~Server() = default;
  /// The bound port (the chosen one when options.port was 0).
  virtual std::uint16_t port() const = 0;
  /// Stops accepting, answers requests in flight (handlers get up to `grace` to respond; then
  /// 503), closes keep-alive connections after their current response, and joins the io
  /// threads. Safe to call twice; the destructor calls stop(0ms).
  virtual void stop(std::chrono::milliseconds grace) = 0;
  /// Connections open now (for tests).
  virtual std::size_t connections() const = 0;
  /// max_connections as clamped by connection_limit() at start.
  virtual std::size_t max_connections() const = 0;
};

/// `configured` clamped to what the process may open: the soft RLIMIT_NOFILE less a reserve
/// of max(64, a quarter of it) for the daemon's other descriptors (git, registry and deploy
/// clients, build children); at least 1.
std::size_t connection_limit(std::size_t configured);

/// Malformed requests are answered 400 with the reason, an over-long body 413, an over-long
/// head 431; a client that sends too slowly is cut at read_timeout (408 when nothing was
/// answered yet). None of them reaches the handler.

}  // namespace cascade::http
