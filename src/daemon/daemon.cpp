// `cascade serve`: reads the pipeline and its `triggers:` section, wires the store and the
// clients, starts the HTTP server, the coordinator and the schedule, and on a signal stops
// them in order: no new connections, running builds finish (the run stays resumable), the
// intake commits what it holds. The stop is bounded: at Options::grace after the signal
// every outbound call (registry, deploy targets) and child process (builds) is cancelled,
// the run is left interrupted and resumable, and the daemon exits.
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

#include "cascade/daemon.hpp"
#include "internal.hpp"

namespace cascade::daemon {

namespace {

struct Listen {
  std::string host;
  std::uint16_t port = 0;
};

Listen split_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  Listen out{listen.substr(0, colon), static_cast<std::uint16_t>(std::stoi(listen.substr(colon + 1)))};
  if (out.host.size() > 1 && out.host.front() == '[') out.host = out.host.substr(1, out.host.size() - 2);
  return out;
}

std::string url_host(const std::string& host) { return host.find(':') != std::string::npos ? "[" + host + "]" : host; }

// The last resort of a bounded stop: when serve() has not returned `limit` after the stop
// (work that ignores cancellation: libgit2 1.5 waits on a silent git server with no timeout,
// at start as much as later), the process exits at once. Every state change is a committed
// SQLite transaction, so this is as safe as a kill -9, which a restart recovers from
// (interrupted runs resume, unsettled events and firings are replayed).
class StopWatchdog {
 public:
  StopWatchdog(std::stop_token stop, std::chrono::milliseconds limit, Logger& log)
      : thread_([this, stop, limit, &log](std::stop_token returned) { watch(stop, returned, limit, log); }) {}

 private:
  void watch(const std::stop_token& stop, const std::stop_token& returned, std::chrono::milliseconds limit,
             Logger& log) {
    std::stop_callback wake(stop, [this] {
      std::lock_guard lock(mutex_);
      changed_.notify_all();
    });
    std::unique_lock lock(mutex_);
    if (!changed_.wait(lock, returned, [&] { return stop.stop_requested(); })) return;
    changed_.wait_for(lock, returned, limit, [] { return false; });
    if (returned.stop_requested()) return;
    log.error("stop: work still running after the grace and the cancellation; exiting now, the run stays resumable",
              {{"after_seconds", std::chrono::duration_cast<std::chrono::seconds>(limit).count()}});
    std::fflush(nullptr);
    std::_Exit(0);
  }

  std::mutex mutex_;
  std::condition_variable_any changed_;
  std::jthread thread_;  // last: joined (asked to stop) before the members it uses go
};

}  // namespace

