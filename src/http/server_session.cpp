// One server connection on its own strand: wait for a request (idle_timeout, or read_timeout
// for the first), read its head and body (read_timeout from the first byte, header and body
// limits), hand it to the handler, wait for the answer (handler_timeout), write it
// (write_timeout) and keep the connection or close it. A watchdog coroutine enforces the
// deadlines by cancelling the socket's pending operation, which leaves the socket usable for
// a 408. Refused requests (400, 408, 413, 431) never reach the handler and close the
// connection after a short lingering read, so the client sees the answer rather than a reset.
#include "server_internal.hpp"

#include <algorithm>

namespace cascade::http::detail {

namespace bhttp = beast::http;
using asio::as_tuple;
using asio::use_awaitable;

namespace {

constexpr std::size_t read_chunk = 16u << 10;
constexpr std::chrono::milliseconds max_linger{1000};  // lingering read before closing a refused request
constexpr std::size_t max_linger_bytes = 1u << 20;

// The peer went away, or stop() cancelled the read: nothing to answer.
bool quiet_end(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor;
}

bool without_body(int status) { return status < 200 || status == 204 || status == 304; }

// Fields the server sets itself, or that would break the framing if the handler set them.
bool reserved_field(std::string_view name) {
  return beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding") ||
         beast::iequals(name, "Connection") || beast::iequals(name, "Keep-Alive") || beast::iequals(name, "Server");
}

bool safe_field(std::string_view name, std::string_view value) {
  auto breaks_line = [](char c) { return c == '\r' || c == '\n'; };
  return !name.empty() && std::none_of(name.begin(), name.end(), breaks_line) &&
         std::none_of(value.begin(), value.end(), breaks_line);
}

bool expects_continue(const bhttp::request<bhttp::string_body>& message) {
  auto expect = message.find(bhttp::field::expect);
  return message.version() >= 11 && expect != message.end() && beast::iequals(expect->value(), "100-continue");
}

// The request as the handler sees it (the body moved out of `message`); nothing when the
// target is not a path.
std::optional<ServerRequest> take_request(bhttp::request<bhttp::string_body>& message, const std::string& remote,
                                          const std::string& local) {
  ServerRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  if (!decode_target(request)) return std::nullopt;
  for (const auto& field : message) request.headers.add(std::string(field.name_string()), std::string(field.value()));
  request.body = std::move(message.body());
  request.remote = remote;
  request.local = local;
  return request;
}

}  // namespace

void ReplySlot::answer(ServerResponse response) {
  std::unique_lock lock(mutex);
  if (state == State::in_handler) {
    early = std::move(response);
    state = State::done;
    return;
  }
  if (state != State::waiting) return;
  state = State::done;
  std::uint64_t request = sequence;
  lock.unlock();
  std::shared_lock gate_lock(gate->mutex);
  if (!gate->open) return;
  if (auto target = session.lock()) target->post_answer(request, std::move(response));
}

Session::Session(tcp::socket socket, std::shared_ptr<ServerCore> core)
    : core_(std::move(core)),
      socket_(std::move(socket)),
      executor_(socket_.get_executor()),
      watchdog_(executor_),
      handler_timer_(executor_) {
  boost::system::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  auto peer = socket_.remote_endpoint(ec);
  remote_ = ec ? std::string("unknown") : endpoint_text(peer);
  auto here = socket_.local_endpoint(ec);
  if (!ec) local_ = here.address().to_string();
  buffer_.reserve(read_chunk);
}

Session::~Session() {
  if (!left_) core_->leave(this);
}

void Session::start() {
  auto self = shared_from_this();
  asio::co_spawn(executor_, run(self), asio::detached);
  asio::co_spawn(executor_, watch(self), asio::detached);
}

void Session::stop(bool force) {
  stopping_ = true;
  if (force) force_stopped_ = true;
  boost::system::error_code ec;
  switch (phase_) {
    case Phase::idle:
      socket_.cancel(ec);
      break;
    case Phase::reading:
    case Phase::closing:
      if (force) socket_.cancel(ec);
      break;
    case Phase::handling:
      if (force) handler_timer_.cancel();
      break;
    case Phase::starting:  // await_request sees stopping_
    case Phase::writing:   // finishes, then closes
    case Phase::closed:
      break;
  }
}

void Session::tighten_idle() {
  auto wait = core_->options.busy_idle_timeout;
  if (phase_ == Phase::idle && deadline_ > Clock::now() + wait) set_deadline(wait);
}

void Session::watch_peer() {
  // Readable while waiting for the handler: the client closed (or reset), or it sent its
  // next request early. A peek tells which, without taking the bytes.
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this(), sequence = sequence_](
                                                  boost::system::error_code ec) {
    if (ec || self->phase_ != Phase::handling || self->sequence_ != sequence) return;
    char probe = 0;
    boost::system::error_code peek_ec;
    self->socket_.non_blocking(true, peek_ec);  // a spurious wake must not block the strand
    std::size_t peeked = self->socket_.receive(asio::buffer(&probe, 1), tcp::socket::message_peek, peek_ec);
    if (peeked > 0 || peek_ec == asio::error::would_block || peek_ec == asio::error::try_again) return;
    self->peer_gone_ = true;
    self->handler_timer_.cancel();
  });
}

