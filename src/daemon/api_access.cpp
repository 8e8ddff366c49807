// Who may use the API and how much of the daemon a caller can hold: the bearer tokens (the
// API token for changes, the optional read token for reads), the worker pool for blocking
// reads (bounded queue, jobs under the request's deadline), the shared inventory refresh,
// and error answers that keep internal detail (paths, store errors) in the log.
#include <atomic>
#include <cstdio>
#include <random>

#include "internal.hpp"

namespace cascade::daemon {

using nlohmann::json;

namespace {

http::ServerResponse busy(const std::string& message) {
  auto response = json_error(503, message);
  response.headers.set("Retry-After", "1");
  return response;
}

// "e-3f9c1a2b-17": random per process, counted within it.
std::string error_id() {
  static const std::string prefix = [] {
    std::random_device device;
    char text[16];
    std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(device()));
    return std::string("e-") + text + "-";
  }();
  static std::atomic<std::uint64_t> counter{0};
  return prefix + std::to_string(++counter);
}

bool offers(const http::ServerRequest& request, const std::string& token) {
  auto header = request.headers.get("Authorization");
  if (!header || token.empty()) return false;
  auto offered = bearer_token(*header);
  return offered && token_matches(*offered, token);
}

}  // namespace

void Routes::start() {
  workers = std::make_unique<Workers>(worker_threads, worker_queue);
  inventory = std::make_unique<InventoryCache>(
      [this]() -> InventoryCache::Result {
        auto listed = app::inventory_json(wiring);
        if (!listed) return unexpected(listed.error().message);
        return *listed;
      },
      inventory_max_age, inventory_waiting);
}

void Routes::stop() {
  if (workers) workers->stop();
  if (inventory) inventory->stop(unexpected(std::string("the daemon is stopping")));
}

void Routes::run_blocking(Handler handler, http::ServerRequest&& request, http::Respond respond) {
  const auto deadline = request.deadline;
  auto abandoned = request.abandoned;
  auto drop = [respond] { respond(busy("not answered in time; retry")); };
  auto job = [this, handler, request = std::move(request), respond]() mutable {
    (this->*handler)(std::move(request), std::move(respond));
  };
  Workers::Job queued{std::move(job), std::move(drop), deadline, std::move(abandoned)};
  if (!workers || !workers->post(std::move(queued)))
    respond(busy("too many requests waiting (" + std::to_string(worker_queue) + "); retry"));
}

http::ServerResponse Routes::internal_error(int status, std::string_view what, std::string_view detail) {
  std::string id = error_id();
  log.error("request failed", {{"id", id}, {"path", what}, {"status", status}, {"error", detail}});
  return http::ServerResponse::json(status, json{{"error", "internal error; the daemon's log has the details"},
                                                 {"id", id}}.dump());
}

bool Routes::may_read(const http::ServerRequest& request, const http::Respond& respond) {
  if (read_token.empty() || offers(request, read_token) || offers(request, api_token)) return true;
  for (const auto& [name, token] : approvers)  // an approver reads what it decides on
    if (offers(request, token)) return true;
  respond(json_error(401, "reads need the read token: Authorization: Bearer $" + pipeline.triggers->read_token_env));
  return false;
}

bool Routes::authorized(const http::ServerRequest& request, const http::Respond& respond) {
  if (api_token.empty()) {
    respond(json_error(403, "the daemon has no API token: set " + pipeline.triggers->api_token_env + " for it"));
    return false;
  }
  if (!offers(request, api_token)) {
    respond(json_error(401, "missing or wrong bearer token"));
    return false;
  }
  return true;
}

std::optional<std::string> Routes::actor_of(const http::ServerRequest& request) const {
  if (!api_token.empty() && offers(request, api_token)) return std::string("api");
  for (const auto& [name, token] : approvers)
    if (offers(request, token)) return name;
  return std::nullopt;
}

void Routes::inventory_get(http::ServerRequest&&, http::Respond respond) {
  if (!inventory) return respond(busy("the daemon is stopping"));
  bool taken = inventory->get([this, respond](const InventoryCache::Result& result, std::chrono::seconds age) {
    if (!result) return respond(internal_error(502, "/api/inventory", result.error()));
    auto answer = http::ServerResponse::json(200, result->dump());
    answer.headers.set("Age", std::to_string(age.count()));
    respond(std::move(answer));
  });
  if (!taken) respond(busy("too many requests waiting for the inventory; retry"));
}

}  // namespace cascade::daemon
