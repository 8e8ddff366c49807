// The HTTP server: binds and listens, accepts on its own strand into one session per
// connection (each on its own strand; see server_session.cpp), counts connections against
// max_connections, and stops in steps: stop accepting, close idle connections, give requests
// in flight `grace` to be answered, answer the rest 503, then stop the io_context, join the
// threads and close the gate Respond callbacks post through.
#include <sys/resource.h>


#include <array>
#include <thread>
#include <tuple>

#include "server_internal.hpp"

namespace cascade::http {

ServerResponse ServerResponse::json(int status, std::string body) {
  ServerResponse response;
  response.status = status;
  response.headers.set("Content-Type", "application/json");
  response.body = std::move(body);
  return response;
}

ServerResponse ServerResponse::text(int status, std::string body) {
  ServerResponse response;
  response.status = status;
  response.headers.set("Content-Type", "text/plain; charset=utf-8");
  response.body = std::move(body);
  return response;
}

std::size_t connection_limit(std::size_t configured) {
  rlimit files{};
  std::size_t limit = configured;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
    auto descriptors = static_cast<std::size_t>(files.rlim_cur);
    std::size_t reserve = std::max<std::size_t>(64, descriptors / 4);
    limit = std::min(limit, descriptors > reserve ? descriptors - reserve : 0);
  }
  return std::max<std::size_t>(limit, 1);
}

namespace detail {

using asio::as_tuple;
using asio::use_awaitable;

std::string endpoint_text(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

namespace {

constexpr std::size_t max_refusing = 32;                  // 503 answers for connections over the limit at once
constexpr std::chrono::milliseconds refuse_time{1000};    // to write one and read what the client sends
constexpr std::chrono::milliseconds sweep_every{250};     // idle sessions told to shorten their wait, at most

// Answers a connection over the limit 503, reads what the client still sends (so the answer
// is not lost to a reset) and closes it, all within refuse_time.
asio::awaitable<void> answer_busy(tcp::socket socket, std::shared_ptr<std::atomic<std::size_t>> refusing) {
  struct Release {
    std::atomic<std::size_t>& count;
    ~Release() { --count; }
  } release{*refusing};
  static constexpr std::string_view body = "too many connections; retry\n";
  static const std::string answer = "HTTP/1.1 503 Service Unavailable\r\nServer: cascade\r\n"
                                    "Content-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\n"
                                    "Connection: close\r\nContent-Length: " + std::to_string(body.size()) +
                                    "\r\n\r\n" + std::string(body);
  asio::steady_timer timer(socket.get_executor(), refuse_time);
  timer.async_wait([&socket](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the coroutine is done with the socket
    socket.cancel(ec);
  });
  boost::system::error_code ec;
  std::array<char, 4096> discard{};
  std::size_t discarded = 0;
  std::tie(ec, std::ignore) = co_await asio::async_write(socket, asio::buffer(answer), as_tuple(use_awaitable));
  if (!ec) socket.shutdown(tcp::socket::shutdown_send, ec);
  while (!ec && discarded < (64u << 10)) {
    std::size_t bytes = 0;
    std::tie(ec, bytes) = co_await socket.async_read_some(asio::buffer(discard), as_tuple(use_awaitable));
    discarded += bytes;
  }
  timer.cancel();
  socket.close(ec);
}

}  // namespace

void ServerCore::admit(tcp::socket socket) {
  std::shared_ptr<Session> session;
  bool sweep = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      boost::system::error_code ec;
      socket.close(ec);
      return;
    }
    if (sessions_.size() < limit) {
      session = std::make_shared<Session>(std::move(socket), shared_from_this());
      sessions_.emplace(session.get(), session);
      if (sessions_.size() * 2 > limit && Clock::now() - last_sweep_ >= sweep_every) {
        sweep = true;
        last_sweep_ = Clock::now();
      }
    }
  }
  if (!session) {
    if (refusing_->fetch_add(1) >= max_refusing) {
      --*refusing_;
      boost::system::error_code ec;
      socket.close(ec);
      return;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, answer_busy(std::move(socket), refusing_), asio::detached);
    return;
  }
  session->start();
  if (sweep)
    for (const auto& open : open_sessions()) asio::post(open->executor(), [open] { open->tighten_idle(); });
}

bool ServerCore::under_pressure() {
  std::lock_guard lock(mutex_);
  return sessions_.size() * 2 > limit;
}

