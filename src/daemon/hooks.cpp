// POST /hooks/<name>: the webhook intake. A delivery is authenticated and decoded
// (webhook::authenticate, webhook::decode), its pushes are matched against the fleet as last
// scanned, the same bytes at the same hook within a window count once (RecentDeliveries), and
// the events are stored durably through the Intake before the sender gets its 202; each new
// one becomes a trigger of the coordinator. Runs on the io thread: nothing here waits (the
// intake answers from its own thread once the events are committed).
#include <atomic>

#include "internal.hpp"

namespace cascade::daemon {

using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

/// A delivery's pushes of fleet images as events to store, and what was left out and why.
struct Pushes {
  std::vector<store::Event> events;
  std::size_t ignored = 0;  // not image pushes, pushes by digest only, images not in the fleet
  std::string reason;       // why, when the sender's adapter or the fleet says
};

/// The index (into Routes::hooks) of the webhook at /hooks/`name`.
std::optional<std::size_t> hook_index(const Routes& routes, std::string_view name) {
  for (std::size_t i = 0; i < routes.hooks.size(); ++i)
    if (routes.pipeline.triggers->webhooks[i].path == name) return i;
  return std::nullopt;
}

/// JSON only (GitHub's form encoding when signed): a cross-site form cannot post here.
bool takes_type(const webhook::HookConfig& config, const std::string& type) {
  bool form = config.sender == webhook::Sender::github && !config.unauthenticated && is_form_type(type);
  return is_json_type(type) || form;
}

/// The delivery authenticated and decoded; a rejection is counted and logged, and its answer returned.
Expected<webhook::Decoded, http::ServerResponse> verify(Routes& routes, const webhook::HookConfig& config,
                                                        const std::string& sender, const http::ServerRequest& request) {
  webhook::Delivery delivery{request.body, [&request](std::string_view name) { return request.headers.get(name); },
                             request.query};
  if (auto authentic = webhook::authenticate(config, delivery); !authentic) {
    routes.metrics.add("cascade_triggers_total", {sender, "rejected"});
    routes.log.warn("webhook rejected", {{"sender", sender}, {"status", authentic.error().status},
                                         {"reason", authentic.error().reason}, {"remote", request.remote}});
    return unexpected(json_error(authentic.error().status, authentic.error().reason));
  }
  auto decoded = webhook::decode(config, delivery);
  if (!decoded) {
    routes.metrics.add("cascade_triggers_total", {sender, "malformed"});
    routes.log.warn("webhook malformed",
                    {{"sender", sender}, {"reason", decoded.error().reason}, {"remote", request.remote}});
    return unexpected(json_error(decoded.error().status, decoded.error().reason));
  }
  return std::move(*decoded);
}

/// The pushes of fleet images, against the fleet as last scanned: an unknown image is
/// answered now and costs nothing later. A sender's own event id dedupes for good; any other
/// push is new (the registry's digest check decides whether it needs a run).
Pushes fleet_pushes(const webhook::Decoded& decoded, const std::string& hook_name, const std::string& sender,
                    const FleetView& view) {
  Pushes out{{}, decoded.ignored, decoded.reason};
  std::size_t not_in_fleet = 0;
  std::string unknown_example;
  static std::atomic<std::uint64_t> delivery_counter{0};
  std::string delivery_tag = util::iso_now_ms() + ":" + std::to_string(delivery_counter++);
  for (std::size_t i = 0; i < decoded.events.size(); ++i) {
    const auto& pushed = decoded.events[i];
    if (!pushed.tag) {  // a push by digest only (a child manifest of an index): nothing in the fleet names it
      ++out.ignored;
      continue;
    }
    auto ref = reference::parse(pushed.image());
    if (!ref || view.fleet->graph.match(*ref).empty()) {
      ++out.ignored, ++not_in_fleet;
      if (unknown_example.empty()) unknown_example = pushed.image();
      continue;
    }
    store::Event event;
    event.sender = sender;
    event.event_id = pushed.event_id;
    event.image = pushed.image();
    event.digest = pushed.digest;
    event.action = store::EventAction::patch;
    event.source = store::TriggerKind::webhook;
    event.dedupe_key = pushed.event_id ? "hook:" + hook_name + ":id:" + *pushed.event_id
                                       : "hook:" + hook_name + ":delivery:" + delivery_tag + ":" + std::to_string(i);
    out.events.push_back(std::move(event));
  }
  if (not_in_fleet) {
    if (!out.reason.empty()) out.reason += "; ";
    out.reason += std::to_string(not_in_fleet) + " image(s) not in the fleet (" + unknown_example +
                  (not_in_fleet > 1 ? ", ...)" : ")");
  }
  return out;
}

/// How long the same bytes at one hook are one delivery (a replay, a sender's retry): an
/// HMAC-verified body longer, so a signed delivery replayed under a new (unsigned) delivery
/// id is still one.
Clock::duration replay_window(const webhook::HookConfig& config) {
  return config.secret.empty() ? Clock::duration(kDeliveryWindow) : Clock::duration(kSignedReplayWindow);
}

json answer(std::size_t accepted, std::size_t duplicates, std::size_t ignored, const std::string& reason) {
  json out = {{"accepted", accepted}, {"duplicates", duplicates}, {"ignored", ignored}};
  if (!reason.empty()) out["reason"] = reason;
  return out;
}

/// 503 with Retry-After: the pending events are bounded, the sender retries later.
http::ServerResponse refuse_busy(Routes& routes, const std::string& sender, std::size_t events) {
  routes.metrics.add("cascade_triggers_total", {sender, "refused_busy"}, static_cast<double>(events));
  routes.log.warn("webhook refused: too many pending events", {{"sender", sender}, {"limit", kMaxPendingEvents}});
  auto busy = json_error(503, "too many pending events (" + std::to_string(kMaxPendingEvents) + "); retry later");
  busy.headers.set("Retry-After", std::to_string(kRetryAfterSeconds));
  return busy;
}

/// Stores the events through the intake; once they are durable queues each new one in the
/// coordinator and answers 202, or, when they could not be stored, forgets the delivery
/// (the sender's retry is no duplicate) and answers 503.
void submit(Routes& routes, Pushes pushes, const std::string& sender, const std::string& body_key,
            Clock::time_point started, http::Respond respond) {
  auto debounce = routes.pipeline.triggers->debounce;
  auto events = pushes.events;
  routes.intake.submit(std::move(events), [&routes, pushes = std::move(pushes), sender, body_key, debounce, started,
                                           respond = std::move(respond)](auto recorded) {
    if (!recorded) {
      routes.recent_deliveries.forget(body_key);
      routes.log.error("webhook not stored", {{"sender", sender}, {"error", recorded.error().message}});
      return respond(json_error(503, "cannot store the event; retry"));
    }
    std::size_t accepted = 0, duplicates = 0;
    json ids = json::array();
    for (std::size_t i = 0; i < pushes.events.size(); ++i) {
      const auto& result = (*recorded)[i];
      ids.push_back(result.id);
      if (!result.is_new) {
        ++duplicates;
        continue;
      }
      ++accepted;
      Queued queued;
      queued.trigger.source = store::TriggerKind::webhook;
      queued.trigger.actor = sender;
      queued.trigger.image = pushes.events[i].image;
      queued.trigger.digest = pushes.events[i].digest;
      queued.events = {result.id};
      routes.coordinator.add(std::move(queued), debounce);
    }
    routes.metrics.add("cascade_triggers_total", {sender, "accepted"}, static_cast<double>(accepted));
    if (duplicates) routes.metrics.add("cascade_triggers_total", {sender, "duplicate"}, static_cast<double>(duplicates));
    routes.metrics.observe("cascade_webhook_intake_seconds",
                           std::chrono::duration<double>(Clock::now() - started).count());
    json body = answer(accepted, duplicates, pushes.ignored, pushes.reason);
    body["events"] = ids;
    respond(json_ok(body, 202));
  });
}

}  // namespace

