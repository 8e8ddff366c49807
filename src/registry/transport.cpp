// The Transport: base URLs per registry, retries with backoff and jitter, and the
// authenticate-once loop around every call (auth.cpp has the credentials side).
#include <boost/url.hpp>

#include <cmath>
#include <condition_variable>
#include <mutex>
#include <random>

#include "internal.hpp"

namespace cascade::registry::detail {

std::string api_host(std::string_view registry) {
  return registry == "docker.io" || registry == "index.docker.io" ? "registry-1.docker.io" : std::string(registry);
}

namespace {

const RegistryOptions* find_registry(const Options& options, std::string_view host) {
  for (const auto& entry : options.registries)
    if (entry.host == host || api_host(entry.host) == host) return &entry;
  return nullptr;
}

http::Options http_options(const Options& options) {
  http::Options result;
  result.resolve_timeout = result.connect_timeout = result.handshake_timeout = options.connect_timeout;
  result.read_timeout = result.write_timeout = options.io_timeout;
  result.connections_per_host = options.connections_per_host;
  result.body_limit = options.body_limit;
  result.user_agent = options.client_id;
  result.stop = options.stop;
  for (const auto& entry : options.registries) {
    http::HostOptions host{entry.insecure, entry.ca_file};
    result.hosts[entry.host] = host;
    result.hosts[api_host(entry.host)] = host;
  }
  return result;
}

// Retry-After in seconds (an HTTP date is not honoured: the backoff applies).
std::optional<std::chrono::milliseconds> retry_after(const http::Response& response) {
  auto value = response.headers.get("Retry-After");
  if (!value || value->empty() || value->find_first_not_of("0123456789") != std::string::npos || value->size() > 6)
    return std::nullopt;
  return std::chrono::seconds(std::stol(*value));
}

}  // namespace

Transport::Transport(const Options& options) : options_(options), http_(http_options(options)) {}

std::string Transport::base_url(const std::string& registry) const {
  const RegistryOptions* entry = find_registry(options_, registry);
  return (entry && entry->insecure ? "http://" : "https://") + api_host(registry);
}

std::chrono::milliseconds Transport::backoff(int attempt) const {
  const RetryOptions& retry = options_.retry;
  double delay = static_cast<double>(retry.initial_delay.count()) * std::pow(2.0, attempt - 1);
  delay = std::min(delay, static_cast<double>(retry.max_delay.count()));
  thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_real_distribution<double> spread(-retry.jitter, retry.jitter);
  return std::chrono::milliseconds(static_cast<long long>(std::max(0.0, delay * (1.0 + spread(random)))));
}

bool Transport::pause(std::chrono::milliseconds delay, Clock::time_point deadline) const {
  if (options_.stop.stop_requested() || Clock::now() + delay >= deadline) return false;
  std::mutex mutex;
  std::condition_variable_any wake;
  std::unique_lock lock(mutex);
  (void)wake.wait_for(lock, options_.stop, delay, [] { return false; });
  return !options_.stop.stop_requested();
}

Expected<http::Response, Error> Transport::fetch(const std::string& registry, http::Request request, int attempts) {
  if (attempts <= 0) attempts = options_.retry.attempts;
  auto started = Clock::now();
  if (!request.deadline) request.deadline = started + options_.retry.budget;
  const auto deadline = *request.deadline;
  for (int attempt = 1;; ++attempt) {
    auto response = http_.request(request);
    bool last = attempt >= attempts;
    if (!response) {
      Error error = from_http_error(registry, response.error());
      if (!error.transient() || last || response.error().step == "cancelled") return unexpected(std::move(error));
      if (pause(backoff(attempt), deadline)) continue;
      auto seconds = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count();
      error.message += "; gave up after " + std::to_string(attempt) + (attempt == 1 ? " try" : " tries") + " in " +
                       std::to_string(seconds) + " s (the call's time budget is " +
                       std::to_string(options_.retry.budget.count() / 1000) + " s)";
      return unexpected(std::move(error));
    }
    if (!retryable_status(response->status) || last) return std::move(*response);
    auto delay = retry_after(*response).value_or(backoff(attempt));
    if (!pause(std::min(delay, options_.retry.max_delay), deadline)) return std::move(*response);
  }
}

Expected<http::Response, Error> Transport::send(const Call& call) {
  const auto deadline = Clock::now() + options_.retry.budget;  // every try and the challenge answer
  for (bool answered = false;; answered = true) {
    CASCADE_TRY_ASSIGN(auto header, authorization(call));
    http::Request request{call.method, base_url(call.registry) + call.target, call.headers, call.body, call.body_sink};
    if (!header.empty()) request.headers.set("Authorization", header);
    request.deadline = deadline;
    auto response = fetch(call.registry, std::move(request), call.attempts);
    if (!response || response->status != 401) return response;
    if (answered) return unexpected(rejected(call, *response));
    CASCADE_TRY(answer_challenge(call, *response));
  }
}

Expected<std::string, Error> Transport::same_host_target(const std::string& registry, std::string_view base_target,
                                                         std::string_view location) const {
  std::string base = base_url(registry);
  std::string current = base + std::string(base_target);  // the views below point into it
  auto base_url_view = boost::urls::parse_absolute_uri(current);
  auto reference = boost::urls::parse_uri_reference(location);
  boost::urls::url resolved;
  if (!base_url_view || !reference || !boost::urls::resolve(*base_url_view, *reference, resolved))
    return unexpected(Error{ErrorKind::invalid, registry, "unusable location " + http::redact_url(location), "", 0});
  if (std::string(resolved.encoded_origin()) != base)
    return unexpected(Error{ErrorKind::invalid, registry, "location points at another host: " + http::redact_url(location), "", 0});
  return std::string(resolved.encoded_target());
}

}  // namespace cascade::registry::detail
