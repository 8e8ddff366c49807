// The API's worker threads and its inventory cache. Workers run the reads that may block (the
// store, Graphviz, the exposure questions) from a bounded queue; a job whose deadline passed
// or whose client can no longer be answered is dropped, never run. The inventory (which asks
// every deploy target, and waits as long as the slowest one) is kept by InventoryCache: one
// refresh at a time on its own thread, shared by every caller, so a slow target never holds
// a worker and many callers never start many refreshes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cascade/util/expected.hpp"

namespace cascade::daemon {

class Workers {
 public:
  using Clock = std::chrono::steady_clock;
  struct Job {
    std::function<void()> run;
    std::function<void()> drop;         // instead of run: deadline passed, abandoned, or the pool stopped; may be empty
    Clock::time_point deadline = Clock::time_point::max();
    std::function<bool()> abandoned;    // true when no answer can reach the client any more; may be empty
  };

  /// Starts `threads` threads; at most `queue_limit` jobs wait.
  Workers(std::size_t threads, std::size_t queue_limit);
  ~Workers();
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  /// Queues `job`. False when queue_limit jobs wait already or the pool has stopped: the job
  /// is not taken (neither run nor drop is called).
  [[nodiscard]] bool post(Job job);
  /// Drops the waiting jobs (their `drop` runs), lets running ones finish, joins the threads.
  /// Safe to call twice.
  void stop();
  /// Jobs dropped so far (deadline, abandoned, stop).
  std::size_t dropped() const;

 private:
  void loop(std::stop_token stop);

  const std::size_t queue_limit_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::deque<Job> jobs_;
  bool stopped_ = false;
  std::size_t dropped_ = 0;
  std::vector<std::jthread> threads_;  // last: joined before the rest goes
};

class InventoryCache {
 public:
  using Clock = std::chrono::steady_clock;
  /// The inventory as JSON, or the internal reason it failed (for the log, not for clients).
  using Result = Expected<nlohmann::json, std::string>;
  using Fetch = std::function<Result()>;
  /// The result and how old it is.
  using Done = std::function<void(const Result& result, std::chrono::seconds age)>;

  /// `fetch` runs on the cache's own thread, one at a time.
  InventoryCache(Fetch fetch, std::chrono::milliseconds max_age, std::size_t max_waiting);
  /// Waits for the refresh under way, if any; callers still waiting are answered by `stop()`'s `gone`.
  ~InventoryCache();
  InventoryCache(const InventoryCache&) = delete;
  InventoryCache& operator=(const InventoryCache&) = delete;

  /// A successful result younger than max_age answers at once, on this thread; an older one
  /// too, and a refresh starts unless one is under way. With no result yet, or only a failed
  /// one, `done` waits for the refresh (started now unless under way) and runs on the cache's
  /// thread. False when max_waiting callers wait already: `done` is not called.
  [[nodiscard]] bool get(Done done);
  /// Ends the thread after the refresh under way; callers still waiting get `gone`.
  void stop(const Result& gone);
  /// Refreshes run so far.
  std::size_t fetches() const;

 private:
  void loop(std::stop_token stop);

  const Fetch fetch_;
  const std::chrono::milliseconds max_age_;
  const std::size_t max_waiting_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::optional<Result> result_;
  Clock::time_point fetched_at_{};
  bool refreshing_ = false;  // asked for or running
  bool stopped_ = false;
  std::size_t fetches_ = 0;
  std::vector<Done> waiting_;
  std::jthread thread_;  // last
};

}  // namespace cascade::daemon