void ServerCore::leave(const Session* session) {
  std::lock_guard lock(mutex_);
  sessions_.erase(session);
  if (sessions_.empty()) emptied_.notify_all();
}

std::vector<std::shared_ptr<Session>> ServerCore::begin_stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  return open_sessions();
}

std::vector<std::shared_ptr<Session>> ServerCore::open_sessions() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Session>> open;
  open.reserve(sessions_.size());
  for (const auto& [key, weak] : sessions_)
    if (auto session = weak.lock()) open.push_back(std::move(session));
  return open;
}

bool ServerCore::wait_until_empty(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return emptied_.wait_until(lock, deadline, [this] { return sessions_.empty(); });
}

std::size_t ServerCore::connections() {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

namespace {

// How long stop() waits, after the grace, for the 503s and responses being written.
constexpr std::chrono::milliseconds max_drain{1000};

void post_stop(const std::vector<std::shared_ptr<Session>>& sessions, bool force) {
  for (const auto& session : sessions) asio::post(session->executor(), [session, force] { session->stop(force); });
}

class ServerImpl final : public Server {
 public:
  ServerImpl(ServerOptions options, Handler handler)
      : core_(std::make_shared<ServerCore>(std::move(options), std::move(handler))),
        io_(std::make_unique<asio::io_context>(static_cast<int>(std::max<std::size_t>(core_->options.threads, 1)))),
        acceptor_(std::make_unique<tcp::acceptor>(asio::make_strand(*io_))) {}

  ~ServerImpl() override { stop(std::chrono::milliseconds(0)); }

  Expected<void, std::string> listen() {
    const ServerOptions& options = core_->options;
    std::string host = options.address == "localhost" ? "127.0.0.1" : options.address;
    std::string shown = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                        std::to_string(options.port);
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (ec) return unexpected("listen " + shown + ": not an IP address");
    tcp::endpoint endpoint(address, options.port);
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return unexpected("listen " + shown + ": " + ec.message());
    port_ = acceptor_->local_endpoint(ec).port();
    return {};
  }

  void run() {
    asio::co_spawn(acceptor_->get_executor(), accept_loop(), asio::detached);
    work_.emplace(io_->get_executor());
    std::size_t count = std::max<std::size_t>(core_->options.threads, 1);
    for (std::size_t i = 0; i < count; ++i) threads_.emplace_back([io = io_.get()] { run_io(*io); });
  }

  std::uint16_t port() const override { return port_; }
  std::size_t connections() const override { return core_->connections(); }
  std::size_t max_connections() const override { return core_->limit; }

  void stop(std::chrono::milliseconds grace) override {
    std::lock_guard stop_lock(stop_mutex_);
    if (!io_) return;
    if (!threads_.empty()) {
      asio::post(acceptor_->get_executor(), [acceptor = acceptor_.get()] {
        boost::system::error_code ec;
        acceptor->close(ec);
      });
      post_stop(core_->begin_stop(), false);
      if (!core_->wait_until_empty(Clock::now() + grace)) {
        post_stop(core_->open_sessions(), true);
        core_->wait_until_empty(Clock::now() + std::min(core_->options.write_timeout, max_drain));
      }
      work_.reset();
      io_->stop();
      for (auto& thread : threads_) thread.join();
      threads_.clear();
    }
    {
      std::unique_lock gate_lock(core_->gate->mutex);
      core_->gate->open = false;
    }
    // Destroying the io_context destroys the sessions still suspended in it.
    acceptor_.reset();
    io_.reset();
  }

 private:
  static void run_io(asio::io_context& io) {
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception&) {
        // A handler threw past its session: keep serving the others.
      }
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_->async_accept(asio::make_strand(*io_), as_tuple(use_awaitable));
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) co_return;
      if (ec) {
        // Out of descriptors and the like: back off instead of spinning.
        asio::steady_timer pause(acceptor_->get_executor(), std::chrono::milliseconds(50));
        co_await pause.async_wait(as_tuple(use_awaitable));
        continue;
      }
      core_->admit(std::move(socket));
    }
  }

  std::shared_ptr<ServerCore> core_;
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::mutex stop_mutex_;
};

}  // namespace
}  // namespace detail

Expected<std::unique_ptr<Server>, std::string> Server::start(ServerOptions options, Handler handler) {
  if (!handler) return unexpected(std::string("listen: no handler"));
  auto server = std::make_unique<detail::ServerImpl>(std::move(options), std::move(handler));
  auto listening = server->listen();
  if (!listening) return unexpected(listening.error());
  server->run();
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace cascade::http
