// Sending what the outbox holds: a Slack-compatible POST, a signed webhook POST or a command,
// one notification at a time, each destination's in the order they were stored.
//
// Order per destination: a notification goes out only once every older one of its
// destination was delivered. One that failed (or is not due yet) holds back the newer ones of
// its destination, in this pass and in later ones, until it is delivered; other destinations
// go on. So a receiver sees each destination's events in order, whatever was down when.
//
// A notification whose destination is no longer in the pipeline (renamed or removed since it
// was stored) is kept, not dropped: it fails with a message saying so and is tried again an
// hour later, so a pipeline that brings the name back gets it delivered.
//
// Secrets: the URL (whose path, query or user info may carry a token) and the HMAC key are
// read from the environment for each delivery. Errors name the variable and at most the
// URL's scheme://host[:port]; anything a peer or a library says is scrubbed of the URL's
// parts and the key before it is stored.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>

#include "cascade/http.hpp"
#include "cascade/notify.hpp"
#include "cascade/process.hpp"
#include "cascade/webhook.hpp"

namespace cascade::notify {

namespace {

constexpr std::chrono::hours kOrphanRetry{1};
// Undelivered notifications read per pass, due or not (the not-due ones hold back the newer
// ones of their destination).
constexpr std::size_t kPendingRead = 10'000;
constexpr std::size_t kExcerpt = 160;

store::Time far_future() { return std::chrono::sys_days{std::chrono::year{9999} / 12 / 31}; }

// The parts of an http(s) URL that may be shown (origin) and the ones that may not.
struct UrlParts {
  std::string scheme;     // "https"
  std::string authority;  // "hooks.example.com" or "127.0.0.1:8080", without user info
  std::vector<std::string> hidden;  // user info, path, query, fragment, the whole URL
  std::string origin() const { return scheme + "://" + authority; }
};

std::optional<UrlParts> split_url(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return std::nullopt;
  UrlParts parts;
  for (char c : url.substr(0, scheme_end)) parts.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (parts.scheme != "http" && parts.scheme != "https") return std::nullopt;
  std::string rest = url.substr(scheme_end + 3);
  auto authority_end = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, authority_end);
  if (auto at = authority.rfind('@'); at != std::string::npos) {
    parts.hidden.push_back(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }
  if (authority.empty()) return std::nullopt;
  parts.authority = authority;
  if (authority_end != std::string::npos) {
    std::string tail = rest.substr(authority_end);  // path?query#fragment
    parts.hidden.push_back(tail);
    for (char separator : {'?', '#'})
      if (auto at = tail.find(separator); at != std::string::npos) tail = tail.substr(0, at);
    parts.hidden.push_back(tail);
    if (auto query = rest.find('?', authority_end); query != std::string::npos) parts.hidden.push_back(rest.substr(query + 1));
  }
  parts.hidden.push_back(url);
  return parts;
}

// Replaces every occurrence of a secret (longest first) with "<redacted>".
std::string scrub(std::string text, std::vector<std::string> secrets) {
  std::sort(secrets.begin(), secrets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const std::string& secret : secrets) {
    if (secret.size() < 2) continue;  // "/" alone is no secret
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 10))
      text.replace(at, secret.size(), "<redacted>");
  }
  return text;
}

// One line of at most kExcerpt printable characters from what a peer or a child said.
std::string excerpt(const std::string& text) {
  std::string line;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (!line.empty()) line += ' ';
      continue;
    }
    line += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  if (line.size() > kExcerpt) line = line.substr(0, kExcerpt) + "...";
  return line;
}

// The event back from a stored body (for the Slack text).
Event event_from_body(const nlohmann::json& body) {
  Event event;
  event.id = body.value("id", "");
  event.kind = body.value("event", "");
  event.run = body.value("run", store::RunId{0});
  event.text = body.value("text", "");
  if (auto images = body.find("images"); images != body.end() && images->is_array())
    for (const auto& image : *images)
      if (image.is_string()) event.images.push_back(image.get<std::string>());
  event.details = body;
  for (const char* core : {"id", "event", "run", "text", "images", "at"}) event.details.erase(core);
  return event;
}

// What one pass shares: the environment, the stop request and one HTTP client per
// destination (its timeouts and TLS choice are the destination's).
struct Pass {
  const Deliverer::Environment& environment;
  std::stop_token stop;
  std::map<std::string, std::unique_ptr<http::Client>> clients;

