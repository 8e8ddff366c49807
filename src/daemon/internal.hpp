// Internal to the daemon: the structured log, the group-committing webhook intake, the
// coordinator (debounce, one run at a time, join or follow), the schedule, the routes and
// the advisories POST /api/advisories stores.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cascade/app.hpp"
#include "cascade/exposure.hpp"
#include "cascade/cron.hpp"
#include "cascade/http_server.hpp"
#include "cascade/trigger.hpp"
#include "cascade/util/time.hpp"
#include "cascade/webhook.hpp"
#include "api_guard.hpp"
#include "metrics.hpp"
#include "status.hpp"
#include "workers.hpp"

namespace cascade::daemon {

// ---- log --------------------------------------------------------------------------------

/// One line per entry: JSON ({"ts","level","msg",...fields}) or text ("ts LEVEL msg k=v ...").
/// Callers never pass secrets; URLs go through http::redact_url.
class Logger {
 public:
  enum class Format { text, json };
  Logger(Format format, std::ostream& out) : format_(format), out_(out) {}
  using Fields = std::initializer_list<std::pair<std::string_view, nlohmann::json>>;
  void info(std::string_view message, Fields fields = {}) { write("info", message, fields); }
  void warn(std::string_view message, Fields fields = {}) { write("warn", message, fields); }
  void error(std::string_view message, Fields fields = {}) { write("error", message, fields); }
  void write(std::string_view level, std::string_view message, Fields fields);

 private:
  Format format_;
  std::ostream& out_;
  std::mutex mutex_;
};

// ---- intake -----------------------------------------------------------------------------

/// Writes trigger events durably in groups: deliveries arriving while a commit runs are
/// committed together in the next one (one disk sync for all), then each is answered.
class Intake {
 public:
  using Done = std::function<void(Expected<std::vector<store::RecordedEvent>, store::Error>)>;
  explicit Intake(store::Store& store);
  ~Intake();
  /// Queues events; `done` runs on the intake thread once they are committed (or failed).
  void submit(std::vector<store::Event> events, Done done);
  /// Commits what is queued and joins the thread.
  void stop();
  std::size_t commits() const { return commits_; }

 private:
  void loop();
  store::Store& store_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::pair<std::vector<store::Event>, Done>> queue_;
  bool stopping_ = false;
  std::atomic<std::size_t> commits_{0};
  std::thread thread_;
};

/// Webhook deliveries seen lately, by key (hook and body hash): the same bytes at the same
/// hook again within the key's window are the same delivery (a replay, a sender's retry).
/// Holds at most kMaxRecentDeliveries keys; the soonest to expire go first.
class RecentDeliveries {
 public:
  /// Records `key` for `window` unless it is held already; true when it was not.
  bool first_time(const std::string& key, std::chrono::steady_clock::duration window);
  /// Forgets `key` (its delivery was not stored: the sender's retry is not a duplicate).
  void forget(const std::string& key);

