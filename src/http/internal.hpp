// Pieces of the HTTP client shared between its files: parsed targets, connections, the
// keep-alive pool and TLS contexts. Everything here runs on the client's one io thread,
// except TlsContexts, which locks.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cascade/http.hpp"

namespace cascade::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  std::string port;    // always set: "80", "443" or the explicit one
  bool explicit_port = false;

  bool tls() const { return scheme == "https"; }
  std::string key() const { return scheme + "://" + host_port(); }
  std::string host_port() const;
  /// The Host header value: host, plus ":port" when it was written in the URL.
  std::string authority() const;
};

struct Target {
  Endpoint endpoint;
  std::string target;  // origin-form: "/path?query"
};

/// Parses an absolute http(s) URL; fails (step "url") on anything else.
Expected<Target, Error> parse_target(std::string_view url);
/// Resolves a Location header against the URL that sent it; empty when it is not a URL.
std::string resolve_location(std::string_view base, std::string_view location);

using LocalStream = beast::basic_stream<asio::local::stream_protocol>;

struct Connection {
  Endpoint endpoint;
  std::unique_ptr<beast::tcp_stream> plain;                    // set for http
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;   // set for https
  std::unique_ptr<LocalStream> local;                          // set for http over a unix socket
  beast::flat_buffer buffer;                                   // bytes read past a response
  Clock::time_point idle_since{};
  bool reused = false;  // true once it served a response and came back from the pool

  beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*tls); }
};

/// Keep-alive connections per endpoint key, at most `cap` open per key; acquire() waits for
/// a slot. Single-threaded: only ever used on the io thread.
class Pool {
 public:
  Pool(std::size_t cap, std::chrono::milliseconds idle_timeout) : cap_(cap ? cap : 1), idle_timeout_(idle_timeout) {}
  /// Takes a slot for `key`, waiting while all are busy; returns an idle connection when one
  /// is fresh enough, else null (the caller opens one in the slot it now holds).
  asio::awaitable<std::unique_ptr<Connection>> acquire(const std::string& key);
  /// Gives the slot back, keeping `connection` for reuse when it is not null.
  void release(const std::string& key, std::unique_ptr<Connection> connection);
  /// Closes every idle connection.
  void clear();

 private:
  struct Slot {
    std::deque<std::unique_ptr<Connection>> idle;
    std::size_t open = 0;  // idle plus in use
    std::deque<asio::steady_timer*> waiters;
  };
  std::size_t cap_;
  std::chrono::milliseconds idle_timeout_;
  std::map<std::string, Slot> slots_;
};

/// One ssl::context per (insecure, CA file), made on first use. Thread-safe.
class TlsContexts {
 public:
  /// The context for `host`; fails (step "handshake") when the CA file cannot be loaded.
  Expected<ssl::context*, Error> get(const HostOptions& host, const std::string& host_port);

 private:
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<ssl::context>> contexts_;
};

/// Connects to the unix socket `host.unix_socket` under the connect timeout; fails (step
/// "url") for https, (step "connect") when nobody listens there.
asio::awaitable<Expected<std::unique_ptr<Connection>, Error>> open_unix_connection(
    const Endpoint& endpoint, const HostOptions& host, const Options& options);

/// Resolves, connects and (for https) handshakes with verification unless `host.insecure`;
/// with `host.unix_socket`, connects to that socket instead.
asio::awaitable<Expected<std::unique_ptr<Connection>, Error>> open_connection(
    const Endpoint& endpoint, const HostOptions& host, TlsContexts& contexts, const Options& options);

using BeastRequest = beast::http::request<beast::http::string_body>;

struct Exchange {
  Expected<Response, Error> response;
  bool reusable = false;       // the connection may serve another request
  bool stale = false;          // a reused connection failed before any response byte
};

using BodySink = std::function<bool(std::string_view chunk)>;

/// Writes `request` and reads the response on `connection`, each under its timeout; a 2xx
/// body goes to `sink` chunk by chunk when it is set (Request::body_sink).
asio::awaitable<Exchange> exchange(Connection& connection, const BeastRequest& request, const Options& options,
                                   const BodySink& sink = {});

/// An Error for a failed step; `ec` == timeout turns it into step "timeout".
Error step_error(const std::string& step, const Endpoint& endpoint, const boost::system::error_code& ec,
                 std::chrono::milliseconds limit = {});

}  // namespace cascade::http::detail
