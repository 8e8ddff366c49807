// The client: a blocking facade over coroutines on one io thread, redirects, and the
// pooled send with one retry when a kept-alive connection turns out to be closed. The
// facade returns at the request's deadline or at Options::stop whatever the peer does, and
// then cancels the coroutine's socket work on the io thread.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "internal.hpp"

namespace cascade::http {

using namespace detail;
namespace bhttp = beast::http;

namespace {

// One request's result, set once: by the coroutine, by a stop, at the deadline, or when the
// coroutine is destroyed unfinished (the client went away).
struct Pending {
  std::mutex mutex;
  std::condition_variable settled;
  std::optional<Expected<Response, Error>> result;
  asio::cancellation_signal cancel;  // emitted on the io thread only

  /// Sets the result unless one is set; true when this call set it.
  bool complete(Expected<Response, Error> value) {
    {
      std::lock_guard lock(mutex);
      if (result) return false;
      result = std::move(value);
    }
    settled.notify_all();
    return true;
  }
};

// Completes `pending` with "shutdown" when the coroutine ends without completing it.
struct CompleteOnExit {
  std::shared_ptr<Pending> pending;
  ~CompleteOnExit() { pending->complete(unexpected(Error{"shutdown", "", "the client was destroyed while the request ran"})); }
};

std::string host_of(const std::string& url) {
  auto target = parse_target(url);
  return target ? target->endpoint.host_port() : std::string();
}

}  // namespace

class Client::Impl {
 public:
  explicit Impl(Options options)
      : options_(std::move(options)),
        pool_(options_.connections_per_host, options_.idle_timeout),
        work_(asio::make_work_guard(io_)),
        thread_([this] { io_.run(); }) {}

