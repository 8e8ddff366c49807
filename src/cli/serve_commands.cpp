// serve, and the commands that talk to a running daemon: `patch --server` posts the patch
// and follows its run until it ends (printing each task's change), `status --server` reads
// the daemon's runs and schedule. Both use the bearer token in $CASCADE_API_TOKEN.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <thread>

#include "cascade/daemon.hpp"
#include "cascade/http.hpp"
#include "common.hpp"
#include "render.hpp"
#include "signals.hpp"

namespace cascade::cli {

namespace {

using nlohmann::json;

struct Remote {
  std::string base;  // "http://127.0.0.1:8080", no trailing slash
  http::Client client;

  explicit Remote(std::string url) : base(std::move(url)), client(options_for(base)) {
    while (!base.empty() && base.back() == '/') base.pop_back();
  }

  // The user named the daemon with http:// on purpose: allow plain http to that one host
  // (https stays verified).
  static http::Options options_for(const std::string& url) {
    http::Options options;
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) == 0) {
      std::string authority = url.substr(scheme.size(), url.find('/', scheme.size()) - scheme.size());
      options.hosts[authority].insecure = true;
    }
    return options;
  }

  // The answer as JSON, or a message naming what failed.
  Expected<std::pair<int, json>, std::string> call(const std::string& method, const std::string& path,
                                                   const std::string& body = "") {
    http::Request request;
    request.method = method;
    request.url = base + path;
    request.body = body;
    if (!body.empty()) request.headers.set("Content-Type", "application/json");
    if (const char* token = std::getenv("CASCADE_API_TOKEN"); token && *token)
      request.headers.set("Authorization", std::string("Bearer ") + token);
    auto response = client.request(std::move(request));
    if (!response) return unexpected(response.error().str());
    auto parsed = json::parse(response->body, nullptr, false);
    if (parsed.is_discarded()) return unexpected(base + path + " answered " + std::to_string(response->status) + " without JSON");
    return std::pair{response->status, std::move(parsed)};
  }
};

// Where following a run stops: a final state, or awaiting its release (an approval or a window
// may be hours away; the daemon releases it).
bool final_state(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "interrupted" || state == "awaiting";
}

}  // namespace

void print_schedule(const Common& common, const pipeline::Pipeline& pipeline, store::Store& store) {
  if (common.format == "json") return;
  auto schedule = daemon::schedule_status(pipeline, store);
  if (schedule["schedule"].empty()) return;
  std::cout << "\nschedule:\n";
  for (const auto& entry : schedule["schedule"]) {
    std::cout << "  " << entry["name"].get<std::string>() << "  " << entry["action"].get<std::string>() << "  \""
              << entry["cron"].get<std::string>() << "\" " << entry["timezone"].get<std::string>() << "  next "
              << (entry["next"].is_null() ? std::string("never") : entry["next"].get<std::string>());
    if (!entry["last"].is_null()) std::cout << "  (last " << entry["last"].get<std::string>() << ")";
    std::cout << "\n";
  }
}

int remote_patch(const Common& common, const PatchArgs& args) {
  if (args.dry_run || args.resume != 0) {
    fail("--server runs a patch on the daemon; --dry-run and --resume work on the local state only");
    return kBadInput;
  }
  Remote remote(args.server);
  json request{{"image", args.image}};
  if (args.urgent) request["urgent"] = true;
  auto posted = remote.call("POST", "/api/patch", request.dump());
  if (!posted) {
    fail("cannot reach " + args.server + ": " + posted.error());
    return kFailed;
  }
  auto [status, answer] = *posted;
  if (status == 400 || status == 401 || status == 403) {
    fail(args.server + ": " + answer.value("error", "refused"));
    return kBadInput;
  }
  if (status >= 300) {
    fail(args.server + ": " + answer.value("error", answer.value("message", "failed")));
    return kFailed;
  }
  std::cerr << "cascade: " << answer.value("message", "accepted") << "\n";
  // Queued behind another run: wait until the daemon takes it up.
  long long event = answer.value("event", 0LL);
  json run_id = answer.value("run", json(nullptr));
  while (run_id.is_null()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto events = remote.call("GET", "/api/events?limit=200");
    if (!events) continue;
    bool settled = false;
    for (const auto& item : events->second["events"])
      if (item.value("id", 0LL) == event) {
        if (!item["run"].is_null()) run_id = item["run"];
        else if (!item["outcome"].is_null()) {
          std::cout << item["outcome"].get<std::string>() << "\n";
          settled = true;
        }
      }
    if (settled) return kOk;
  }
  // Follow the run: print each task's new state as it changes.
  std::map<std::string, std::string> seen;
  for (;;) {
    auto run = remote.call("GET", "/api/runs/" + std::to_string(run_id.get<long long>()));
    if (run && run->first == 200) {
      for (const auto& task : run->second["tasks"]) {
        std::string image = task["image"], state = task["state"];
        if (seen[image] != state) {
          std::cerr << "  " << state << "  " << familiar(image) << "\n";
          seen[image] = state;
        }
      }
      if (final_state(run->second["state"])) {
        if (common.format == "json") std::cout << run->second.dump(2) << "\n";
        else std::cout << run_text(run->second);
        if (run->second["state"] == "awaiting")
          std::cerr << "cascade: the run awaits its release; the daemon rolls out once it is approved (POST "
                       "/api/runs/" << run_id.get<long long>() << "/approve) or its window opens\n";
        return run->second["state"] == "succeeded" || run->second["state"] == "awaiting" ? kOk : kFailed;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int remote_status(const Common& common, const std::string& server, long long run) {
  Remote remote(server);
  auto answer = remote.call("GET", run ? "/api/runs/" + std::to_string(run) : "/api/runs?limit=20");
  if (!answer) {
    fail("cannot reach " + server + ": " + answer.error());
    return kFailed;
  }
  if (answer->first != 200) {
    fail(server + ": " + answer->second.value("error", "failed"));
    return answer->first == 404 || answer->first == 400 ? kBadInput : kFailed;
  }
  json out = answer->second;
  if (!run)
    if (auto schedule = remote.call("GET", "/api/schedule"); schedule && schedule->first == 200)
      out["schedule"] = schedule->second["schedule"];
  if (common.format == "json") {
    std::cout << out.dump(2) << "\n";
    return kOk;
  }
  std::cout << (run ? run_text(out) : runs_text(out));
  if (!run && out.contains("schedule") && !out["schedule"].empty()) {
    std::cout << "\nschedule:\n";
    for (const auto& entry : out["schedule"])
      std::cout << "  " << entry["name"].get<std::string>() << "  " << entry["action"].get<std::string>() << "  next "
                << (entry["next"].is_null() ? std::string("never") : entry["next"].get<std::string>()) << "\n";
  }
  return kOk;
}

void add_serve_command(CLI::App& app, Common& common, int& exit_code) {
  auto* serve = app.add_subcommand("serve", "run the daemon: webhooks, schedule, API, metrics and the dashboard");
  add_pipeline_option(serve, common);
  serve->callback([&] {
    SignalStop signals;  // before any thread starts
    auto path = pipeline_file(common);
    if (!path) {
      exit_code = kBadInput;
      return;
    }
    daemon::Options options;
    options.pipeline_file = *path;
    options.stop = signals.stop();
    options.cancel = signals.cancel();
    exit_code = daemon::serve(options);
  });
}

}  // namespace cascade::cli
