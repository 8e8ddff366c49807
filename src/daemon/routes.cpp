// The daemon's route table and its dispatch: every path the HTTP server answers, with its
// method, its guard (open, the read token, the API token) and where its handler runs (the io
// thread, or a worker when it may block). Routes::handle applies the checks every request
// gets in one order; the handlers (here: the dashboard page, /healthz, /metrics, the 404;
// the others in hooks.cpp, api.cpp, graph_api.cpp, exposure_api.cpp, api_access.cpp) only
// translate HTTP to application calls and back. Also the metric families the daemon serves.
#include <algorithm>

#include "dashboard.hpp"
#include "internal.hpp"

namespace cascade::daemon {

using nlohmann::json;

http::ServerResponse json_error(int status, const std::string& message) {
  return http::ServerResponse::json(status, json{{"error", message}}.dump());
}

http::ServerResponse json_ok(const json& body, int status) { return http::ServerResponse::json(status, body.dump()); }

std::span<const Routes::Route> Routes::table() {
  using enum Match;
  using enum Guard;
  using enum Thread;
  static const Route routes[] = {
      // method path                match   handler                        guard thread
      {"POST", "/hooks/",           prefix, &Routes::hook,                 none, io},  // each hook authenticates
      {"POST", "/api/patch",        exact,  &Routes::patch_post,           api,  io},
      {"POST", "/api/advisories",   exact,  &Routes::advisories_post,      api,  worker},
      {"GET",  "/api/affected",     exact,  &Routes::affected_get,         read, worker},
      {"POST", "/api/affected",     exact,  &Routes::affected_post,        read, worker},
      {"GET",  "/api/exposure",     exact,  &Routes::exposure_get,         read, worker},
      {"GET",  "/api/graph",        exact,  &Routes::graph_get,            read, io},
      {"GET",  "/api/graph.svg",    exact,  &Routes::graph_svg_get,        read, worker},
      {"GET",  "/api/inventory",    exact,  &Routes::inventory_get,        read, io},  // its own refresh thread
      {"GET",  "/api/runs",         exact,  &Routes::runs_get,             read, worker},
      {"GET",  "/api/runs/",        prefix, &Routes::run_get,              read, worker},  // <id>, <id>/log
      {"POST", "/api/runs/",        prefix, &Routes::run_post,             approve, worker},  // <id>/approve, <id>/reject
      {"GET",  "/api/quarantine",   exact,  &Routes::quarantine_get,       read, worker},
      {"GET",  "/api/schedule",     exact,  &Routes::schedule_get,         read, worker},
      {"GET",  "/api/events",       exact,  &Routes::events_get,           read, worker},
      {"GET",  "/metrics",          exact,  &Routes::metrics_get,          none, worker},  // exposure gauges: the store
      {"GET",  "/healthz",          exact,  &Routes::healthz_get,          none, io},
      {"GET",  "/",                 exact,  &Routes::page_get,             none, io},
      {"GET",  "/index.html",       exact,  &Routes::page_get,             none, io},
      {"GET",  "/api/",             prefix, &Routes::not_found,            read, io},
      {"GET",  "/",                 prefix, &Routes::not_found,            none, io},
  };
  return routes;
}

bool Routes::Route::matches(std::string_view request_path) const {
  return match == Match::prefix ? request_path.starts_with(path) : request_path == path;
}

bool Routes::Route::takes(std::string_view request_method) const {
  return request_method == method || (method == "GET" && request_method == "HEAD");
}

namespace {

/// The 405 answer's advice for a path whose routes do not take the request's method.
std::string wrong_method(std::span<const Routes::Route> routes, const Routes::Route& first) {
  if (first.path == "/hooks/") return "webhooks take POST";
  bool get = std::ranges::any_of(routes, [&](const Routes::Route& route) {
    return route.path == first.path && route.match == first.match && route.method == "GET";
  });
  return get ? "use GET" : "use POST";
}

}  // namespace

void Routes::handle(http::ServerRequest&& request, http::Respond respond) {
  // A name other than this server's is a DNS rebinding page or a misrouted request.
  if (auto host = request.headers.get("Host"); host && !host_check.allows(*host, request.local))
    return respond(json_error(421, "Host '" + *host + "' is not a name of this server; add it to `triggers.hosts` in "
                                   "the pipeline file"));
  // JSON only: a cross-site form cannot post to the API (a webhook checks its own sender's types).
  if (request.method == "POST" && request.path.starts_with("/api/") &&
      !is_json_type(request.headers.get("Content-Type").value_or("")))
    return respond(json_error(415, "Content-Type must be application/json"));
  auto routes = table();
  const Route& first = *std::ranges::find_if(routes, [&](const Route& route) { return route.matches(request.path); });
  auto here = [&](const Route& route) { return route.path == first.path && route.match == first.match; };
  // A path with reads behind the read token tells nothing, not even its methods, without it.
  bool read = std::ranges::any_of(routes, [&](const Route& route) { return here(route) && route.guard == Guard::read; });
  if (read && !may_read(request, respond)) return;
  auto route = std::ranges::find_if(routes, [&](const Route& route) { return here(route) && route.takes(request.method); });
  if (route == routes.end()) return respond(json_error(405, wrong_method(routes, first)));
  if (route->guard == Guard::api && !authorized(request, respond)) return;
  if (route->guard == Guard::approve && !actor_of(request))
    return respond(json_error(401, "missing or wrong bearer token: decisions take the API token or an approver's "
                                   "token (triggers.approvers)"));
  if (route->thread == Thread::worker) return run_blocking(route->handler, std::move(request), std::move(respond));
  (this->*route->handler)(std::move(request), std::move(respond));
}

void Routes::page_get(http::ServerRequest&&, http::Respond respond) {
  http::ServerResponse page;
  page.headers.set("Content-Type", "text/html; charset=utf-8");
  page.body = std::string(dashboard_html());
  respond(std::move(page));
}

void Routes::healthz_get(http::ServerRequest&&, http::Respond respond) {
  respond(http::ServerResponse::text(200, "ok\n"));
}

void Routes::metrics_get(http::ServerRequest&&, http::Respond respond) {
  refresh_exposure_metrics();
  http::ServerResponse page;
  page.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  metrics.set("cascade_queue_depth", static_cast<double>(coordinator.queued()));
  page.body = metrics.render();
  respond(std::move(page));
}

void Routes::not_found(http::ServerRequest&& request, http::Respond respond) {
  respond(json_error(404, "nothing at " + request.path));
}

void declare_metrics(Metrics& metrics) {
  metrics.counter("cascade_triggers_total", "Trigger events by source and outcome", {"source", "outcome"});
  metrics.counter("cascade_runs_total", "Finished runs by final state", {"state"});
  metrics.histogram("cascade_run_duration_seconds", "Wall time of runs",
                    {1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600});
  metrics.counter("cascade_builds_total", "Image builds by outcome", {"outcome"});
  metrics.histogram("cascade_build_duration_seconds", "Wall time of image builds",
                    {0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600});
  metrics.counter("cascade_worker_builds_total",
                  "Image builds by build worker and outcome (pushed, failed, unavailable: the worker failed, the "
                  "build went elsewhere)", {"worker", "outcome"});
  metrics.counter("cascade_deploys_total", "Workload rollouts by outcome", {"outcome"});
  metrics.gauge("cascade_queue_depth", "Triggers waiting for their debounce window or for the running run");
  metrics.gauge("cascade_runs_active", "Runs executing now");
  metrics.gauge("cascade_runs_awaiting", "Runs whose rollouts wait for an approval, a change window or an earlier wave");
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

}  // namespace cascade::daemon