 private:
  using Clock = std::chrono::steady_clock;
  std::mutex mutex_;
  std::map<std::string, Clock::time_point> expiry_;
  std::multimap<Clock::time_point, std::string> by_expiry_;
};

// Bounds of the webhook intake and the event settlement (README "Resource bounds").
inline constexpr auto kDeliveryWindow = std::chrono::seconds(10);       // the same body at one hook: one delivery
inline constexpr auto kSignedReplayWindow = std::chrono::minutes(10);   // the same HMAC-verified body: a replay
inline constexpr std::size_t kMaxRecentDeliveries = 10'000;             // keys the windows hold
inline constexpr std::size_t kMaxPendingEvents = 10'000;                // accepted, waiting: more is 503
inline constexpr int kRetryAfterSeconds = 30;                           // Retry-After of that 503
inline constexpr auto kRetryFirstDelay = std::chrono::seconds(1);       // transient failure: 1 s, 2 s, 4 s, ...
inline constexpr auto kRetryMaxDelay = std::chrono::minutes(5);         // ... at most 5 min apart
inline constexpr int kRetryAttempts = 20;                               // then settled failed (about 1 h)
inline constexpr int kTagCatchUpTries = 3;  // a tag not yet at a notice's digest: asked again 3 times (7 s)
inline constexpr auto kFleetRefreshInterval = std::chrono::minutes(5);  // idle rescan of the sources

// ---- coordinator ------------------------------------------------------------------------

/// What became of a trigger, for callers waiting on it (POST /api/patch).
struct Answer {
  int status = 202;                  // HTTP status for the API: 202 run started, 200 nothing to do, 4xx/5xx
  std::optional<store::RunId> run;   // the run it started or joined
  std::string message;               // "started run 4", "joined run 3", "up to date", the failure
  std::vector<std::string> unfixed{};  // fix: external bases with no fixed version upstream yet
};

/// A trigger in the coordinator's queue: the application's trigger (app::Trigger, the one
/// value every trigger becomes) and what the daemon keeps with it. Triggers of the same key
/// wait together (debounce).
struct Queued {
  app::Trigger trigger;
  std::vector<store::EventId> events;  // stored events it carries
  int attempt = 0;                     // transient failures so far (a webhook or schedule patch retries)
  std::vector<std::function<void(const Answer&)>> done;
};

/// Shared, read-mostly state the API reads: the fleet as last scanned.
struct FleetView {
  std::shared_ptr<const fleet::Fleet> fleet;
  std::uint64_t generation = 0;
};

class Coordinator {
 public:
  struct Config {
    std::chrono::milliseconds debounce{0};
    std::size_t parallel = 2;
    bool deploy = true;
    std::chrono::milliseconds fleet_refresh = kFleetRefreshInterval;  // rescan the sources when idle this long
  };
  Coordinator(app::Wiring& wiring, Config config, Metrics& metrics, Logger& log);

  /// Queues a trigger (it waits `delay`, restarted by each later trigger of the same key, but
  /// at most 5x delay after the first), or joins the running run when that run is for the
  /// same image and digest or builds the image itself.
  void add(Queued queued, std::chrono::milliseconds delay);
  /// Runs queued work until `stop`: resumes unfinished runs first, then one run at a time.
  void run(std::stop_token stop, std::stop_token cancel);
  void wake();

  std::size_t queued() const;
  using Active = app::ActiveRun;
  std::optional<Active> active() const;
  FleetView fleet() const;
  /// Stored events waiting in the queue (debounce, behind the run, retrying).
  std::size_t pending_events() const;
  /// Times the sources were read from git (each a fetch of every remote source).
  std::uint64_t fleet_scans() const { return fleet_scans_; }
  /// An event kept pending after a transient failure: its failures so far and its next try.
  struct Retry {
    int attempt = 0;
    std::chrono::sys_time<std::chrono::milliseconds> due{};
  };
  std::map<store::EventId, Retry> retrying() const;

 private:
  /// Hands the trigger to app::handle() and settles, retries or answers what it came to.
  void process(Queued& queued, std::stop_token stop, std::stop_token cancel);
  /// A refresh's patch notices: the firing is settled once the last one has started its run
  /// (resumable from then on) or settled; until then a restart replays it.
  void follow_up(Queued& queued, std::vector<app::Trigger> patches, const std::string& message);
  app::HandleOptions handle_options(Queued& queued, std::stop_token stop, std::stop_token cancel);
  /// The run started: it is the active one; its events join it; the waiting callers hear of it.
  void started(Queued& queued, store::RunId run, const app::PlannedPatch& planned, bool finishing);
  /// A stored fix request the daemon stopped before acting on (its advisories), queued again.
  void requeue_fix(const store::Event& event);
  void resume_unfinished(std::stop_token stop, std::stop_token cancel);
  /// Queues again the stored events nothing acted on (the daemon stopped in their window, or
  /// while they waited to retry a transient failure: they go on where they were).
  void requeue_pending();
  void refresh_fleet();
  void settle(Queued& queued, Answer outcome, std::string_view metric_outcome);
  /// A transient failure: the trigger waits 1 s, 2 s, 4 s, ... (at most 5 min) and tries
  /// again, its events pending (persisted, a restart continues); settled failed after
  /// kRetryAttempts, or at once when nothing stored waits on it (an exact API patch).
  void retry_later(Queued& queued, const std::string& reason);
  /// Drops settled or joined events from the retry state (and its stored copy).
  void forget_retries(const std::vector<store::EventId>& events);
  void save_retries();
  void load_retries();
  void update_behind();

