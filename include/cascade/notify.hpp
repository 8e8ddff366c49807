// Notifications out: what a run tells the people who should know (run started, awaiting
// approval, rolled back, quarantined, run finished), to the pipeline's `notify:` destinations:
// a Slack-compatible incoming webhook, a signed JSON webhook, or a command.
//
// Deliveries are durable: `enqueue` stores one Notification per matching destination in the
// state store before anything is sent (the event id makes a second enqueue of the same event a
// no-op); `Deliverer::deliver_due` sends what is due and, on failure, schedules the next try
// with backoff (1 s, 2 s, 4 s, ... at most 5 min) in the store, so a restart goes on where it
// was. A destination that is down never blocks a run: sending happens on the caller's thread
// of choice (the daemon's notifier), never inside the executor.
//
// Secrets (URLs with tokens, HMAC keys) are read from the environment when a delivery is made
// and never appear in logs, errors or the store.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cascade/pipeline.hpp"
#include "cascade/store.hpp"

namespace cascade::notify {

/// One event as cascade tells it.
struct Event {
  std::string id;     // unique per event, stable across retries and restarts ("run-4-finished")
  std::string kind;   // one of pipeline::kNotifyEvents
  store::RunId run = 0;
  std::string text;   // one human line: "cascade run 4 finished: 3 pushed, 1 failed ..."
  std::vector<std::string> images;  // the images it concerns (normalized); destinations filter on them
  nlohmann::json details = nlohmann::json::object();  // kind-specific fields (summary, releases, reason)
};

/// The JSON a webhook or command destination receives:
/// {"id", "event", "run", "text", "images", "at", ...details}.
nlohmann::json payload(const Event& event, store::Time at);

/// The Slack-compatible body: {"text": ...} (Slack, Mattermost and Rocket.Chat all accept it).
nlohmann::json slack_payload(const Event& event);

/// Whether `destination` wants `event` (its `events` and `images` filters).
bool wants(const pipeline::Notify& destination, const Event& event);

/// Stores the event for every destination that wants it (one transaction). Fails only when the
/// store refuses the write.
Expected<void, store::Error> enqueue(store::Store& store, const std::vector<pipeline::Notify>& destinations,
                                     const Event& event);

/// The delay before try number `attempts + 1` after `attempts` failed ones: 1 s, 2 s, 4 s, ...,
/// at most 5 min.
std::chrono::milliseconds backoff(int attempts);

struct DeliveryReport {
  std::size_t delivered = 0;
  std::size_t failed = 0;  // attempts that failed (each rescheduled)
};

/// Sends due notifications. Thread-safe for one caller at a time.
class Deliverer {
 public:
  using Environment = std::function<std::optional<std::string>(const std::string& name)>;
  /// `environment` reads a variable (tests pass their own; empty: the process environment).
  Deliverer(store::Store& store, std::vector<pipeline::Notify> destinations, Environment environment = {},
            std::function<store::Time()> clock = {});

  /// Delivers every notification due now (at most `limit`), oldest first; each failure is
  /// rescheduled with backoff. A destination whose variable is unset fails its deliveries
  /// (rescheduled, saying which variable). Stops early at `stop`.
  DeliveryReport deliver_due(std::stop_token stop = {}, std::size_t limit = 100);

  /// When the next undelivered notification is due; nullopt when none waits.
  std::optional<store::Time> next_due();

 private:
  store::Store& store_;
  std::vector<pipeline::Notify> destinations_;
  Environment environment_;
  std::function<store::Time()> clock_;
};

}  // namespace cascade::notify
