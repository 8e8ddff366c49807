// `cascade serve`: reads the pipeline and its `triggers:` section, wires the store and the
// clients, starts the HTTP server, the coordinator and the schedule, and on a signal stops
// them in order: no new connections, running builds finish (the run stays resumable), the
// intake commits what it holds. The stop is bounded: at Options::grace after the signal
// every outbound call (registry, deploy targets) and child process (builds) is cancelled,
// the run is left interrupted and resumable, and the daemon exits.
// serve() runs named steps: load_config, read_secrets, open_wiring, then run_daemon
// (start_server, the coordinator and schedule Threads, shut_down).
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
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

using Getenv = std::function<std::optional<std::string>(const std::string& name)>;

/// The secrets the pipeline file names, read from the environment.
struct Secrets {
  std::vector<webhook::HookConfig> hooks;  // by index of triggers.webhooks
  std::string read_token;                  // empty: reads are open
  std::string api_token;                   // empty: changes are refused
  std::vector<std::pair<std::string, std::string>> approvers;  // triggers.approvers: (name, token)
};

/// Step 1: the pipeline file, which must have a `triggers:` section; nullopt after saying
/// why on `out` (bad input: exit 2).
std::optional<pipeline::Pipeline> load_config(const std::string& path, std::ostream& out) {
  auto loaded = pipeline::load(path);
  if (!loaded) {
    out << "cascade: " << loaded.error().str() << "\n";
    return std::nullopt;
  }
  if (!loaded->triggers) {
    out << "cascade: " << loaded->file << ": no `triggers:` section; add one with at least `listen: 127.0.0.1:8080` "
        << "to run `cascade serve`\n";
    return std::nullopt;
  }
  return std::move(*loaded);
}

/// Step 2: the webhooks' tokens and HMAC keys and the API's tokens, from the environment
/// under the names the file gives; nullopt after saying which on `out` when one the file
/// names is not set (bad input: exit 2). Warns of the open doors: a webhook with `auth:
/// none`, no API token, the file's insecure settings.
std::optional<Secrets> read_secrets(const pipeline::Pipeline& file, const Getenv& getenv, std::ostream& out,
                                    Logger& log) {
  const pipeline::Triggers& triggers = *file.triggers;
  Secrets secrets;
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
        return std::nullopt;
      }
      *value = *secret;
    }
    secrets.hooks.push_back(std::move(hook));
  }
  for (const auto& entry : triggers.webhooks)
    if (entry.unauthenticated)
      log.warn("webhook accepts unauthenticated deliveries (auth: none): anyone who can reach it can start a cascade",
               {{"path", "/hooks/" + entry.path}, {"line", entry.mark.line}});
  if (!triggers.read_token_env.empty()) {
    secrets.read_token = getenv(triggers.read_token_env).value_or("");
    if (secrets.read_token.empty()) {
      out << "cascade: " << file.file << ":" << triggers.mark.line << ":" << triggers.mark.column
          << ": `read_token_env` names $" << triggers.read_token_env << ", which is not set; export it before "
          << "`cascade serve`, or remove the key to leave reads open\n";
      return std::nullopt;
    }
  }
  secrets.api_token = getenv(triggers.api_token_env).value_or("");
  for (const auto& approver : triggers.approvers)  // the pipeline parser checked each is set
    secrets.approvers.emplace_back(approver.name, getenv(approver.token_env).value_or(""));
  if (secrets.api_token.empty())
    log.warn("no API token: POST /api/patch and /api/advisories are refused", {{"set", "$" + triggers.api_token_env}});
  for (const auto& warning : pipeline::insecure_warnings(file))
    log.warn(warning.message, {{"line", warning.line}});
  return secrets;
}

/// Step 3: scans the fleet and opens the store and the clients, shared by the runs and the
/// API (each thread-safe; the fleet an immutable snapshot swapped on refresh); the exit code
/// when it cannot (bad sources: 2, the store unusable: 1), said on `out`.
Expected<app::Wiring, int> open_wiring(const pipeline::Pipeline& file, std::stop_token stop, std::stop_token cancel,
                                   std::ostream& out, Logger& log) {
  // A bad Dockerfile (a watched repository is outside input) breaks only its recipe: the
  // rest of the fleet is served, the recipe is reported (log, GET /api/graph, metrics).
  fleet::Options scan_options;
  scan_options.partial = true;
  scan_options.stop = stop;  // a signal during the first clone ends it
  auto scanned = fleet::scan(file, scan_options);
  if (!scanned) {
    for (const auto& problem : scanned.error()) out << "cascade: " << problem.str() << "\n";
    return unexpected(2);
  }
  for (const auto& broken : scanned->broken)
    log.error("broken recipe: left out of the graph until its Dockerfile is fixed",
              {{"image", broken.image}, {"source", broken.source}, {"dockerfile", broken.dockerfile},
               {"problem", broken.problem.str()}});
  auto wired = app::wire(*scanned, cancel);
  if (!wired) {
    out << "cascade: " << wired.error().message << "\n";
    return unexpected(1);  // the store is unusable (serve's exit codes: daemon.hpp)
  }
  return std::move(*wired);
}

