// A peer that accepts TCP connections on 127.0.0.1 and never answers (nor closes): the
// registry or deploy target that stalls. Connections are held until it is destroyed.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace cascade::test {

class HangingPeer {
 public:
  /// Listens on `port` (0: any free one).
  explicit HangingPeer(int port = 0)
      : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~HangingPeer() {
    io_.stop();
    thread_.join();
  }
  HangingPeer(const HangingPeer&) = delete;
  HangingPeer& operator=(const HangingPeer&) = delete;

  int port() const { return acceptor_.local_endpoint().port(); }
  std::string host() const { return "127.0.0.1:" + std::to_string(port()); }
  /// Connections accepted so far.
  int accepted() const { return accepted_.load(); }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, boost::asio::ip::tcp::socket socket) {
      if (ec) return;
      ++accepted_;
      held_.push_back(std::make_unique<boost::asio::ip::tcp::socket>(std::move(socket)));  // never read, never closed
      accept();
    });
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> held_;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace cascade::test