 public:
  /// Counts and logs what a run tells as it goes (the release passes' rollouts too).
  void on_progress(const executor::Progress& progress);

 private:
  app::Wiring& wiring_;
  Config config_;
  Metrics& metrics_;
  Logger& log_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  struct Waiting {
    Queued queued;
    std::chrono::steady_clock::time_point first, due;
  };
  std::map<std::string, Waiting> waiting_;
  std::optional<Active> active_;
  FleetView view_;
  std::map<store::EventId, Retry> retrying_;  // changed on the coordinator thread only
  std::atomic<std::uint64_t> fleet_scans_{0};
  std::chrono::steady_clock::time_point scanned_at_ = std::chrono::steady_clock::now();
  std::stop_token cancel_;  // run()'s cancel: after it, settle() leaves the events pending
};

// ---- schedule ---------------------------------------------------------------------------

/// The schedule entries with their next and last times:
/// {"schedule": [{"name", "cron", "timezone", "action", "images", "next", "last"}]}.
nlohmann::json schedule_json(const pipeline::Pipeline& pipeline, store::Store& store, cron::Time now);

/// Fires the pipeline's schedule entries into the coordinator; a time missed while the
/// daemon was down fires once at start, and a firing whose work was not done (its event
/// still pending: a kill or a stop came first) is replayed once at start. The last fire
/// time of each entry is a store setting.
class ScheduleClock {
 public:
  ScheduleClock(const pipeline::Pipeline& pipeline, store::Store& store, Coordinator& coordinator, Logger& log,
            Metrics& metrics);
  void run(std::stop_token stop);

 private:
  void fire(const pipeline::ScheduleEntry& entry, cron::Time at, bool missed);
  /// Queues again each stored firing the coordinator never settled.
  void replay_unsettled();
  const pipeline::Pipeline& pipeline_;
  store::Store& store_;
  Coordinator& coordinator_;
  Logger& log_;
  Metrics& metrics_;
};

// ---- release control --------------------------------------------------------------------

/// Moves awaiting runs on (app::advance_release): every second, at once when woken (an
/// approval came in), and at the wake time a pass names (a window opens, a soak ends). The
/// runs and their releases are in the store, so a restarted daemon goes on where it was.
class Releaser {
 public:
  Releaser(app::Wiring& wiring, Coordinator& coordinator, Metrics& metrics, Logger& log);
  void run(std::stop_token stop, std::stop_token cancel);
  void wake();
  static constexpr auto kPoll = std::chrono::seconds(1);

 private:
  app::Wiring& wiring_;
  Coordinator& coordinator_;
  Metrics& metrics_;
  Logger& log_;
  std::mutex mutex_;
  std::condition_variable_any woken_;
  bool wake_ = false;
  std::map<store::RunId, std::string> told_;  // what was last logged of each awaiting run
};

/// Delivers the stored notifications (notify::Deliverer) as they fall due, retrying with
/// backoff; a destination that is down delays only its own deliveries.
class Notifier {
 public:
  Notifier(app::Wiring& wiring, Logger& log) : wiring_(wiring), log_(log) {}
  void run(std::stop_token stop);