int serve(const Options& options) {
  std::ostream& out = options.log ? *options.log : std::cerr;
  auto getenv = options.getenv ? options.getenv : [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
  auto loaded = pipeline::load(options.pipeline_file);
  if (!loaded) {
    out << "cascade: " << loaded.error().str() << "\n";
    return 2;
  }
  const pipeline::Pipeline& file = *loaded;
  if (!file.triggers) {
    out << "cascade: " << file.file << ": no `triggers:` section; add one with at least `listen: 127.0.0.1:8080` "
        << "to run `cascade serve`\n";
    return 2;
  }
  const pipeline::Triggers& triggers = *file.triggers;
  Logger log(triggers.log_format == "json" ? Logger::Format::json : Logger::Format::text, out);
  StopWatchdog watchdog(options.stop, options.grace + options.cancel_grace, log);

  // Secrets from the environment, named by the file; a missing one is bad input.
  std::vector<webhook::HookConfig> hooks;
  for (const auto& entry : triggers.webhooks) {
    webhook::HookConfig hook;
    hook.sender = *webhook::parse_sender(entry.sender);
    hook.registry = entry.registry;
    hook.unauthenticated = entry.unauthenticated;
    for (auto [name, value] : {std::pair{&entry.token_env, &hook.token}, std::pair{&entry.secret_env, &hook.secret}}) {
      if (name->empty()) continue;
      auto secret = getenv(*name);
      if (!secret || secret->empty()) {
        out << "cascade: " << file.file << ":" << entry.mark.line << ":" << entry.mark.column << ": webhook '"
            << entry.path << "' takes its secret from $" << *name << ", which is not set; export it before "
            << "`cascade serve`\n";
        return 2;
      }
      *value = *secret;
    }
    hooks.push_back(std::move(hook));
  }
  for (const auto& entry : triggers.webhooks)
    if (entry.unauthenticated)
      log.warn("webhook accepts unauthenticated deliveries (auth: none): anyone who can reach it can start a cascade",
               {{"path", "/hooks/" + entry.path}, {"line", entry.mark.line}});
  std::string read_token;
  if (!triggers.read_token_env.empty()) {
    read_token = getenv(triggers.read_token_env).value_or("");
    if (read_token.empty()) {
      out << "cascade: " << file.file << ":" << triggers.mark.line << ":" << triggers.mark.column
          << ": `read_token_env` names $" << triggers.read_token_env << ", which is not set; export it before "
          << "`cascade serve`, or remove the key to leave reads open\n";
      return 2;
    }
  }
  std::string api_token = getenv(triggers.api_token_env).value_or("");
  if (api_token.empty())
    log.warn("no API token: POST /api/patch and /api/advisories are refused", {{"set", "$" + triggers.api_token_env}});

  for (const auto& warning : pipeline::insecure_warnings(file))
    log.warn(warning.message, {{"line", warning.line}});

  // A bad Dockerfile (a watched repository is outside input) breaks only its recipe: the
  // rest of the fleet is served, the recipe is reported (log, GET /api/graph, metrics).
  fleet::Options scan_options;
  scan_options.partial = true;
  scan_options.stop = options.stop;  // a signal during the first clone ends it
  auto scanned = fleet::scan(file, scan_options);
  if (!scanned) {
    for (const auto& problem : scanned.error()) out << "cascade: " << problem.str() << "\n";
    return 2;
  }
  for (const auto& broken : scanned->broken)
    log.error("broken recipe: left out of the graph until its Dockerfile is fixed",
              {{"image", broken.image}, {"source", broken.source}, {"dockerfile", broken.dockerfile},
               {"problem", broken.problem.str()}});
  // Cancels outbound I/O and builds: at a second signal, or when the stop grace is over.
  std::stop_source cancel;
  std::stop_callback cancel_on_second_signal(options.cancel, [&cancel] { cancel.request_stop(); });
  auto wired = app::wire(*scanned, cancel.get_token());
  if (!wired) {
    out << "cascade: " << wired.error().message << "\n";
    return 1;  // the store is unusable (serve's exit codes: daemon.hpp)
  }
  auto api_wired = app::wire(*scanned, cancel.get_token());  // the API's own clients and targets: a run may hold the first
  if (!api_wired) {
    out << "cascade: " << api_wired.error().message << "\n";
    return 1;  // the store is unusable (serve's exit codes: daemon.hpp)
  }
  app::Wiring& wiring = *wired;

  Metrics metrics;
  declare_metrics(metrics);
  Coordinator coordinator(wiring, {triggers.debounce, triggers.parallel, !file.deploy.empty()}, metrics, log);
  Intake intake(*wiring.store);
  Routes routes{file, hooks, api_token, *wiring.store, intake, coordinator, metrics, log, *api_wired, {}};

  Listen listen = split_listen(triggers.listen);
  routes.read_token = read_token;
  routes.host_check = HostCheck(listen.host, triggers.hosts);
  routes.start();
  http::ServerOptions server_options;
  server_options.address = listen.host;
  server_options.port = listen.port;
  server_options.body_limit = triggers.body_limit;
  server_options.access_log = [&log](const http::AccessEntry& entry) {
    bool changes = entry.method == "POST" && entry.path.rfind("/api/", 0) == 0;  // patch, advisories, affected
    if (entry.status >= 400 || changes)  // successes stay quiet: hooks log their own
      log.info("http", {{"method", entry.method}, {"path", entry.path}, {"status", entry.status},
                        {"us", entry.duration.count()}, {"remote", entry.remote}});
  };
  auto server = http::Server::start(server_options, [&routes](http::ServerRequest&& request, http::Respond respond) {
    routes.handle(std::move(request), std::move(respond));
  });
  if (!server) {
    log.error("cannot listen", {{"error", server.error()}});
    return 1;
  }
  std::string url = "http://" + url_host(listen.host) + ":" + std::to_string((*server)->port());
  log.info("listening", {{"url", url}, {"pipeline", file.file}, {"images", wiring.fleet.graph.recipes().size()},
                         {"webhooks", hooks.size()}, {"schedules", triggers.schedule.size()},
                         {"max_connections", (*server)->max_connections()}, {"read_token", !read_token.empty()},
                         {"broken_recipes", wiring.fleet.broken.size()}});
  if (options.on_listening) options.on_listening(url);

  Scheduler scheduler(file, *wiring.store, coordinator, log, metrics);
  std::mutex finished_mutex;
  std::condition_variable finished_changed;
  bool coordinator_finished = false;
  std::jthread coordinator_thread([&] {
    coordinator.run(options.stop, cancel.get_token());
    std::lock_guard lock(finished_mutex);
    coordinator_finished = true;
    finished_changed.notify_all();
  });
  std::jthread scheduler_thread([&] { scheduler.run(options.stop); });

  {
    std::mutex mutex;
    std::condition_variable_any stopped;
    std::unique_lock lock(mutex);
    stopped.wait(lock, options.stop, [] { return false; });
  }
  auto grace_over = std::chrono::steady_clock::now() + options.grace;
  log.info("stopping: no new connections; running builds finish, the run stays resumable",
           {{"grace_seconds", std::chrono::duration_cast<std::chrono::seconds>(options.grace).count()}});
  (*server)->stop(std::chrono::seconds(5));
  routes.stop();
  {
    std::unique_lock lock(finished_mutex);
    if (!finished_changed.wait_until(lock, grace_over, [&] { return coordinator_finished; })) {
      log.warn("stop grace over: cancelling running builds and outbound calls; the run stays resumable");
      cancel.request_stop();
    }
  }
  coordinator_thread.join();
  scheduler_thread.join();
  intake.stop();
  log.info("stopped");
  return 0;
}

}  // namespace cascade::daemon