void Routes::hook(http::ServerRequest&& request, http::Respond respond) {
  auto index = hook_index(*this, std::string_view(request.path).substr(7));
  if (!index) return respond(json_error(404, "no webhook at " + request.path));
  const webhook::HookConfig& config = hooks[*index];
  if (!takes_type(config, request.headers.get("Content-Type").value_or("")))
    return respond(json_error(415, "Content-Type must be application/json (or application/*+json)"));
  std::string sender(webhook::to_string(config.sender));
  auto started = Clock::now();
  auto decoded = verify(*this, config, sender, request);
  if (!decoded) return respond(std::move(decoded.error()));
  const std::string& hook_name = pipeline.triggers->webhooks[*index].path;
  Pushes pushes = fleet_pushes(*decoded, hook_name, sender, coordinator.fleet());
  if (pushes.ignored) metrics.add("cascade_triggers_total", {sender, "ignored"}, static_cast<double>(pushes.ignored));
  if (pushes.events.empty()) return respond(json_ok(answer(0, 0, pushes.ignored, pushes.reason)));
  if (coordinator.pending_events() + pushes.events.size() > kMaxPendingEvents)
    return respond(refuse_busy(*this, sender, pushes.events.size()));
  // Dedupe is per hook: one hook's deliveries never shadow another's.
  std::string body_key = "hook:" + hook_name + ":body:" + webhook::hmac_sha256_hex("cascade", request.body);
  if (!recent_deliveries.first_time(body_key, replay_window(config))) {
    metrics.add("cascade_triggers_total", {sender, "duplicate"}, static_cast<double>(pushes.events.size()));
    return respond(json_ok(answer(0, pushes.events.size(), pushes.ignored, pushes.reason), 202));
  }
  submit(*this, std::move(pushes), sender, body_key, started, std::move(respond));
}

}  // namespace cascade::daemon
