// The daemon's HTTP routes: webhooks (authenticate, decode, store durably through the
// intake, then answer 202), the JSON API (reads open, changes behind a bearer token; the
// package and advisory routes are in exposure_api.cpp), /metrics, /healthz and the
// dashboard page. Reads that may block (the store, Graphviz, the deploy targets, the
// exposure gauges of /metrics) run on worker threads, never on the io threads.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "cascade/process.hpp"
#include "cascade/util/dot.hpp"
#include "dashboard.hpp"
#include "internal.hpp"

namespace cascade::daemon {

using nlohmann::json;

namespace {

http::ServerResponse error(int status, const std::string& message) {
  return http::ServerResponse::json(status, json{{"error", message}}.dump());
}

http::ServerResponse ok(const json& body, int status = 200) { return http::ServerResponse::json(status, body.dump()); }

std::size_t limit_of(const http::ServerRequest& request, std::size_t fallback) {
  auto it = request.query.find("limit");
  if (it == request.query.end()) return fallback;
  try {
    return std::clamp<std::size_t>(std::stoul(it->second), 1, 1000);
  } catch (...) {
    return fallback;
  }
}

json graph_view_json(const FleetView& view) {
  const auto& graph = view.fleet->graph;
  json images = json::array();
  for (auto id : graph.topological_order()) {
    const auto& node = graph.node(id);
    const auto* recipe = graph.recipe_of(id);
    json bases = json::array(), children = json::array();
    for (auto base : node.bases) bases.push_back(graph.node(base).image);
    for (auto child : node.children) children.push_back(graph.node(child).image);
    images.push_back({{"image", node.image},
                      {"external", recipe == nullptr},
                      {"source", recipe ? json(recipe->source) : json(nullptr)},
                      {"dockerfile", recipe ? json(recipe->dockerfile) : json(nullptr)},
                      {"bases", bases},
                      {"children", children}});
  }
  json broken = json::array();  // recipes left out: their Dockerfile could not be read or analyzed
  for (const auto& recipe : view.fleet->broken)
    broken.push_back({{"image", recipe.image}, {"source", recipe.source}, {"dockerfile", recipe.dockerfile},
                      {"problem", recipe.problem.str()}});
  return {{"generation", view.generation}, {"pipeline", view.fleet->pipeline.file}, {"images", images},
          {"broken", broken}};
}

json event_json(const store::Event& event) {
  return {{"id", event.id},
          {"sender", event.sender},
          {"event_id", event.event_id ? json(*event.event_id) : json(nullptr)},
          {"image", event.image},
          {"digest", event.digest ? json(*event.digest) : json(nullptr)},
          {"run", event.run ? json(*event.run) : json(nullptr)},
          {"outcome", event.outcome ? json(*event.outcome) : json(nullptr)},
          {"received_at", iso_time(event.received_at)}};
}

}  // namespace


void declare_metrics(Metrics& metrics) {
  metrics.counter("cascade_triggers_total", "Trigger events by source and outcome", {"source", "outcome"});
  metrics.counter("cascade_runs_total", "Finished runs by final state", {"state"});
  metrics.histogram("cascade_run_duration_seconds", "Wall time of runs",
                    {1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600});
  metrics.counter("cascade_builds_total", "Image builds by outcome", {"outcome"});
  metrics.histogram("cascade_build_duration_seconds", "Wall time of image builds",
                    {0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600});
  metrics.counter("cascade_deploys_total", "Workload rollouts by outcome", {"outcome"});
  metrics.gauge("cascade_queue_depth", "Triggers waiting for their debounce window or for the running run");
  metrics.gauge("cascade_runs_active", "Runs executing now");
  metrics.gauge("cascade_workloads_behind", "Workloads not running their image's newest pushed digest");
  metrics.gauge("cascade_exposed_images", "Fleet images and external bases carrying a package a stored advisory names "
                "in a vulnerable version (latest scans; refreshed at each scrape)", {"advisory"});
  metrics.gauge("cascade_exposed_workloads", "Running workloads whose image carries a package a stored advisory names "
                "in a vulnerable version (latest scans; refreshed at each scrape)", {"advisory"});
  metrics.gauge("cascade_broken_recipes", "Recipes left out of the graph: their Dockerfile cannot be read or analyzed");
  metrics.counter("cascade_fleet_scans_total", "Reads of every source from git (each fetches the remote ones)");
  metrics.histogram("cascade_webhook_intake_seconds", "From a webhook request to its durable answer",
                    {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5});
}

std::string dashboard_dot(const graph::Graph& graph) {
  util::dot::Digraph dot{.name = "cascade",
                         .attributes = {"rankdir=LR", "bgcolor=\"transparent\"",
                                        "node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", "
                                        "fontname=\"Helvetica\", fontsize=11]",
                                        "edge [color=\"#8894a8\"]"}};
  for (auto id : graph.topological_order()) {
    const auto& node = graph.node(id);
    auto ref = reference::parse(node.image);
    dot.nodes.push_back({util::dot::quoted(node.image), ref ? ref->familiar() : node.image,
                         graph.recipe_of(id) ? "" : ", style=\"rounded,dashed,filled\", fillcolor=\"#f4f4f4\""});
    for (auto child : node.children)
      dot.edges.push_back({util::dot::quoted(node.image), util::dot::quoted(graph.node(child).image)});
  }
  return util::dot::render(dot);
}

void Routes::handle(http::ServerRequest&& request, http::Respond respond) {
  const std::string& path = request.path;
  // A name other than this server's is a DNS rebinding page or a misrouted request.
  if (auto host = request.headers.get("Host"); host && !host_check.allows(*host, request.local))
    return respond(error(421, "Host '" + *host + "' is not a name of this server; add it to `triggers.hosts` in the "
                              "pipeline file"));
  if (path.rfind("/hooks/", 0) == 0) {
    if (request.method != "POST") return respond(error(405, "webhooks take POST"));
    std::string name = path.substr(7);
    for (std::size_t i = 0; i < hooks.size(); ++i)
      if (pipeline.triggers->webhooks[i].path == name) {
        // JSON only (GitHub's form encoding when signed): a cross-site form cannot post here.
        auto type = request.headers.get("Content-Type").value_or("");
        bool form = hooks[i].sender == webhook::Sender::github && !hooks[i].unauthenticated && is_form_type(type);
        if (!is_json_type(type) && !form)
          return respond(error(415, "Content-Type must be application/json (or application/*+json)"));
        return hook(i, std::move(request), std::move(respond));
      }
    return respond(error(404, "no webhook at " + path));
  }
  bool api = path.rfind("/api/", 0) == 0;
  if (request.method == "POST" && api && !is_json_type(request.headers.get("Content-Type").value_or("")))
    return respond(error(415, "Content-Type must be application/json"));
  if (path == "/api/patch") {
    if (request.method != "POST") return respond(error(405, "use POST"));
    return api_patch(std::move(request), std::move(respond));
  }
  if (path == "/api/advisories") {
    if (request.method != "POST") return respond(error(405, "use POST"));
    return exposure_post(std::move(request), std::move(respond));
  }
  if (api && !may_read(request, respond)) return;
  if (path == "/api/affected" && request.method == "POST") return exposure_post(std::move(request), std::move(respond));
  if (request.method != "GET" && request.method != "HEAD") return respond(error(405, "use GET"));
  if (path == "/" || path == "/index.html") {
    http::ServerResponse page;
    page.headers.set("Content-Type", "text/html; charset=utf-8");
    page.body = std::string(dashboard_html());
    return respond(std::move(page));
  }
  if (path == "/healthz") return respond(http::ServerResponse::text(200, "ok\n"));
  if (path == "/api/graph") return respond(ok(graph_view_json(coordinator.fleet())));
  if (path == "/api/inventory") return inventory_get(std::move(respond));
  if (api || path == "/metrics") return blocking(std::move(request), std::move(respond));
  respond(error(404, "nothing at " + path));
}

void Routes::blocking(http::ServerRequest&& request, http::Respond respond) {
  const http::Respond busy = respond;
  const auto deadline = request.deadline;
  auto abandoned = request.abandoned;
  run_blocking(deadline, std::move(abandoned), busy, [this, request = std::move(request), respond = std::move(respond)] {
    const std::string& path = request.path;
    auto failed = [&](const app::Failure& failure) {
      respond(internal_error(http_status(failure), path, failure.message));
    };
    if (path == "/metrics") {  // the exposure gauges read the store: not on an io thread
      refresh_exposure_metrics();
      http::ServerResponse page;
      page.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      metrics.set("cascade_queue_depth", static_cast<double>(coordinator.queued()));
      page.body = metrics.render();
      return respond(std::move(page));
    }
    if (exposure_get(request, respond)) return;
    if (path == "/api/runs") {
      auto runs = app::runs_json(store, limit_of(request, 50));
      return runs ? respond(ok(*runs)) : failed(runs.error());
    }
    if (path.rfind("/api/runs/", 0) == 0) {
      std::string rest = path.substr(10);
      auto slash = rest.find('/');
      store::RunId id = 0;
      try {
        id = std::stoll(rest.substr(0, slash));
      } catch (...) {
        return respond(error(400, "not a run id: " + rest));
      }
      if (slash != std::string::npos && rest.substr(slash) == "/log") {  // a task's build log
        auto tasks = store.get_tasks(id);
        auto image = request.query.find("image");
        if (!tasks || image == request.query.end()) return respond(error(400, "give ?image="));
        for (const auto& task : *tasks)
          if (task.image == image->second && task.build_log) {
            std::ifstream file(*task.build_log, std::ios::binary);
            std::ostringstream text;
            text << file.rdbuf();
            return respond(http::ServerResponse::text(200, text.str()));
          }
        return respond(error(404, "no build log for " + image->second + " in run " + std::to_string(id)));
      }
      auto run = app::run_json(store, id);
      if (!run && run.error().kind == app::Failure::Kind::not_found)  // no such run (its message may name paths)
        return respond(error(http_status(run.error()), "no run " + std::to_string(id)));
      if (!run) return failed(run.error());
      for (auto& task : (*run)["tasks"])
        if (!task["build_log"].is_null())
          task["log_url"] = "/api/runs/" + std::to_string(id) + "/log?image=" + task["image"].get<std::string>();
      return respond(ok(*run));
    }
    if (path == "/api/graph.svg") {
      static std::mutex mutex;
      static std::uint64_t generation = 0;
      static std::string svg;
      auto view = coordinator.fleet();
      std::lock_guard lock(mutex);
      if (generation != view.generation) {
        process::Options options;
        options.input = dashboard_dot(view.fleet->graph);
        options.timeout = std::chrono::seconds(30);
        auto result = process::run({"dot", "-Tsvg"}, options);
        if (!result || result->exit_code != 0)
          return respond(internal_error(502, path, "graphviz: " + (result ? result->err : result.error())));
        svg = result->out;
        generation = view.generation;
      }
      http::ServerResponse page;
      page.headers.set("Content-Type", "image/svg+xml");
      page.body = svg;
      return respond(std::move(page));
    }
    if (path == "/api/affected") {
      auto query = request.query.find("image");
      if (query == request.query.end()) return respond(error(400, "give ?image=IMAGE or ?package=NAME[OP VERSION]"));
      auto ref = reference::parse(query->second);
      if (!ref) return respond(error(400, "'" + query->second + "' is not an image reference: " + ref.error().message));
      auto view = coordinator.fleet();
      app::AffectedReport report;
      report.query = query->second;
      report.matched = view.fleet->graph.match(*ref);
      report.affected = view.fleet->graph.downstream(report.matched);
      if (!pipeline.deploy.empty() && !report.affected.empty()) {
        std::vector<std::string> images;
        for (const auto& item : report.affected) images.push_back(view.fleet->graph.node(item.node).image);
        std::lock_guard lock(api_wiring_mutex);
        if (auto deployments = app::plan_deployments(api_wiring, images))
          for (const auto& item : *deployments)
            report.workloads[item.image].push_back(api_wiring.targets[item.target].config->name + "/" + item.workload.name);
      }
      return respond(ok(app::affected_json(view.fleet->graph, report)));
    }
    if (path == "/api/quarantine") {
      auto quarantined = app::quarantine_json(store);
      return quarantined ? respond(ok(*quarantined)) : failed(quarantined.error());
    }
    if (path == "/api/schedule") {
      auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
      return respond(ok(schedule_json(pipeline, store, now)));
    }
    if (path == "/api/events") {
      auto events = store.recent_events(limit_of(request, 50));
      if (!events) return respond(internal_error(502, path, events.error().message));
      json list = json::array();
      auto retrying = coordinator.retrying();
      for (const auto& event : *events) {
        list.push_back(event_json(event));
        if (auto retry = retrying.find(event.id); retry != retrying.end())  // pending after a transient failure
          list.back()["retry"] = {{"attempt", retry->second.attempt}, {"next", iso_time(retry->second.due)}};
      }
      return respond(ok({{"events", list}}));
    }
    respond(error(404, "nothing at " + path));
  });
}

void Routes::hook(std::size_t index, http::ServerRequest&& request, http::Respond respond) {
  const webhook::HookConfig& config = hooks[index];
  std::string sender(webhook::to_string(config.sender));
  auto started = std::chrono::steady_clock::now();
  webhook::Delivery delivery{request.body, [&request](std::string_view name) { return request.headers.get(name); },
                             request.query};
  if (auto authentic = webhook::authenticate(config, delivery); !authentic) {
    metrics.add("cascade_triggers_total", {sender, "rejected"});
    log.warn("webhook rejected", {{"sender", sender}, {"status", authentic.error().status},
                                  {"reason", authentic.error().reason}, {"remote", request.remote}});
    return respond(error(authentic.error().status, authentic.error().reason));
  }
  auto decoded = webhook::decode(config, delivery);
  if (!decoded) {
    metrics.add("cascade_triggers_total", {sender, "malformed"});
    log.warn("webhook malformed", {{"sender", sender}, {"reason", decoded.error().reason}, {"remote", request.remote}});
    return respond(error(decoded.error().status, decoded.error().reason));
  }
  // Dedupe is per hook: one hook's deliveries never shadow another's. The same bytes at the
  // same hook within the window are one delivery (a replay, a sender's retry); an HMAC-verified
  // body is remembered longer, so a signed delivery replayed under a new (unsigned) delivery id
  // is still one. A sender's own event id dedupes for good. Anything else is a new push: the
  // registry's digest check decides whether it needs a run.
  const std::string& hook_name = pipeline.triggers->webhooks[index].path;
  std::string body_key = "hook:" + hook_name + ":body:" + webhook::hmac_sha256_hex("cascade", request.body);
  std::size_t ignored = decoded->ignored, not_in_fleet = 0;
  std::string reason = decoded->reason, unknown_example;
  auto view = coordinator.fleet();
  std::vector<store::Event> events;
  static std::atomic<std::uint64_t> delivery_counter{0};
  std::string delivery_tag = iso_now() + ":" + std::to_string(delivery_counter++);
  for (std::size_t i = 0; i < decoded->events.size(); ++i) {
    const auto& pushed = decoded->events[i];
    if (!pushed.tag) {  // a push by digest only (a child manifest of an index): nothing in the fleet names it
      ++ignored;
      continue;
    }
    // Against the fleet as last scanned: an unknown image is answered now and costs nothing later.
    auto ref = reference::parse(pushed.image());
    if (!ref || view.fleet->graph.match(*ref).empty()) {
      ++ignored, ++not_in_fleet;
      if (unknown_example.empty()) unknown_example = pushed.image();
      continue;
    }
    store::Event event;
    event.sender = sender;
    event.event_id = pushed.event_id;
    event.image = pushed.image();
    event.digest = pushed.digest;
    event.dedupe_key = pushed.event_id ? "hook:" + hook_name + ":id:" + *pushed.event_id
                                       : "hook:" + hook_name + ":delivery:" + delivery_tag + ":" + std::to_string(i);
    events.push_back(std::move(event));
  }
  if (not_in_fleet) {
    if (!reason.empty()) reason += "; ";
    reason += std::to_string(not_in_fleet) + " image(s) not in the fleet (" + unknown_example +
              (not_in_fleet > 1 ? ", ...)" : ")");
  }
  if (ignored) metrics.add("cascade_triggers_total", {sender, "ignored"}, static_cast<double>(ignored));
  json ignored_answer = {{"accepted", 0}, {"duplicates", 0}, {"ignored", ignored}};
  if (!reason.empty()) ignored_answer["reason"] = reason;
  if (events.empty()) return respond(ok(ignored_answer));
  if (coordinator.pending_events() + events.size() > kMaxPendingEvents) {  // bounded queue: the sender retries later
    metrics.add("cascade_triggers_total", {sender, "refused_busy"}, static_cast<double>(events.size()));
    log.warn("webhook refused: too many pending events", {{"sender", sender}, {"limit", kMaxPendingEvents}});
    auto busy = error(503, "too many pending events (" + std::to_string(kMaxPendingEvents) + "); retry later");
    busy.headers.set("Retry-After", std::to_string(kRetryAfterSeconds));
    return respond(std::move(busy));
  }
  std::chrono::steady_clock::duration window = kDeliveryWindow;
  if (!config.secret.empty()) window = kSignedReplayWindow;  // the body is HMAC-verified: a replay, however relabelled
  if (!recent_deliveries.first_time(body_key, window)) {
    metrics.add("cascade_triggers_total", {sender, "duplicate"}, static_cast<double>(events.size()));
    json answer = {{"accepted", 0}, {"duplicates", events.size()}, {"ignored", ignored}};
    if (!reason.empty()) answer["reason"] = reason;
    return respond(ok(answer, 202));
  }
  auto debounce = pipeline.triggers->debounce;
  intake.submit(events, [this, events, sender, ignored, reason, body_key, debounce, started,
                         respond = std::move(respond)](auto recorded) {
    if (!recorded) {  // not durable: the sender must retry, and its retry is no duplicate
      recent_deliveries.forget(body_key);
      log.error("webhook not stored", {{"sender", sender}, {"error", recorded.error().message}});
      return respond(error(503, "cannot store the event; retry"));
    }
    std::size_t accepted = 0, duplicates = 0;
    json ids = json::array();
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto& result = (*recorded)[i];
      ids.push_back(result.id);
      if (!result.is_new) {
        ++duplicates;
        continue;
      }
      ++accepted;
      Trigger trigger;
      trigger.source = store::TriggerKind::webhook;
      trigger.sender = sender;
      trigger.image = events[i].image;
      trigger.digest = events[i].digest;
      trigger.events = {result.id};
      coordinator.add(std::move(trigger), debounce);
    }
    metrics.add("cascade_triggers_total", {sender, "accepted"}, static_cast<double>(accepted));
    if (duplicates) metrics.add("cascade_triggers_total", {sender, "duplicate"}, static_cast<double>(duplicates));
    metrics.observe("cascade_webhook_intake_seconds",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    json answer = {{"accepted", accepted}, {"duplicates", duplicates}, {"ignored", ignored}, {"events", ids}};
    if (!reason.empty()) answer["reason"] = reason;
    respond(ok(answer, 202));
  });
}

void Routes::api_patch(http::ServerRequest&& request, http::Respond respond) {
  if (!authorized(request, respond)) return;
  auto body = json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("image") || !body["image"].is_string())
    return respond(error(400, "expected a JSON object {\"image\": \"IMAGE\", \"digest\": optional}"));
  std::string query = body["image"];
  if (body.contains("digest") && !body["digest"].is_null()) {
    if (!body["digest"].is_string()) return respond(error(400, "digest: expected a string"));
    query += "@" + body["digest"].get<std::string>();
  }
  auto ref = reference::parse(query);
  if (!ref) return respond(error(400, "'" + query + "' is not an image reference: " + ref.error().message));
  if (coordinator.fleet().fleet->graph.match(*ref).empty())
    return respond(error(400, "no image in the fleet matches " + query + " (GET /api/graph lists them)"));
  store::Event event;
  event.sender = "api";
  event.image = query;
  static std::atomic<std::uint64_t> counter{0};
  event.dedupe_key = "api:" + iso_now() + ":" + std::to_string(counter++);
  intake.submit({event}, [this, query, respond = std::move(respond)](auto recorded) {
    if (!recorded) return respond(error(503, "cannot store the request; retry"));
    store::EventId id = recorded->front().id;
    Trigger trigger;
    trigger.source = store::TriggerKind::api;
    trigger.sender = "api";
    trigger.image = query;
    trigger.exact = true;
    trigger.events = {id};
    auto busy = coordinator.active();
    if (busy || coordinator.queued() > 0) {  // answer now; the caller follows the event
      respond(ok({{"event", id}, {"run", nullptr}, {"queued", true},
                  {"message", busy ? "queued behind run " + std::to_string(busy->run) : "queued"}}, 202));
    } else {
      trigger.done.push_back([id, respond](const Outcome& outcome) {
        respond(ok({{"event", id}, {"run", outcome.run ? json(*outcome.run) : json(nullptr)}, {"queued", false},
                    {"message", outcome.message}}, outcome.status));
      });
    }
    metrics.add("cascade_triggers_total", {"api", "accepted"});
    coordinator.add(std::move(trigger), std::chrono::milliseconds(0));
  });
}

}  // namespace cascade::daemon
