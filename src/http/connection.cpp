// One connection: resolve, connect, TLS handshake with verification, and one
// request/response exchange, each step under its own timeout.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "internal.hpp"

namespace cascade::http::detail {

namespace bhttp = beast::http;
using asio::as_tuple;
using asio::use_awaitable;

Expected<ssl::context*, Error> TlsContexts::get(const HostOptions& host, const std::string& host_port) {
  std::string key = (host.insecure ? "insecure|" : "verify|") + host.ca_file + "|" + host.cert_file + "|" + host.key_file;
  std::lock_guard lock(mutex_);
  auto found = contexts_.find(key);
  if (found != contexts_.end()) return found->second.get();
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
  boost::system::error_code ec;
  if (!host.ca_file.empty()) context->load_verify_file(host.ca_file, ec);
  else context->set_default_verify_paths(ec);
  if (ec) return unexpected(Error{"handshake", host_port, "cannot load CA certificates " + host.ca_file + ": " + ec.message()});
  if (!host.cert_file.empty()) {
    context->use_certificate_chain_file(host.cert_file, ec);
    if (!ec) context->use_private_key_file(host.key_file.empty() ? host.cert_file : host.key_file, ssl::context::pem, ec);
    if (ec) return unexpected(Error{"handshake", host_port, "cannot load client certificate " + host.cert_file + ": " + ec.message()});
  }
  ssl::context* result = context.get();
  contexts_.emplace(key, std::move(context));
  return result;
}

namespace {

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

asio::awaitable<Expected<tcp::resolver::results_type, Error>> resolve(const Endpoint& endpoint,
                                                                       std::chrono::milliseconds limit) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  asio::steady_timer timer(executor, limit);
  auto expired = std::make_shared<bool>(false);
  timer.async_wait([&resolver, expired](boost::system::error_code ec) {
    if (ec) return;
    *expired = true;
    resolver.cancel();
  });
  auto [ec, results] = co_await resolver.async_resolve(endpoint.host, endpoint.port, as_tuple(use_awaitable));
  timer.cancel();
  if (*expired) co_return unexpected(step_error("resolve", endpoint, beast::error::timeout, limit));
  if (ec) co_return unexpected(step_error("resolve", endpoint, ec));
  co_return results;
}

// The handshake failure, with OpenSSL's verification verdict when the peer was refused.
Error handshake_error(const Endpoint& endpoint, const boost::system::error_code& ec, SSL* ssl_handle,
                      std::chrono::milliseconds limit) {
  Error error = step_error("handshake", endpoint, ec, limit);
  long verdict = SSL_get_verify_result(ssl_handle);
  bool verify_failed = ec.category() == asio::error::get_ssl_category() &&
                       ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
  if (verify_failed) {
    error.certificate = true;
    if (verdict != X509_V_OK) error.message += std::string(" (") + X509_verify_cert_error_string(verdict) + ")";
    else error.message += " (host name mismatch)";
  }
  return error;
}

asio::awaitable<Expected<void, Error>> handshake(Connection& connection, const HostOptions& host, const Options& options) {
  auto& stream = *connection.tls;
  const Endpoint& endpoint = connection.endpoint;
  if (!is_ip_literal(endpoint.host)) SSL_set_tlsext_host_name(stream.native_handle(), endpoint.host.c_str());
  if (host.insecure) {
    stream.set_verify_mode(ssl::verify_none);
  } else {
    stream.set_verify_mode(ssl::verify_peer);
    stream.set_verify_callback(ssl::host_name_verification(endpoint.host));
  }
  connection.lowest().expires_after(options.handshake_timeout);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, as_tuple(use_awaitable));
  if (ec) co_return unexpected(handshake_error(endpoint, ec, stream.native_handle(), options.handshake_timeout));
  co_return Expected<void, Error>{};
}

}  // namespace

asio::awaitable<Expected<std::unique_ptr<Connection>, Error>> open_connection(
    const Endpoint& endpoint, const HostOptions& host, TlsContexts& contexts, const Options& options) {
  if (!host.unix_socket.empty()) co_return co_await open_unix_connection(endpoint, host, options);
  auto results = co_await resolve(endpoint, options.resolve_timeout);
  if (!results) co_return unexpected(results.error());
  auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  stream.expires_after(options.connect_timeout);
  auto [ec, peer] = co_await stream.async_connect(*results, as_tuple(use_awaitable));
  if (ec) co_return unexpected(step_error("connect", endpoint, ec, options.connect_timeout));
  stream.socket().set_option(tcp::no_delay(true), ec);
  auto connection = std::make_unique<Connection>();
  connection->endpoint = endpoint;
  if (!endpoint.tls()) {
    connection->plain = std::make_unique<beast::tcp_stream>(std::move(stream));
    co_return connection;
  }
  auto context = contexts.get(host, endpoint.host_port());
  if (!context) co_return unexpected(context.error());
  connection->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(stream), **context);
  auto shaken = co_await handshake(*connection, host, options);
  if (!shaken) co_return unexpected(shaken.error());
  co_return connection;
}

