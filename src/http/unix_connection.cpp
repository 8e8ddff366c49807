// Plain HTTP/1.1 over a unix domain socket (the Docker Engine API's usual transport): the
// same exchange as TCP, on a beast::basic_stream of a local stream socket.
#include "internal.hpp"

namespace cascade::http::detail {

asio::awaitable<Expected<std::unique_ptr<Connection>, Error>> open_unix_connection(
    const Endpoint& endpoint, const HostOptions& host, const Options& options) {
  if (endpoint.tls())
    co_return unexpected(Error{"url", endpoint.host_port(), "https over the unix socket " + host.unix_socket + " is not supported"});
  auto executor = co_await asio::this_coro::executor;
  auto stream = std::make_unique<LocalStream>(executor);
  stream->expires_after(options.connect_timeout);
  auto [ec] = co_await stream->async_connect(asio::local::stream_protocol::endpoint(host.unix_socket),
                                             asio::as_tuple(asio::use_awaitable));
  if (ec) {
    Error error = step_error("connect", endpoint, ec, options.connect_timeout);
    error.message = host.unix_socket + ": " + error.message;
    co_return unexpected(std::move(error));
  }
  auto connection = std::make_unique<Connection>();
  connection->endpoint = endpoint;
  connection->local = std::move(stream);
  co_return connection;
}

}  // namespace cascade::http::detail
