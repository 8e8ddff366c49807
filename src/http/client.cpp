// The client: a blocking facade over coroutines on one io thread, redirects, and the
// pooled send with one retry when a kept-alive connection turns out to be closed.
#include <atomic>
#include <future>
#include <thread>

#include "internal.hpp"

namespace cascade::http {

using namespace detail;
namespace bhttp = beast::http;

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

  using Promise = std::promise<Expected<Response, Error>>;

  void start(Request request, std::shared_ptr<Promise> promise) {
    asio::co_spawn(io_, deliver(std::move(request), std::move(promise)), asio::detached);
  }

  std::size_t opened() const { return opened_.load(); }

 private:
  asio::awaitable<void> deliver(Request request, std::shared_ptr<Promise> promise) {
    try {
      promise->set_value(co_await follow(std::move(request)));
    } catch (const std::exception& e) {
      promise->set_value(unexpected(Error{"internal", "", e.what()}));
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
  auto promise = std::make_shared<Impl::Promise>();
  auto future = promise->get_future();
  impl_->start(std::move(request), std::move(promise));
  try {
    return future.get();
  } catch (const std::future_error&) {
    return unexpected(Error{"shutdown", "", "the client was destroyed while the request ran"});
  }
}

std::size_t Client::connections_opened() const { return impl_->opened(); }

}  // namespace cascade::http