namespace {

bool connection_dropped(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
}

Response to_response(bhttp::response<bhttp::string_body>&& message) {
  Response response;
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) response.headers.add(std::string(field.name_string()), std::string(field.value()));
  response.body = std::move(message.body());
  return response;
}

template <typename Stream>
asio::awaitable<Expected<void, Error>> write_request(Stream& stream, Connection& connection, const BeastRequest& request,
                                                     const Options& options, bool& stale) {
  beast::get_lowest_layer(stream).expires_after(options.write_timeout);
  auto [ec, written] = co_await bhttp::async_write(stream, request, as_tuple(use_awaitable));
  if (!ec) co_return Expected<void, Error>{};
  stale = connection.reused && ec != beast::error::timeout;
  co_return unexpected(step_error("write", connection.endpoint, ec, options.write_timeout));
}

Error read_error(const Endpoint& endpoint, const boost::system::error_code& ec, const Options& options) {
  Error error = step_error("read", endpoint, ec, options.read_timeout);
  if (ec == bhttp::error::body_limit) error.message = "body exceeds " + std::to_string(options.body_limit) + " bytes";
  return error;
}

// Reads the body of a 2xx answer chunk by chunk into `sink`, the read timeout applying to
// each chunk; the response's own body stays empty.
template <typename Stream>
asio::awaitable<Expected<void, Error>> stream_body(Stream& stream, Connection& connection,
                                                   bhttp::response_parser<bhttp::buffer_body>& parser,
                                                   const Options& options, const BodySink& sink) {
  std::vector<char> chunk(64 * 1024);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    beast::get_lowest_layer(stream).expires_after(options.read_timeout);
    auto [ec, read] = co_await bhttp::async_read(stream, connection.buffer, parser, as_tuple(use_awaitable));
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) co_return unexpected(read_error(connection.endpoint, ec, options));
    std::size_t got = chunk.size() - parser.get().body().size;
    if (got > 0 && !sink(std::string_view(chunk.data(), got)))
      co_return unexpected(Error{"read", connection.endpoint.host_port(), "stopped by the reader"});
  }
  co_return Expected<void, Error>{};
}

Response header_response(const bhttp::response_parser<bhttp::buffer_body>& parser) {
  Response response;
  response.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) response.headers.add(std::string(field.name_string()), std::string(field.value()));
  return response;
}

template <typename Stream>
asio::awaitable<Exchange> exchange_on(Stream& stream, Connection& connection, const BeastRequest& request,
                                      const Options& options, const BodySink& sink) {
  Exchange result{unexpected(Error{})};
  const Endpoint& endpoint = connection.endpoint;
  auto written = co_await write_request(stream, connection, request, options, result.stale);
  if (!written) {
    result.response = unexpected(written.error());
    co_return result;
  }
  bhttp::response_parser<bhttp::buffer_body> head;
  // A streamed body has no limit (the sink bounds it); every other body has the client's.
  if (sink) head.body_limit(boost::none);
  else head.body_limit(options.body_limit);
  head.header_limit(64 * 1024);
  if (request.method() == bhttp::verb::head) head.skip(true);
  beast::get_lowest_layer(stream).expires_after(options.read_timeout);
  auto [head_ec, head_read] = co_await bhttp::async_read_header(stream, connection.buffer, head, as_tuple(use_awaitable));
  if (head_ec) {
    result.stale = connection.reused && !head.got_some() && connection_dropped(head_ec);
    result.response = unexpected(read_error(endpoint, head_ec, options));
    co_return result;
  }
  int status = static_cast<int>(head.get().result_int());
  if (sink && status >= 200 && status < 300 && request.method() != bhttp::verb::head) {
    auto streamed = co_await stream_body(stream, connection, head, options, sink);
    if (!streamed) {
      result.response = unexpected(streamed.error());
      co_return result;
    }
    beast::get_lowest_layer(stream).expires_never();
    result.reusable = head.get().keep_alive();
    result.response = header_response(head);
    co_return result;
  }
  bhttp::response_parser<bhttp::string_body> parser(std::move(head));
  parser.body_limit(options.body_limit);
  if (auto length = parser.content_length(); length && *length > options.body_limit) {
    result.response = unexpected(read_error(endpoint, bhttp::error::body_limit, options));
    co_return result;
  }
  auto [read_ec, read] = co_await bhttp::async_read(stream, connection.buffer, parser, as_tuple(use_awaitable));
  if (read_ec) {
    result.response = unexpected(read_error(endpoint, read_ec, options));
    co_return result;
  }
  beast::get_lowest_layer(stream).expires_never();
  result.reusable = parser.get().keep_alive();
  result.response = to_response(parser.release());
  co_return result;
}

}  // namespace

asio::awaitable<Exchange> exchange(Connection& connection, const BeastRequest& request, const Options& options,
                                   const BodySink& sink) {
  if (connection.tls) co_return co_await exchange_on(*connection.tls, connection, request, options, sink);
  if (connection.local) co_return co_await exchange_on(*connection.local, connection, request, options, sink);
  co_return co_await exchange_on(*connection.plain, connection, request, options, sink);
}

}  // namespace cascade::http::detail
