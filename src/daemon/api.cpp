// The JSON API's runs and events: GET /api/runs, /api/runs/<id> (with each task's log URL),
// /api/runs/<id>/log?image= (a build log), /api/events (with the retry state of pending
// ones), /api/quarantine, /api/schedule, and POST /api/patch (an exact patch through the
// intake and the coordinator). The route table is in routes.cpp; the reads here run on
// worker threads, POST /api/patch on the io thread (the intake answers from its own).
#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>

#include "internal.hpp"

namespace cascade::daemon {

using nlohmann::json;

namespace {

std::size_t limit_of(const http::ServerRequest& request, std::size_t fallback) {
  auto it = request.query.find("limit");
  if (it == request.query.end()) return fallback;
  try {
    return std::clamp<std::size_t>(std::stoul(it->second), 1, 1000);
  } catch (...) {
    return fallback;
  }
}

json event_json(const store::Event& event) {
  return {{"id", event.id},
          {"sender", event.sender},
          {"event_id", event.event_id ? json(*event.event_id) : json(nullptr)},
          {"image", event.image},
          {"digest", event.digest ? json(*event.digest) : json(nullptr)},
          {"run", event.run ? json(*event.run) : json(nullptr)},
          {"outcome", event.outcome ? json(*event.outcome) : json(nullptr)},
          {"received_at", util::iso_utc_ms(event.received_at)}};
}

/// The text of the build log of `image`'s task among `tasks`; nullopt when it has none.
std::optional<std::string> build_log(const std::vector<store::Task>& tasks, const std::string& image) {
  for (const auto& task : tasks)
    if (task.image == image && task.build_log) {
      std::ifstream file(*task.build_log, std::ios::binary);
      std::ostringstream text;
      text << file.rdbuf();
      return text.str();
    }
  return std::nullopt;
}

}  // namespace

void Routes::runs_get(http::ServerRequest&& request, http::Respond respond) {
  auto runs = app::runs_json(store, limit_of(request, 50));
  if (!runs) return respond(internal_error(http_status(runs.error()), request.path, runs.error().message));
  respond(json_ok(*runs));
}

void Routes::run_get(http::ServerRequest&& request, http::Respond respond) {
  std::string rest = request.path.substr(10);  // after "/api/runs/": "<id>" or "<id>/log"
  auto slash = rest.find('/');
  store::RunId id = 0;
  try {
    id = std::stoll(rest.substr(0, slash));
  } catch (...) {
    return respond(json_error(400, "not a run id: " + rest));
  }
  if (slash != std::string::npos && rest.substr(slash) == "/log") {  // a task's build log
    auto tasks = store.get_tasks(id);
    auto image = request.query.find("image");
    if (!tasks || image == request.query.end()) return respond(json_error(400, "give ?image="));
    auto text = build_log(*tasks, image->second);
    if (!text) return respond(json_error(404, "no build log for " + image->second + " in run " + std::to_string(id)));
    return respond(http::ServerResponse::text(200, std::move(*text)));
  }
  auto run = app::run_json(store, id);
  if (!run && run.error().kind == app::Failure::Kind::not_found)  // no such run (its message may name paths)
    return respond(json_error(http_status(run.error()), "no run " + std::to_string(id)));
  if (!run) return respond(internal_error(http_status(run.error()), request.path, run.error().message));
  for (auto& task : (*run)["tasks"])
    if (!task["build_log"].is_null())
      task["log_url"] = "/api/runs/" + std::to_string(id) + "/log?image=" + task["image"].get<std::string>();
  respond(json_ok(*run));
}

void Routes::events_get(http::ServerRequest&& request, http::Respond respond) {
  auto events = store.recent_events(limit_of(request, 50));
  if (!events) return respond(internal_error(502, request.path, events.error().message));
  json list = json::array();
  auto retrying = coordinator.retrying();
  for (const auto& event : *events) {
    list.push_back(event_json(event));
    if (auto retry = retrying.find(event.id); retry != retrying.end())  // pending after a transient failure
      list.back()["retry"] = {{"attempt", retry->second.attempt}, {"next", util::iso_utc_ms(retry->second.due)}};
  }
  respond(json_ok({{"events", list}}));
}

void Routes::quarantine_get(http::ServerRequest&& request, http::Respond respond) {
  auto quarantined = app::quarantine_json(store);
  if (!quarantined)
    return respond(internal_error(http_status(quarantined.error()), request.path,
                                  quarantined.error().message));
  respond(json_ok(*quarantined));
}

void Routes::schedule_get(http::ServerRequest&&, http::Respond respond) {
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  respond(json_ok(schedule_json(pipeline, store, now)));
}

void Routes::patch_post(http::ServerRequest&& request, http::Respond respond) {
  auto body = json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("image") || !body["image"].is_string())
    return respond(json_error(400, "expected a JSON object {\"image\": \"IMAGE\", \"digest\": optional}"));
  std::string query = body["image"];
  if (body.contains("digest") && !body["digest"].is_null()) {
    if (!body["digest"].is_string()) return respond(json_error(400, "digest: expected a string"));
    query += "@" + body["digest"].get<std::string>();
  }
  bool urgent = false;
  if (body.contains("urgent")) {
    if (!body["urgent"].is_boolean()) return respond(json_error(400, "urgent: expected true or false"));
    urgent = body["urgent"];
  }
  auto ref = reference::parse(query);
  if (!ref) return respond(json_error(400, "'" + query + "' is not an image reference: " + ref.error().message));
  if (coordinator.fleet().fleet->graph.match(*ref).empty())
    return respond(json_error(400, "no image in the fleet matches " + query + " (GET /api/graph lists them)"));
  store::Event event;
  event.sender = "api";
  event.image = query;
  event.action = store::EventAction::patch;
  event.source = store::TriggerKind::api;  // patched exactly as asked, also after a restart
  static std::atomic<std::uint64_t> counter{0};
  event.dedupe_key = "api:" + util::iso_now_ms() + ":" + std::to_string(counter++);
  intake.submit({event}, [this, query, urgent, respond = std::move(respond)](auto recorded) {
    if (!recorded) return respond(json_error(503, "cannot store the request; retry"));
    store::EventId id = recorded->front().id;
    Queued queued;
    queued.trigger.source = store::TriggerKind::api;
    queued.trigger.actor = "api";
    queued.trigger.image = query;
    queued.trigger.exact = true;
    queued.trigger.urgent = urgent;
    queued.events = {id};
    auto busy = coordinator.active();
    if (busy || coordinator.queued() > 0) {  // answer now; the caller follows the event
      respond(json_ok({{"event", id}, {"run", nullptr}, {"queued", true},
                       {"message", busy ? "queued behind run " + std::to_string(busy->run) : "queued"}}, 202));
    } else {
      queued.done.push_back([id, respond](const Answer& outcome) {
        respond(json_ok({{"event", id}, {"run", outcome.run ? json(*outcome.run) : json(nullptr)}, {"queued", false},
                         {"message", outcome.message}}, outcome.status));
      });
    }
    metrics.add("cascade_triggers_total", {"api", "accepted"});
    coordinator.add(std::move(queued), std::chrono::milliseconds(0));
  });
}

}  // namespace cascade::daemon