void Session::post_answer(std::uint64_t sequence, ServerResponse response) {
  asio::post(executor_, [self = shared_from_this(), sequence, response = std::move(response)]() mutable {
    self->deliver(sequence, std::move(response));
  });
}

void Session::deliver(std::uint64_t sequence, ServerResponse response) {
  if (phase_ != Phase::handling || sequence != sequence_ || answer_) return;
  answer_ = std::move(response);
  handler_timer_.cancel();
}

void Session::set_deadline(std::chrono::milliseconds limit) {
  deadline_ = Clock::now() + limit;
  timed_out_ = false;
  // The watchdog wakes at its expiry and re-arms for a later deadline; only an earlier one
  // needs to wake it now.
  if (deadline_ < watchdog_.expiry()) watchdog_.expires_at(deadline_);
}

void Session::clear_deadline() {
  deadline_ = Clock::time_point::max();
  timed_out_ = false;
}

asio::awaitable<void> Session::watch([[maybe_unused]] std::shared_ptr<Session> self) {
  while (phase_ != Phase::closed) {
    watchdog_.expires_at(deadline_);
    co_await watchdog_.async_wait(as_tuple(use_awaitable));
    if (phase_ == Phase::closed) break;
    if (Clock::now() < deadline_) continue;
    deadline_ = Clock::time_point::max();
    timed_out_ = true;
    boost::system::error_code ec;
    socket_.cancel(ec);
  }
}

asio::awaitable<void> Session::run([[maybe_unused]] std::shared_ptr<Session> self) {
  try {
    bool first = true;
    while (co_await await_request(first)) {
      first = false;
      if (!co_await serve_one()) break;
    }
  } catch (...) {
    // bad_alloc and the like: drop this connection, keep the server.
  }
  close();
}

asio::awaitable<bool> Session::await_request(bool first) {
  if (stopping_) co_return false;
  if (buffer_.size() > 0) co_return true;  // the client sent the next request already
  phase_ = Phase::idle;
  // A new connection gets read_timeout to start its request; a kept one idle_timeout; either
  // only busy_idle_timeout while more than half of the connection limit is open.
  auto wait = first ? core_->options.read_timeout : core_->options.idle_timeout;
  if (core_->under_pressure()) wait = std::min(wait, core_->options.busy_idle_timeout);
  set_deadline(wait);
  auto [ec, bytes] = co_await socket_.async_read_some(buffer_.prepare(read_chunk), as_tuple(use_awaitable));
  if (ec) co_return false;
  buffer_.commit(bytes);
  co_return true;
}