/// Step 4: the HTTP server on the routes; logs the URL and calls Options::on_listening.
Expected<std::unique_ptr<http::Server>, std::string> start_server(const Options& options, const Listen& listen,
                                                                  const fleet::Fleet& fleet, Routes& routes,
                                                                  Logger& log) {
  const pipeline::Pipeline& file = routes.pipeline;
  const pipeline::Triggers& triggers = *file.triggers;
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
  if (!server) return server;
  std::string url = "http://" + url_host(listen.host) + ":" + std::to_string((*server)->port());
  log.info("listening", {{"url", url}, {"pipeline", file.file}, {"images", fleet.graph.recipes().size()},
                         {"webhooks", routes.hooks.size()}, {"schedules", triggers.schedule.size()},
                         {"max_connections", (*server)->max_connections()}, {"read_token", !routes.read_token.empty()},
                         {"broken_recipes", fleet.broken.size()}});
  if (options.on_listening) options.on_listening(url);
  return server;
}

/// Step 5: the coordinator and the schedule, each on its own thread until the stop.
class Threads {
 public:
  Threads(const Options& options, Coordinator& coordinator, ScheduleClock& scheduler, Releaser& releaser,
          Notifier& notifier, std::stop_token cancel)
      : coordinator_([this, &options, &coordinator, cancel] {
          coordinator.run(options.stop, cancel);
          std::lock_guard lock(mutex_);
          coordinator_finished_ = true;
          finished_changed_.notify_all();
        }),
        scheduler_([&options, &scheduler] { scheduler.run(options.stop); }),
        releaser_([&options, &releaser, cancel] { releaser.run(options.stop, cancel); }),
        notifier_([&options, &notifier] { notifier.run(options.stop); }) {}

  /// Whether the coordinator's run() returned by `deadline`.
  bool coordinator_finished(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    return finished_changed_.wait_until(lock, deadline, [&] { return coordinator_finished_; });
  }

  void join() {
    coordinator_.join();
    scheduler_.join();
    releaser_.join();
    notifier_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable finished_changed_;
  bool coordinator_finished_ = false;
  std::jthread coordinator_, scheduler_, releaser_, notifier_;  // last: joined before the members they use go
};

void wait_for_stop(std::stop_token stop) {
  std::mutex mutex;
  std::condition_variable_any stopped;
  std::unique_lock lock(mutex);
  stopped.wait(lock, stop, [] { return false; });
}

/// Step 6, at the stop: no new connections; the routes' queued reads answered 503 and their
/// workers joined (before the store, intake and coordinator go); running builds get the
/// grace, then every build and outbound call is cancelled (the run stays resumable); the
/// threads are joined and the intake commits what it holds.
void shut_down(const Options& options, http::Server& server, Routes& routes, Threads& threads, Intake& intake,
               std::stop_source& cancel, Logger& log) {
  auto grace_over = std::chrono::steady_clock::now() + options.grace;
  log.info("stopping: no new connections; running builds finish, the run stays resumable",
           {{"grace_seconds", std::chrono::duration_cast<std::chrono::seconds>(options.grace).count()}});
  server.stop(std::chrono::seconds(5));
  routes.stop();
  if (!threads.coordinator_finished(grace_over)) {
    log.warn("stop grace over: cancelling running builds and outbound calls; the run stays resumable");
    cancel.request_stop();
  }
  threads.join();
  intake.stop();
  log.info("stopped");
}

/// Steps 4 to 6 over the wiring: the coordinator, the intake and the routes (declared in
/// that order: they go in the reverse, the routes and their workers first), the server,
/// the threads until the stop, the shutdown.
int run_daemon(const Options& options, const pipeline::Pipeline& file, Secrets secrets, app::Wiring& wiring,
               std::stop_source& cancel, Logger& log) {
  const pipeline::Triggers& triggers = *file.triggers;
  Metrics metrics;
  declare_metrics(metrics);
  Coordinator coordinator(wiring, {triggers.debounce, triggers.parallel, !file.deploy.empty()}, metrics, log);
  Releaser releaser(wiring, coordinator, metrics, log);
  Notifier notifier(wiring, log);
  Intake intake(*wiring.store);
  Routes routes{file, std::move(secrets.hooks), secrets.api_token, *wiring.store, intake, coordinator,
                metrics, log, wiring, {}};
  Listen listen = split_listen(triggers.listen);
  routes.read_token = secrets.read_token;
  routes.approvers = std::move(secrets.approvers);
  routes.wake_releaser = [&releaser] { releaser.wake(); };
  routes.host_check = HostCheck(listen.host, triggers.hosts);
  routes.start();
  auto server = start_server(options, listen, *wiring.fleet.get(), routes, log);
  if (!server) {
    log.error("cannot listen", {{"error", server.error()}});
    return 1;
  }
  ScheduleClock scheduler(file, *wiring.store, coordinator, log, metrics);
  Threads threads(options, coordinator, scheduler, releaser, notifier, cancel.get_token());
  wait_for_stop(options.stop);
  shut_down(options, **server, routes, threads, intake, cancel, log);
  return 0;
}

}  // namespace

int serve(const Options& options) {
  std::ostream& out = options.log ? *options.log : std::cerr;
  Getenv getenv = options.getenv ? options.getenv : [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
  auto file = load_config(options.pipeline_file, out);
  if (!file) return 2;
  Logger log(file->triggers->log_format == "json" ? Logger::Format::json : Logger::Format::text, out);
  StopWatchdog watchdog(options.stop, options.grace + options.cancel_grace, log);
  auto secrets = read_secrets(*file, getenv, out, log);
  if (!secrets) return 2;
  // Cancels outbound I/O and builds: at a second signal, or when the stop grace is over.
  std::stop_source cancel;
  std::stop_callback cancel_on_second_signal(options.cancel, [&cancel] { cancel.request_stop(); });
  auto wiring = open_wiring(*file, options.stop, cancel.get_token(), out, log);
  if (!wiring) return wiring.error();
  return run_daemon(options, *file, std::move(*secrets), *wiring, cancel, log);
}

}  // namespace cascade::daemon
