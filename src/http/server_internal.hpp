// Pieces of the HTTP server shared between its files: the state every session shares with
// the server (options, handler, the registry of open sessions, the response gate), the
// per-request reply slot behind a Respond callback, and the session itself.
//
// Threads: a session runs on its own strand (two coroutines: the request loop and the
// deadline watchdog). A Respond callback may run on any thread; it reaches the session only
// by posting to that strand, and only while the gate is open (stop() closes it before the
// io_context goes away).
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cascade/http_server.hpp"
#include "target.hpp"

namespace cascade::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class Session;

/// Open while the io_context runs; Respond callbacks post to sessions only under a shared
/// lock of an open gate, so closing it (exclusively) ends all posting for good.
struct Gate {
  std::shared_mutex mutex;
  bool open = true;
};

/// What a Respond callback holds: the answer for one request of one session.
struct ReplySlot {
  enum class State {
    in_handler,  // the handler is still running on the io thread: an answer is kept in `early`
    waiting,     // the session waits for an answer posted to its strand
    done,        // answered, timed out or abandoned: later answers are dropped
  };

  std::mutex mutex;
  State state = State::in_handler;
  std::optional<ServerResponse> early;
  std::uint64_t sequence = 0;  // the session's request number this slot answers
  std::weak_ptr<Session> session;
  std::shared_ptr<Gate> gate;

  /// The body of Respond: keeps, posts or drops `response` by the state.
  void answer(ServerResponse response);
};

/// State shared by the server and its sessions.
class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(ServerOptions options, Handler handler)
      : options(std::move(options)),
        handler(std::move(handler)),
        gate(std::make_shared<Gate>()),
        limit(connection_limit(this->options.max_connections)) {}

  const ServerOptions options;
  const Handler handler;
  const std::shared_ptr<Gate> gate;
  const std::size_t limit;  // options.max_connections clamped to the descriptor limit

  /// On the acceptor's strand: starts a session for `socket`; closes it at once when the
  /// server is stopping; answers it 503 when `limit` connections are open. Under pressure
  /// it tells idle sessions to shorten their wait (at most every 250 ms).
  void admit(tcp::socket socket);
  /// More than half of `limit` open: waits for a request shrink to busy_idle_timeout.
  bool under_pressure();
  /// Called once by each session as it closes (or is destroyed).
  void leave(const Session* session);
  /// Marks the server stopping (admit refuses from now on); returns the open sessions.
  std::vector<std::shared_ptr<Session>> begin_stop();
  /// The open sessions now.
  std::vector<std::shared_ptr<Session>> open_sessions();
  /// Waits until no session is open or `deadline` passes; true when none is open.
  bool wait_until_empty(Clock::time_point deadline);
  std::size_t connections();

 private:
  std::mutex mutex_;
  std::condition_variable emptied_;
  bool stopping_ = false;
  Clock::time_point last_sweep_{};
  std::shared_ptr<std::atomic<std::size_t>> refusing_ = std::make_shared<std::atomic<std::size_t>>(0);
  std::unordered_map<const Session*, std::weak_ptr<Session>> sessions_;
};

/// One connection: reads requests one at a time, hands each to the handler, writes its
/// answer, and keeps the connection alive or closes it. Everything but post_answer() runs on
/// the session's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<ServerCore> core);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Spawns the request loop and the deadline watchdog on the strand.
  void start();
  /// On the strand. Graceful: close now when idle, else after the current response.
  /// Forced: a request waiting for its handler is answered 503, idle or reading connections
  /// are closed, a response being written is finished.
  void stop(bool force);
  /// On the strand: a session waiting for a request waits at most busy_idle_timeout more.
  void tighten_idle();
  /// Any thread: hands the answer to request `sequence` to the strand.
  void post_answer(std::uint64_t sequence, ServerResponse response);

  const asio::any_io_executor& executor() const { return executor_; }

 private:
  enum class Phase { starting, idle, reading, handling, writing, closing, closed };
  using Parser = beast::http::request_parser<beast::http::string_body>;

  // Both hold `self` so the session lives while either runs.
  asio::awaitable<void> run(std::shared_ptr<Session> self);
  asio::awaitable<void> watch(std::shared_ptr<Session> self);
  asio::awaitable<bool> await_request(bool first);
  asio::awaitable<bool> serve_one();
  asio::awaitable<ServerResponse> call_handler(ServerRequest&& request);
  asio::awaitable<bool> write_response(ServerResponse response, unsigned version, bool head, bool keep_alive,
                                       AccessEntry* entry);
  /// Answers a failed read (408, 413, 431 or 400; nothing when the peer left) and lingers.
  asio::awaitable<void> refuse(const boost::system::error_code& ec);
  asio::awaitable<void> refuse(int status, std::string reason);
  asio::awaitable<void> linger_close();
  void deliver(std::uint64_t sequence, ServerResponse response);
  /// While the handler works: notices the client closing (peer_gone_, the wait ends).
  void watch_peer();
  void set_deadline(std::chrono::milliseconds limit);
  void clear_deadline();
  void log(AccessEntry& entry, Clock::time_point since);
  void close();

  std::shared_ptr<ServerCore> core_;
  tcp::socket socket_;
  asio::any_io_executor executor_;
  asio::steady_timer watchdog_;       // wakes at or before deadline_
  asio::steady_timer handler_timer_;  // handler_timeout while waiting for an answer
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timed_out_ = false;  // the deadline cut the current socket operation
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::string remote_;
  std::string local_;  // the address the peer connected to
  Phase phase_ = Phase::starting;
  bool stopping_ = false;        // close after the current response
  bool force_stopped_ = false;   // answer the waiting request 503 now
  bool peer_gone_ = false;       // the client closed while its request was with the handler
  bool left_ = false;            // core_->leave() was called
  std::uint64_t sequence_ = 0;   // requests read so far
  std::optional<ServerResponse> answer_;  // delivered for request `sequence_`
  std::shared_ptr<ReplySlot> slot_;       // reused while no Respond copy outlives its request
};

/// "127.0.0.1:54321" or "[::1]:54321".
std::string endpoint_text(const tcp::endpoint& endpoint);

}  // namespace cascade::http::detail