asio::awaitable<bool> Session::serve_one() {
  const ServerOptions& options = core_->options;
  phase_ = Phase::reading;
  set_deadline(options.read_timeout);
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(options.header_limit, UINT32_MAX)));
  parser_->body_limit(options.body_limit);
  auto [ec, bytes] = co_await bhttp::async_read_header(socket_, buffer_, *parser_, as_tuple(use_awaitable));
  Clock::time_point head_end = Clock::now();
  if (!ec && !parser_->is_done()) {
    if (expects_continue(parser_->get())) {
      static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
      std::tie(ec, bytes) = co_await asio::async_write(socket_, asio::buffer(go_on), as_tuple(use_awaitable));
    }
    if (!ec) std::tie(ec, bytes) = co_await bhttp::async_read(socket_, buffer_, *parser_, as_tuple(use_awaitable));
  }
  if (ec) {
    co_await refuse(ec);
    co_return false;
  }

  auto& message = parser_->get();
  unsigned version = message.version();
  bool head = message.method() == bhttp::verb::head;
  bool keep_alive = message.keep_alive();
  std::optional<ServerRequest> taken = take_request(message, remote_, local_);
  if (!taken) {
    co_await refuse(400, "bad target");
    co_return false;
  }
  ServerRequest request = std::move(*taken);
  parser_.reset();

  std::optional<AccessEntry> entry;
  if (options.access_log) entry = AccessEntry{request.method, request.path, 0, {}, request.body.size(), 0, remote_};
  ServerResponse response = co_await call_handler(std::move(request));
  if (peer_gone_) co_return false;  // nobody to answer
  auto connection = response.headers.get("Connection");
  keep_alive = keep_alive && !stopping_ && !(connection && beast::iequals(*connection, "close"));
  if (!co_await write_response(std::move(response), version, head, keep_alive, entry ? &*entry : nullptr))
    co_return false;
  if (entry) log(*entry, head_end);
  if (!keep_alive) {
    boost::system::error_code shutdown_ec;
    socket_.shutdown(tcp::socket::shutdown_send, shutdown_ec);
    co_return false;
  }
  co_return true;
}

asio::awaitable<ServerResponse> Session::call_handler(ServerRequest&& request) {
  // A slot no Respond copy still holds can serve the next request too.
  if (!slot_ || slot_.use_count() > 1) {
    slot_ = std::make_shared<ReplySlot>();
    slot_->session = weak_from_this();
    slot_->gate = core_->gate;
  }
  {
    std::lock_guard lock(slot_->mutex);  // orders this reuse after the last answer() on it
    slot_->state = ReplySlot::State::in_handler;
    slot_->early.reset();
    slot_->sequence = ++sequence_;
  }
  answer_.reset();
  phase_ = Phase::handling;
  clear_deadline();

  request.deadline = Clock::now() + core_->options.handler_timeout;
  request.abandoned = [slot = std::weak_ptr<ReplySlot>(slot_), sequence = sequence_] {
    auto held = slot.lock();
    if (!held) return true;
    {
      std::lock_guard lock(held->mutex);
      if (held->sequence != sequence || held->state == ReplySlot::State::done || held->session.expired()) return true;
    }
    std::shared_lock gate_lock(held->gate->mutex);
    return !held->gate->open;
  };
  bool threw = false;
  try {
    core_->handler(std::move(request), [slot = slot_](ServerResponse response) { slot->answer(std::move(response)); });
  } catch (...) {
    threw = true;
  }
  std::optional<ServerResponse> early;
  {
    std::lock_guard lock(slot_->mutex);
    early.swap(slot_->early);
    slot_->state = early || threw ? ReplySlot::State::done : ReplySlot::State::waiting;
  }
  if (early) co_return std::move(*early);  // answered inline: no thread hop, no timer
  if (threw) co_return ServerResponse::text(500, "internal error\n");

  if (!force_stopped_) {
    bool watching = buffer_.size() == 0 && !stopping_;
    if (watching) watch_peer();
    handler_timer_.expires_after(core_->options.handler_timeout);
    co_await handler_timer_.async_wait(as_tuple(use_awaitable));
    if (watching && !peer_gone_) {
      boost::system::error_code ec;
      socket_.cancel(ec);  // ends watch_peer's wait
    }
  }
  {
    std::lock_guard lock(slot_->mutex);
    slot_->state = ReplySlot::State::done;  // a late answer is dropped; abandoned() says true
  }
  if (answer_) {
    ServerResponse response = std::move(*answer_);
    answer_.reset();
    co_return response;
  }
  co_return ServerResponse::text(503, force_stopped_ ? "server stopping\n" : "no answer in time\n");
}