  http::Client& client(const pipeline::Notify& destination, const UrlParts& url) {
    std::string key = destination.name + "\n" + url.origin();
    auto& slot = clients[key];
    if (!slot) {
      http::Options options;
      options.resolve_timeout = options.connect_timeout = options.handshake_timeout = destination.timeout;
      options.write_timeout = options.read_timeout = destination.timeout;
      options.max_redirects = 0;  // a redirected POST would lose its body or method; a 3xx is a failure
      options.connections_per_host = 1;
      options.stop = stop;
      // Plain http is the operator's choice of URL (a receiver inside the network); https is
      // verified unless the destination says `insecure: true`.
      options.hosts[url.authority].insecure = url.scheme == "http" || destination.insecure;
      slot = std::make_unique<http::Client>(options);
    }
    return *slot;
  }
};

// Reads `name` from the environment: the value, or why it cannot be used.
Expected<std::string, std::string> variable(const Deliverer::Environment& environment, const char* role,
                                            const std::string& name) {
  auto value = environment(name);
  if (!value) return unexpected(std::string(role) + " " + name + " is not set");
  if (value->empty()) return unexpected(std::string(role) + " " + name + " is empty");
  return *value;
}

// POSTs `body`; nullopt when a 2xx answered, else the failure (no secret in it).
std::optional<std::string> post(Pass& pass, const pipeline::Notify& destination, http::Headers headers,
                                std::string body, const std::vector<std::string>& secrets) {
  auto url = variable(pass.environment, "url_env", destination.url_env);
  if (!url) return url.error();
  auto parts = split_url(*url);
  if (!parts) return "url_env " + destination.url_env + " does not hold an http:// or https:// URL";
  std::vector<std::string> hidden = parts->hidden;
  hidden.insert(hidden.end(), secrets.begin(), secrets.end());
  http::Request request;
  request.method = "POST";
  request.url = *url;
  request.headers = std::move(headers);
  request.body = std::move(body);
  request.deadline = std::chrono::steady_clock::now() + destination.timeout;
  auto response = pass.client(destination, *parts).request(std::move(request));
  const std::string where = "POST to " + parts->origin();
  if (!response)
    return scrub(where + " failed: " + response.error().step + ": " + response.error().message, hidden);
  if (response->status >= 200 && response->status < 300) return std::nullopt;
  std::string said = excerpt(response->body);
  return scrub(where + " answered " + std::to_string(response->status) + (said.empty() ? "" : ": " + said), hidden);
}

