// `cascade serve`: the daemon. One process runs the HTTP server (webhooks, API, metrics,
// dashboard), the webhook intake (durable, deduplicated, group-committed), the debounce and
// run queue (one cascade at a time, triggers for the running one join it, others follow),
// and the cron schedule. A signal stops it gracefully: no new connections or runs, the
// running run finishes its running builds and is left resumable; the next start resumes it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <ostream>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "cascade/pipeline.hpp"
#include "cascade/store.hpp"

namespace cascade::daemon {

struct Options {
  std::string pipeline_file;
  std::stop_token stop;    // first signal: stop accepting, let running builds finish, exit 0
  std::stop_token cancel;  // second signal: cancel running builds too
  // After `stop`, running builds have this long to finish; then they and every outbound call
  // are cancelled (children get SIGTERM, then SIGKILL) and the run is left interrupted.
  std::chrono::milliseconds grace{10'000};
  // After the cancellation, work has this long to wind down; work still running then (a
  // peer that ignores cancellation) is abandoned: the process exits at once, as safely as
  // after a kill -9 (a restart resumes the run and replays what was unsettled).
  std::chrono::milliseconds cancel_grace{10'000};
  std::ostream* log = nullptr;  // structured log lines; nullptr: std::cerr
  /// Environment lookup for secrets (tokens, HMAC keys); empty: the process environment.
  std::function<std::optional<std::string>(const std::string& name)> getenv;
  /// Called once the server listens, with its URL ("http://127.0.0.1:8080").
  std::function<void(const std::string& url)> on_listening;
};

/// Runs the daemon until `stop`; returns the exit code: 0 after a graceful stop, 1 when it
/// could not run (address in use, store unusable), 2 for a bad pipeline file.
int serve(const Options& options);

/// The pipeline's schedule entries with their next and last firing, as now:
/// {"schedule": [{"name", "cron", "timezone", "action", "images", "next", "last"}]}.
nlohmann::json schedule_status(const pipeline::Pipeline& pipeline, store::Store& store);

}  // namespace cascade::daemon