asio::awaitable<bool> Session::write_response(ServerResponse response, unsigned version, bool head,
                                              bool keep_alive, AccessEntry* entry) {
  phase_ = Phase::writing;
  int status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  bhttp::response<bhttp::string_body> message;
  message.version(version);
  message.result(static_cast<unsigned>(status));
  for (const auto& [name, value] : response.headers.fields())
    if (!reserved_field(name) && safe_field(name, value)) message.insert(name, value);
  message.set(bhttp::field::server, "cascade");
  message.keep_alive(keep_alive);
  std::size_t body_size = without_body(status) ? 0 : response.body.size();
  if (!without_body(status)) message.content_length(body_size);
  if (!head && body_size > 0) message.body() = std::move(response.body);

  set_deadline(core_->options.write_timeout);
  auto [ec, written] = co_await bhttp::async_write(socket_, message, as_tuple(use_awaitable));
  clear_deadline();
  if (entry) {
    entry->status = status;
    entry->response_bytes = head ? 0 : body_size;
  }
  co_return !ec;
}

asio::awaitable<void> Session::refuse(const boost::system::error_code& ec) {
  const ServerOptions& options = core_->options;
  if (!timed_out_ && quiet_end(ec)) co_return;
  int status = 400;
  std::string reason = ec.message();
  if (timed_out_) {
    status = 408;
    reason = "request not received in time";
  } else if (ec == bhttp::error::body_limit) {
    status = 413;
    reason = "body exceeds " + std::to_string(options.body_limit) + " bytes";
  } else if (ec == bhttp::error::header_limit) {
    status = 431;
    reason = "header exceeds " + std::to_string(options.header_limit) + " bytes";
  }
  co_await refuse(status, std::move(reason));
}

asio::awaitable<void> Session::refuse(int status, std::string reason) {
  Clock::time_point since = Clock::now();
  // The request line is known once its target is (a body over the limit by Content-Length
  // fails before the head is complete; a head over the limit is not parsed at all).
  bool known = parser_ && !parser_->get().target().empty();
  std::optional<AccessEntry> entry;
  if (core_->options.access_log) {
    entry = AccessEntry{};
    entry->remote = remote_;
    if (known) {
      ServerRequest partial;
      partial.method = std::string(parser_->get().method_string());
      partial.target = std::string(parser_->get().target());
      decode_target(partial);
      entry->method = std::move(partial.method);
      entry->path = std::move(partial.path);
    }
  }
  unsigned version = known ? parser_->get().version() : 11;
  bool head = known && parser_->get().method() == bhttp::verb::head;
  bool written = co_await write_response(ServerResponse::text(status, reason + "\n"), version, head, false,
                                         entry ? &*entry : nullptr);
  if (written && entry) log(*entry, since);
  if (written) co_await linger_close();
}

asio::awaitable<void> Session::linger_close() {
  phase_ = Phase::closing;
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  // Read what the client still sends until it closes, briefly: closing with unread bytes
  // would reset the connection and could destroy the answer before the client reads it.
  set_deadline(std::min(core_->options.read_timeout, max_linger));
  buffer_.consume(buffer_.size());
  std::size_t discarded = 0;
  while (discarded < max_linger_bytes) {
    auto [read_ec, bytes] = co_await socket_.async_read_some(buffer_.prepare(read_chunk), as_tuple(use_awaitable));
    if (read_ec) break;
    discarded += bytes;
  }
  clear_deadline();
}

void Session::log(AccessEntry& entry, Clock::time_point since) {
  entry.duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - since);
  try {
    core_->options.access_log(entry);
  } catch (...) {
    // A failing access log must not take the connection down.
  }
}

void Session::close() {
  if (phase_ == Phase::closed) return;
  phase_ = Phase::closed;
  boost::system::error_code ec;
  socket_.close(ec);
  watchdog_.cancel();
  handler_timer_.cancel();
  if (!left_) {
    left_ = true;
    core_->leave(this);
  }
}

}  // namespace cascade::http::detail