std::optional<std::string> send_slack(Pass& pass, const pipeline::Notify& destination,
                                      const store::Notification& notification) {
  auto body = nlohmann::json::parse(notification.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return "the stored event is not a JSON object";
  http::Headers headers;
  headers.set("Content-Type", "application/json");
  std::string text = slack_payload(event_from_body(body)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return post(pass, destination, std::move(headers), std::move(text), {});
}

std::optional<std::string> send_webhook(Pass& pass, const pipeline::Notify& destination,
                                        const store::Notification& notification) {
  http::Headers headers;
  headers.set("Content-Type", "application/json");
  headers.set("X-Cascade-Event", notification.event);
  headers.set("X-Cascade-Delivery", notification.event_id);
  std::vector<std::string> secrets;
  if (!destination.secret_env.empty()) {
    auto key = variable(pass.environment, "secret_env", destination.secret_env);
    if (!key) return key.error();  // never sent unsigned when a signature was asked for
    headers.set("X-Cascade-Signature-256", "sha256=" + webhook::hmac_sha256_hex(*key, notification.body));
    secrets.push_back(*key);
  }
  return post(pass, destination, std::move(headers), notification.body, secrets);
}

std::optional<std::string> run_command(Pass& pass, const pipeline::Notify& destination,
                                       const store::Notification& notification) {
  if (destination.argv.empty()) return "the command destination has no argv";
  process::Options options;
  options.env = {{"CASCADE_EVENT", notification.event}, {"CASCADE_DELIVERY", notification.event_id}};
  options.input = notification.body;
  options.timeout = destination.timeout;
  options.cancel = pass.stop;
  const std::string name = "command " + destination.argv.front();
  auto result = process::run(destination.argv, options);
  if (!result) return name + ": " + excerpt(result.error());
  if (result->timed_out) return name + " timed out after " + std::to_string(destination.timeout.count()) + " ms";
  if (result->cancelled) return name + " stopped: cascade is stopping";
  if (result->exit_code == 0) return std::nullopt;
  std::string said = excerpt(result->err.empty() ? result->out : result->err);
  return name + " exited " + std::to_string(result->exit_code) + (said.empty() ? "" : ": " + said);
}

std::optional<std::string> send(Pass& pass, const pipeline::Notify& destination,
                                const store::Notification& notification) {
  switch (destination.kind) {
    case pipeline::Notify::Kind::slack: return send_slack(pass, destination, notification);
    case pipeline::Notify::Kind::webhook: return send_webhook(pass, destination, notification);
    case pipeline::Notify::Kind::command: return run_command(pass, destination, notification);
  }
  return "unknown destination kind";
}

// Undelivered notifications, oldest stored first. The store gives them by next_at; among
// equal creation times (one millisecond) the one tried before is the older one, since only a
// destination's oldest undelivered notification is ever tried; else the store's order (by
// next_at, which enqueue sets to the enqueue time) stands.
Expected<std::vector<store::Notification>, store::Error> pending(store::Store& store) {
  auto all = store.due_notifications(far_future(), kPendingRead);
  if (!all) return all;
  std::stable_sort(all->begin(), all->end(), [](const auto& a, const auto& b) {
    if (a.created_at != b.created_at) return a.created_at < b.created_at;
    return a.attempts > b.attempts;
  });
  return all;
}

}  // namespace

Deliverer::Deliverer(store::Store& store, std::vector<pipeline::Notify> destinations, Environment environment,
                     std::function<store::Time()> clock)
    : store_(store), destinations_(std::move(destinations)), environment_(std::move(environment)),
      clock_(std::move(clock)) {
  if (!environment_)
    environment_ = [](const std::string& name) -> std::optional<std::string> {
      const char* value = std::getenv(name.c_str());
      return value ? std::optional<std::string>(value) : std::nullopt;
    };
  if (!clock_)
    clock_ = [] { return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()); };
}

DeliveryReport Deliverer::deliver_due(std::stop_token stop, std::size_t limit) {
  DeliveryReport report;
  auto notifications = pending(store_);
  if (!notifications) return report;
  const store::Time now = clock_();
  Pass pass{environment_, stop, {}};
  std::set<std::string> held;  // destinations whose older notification is not delivered
  std::size_t tried = 0;
  for (const store::Notification& notification : *notifications) {
    if (stop.stop_requested() || tried == limit) break;
    if (held.contains(notification.destination)) continue;
    held.insert(notification.destination);  // taken back below once delivered
    if (notification.next_at > now) continue;
    ++tried;
    auto destination = std::find_if(destinations_.begin(), destinations_.end(),
                                    [&](const pipeline::Notify& d) { return d.name == notification.destination; });
    if (destination == destinations_.end()) {
      ++report.failed;
      (void)store_.mark_attempt_failed(notification.destination, notification.event_id, now + kOrphanRetry,
                                       "destination '" + notification.destination +
                                           "' is no longer among the pipeline's notify: entries (kept; tried "
                                           "again hourly)");
      continue;
    }
    auto failure = send(pass, *destination, notification);
    if (!failure) {
      ++report.delivered;
      // Not marked (the store failed): it will be sent again, so the newer ones wait for it.
      if (store_.mark_delivered(notification.destination, notification.event_id)) held.erase(notification.destination);
      continue;
    }
    if (stop.stop_requested()) break;  // cut short by the stop: not the receiver's failure, not counted
    ++report.failed;
    (void)store_.mark_attempt_failed(notification.destination, notification.event_id,
                                     clock_() + backoff(notification.attempts + 1), *failure);
  }
  return report;
}

std::optional<store::Time> Deliverer::next_due() {
  auto notifications = pending(store_);
  // The store failing now: look again when the longest backoff would have.
  if (!notifications) return clock_() + backoff(1'000);
  std::optional<store::Time> earliest;
  std::set<std::string> seen;
  for (const store::Notification& notification : *notifications) {
    if (!seen.insert(notification.destination).second) continue;  // only each destination's oldest counts
    if (!earliest || notification.next_at < *earliest) earliest = notification.next_at;
  }
  return earliest;
}

}  // namespace cascade::notify