  ~Impl() {
    std::promise<void> cleared;
    asio::post(io_, [&] { pool_.clear(); cleared.set_value(); });
    cleared.get_future().wait();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  void start(Request request, const std::shared_ptr<Pending>& pending) {
    auto slot = pending->cancel.slot();
    // The completion handler keeps `pending`, and so the signal behind `slot`, alive until
    // co_spawn has finished with the slot: the caller may drop its reference as soon as the
    // coroutine completes the result, while the io thread still clears the slot (ASan found
    // the use after free).
    asio::co_spawn(io_, deliver(std::move(request), pending),
                   asio::bind_cancellation_slot(slot, [pending](const std::exception_ptr&) {}));
  }

  /// Cancels what the request's coroutine waits on (a socket operation), on the io thread.
  void abandon(const std::shared_ptr<Pending>& pending) {
    asio::post(io_, [pending] { pending->cancel.emit(asio::cancellation_type::terminal); });
  }

  const std::stop_token& stop() const { return options_.stop; }
  std::size_t opened() const { return opened_.load(); }

 private:
  asio::awaitable<void> deliver(Request request, std::shared_ptr<Pending> pending) {
    CompleteOnExit on_exit{pending};
    // A cancelled operation completes with an error the steps report; nothing throws.
    co_await asio::this_coro::throw_if_cancelled(false);
    try {
      pending->complete(co_await follow(std::move(request)));
    } catch (const std::exception& e) {
      pending->complete(unexpected(Error{"internal", "", e.what()}));
    }
  }

  asio::awaitable<Expected<Response, Error>> follow(Request request);
  asio::awaitable<Expected<Response, Error>> send(const Target& target, const Request& request);
  Expected<HostOptions, Error> host_options(const Endpoint& endpoint) const;
  BeastRequest to_beast(const Target& target, const Request& request) const;

  Options options_;
  asio::io_context io_{1};
  TlsContexts contexts_;
  Pool pool_;
  std::atomic<std::size_t> opened_{0};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

namespace {

bool is_redirect(int status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

// Rewrites `request` to follow a redirect to `next`: Authorization never crosses to another
// endpoint; 303 (and 301/302 after a POST) become a GET without a body.
void redirect(Request& request, int status, const Target& from, const Target& next, std::string url) {
  if (next.endpoint.key() != from.endpoint.key()) request.headers.remove("Authorization");
  if (status == 303 || ((status == 301 || status == 302) && request.method == "POST")) {
    request.method = "GET";
    request.body.clear();
    request.headers.remove("Content-Type");
  }
  request.url = std::move(url);
}

}  // namespace

asio::awaitable<Expected<Response, Error>> Client::Impl::follow(Request request) {
  for (int hops = 0;; ++hops) {
    auto target = parse_target(request.url);
    if (!target) co_return unexpected(target.error());
    auto response = co_await send(*target, request);
    if (!response) co_return response;
    auto location = response->headers.get("Location");
    if (!is_redirect(response->status) || !location) {
      response->url = request.url;
      co_return response;
    }
    std::string host = target->endpoint.host_port();
    if (hops >= options_.max_redirects)
      co_return unexpected(Error{"redirect", host, "more than " + std::to_string(options_.max_redirects) + " redirects"});
    std::string next_url = resolve_location(request.url, *location);
    auto next = parse_target(next_url);
    if (!next) co_return unexpected(Error{"redirect", host, "unusable Location " + redact_url(*location)});
    redirect(request, response->status, *target, *next, std::move(next_url));
  }
}

Expected<HostOptions, Error> Client::Impl::host_options(const Endpoint& endpoint) const {
  HostOptions host;
  auto found = options_.hosts.find(endpoint.authority());
  if (found == options_.hosts.end()) found = options_.hosts.find(endpoint.host + ":" + endpoint.port);
  if (found == options_.hosts.end()) found = options_.hosts.find(endpoint.host);
  if (found != options_.hosts.end()) host = found->second;
  if (!endpoint.tls() && !host.insecure)
    return unexpected(Error{"url", endpoint.host_port(), "plain http refused: the host is not marked insecure"});
  return host;
}

BeastRequest Client::Impl::to_beast(const Target& target, const Request& request) const {
  BeastRequest message;
  bhttp::verb verb = bhttp::string_to_verb(request.method);
  if (verb == bhttp::verb::unknown) message.method_string(request.method);
  else message.method(verb);
  message.target(target.target);
  message.version(11);
  message.set(bhttp::field::host, target.endpoint.authority());
  message.set(bhttp::field::user_agent, options_.user_agent);
  for (const auto& [name, value] : request.headers.fields()) message.insert(name, value);
  message.body() = request.body;
  message.keep_alive(true);
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" || request.method == "PATCH")
    message.content_length(request.body.size());
  return message;
}

asio::awaitable<Expected<Response, Error>> Client::Impl::send(const Target& target, const Request& request) {
  auto host = host_options(target.endpoint);
  if (!host) co_return unexpected(host.error());
  BeastRequest message = to_beast(target, request);
  std::string key = target.endpoint.key();
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> connection = co_await pool_.acquire(key);
    if (!connection) {
      auto opened = co_await open_connection(target.endpoint, *host, contexts_, options_);
      if (!opened) {
        pool_.release(key, nullptr);
        co_return unexpected(opened.error());
      }
      ++opened_;
      connection = std::move(*opened);
    }
    Exchange exchange_result = co_await exchange(*connection, message, options_, request.body_sink);
    pool_.release(key, exchange_result.reusable ? std::move(connection) : nullptr);
    if (exchange_result.stale && attempt < 3) continue;  // the server closed a kept-alive connection
    co_return std::move(exchange_result.response);
  }
}

Client::Client(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Client::~Client() = default;

Expected<Response, Error> Client::request(Request request) {
  std::string host = host_of(request.url);
  Error cancelled{"cancelled", host, "cancelled: cascade is stopping"};
  if (impl_->stop().stop_requested()) return unexpected(cancelled);
  auto deadline = request.deadline;
  if (deadline && *deadline <= std::chrono::steady_clock::now())
    return unexpected(Error{"timeout", host, "the request's deadline passed before it started"});
  auto pending = std::make_shared<Pending>();
  impl_->start(std::move(request), pending);
  std::atomic<bool> abandoned{false};  // set by this thread at the deadline or by the stopping one
  {
    std::stop_callback on_stop(impl_->stop(), [&] {
      if (pending->complete(unexpected(cancelled))) abandoned = true;
    });
    std::unique_lock lock(pending->mutex);
    auto done = [&] { return pending->result.has_value(); };
    if (!deadline) {
      pending->settled.wait(lock, done);
    } else if (!pending->settled.wait_until(lock, *deadline, done)) {
      lock.unlock();
      if (pending->complete(unexpected(Error{"timeout", host, "no complete answer within the request's deadline"})))
        abandoned = true;
    }
  }
  if (abandoned) impl_->abandon(pending);
  std::lock_guard lock(pending->mutex);
  return std::move(*pending->result);
}

std::size_t Client::connections_opened() const { return impl_->opened(); }

}  // namespace cascade::http