 private:
  app::Wiring& wiring_;
  Logger& log_;
};

// ---- routes -----------------------------------------------------------------------------

/// {"error": message} as application/json with `status`.
http::ServerResponse json_error(int status, const std::string& message);
/// `body` as application/json with `status`.
http::ServerResponse json_ok(const nlohmann::json& body, int status = 200);

/// The fleet graph as SVG (GET /api/graph.svg): Graphviz runs once per fleet generation, one
/// run at a time, and its SVG answers the generation's later callers.
class GraphSvg {
 public:
  /// The SVG of `view`'s graph, or why Graphviz failed (for the log, not for clients).
  Expected<std::string, std::string> get(const FleetView& view);

 private:
  std::mutex mutex_;
  std::uint64_t generation_ = 0;  // of svg_; the coordinator's generations start at 1
  std::string svg_;
};

/// Everything the HTTP routes use, and the route table (routes.cpp) that maps each request
/// to a handler: the handlers translate HTTP to application calls and back.
struct Routes {
  const pipeline::Pipeline& pipeline;
  std::vector<webhook::HookConfig> hooks;  // by index of pipeline.triggers->webhooks
  std::string api_token;                   // empty: state-changing API calls are refused
  store::Store& store;
  Intake& intake;
  Coordinator& coordinator;
  Metrics& metrics;
  Logger& log;
  app::Wiring& wiring;                     // the services the runs use too (thread-safe), for inventory and affected
  RecentDeliveries recent_deliveries{};    // webhook dedupe within a window, per hook
  std::string read_token{};                // set: /api/ reads need it (or the API token)
  HostCheck host_check{};                  // the Host names answered; others get 421
  GraphSvg graph_svg{};                    // before `workers`: outlives the jobs that use it
  std::unique_ptr<Workers> workers{};      // start(): the reads that may block
  std::unique_ptr<InventoryCache> inventory{};  // start(): GET /api/inventory
  // `triggers.approvers`: (name, token) pairs whose bearer token may approve or reject runs
  std::vector<std::pair<std::string, std::string>> approvers{};
  std::function<void()> wake_releaser{};  // after a decision: the releaser acts on it now

  static constexpr std::size_t worker_threads = 2;
  static constexpr std::size_t worker_queue = 32;               // reads waiting for a worker; more: 503
  static constexpr std::chrono::seconds inventory_max_age{10};  // older: refreshed, one refresh at a time
  static constexpr std::size_t inventory_waiting = 256;         // callers waiting for a first inventory; more: 503

  /// Starts the worker threads and the inventory cache.
  void start();
  /// Answers queued reads 503, lets running ones finish and joins the threads (before the
  /// store, intake and coordinator go). Safe to call twice.
  void stop();
  /// Dispatches a request by the route table (on an io thread; a route that may block runs
  /// on a worker thread): the Host check (421), JSON-only POSTs to /api/ (415), the read
  /// token (401), the method (405), the API token (403/401), then the route's handler.
  void handle(http::ServerRequest&& request, http::Respond respond);

  /// A route's handler: answers `request` through `respond` (exactly once).
  using Handler = void (Routes::*)(http::ServerRequest&& request, http::Respond respond);
  enum class Match { exact, prefix };
  enum class Guard {
    none,  // open
    read,  // the read token when one is set (or the API token); the path tells nothing without it
    api,   // the API bearer token (changes)
    approve,  // the API token or an approver's token (a decision on a run, recorded under its name)
  };
  enum class Thread { io, worker };  // worker: the handler may block (the store, Graphviz, files)
  struct Route {
    std::string_view method;  // "GET" (answers HEAD too) or "POST"
    std::string_view path;
    Match match;
    Handler handler;
    Guard guard;
    Thread thread;
    bool matches(std::string_view request_path) const;
    bool takes(std::string_view request_method) const;
  };
  /// Every route, in lookup order: a request belongs to the path of the first entry its path
  /// matches (the table ends in catch-alls).
  static std::span<const Route> table();

