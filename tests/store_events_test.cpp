// The store's trigger events as the daemon uses them: batches recorded in one transaction
// (dedupe against stored events and within the batch, all or nothing, durable when the
// call returns, safe from several threads), settled events, the recent list, and the
// daemon's settings. Plus a (skipped) measurement of events per second by batch size.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "store_support.hpp"
#include "support.hpp"

using namespace cascade::test;

namespace {

const std::string kDigestA = "sha256:" + std::string(64, 'a');

/// An event of the generic sender for image a:1 with this dedupe key.
st::Event event(const std::string& key, std::optional<std::string> digest = kDigestA) {
  return st::Event{key, "generic", "id-" + key, "r.example.com/a:1", std::move(digest)};
}

std::vector<st::Event> events(const std::string& prefix, int count) {
  std::vector<st::Event> batch;
  for (int i = 0; i < count; ++i) batch.push_back(event(prefix + std::to_string(i)));
  return batch;
}

std::vector<std::string> keys(const std::vector<st::Event>& list) {
  std::vector<std::string> result;
  for (const auto& item : list) result.push_back(item.dedupe_key);
  return result;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("store::record_events") {
  TempDir dir;
  std::string path = (dir / "state.db").string();
  auto store = open_store(path);

  SUBCASE("results in batch order: new, duplicate of a stored event, duplicate within the batch") {
    st::RunId run = ok(store->create_run(sample_run()));
    auto stored = ok(store->record_event(event("stored")));
    ok(store->attach_event(stored.id, run));
    auto waiting = ok(store->record_event(event("waiting")));

    auto recorded = ok(store->record_events(
        {event("a"), event("stored"), event("b"), event("a", std::nullopt), event("waiting"), event("c")}));
    REQUIRE(recorded.size() == 6);
    CHECK(recorded[0].is_new);
    CHECK_FALSE(recorded[0].run);
    CHECK_FALSE(recorded[1].is_new);
    CHECK(recorded[1].id == stored.id);
    CHECK(recorded[1].run == run);  // the first event's run, not the duplicate's
    CHECK(recorded[2].is_new);
    CHECK_FALSE(recorded[3].is_new);
    CHECK(recorded[3].id == recorded[0].id);
    CHECK_FALSE(recorded[4].is_new);
    CHECK(recorded[4].id == waiting.id);
    CHECK_FALSE(recorded[4].run);
    CHECK(recorded[5].is_new);
    CHECK(recorded[0].id > waiting.id);
    CHECK(recorded[2].id > recorded[0].id);
    CHECK(recorded[5].id > recorded[2].id);

    auto pending = ok(store->pending_events());
    CHECK(keys(pending) == std::vector<std::string>{"waiting", "a", "b", "c"});
    CHECK(pending[1].id == recorded[0].id);
    CHECK(pending[1].sender == "generic");
    CHECK(pending[1].event_id == "id-a");
    CHECK(pending[1].image == "r.example.com/a:1");
    CHECK(pending[1].digest == kDigestA);  // the first of the two "a" events is the one stored
    CHECK(RawDb(path).one("SELECT count(*) FROM events") == "5");
  }
  SUBCASE("an event may join a run when recorded") {
    st::RunId run = ok(store->create_run(sample_run()));
    auto with_run = event("joined");
    with_run.run = run;
    auto recorded = ok(store->record_events({with_run, event("free")}));
    CHECK(recorded[0].run == run);
    CHECK_FALSE(recorded[1].run);
    CHECK(keys(ok(store->pending_events())) == std::vector<std::string>{"free"});
  }
  SUBCASE("an empty batch is an empty result") {
    CHECK(ok(store->record_events({})).empty());
    CHECK(ok(store->recent_events(10)).empty());
  }
  SUBCASE("all or nothing: a refused event stores none of the batch") {
    ok(store->record_event(event("before")));
    auto bad = event("bad");
    bad.run = 999;  // no such run
    auto batch = events("e", 3);
    batch.insert(batch.begin() + 1, bad);
    auto result = store->record_events(batch);
    REQUIRE_FALSE(result);
    CHECK(result.error().code == st::ErrorCode::invalid_argument);
    CHECK(contains(result.error().message, path));
    CHECK(contains(result.error().message, "record_events"));
    CHECK(contains(result.error().message, "event bad"));
    CHECK(keys(ok(store->recent_events(10))) == std::vector<std::string>{"before"});
    // The same keys are new afterwards: nothing of the failed batch was kept.
    auto again = ok(store->record_events(events("e", 3)));
    for (const auto& recorded : again) CHECK(recorded.is_new);
  }
  SUBCASE("durable when it returns: a process killed right after keeps the whole batch") {
    store.reset();  // the child opens its own connection
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto child = st::open_sqlite(path);
      if (!child) _exit(3);
      auto recorded = (*child)->record_events(events("k", 64));
      if (!recorded || recorded->size() != 64) _exit(4);
      kill(getpid(), SIGKILL);  // no destructor, no checkpoint, no close
      _exit(5);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "the child failed before it killed itself");
    auto reopened = open_store(path);
    auto pending = ok(reopened->pending_events());
    REQUIRE(pending.size() == 64);
    CHECK(pending.front().dedupe_key == "k0");
    CHECK(pending.back().dedupe_key == "k63");
    CHECK(RawDb(path).one("PRAGMA integrity_check") == "ok");
  }
  SUBCASE("a batch is one commit: another connection sees all of it or none") {
    auto reader = open_store(path);
    std::atomic<bool> done = false;
    std::string failure;
    std::thread writer([&] {
      for (int b = 0; b < 20 && failure.empty(); ++b) {
        auto recorded = store->record_events(events("b" + std::to_string(b) + "-", 50));
        if (!recorded) failure = recorded.error().message;
      }
      done = true;
    });
    std::size_t seen = 0;
    int reads = 0;
    for (;;) {
      bool finished = done;
      seen = ok(reader->recent_events(10'000)).size();
      ++reads;
      CHECK(seen % 50 == 0);
      if (finished) break;
    }
    writer.join();
    CHECK(failure.empty());
    CHECK(seen == 1000);
    CHECK(reads > 1);
  }
  SUBCASE("threads recording overlapping batches: each key is new exactly once, with one id") {
    std::vector<std::string> shared;
    for (int i = 0; i < 100; ++i) shared.push_back("shared-" + std::to_string(i));
    std::mutex mutex;
    std::vector<std::string> errors;
    std::map<std::string, std::vector<st::RecordedEvent>> results;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        std::vector<std::string> order = shared;
        std::shuffle(order.begin(), order.end(), std::mt19937(t));
        for (int start = 0; start < 100; start += 25) {
          std::vector<st::Event> batch;
          for (int i = start; i < start + 25; ++i) batch.push_back(event(order[i]));
          batch.push_back(event("own-" + std::to_string(t) + "-" + std::to_string(start)));
          auto recorded = store->record_events(batch);
          std::lock_guard lock(mutex);
          if (!recorded) {
            errors.push_back(recorded.error().message);
            continue;
          }
          for (std::size_t i = 0; i < batch.size(); ++i) results[batch[i].dedupe_key].push_back((*recorded)[i]);
        }
      });
    for (auto& thread : threads) thread.join();
    REQUIRE(errors.empty());
    CHECK(results.size() == 100 + 16);
    for (const auto& [key, seen] : results) {
      CAPTURE(key);
      CHECK(std::count_if(seen.begin(), seen.end(), [](const auto& r) { return r.is_new; }) == 1);
      CHECK(std::all_of(seen.begin(), seen.end(), [&](const auto& r) { return r.id == seen.front().id; }));
    }
    CHECK(ok(store->pending_events()).size() == 116);
  }
}

TEST_CASE("store::settle_event") {
  TempDir dir;
  std::string path = (dir / "state.db").string();
  auto store = open_store(path);
  auto recorded = ok(store->record_events({event("a"), event("b"), event("c")}));
  st::EventId a = recorded[0].id, b = recorded[1].id, c = recorded[2].id;

  SUBCASE("a settled event is no longer pending and shows its outcome, also after a reopen") {
    ok(store->settle_event(b, "up to date"));
    CHECK(keys(ok(store->pending_events())) == std::vector<std::string>{"a", "c"});
    store.reset();
    store = open_store(path);
    CHECK(keys(ok(store->pending_events())) == std::vector<std::string>{"a", "c"});
    auto recent = ok(store->recent_events(10));
    REQUIRE(recent.size() == 3);
    CHECK(recent[1].id == b);
    CHECK(recent[1].outcome == "up to date");
    CHECK_FALSE(recent[1].run);
    CHECK_FALSE(recent[0].outcome);
    CHECK_FALSE(recent[2].outcome);
    // A redelivery of a settled event is a duplicate; it does not become pending again.
    auto again = ok(store->record_events({event("b")}));
    CHECK_FALSE(again[0].is_new);
    CHECK(again[0].id == b);
    CHECK(ok(store->pending_events()).size() == 2);
  }
  SUBCASE("settling again replaces the outcome") {
    ok(store->settle_event(a, "not in the fleet"));
    ok(store->settle_event(a, "up to date"));
    CHECK(ok(store->recent_events(10)).back().outcome == "up to date");
  }
  SUBCASE("an unknown event is not_found") {
    auto result = store->settle_event(999, "up to date");
    REQUIRE_FALSE(result);
    CHECK(result.error().code == st::ErrorCode::not_found);
    CHECK(contains(result.error().message, "no event 999"));
  }
  SUBCASE("an event ends once: joined a run or settled, not both") {
    st::RunId run = ok(store->create_run(sample_run()));
    ok(store->attach_event(a, run));
    auto settle_joined = store->settle_event(a, "up to date");
    REQUIRE_FALSE(settle_joined);
    CHECK(settle_joined.error().code == st::ErrorCode::illegal_transition);
    CHECK(contains(settle_joined.error().message, "joined run " + std::to_string(run)));

    ok(store->settle_event(c, "up to date"));
    auto attach_settled = store->attach_event(c, run);
    REQUIRE_FALSE(attach_settled);
    CHECK(attach_settled.error().code == st::ErrorCode::illegal_transition);
    CHECK(contains(attach_settled.error().message, "settled: up to date"));

    auto recent = ok(store->recent_events(10));  // c, b, a
    CHECK(recent[0].outcome == "up to date");
    CHECK_FALSE(recent[0].run);
    CHECK(recent[2].run == run);
    CHECK_FALSE(recent[2].outcome);
    CHECK(keys(ok(store->pending_events())) == std::vector<std::string>{"b"});
  }
}

TEST_CASE("store::recent_events") {
  TempDir dir;
  auto store = open_store((dir / "state.db").string());
  ok(store->record_events(events("e", 5)));
  ok(store->record_event(event("e5")));

  auto recent = ok(store->recent_events(4));
  CHECK(keys(recent) == std::vector<std::string>{"e5", "e4", "e3", "e2"});
  for (std::size_t i = 1; i < recent.size(); ++i) {
    CHECK(recent[i].id < recent[i - 1].id);
    CHECK(recent[i].received_at < recent[i - 1].received_at);  // the stepping clock
  }
  CHECK(recent[0].received_at >= st::Time(1'767'225'600'000ms));
  CHECK(ok(store->recent_events(100)).size() == 6);
  CHECK(ok(store->recent_events(0)).empty());
}

TEST_CASE("store::settings") {
  TempDir dir;
  std::string path = (dir / "state.db").string();
  auto store = open_store(path);
  CHECK(ok(store->get_setting("schedule.nightly.last")) == std::nullopt);

  ok(store->put_setting("schedule.nightly.last", "2026-11-28T03:00:00Z"));
  ok(store->put_setting("schedule.weekly.last", ""));
  CHECK(ok(store->get_setting("schedule.nightly.last")) == "2026-11-28T03:00:00Z");
  CHECK(ok(store->get_setting("schedule.weekly.last")) == "");  // empty, not missing

  ok(store->put_setting("schedule.nightly.last", "2026-11-29T03:00:00Z"));
  CHECK(ok(store->get_setting("schedule.nightly.last")) == "2026-11-29T03:00:00Z");
  CHECK(RawDb(path).one("SELECT count(*) FROM settings") == "2");

  std::string unusual = "line 1\nline 2 \xc3\xa9 'quoted' \"double\"";
  ok(store->put_setting("odd", unusual));
  store.reset();
  store = open_store(path);
  CHECK(ok(store->get_setting("schedule.nightly.last")) == "2026-11-29T03:00:00Z");
  CHECK(ok(store->get_setting("odd")) == unusual);
  CHECK(ok(store->get_setting("SCHEDULE.NIGHTLY.LAST")) == std::nullopt);  // keys are exact
}

TEST_CASE("store::measure events per second by batch size, synchronous FULL vs NORMAL" * doctest::skip()) {
  struct Size {
    int batch, batches;
  };
  for (auto sync : {st::StoreOptions::Sync::full, st::StoreOptions::Sync::normal}) {
    for (Size size : {Size{1, 300}, Size{16, 100}, Size{256, 20}}) {
      TempDir dir;
      auto options = test_options();
      options.sync = sync;
      auto store = open_store((dir / "state.db").string(), options);
      std::vector<std::vector<st::Event>> batches;
      for (int b = 0; b < size.batches; ++b) batches.push_back(events("b" + std::to_string(b) + "-", size.batch));
      auto start = std::chrono::steady_clock::now();
      for (const auto& batch : batches) ok(store->record_events(batch));
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      int total = size.batch * size.batches;
      std::string name = sync == st::StoreOptions::Sync::full ? "FULL" : "NORMAL";
      MESSAGE(name << ": batches of " << size.batch << ": " << total << " events in " << took.count() << " s = "
              << total / took.count() << " events/s, " << size.batches / took.count() << " commits/s");
    }
  }
}
