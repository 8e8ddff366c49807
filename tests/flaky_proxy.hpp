// A TCP proxy on 127.0.0.1 in front of a real server, which can be told to refuse
// connections for a while: the network failure a registry shows when it restarts.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <thread>

namespace cascade::test {

class FlakyProxy {
 public:
  /// Listens on `port` and forwards every connection to 127.0.0.1:`upstream_port`.
  FlakyProxy(int port, int upstream_port)
      : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}),
        upstream_port_(upstream_port) {
    boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FlakyProxy() {
    io_.stop();
    thread_.join();
  }
  FlakyProxy(const FlakyProxy&) = delete;
  FlakyProxy& operator=(const FlakyProxy&) = delete;

  /// While true, new connections are closed at once and open ones are cut.
  void refuse(bool on) { refusing_ = on; }
  int refused() const { return refused_; }

 private:
  using tcp = boost::asio::ip::tcp;

  boost::asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      if (refusing_) {
        ++refused_;
        continue;  // the socket closes as it goes out of scope
      }
      auto client = std::make_shared<tcp::socket>(std::move(socket));
      auto server = std::make_shared<tcp::socket>(io_);
      auto [connect_ec] = co_await server->async_connect(
          {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(upstream_port_)},
          boost::asio::as_tuple(boost::asio::use_awaitable));
      if (connect_ec) continue;
      boost::asio::co_spawn(io_, pump(client, server), boost::asio::detached);
      boost::asio::co_spawn(io_, pump(server, client), boost::asio::detached);
    }
  }

  boost::asio::awaitable<void> pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
    std::array<char, 65536> buffer;
    for (;;) {
      auto [read_ec, n] =
          co_await from->async_read_some(boost::asio::buffer(buffer), boost::asio::as_tuple(boost::asio::use_awaitable));
      if (read_ec || refusing_) break;
      auto [write_ec, written] = co_await boost::asio::async_write(*to, boost::asio::buffer(buffer.data(), n),
                                                                   boost::asio::as_tuple(boost::asio::use_awaitable));
      if (write_ec) break;
    }
    boost::system::error_code ignored;
    from->close(ignored);
    to->close(ignored);
  }

  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  int upstream_port_;
  std::atomic<bool> refusing_{false};
  std::atomic<int> refused_{0};
  std::thread thread_;
};

}  // namespace cascade::test
