// HTTP/1.1 client over Boost.Beast: plain TCP and verified TLS (system roots or a CA file per
// host, SNI, host name verification), a keep-alive pool per (scheme, host, port) with a cap,
// a timeout on every step, bounded redirects that never carry Authorization to another
// host, and a response body limit.
//
// Inside, one io_context on one thread runs C++20 coroutines; Client::request is a blocking,
// thread-safe facade over it. The server (sessions, limits, routing) goes in its own header
// and files and shares Headers, Request and Response from here.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cascade/util/expected.hpp"

namespace cascade::http {

/// Header fields in the order they came; names compare case-insensitively and may repeat.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  void add(std::string name, std::string value);
  /// Replaces every field called `name` by one.
  void set(std::string name, std::string value);
  void remove(std::string_view name);
  /// The first value of `name`, if any.
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> get_all(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  const std::vector<Field>& fields() const { return fields_; }

 private:
  std::vector<Field> fields_;
};

struct Request {
  std::string method = "GET";
  std::string url;   // absolute: "https://host[:port]/path?query"
  Headers headers;   // Host, User-Agent and Content-Length are set by the client
  std::string body;
  // When set, the body of a 2xx answer is handed to it chunk by chunk as it arrives (on the
  // client's io thread; blocking there stalls this client's other requests) instead of being
  // kept in Response::body, with no body limit and the read timeout applying to each chunk.
  // Returning false stops the transfer (the request fails, step "read"). Other statuses
  // are read into Response::body as usual.
  std::function<bool(std::string_view chunk)> body_sink{};
  // When set, the whole request (every redirect included) ends by then: past it, request()
  // fails with step "timeout" whatever the peer does.
  std::optional<std::chrono::steady_clock::time_point> deadline{};
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;  // always empty for HEAD
  std::string url;   // the URL that gave this answer, after redirects
};

struct Error {
  // Where it failed: "url" (bad or refused URL), "resolve", "connect", "handshake", "write",
  // "read", "timeout" (any step ran out of time, or the request's deadline passed; the
  // message says which), "redirect", "shutdown" (the client was destroyed while the request
  // ran), "cancelled" (Options::stop was requested).
  std::string step;
  std::string host;          // "host:port" being talked to
  std::string message;       // never a header value or a body
  bool certificate = false;  // the TLS peer failed verification (chain or host name)

  /// "handshake 127.0.0.1:5000: certificate verify failed (self-signed certificate)".
  std::string str() const;
};

struct HostOptions {
  bool insecure = false;  // allows plain http and TLS without verification for this host
  std::string ca_file;    // PEM file to verify the peer with, instead of the system roots
  std::string cert_file{};  // PEM client certificate (chain) to present in the TLS handshake, if any
  std::string key_file{};   // PEM private key of cert_file
  // Non-empty: connect to this unix socket path instead of resolving the host (plain http
  // only, e.g. "http://docker/..." with hosts["docker"] = {.insecure = true, .unix_socket = ...}).
  std::string unix_socket{};
};

struct Options {
  std::chrono::milliseconds resolve_timeout{10'000};
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds read_timeout{30'000};  // for the whole response: header and body
  std::size_t body_limit = 64u << 20;              // bytes; a longer body fails the read
  std::size_t connections_per_host = 16;           // open per (scheme, host, port); more requests wait
  std::chrono::milliseconds idle_timeout{30'000};  // a pooled connection idle longer is closed
  int max_redirects = 5;
  std::string user_agent = "cascade/0.1";
  std::map<std::string, HostOptions> hosts;        // by "host:port" first, then by "host"
  // Once stop is requested, requests running fail at once with step "cancelled" (their
  // socket work is cancelled on the io thread) and new ones fail before connecting.
  std::stop_token stop{};
};

/// Rewrites `url` for logs and errors: no user info, no query (which may carry tokens).
std::string redact_url(std::string_view url);

class Client {
 public:
  explicit Client(Options options = {});
  /// Closes the pool and joins the io thread; requests still running fail with step "shutdown".
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Sends `request`, follows redirects, and waits for the whole response; any status is a
  /// Response. Fails with the step and host on a refused URL, resolve, connect, TLS, write,
  /// read, timeout, body limit or redirect failure; with step "timeout" past the request's
  /// deadline, "cancelled" once Options::stop is requested. Thread-safe; blocks the caller.
  Expected<Response, Error> request(Request request);

  /// Connections opened since construction (for tests and benchmarks).
  std::size_t connections_opened() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cascade::http