 private:
  /// Runs `handler` on a worker under the request's deadline; answers 503 when the queue is
  /// full, or when the job is dropped (deadline passed, client gone, stopping).
  void run_blocking(Handler handler, http::ServerRequest&& request, http::Respond respond);
  /// An answer without internal detail (paths, store errors): the detail goes to the log
  /// under an id the answer names.
  http::ServerResponse internal_error(int status, std::string_view what, std::string_view detail);
  /// Whether an /api/ read may go on (no read token, or the read or the API token offered);
  /// answers 401 when not.
  bool may_read(const http::ServerRequest& request, const http::Respond& respond);
  /// Answers 403/401 and returns false unless the request carries the API bearer token.
  bool authorized(const http::ServerRequest& request, const http::Respond& respond);
  /// Who the request's bearer token is: "api" for the API token, an approver's name; nullopt
  /// for none of them.
  std::optional<std::string> actor_of(const http::ServerRequest& request) const;

  // The handlers, by file. routes.cpp: the dashboard page, /healthz, /metrics, nothing there.
  void page_get(http::ServerRequest&& request, http::Respond respond);
  void healthz_get(http::ServerRequest&& request, http::Respond respond);
  void metrics_get(http::ServerRequest&& request, http::Respond respond);
  void not_found(http::ServerRequest&& request, http::Respond respond);
  // hooks.cpp: POST /hooks/<name>.
  void hook(http::ServerRequest&& request, http::Respond respond);
  // api.cpp: the runs, their logs, events, quarantine, schedule; POST /api/patch.
  void runs_get(http::ServerRequest&& request, http::Respond respond);
  void run_get(http::ServerRequest&& request, http::Respond respond);
  void events_get(http::ServerRequest&& request, http::Respond respond);
  void quarantine_get(http::ServerRequest&& request, http::Respond respond);
  void schedule_get(http::ServerRequest&& request, http::Respond respond);
  void patch_post(http::ServerRequest&& request, http::Respond respond);
  // release_api.cpp: POST /api/runs/<id>/approve and /reject.
  void run_post(http::ServerRequest&& request, http::Respond respond);
  // api_access.cpp: GET /api/inventory (the shared refresh).
  void inventory_get(http::ServerRequest&& request, http::Respond respond);
  // graph_api.cpp: the graph as JSON and SVG; GET /api/affected?image=.
  void graph_get(http::ServerRequest&& request, http::Respond respond);
  void graph_svg_get(http::ServerRequest&& request, http::Respond respond);
  void image_affected_get(http::ServerRequest&& request, http::Respond respond);
  // exposure_api.cpp: packages and advisories.
  /// GET /api/affected: ?package= here, ?image= in image_affected_get.
  void affected_get(http::ServerRequest&& request, http::Respond respond);
  void affected_post(http::ServerRequest&& request, http::Respond respond);
  void advisories_post(http::ServerRequest&& request, http::Respond respond);
  void exposure_get(http::ServerRequest&& request, http::Respond respond);
  /// The fix run of POST /api/advisories with "patch": true, through the intake and the coordinator.
  void start_fix(std::shared_ptr<const app::PackageQuestion> question, nlohmann::json answer, http::Respond respond);
  /// Sets cascade_exposed_images and cascade_exposed_workloads per stored advisory (a scrape).
  void refresh_exposure_metrics();
};

// ---- advisories -------------------------------------------------------------------------

/// Stores each advisory of `question` (setting "advisory:<id>" := its OSV text; the setting
/// "advisories" lists the ids), replacing one stored under the same id.
Expected<void, store::Error> store_advisories(store::Store& store, const app::PackageQuestion& question);
/// The stored advisories with these ids (every stored one when `ids` is empty), as one
/// question; nullopt when none is stored. A stored text that no longer parses is skipped and
/// named in `skipped`.
Expected<std::optional<app::PackageQuestion>, store::Error> stored_advisories(store::Store& store,
                                                                              const std::vector<std::string>& ids,
                                                                              std::vector<std::string>* skipped = nullptr);

/// Declares every metric family the daemon updates.
void declare_metrics(Metrics& metrics);

/// The fleet graph as Graphviz DOT with each node named by its image (the SVG's <title>).
std::string dashboard_dot(const graph::Graph& graph);

}  // namespace cascade::daemon
