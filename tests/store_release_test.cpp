// Release control in the store, on real SQLite files: the releases a gated run holds (all or
// none, final ones never change), approvals in order, urgent runs, the awaiting run state, the
// notification outbox (deduplicated, due by its time, rescheduled), and a version 7 file
// migrating to version 8 with its runs, their history and its foreign keys intact.
#include <doctest/doctest.h>

#include "store_support.hpp"
#include "support.hpp"

using namespace cascade::test;
using st::ReleaseState;
using st::RunState;

namespace {

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');

// The last schema version before release control.
constexpr int kBeforeReleases = 7;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// A clock the test sets; it reads `now` (milliseconds after 2026-01-01T00:00:00Z).
struct ManualClock {
  std::shared_ptr<std::atomic<std::int64_t>> now = std::make_shared<std::atomic<std::int64_t>>(0);
  st::Time at(std::int64_t milliseconds) const { return st::Time(1'767'225'600'000ms + st::Duration(milliseconds)); }
  st::StoreOptions options() const {
    st::StoreOptions options;
    options.clock = [self = *this] { return self.at(self.now->load()); };
    return options;
  }
};

st::Release release(const std::string& target, const std::string& workload, int wave = -1) {
  st::Release release;
  release.target = target;
  release.workload = workload;
  release.image = "r.example.com/apps/web:1";
  release.from_digest = kDigestA;
  release.to_digest = kDigestB;
  release.wave = wave;
  release.detail = "awaiting approval 0/1";
  return release;
}

st::Notification notification(const std::string& destination, const std::string& event_id, st::Time next_at,
                               const std::string& event = "run-started") {
  st::Notification notification;
  notification.destination = destination;
  notification.event_id = event_id;
  notification.event = event;
  notification.body = R"({"id":")" + event_id + R"(","event":")" + event + R"("})";
  notification.next_at = next_at;
  return notification;
}

std::vector<std::string> event_ids(const std::vector<st::Notification>& notifications) {
  std::vector<std::string> ids;
  for (const auto& entry : notifications) ids.push_back(entry.destination + "/" + entry.event_id);
  return ids;
}

/// The code of a failed result; nullopt when it succeeded.
std::optional<st::ErrorCode> failure(const cascade::Expected<void, st::Error>& result) {
  if (result) return std::nullopt;
  return result.error().code;
}

std::vector<st::RunId> run_ids(const std::vector<st::Run>& runs) {
  std::vector<st::RunId> ids;
  for (const auto& run : runs) ids.push_back(run.id);
  return ids;
}

}  // namespace

TEST_CASE("store::releases") {
  TempDir dir;
  ManualClock clock;
  auto store = open_store((dir / "state.db").string(), clock.options());
  st::RunId run = ok(store->create_run(sample_run()));

  SUBCASE("add_releases stores every field, in the order added, held until changed") {
    clock.now->store(10);
    auto canary = release("canary", "web-1", 0);
    auto production = release("production", "web-1", 1);
    production.from_digest.reset();
    production.policy = "hold";
    auto watched = release("production", "web-2", 1);
    watched.policy = "monitor";
    watched.state = ReleaseState::monitored;
    watched.detail = "policy monitor: reported only";
    ok(store->add_releases(run, {canary, production, watched}));

    auto stored = ok(store->get_releases(run));
    REQUIRE(stored.size() == 3);
    CHECK(stored[0].id < stored[1].id);
    CHECK(stored[1].id < stored[2].id);
    CHECK(stored[0].run == run);
    CHECK(stored[0].target == "canary");
    CHECK(stored[0].workload == "web-1");
    CHECK(stored[0].image == "r.example.com/apps/web:1");
    CHECK(stored[0].from_digest == kDigestA);
    CHECK(stored[0].to_digest == kDigestB);
    CHECK(stored[0].wave == 0);
    CHECK(stored[0].policy == "");
    CHECK(stored[0].state == ReleaseState::held);
    CHECK(stored[0].detail == "awaiting approval 0/1");
    CHECK(stored[0].created_at == clock.at(10));
    CHECK(stored[0].updated_at == clock.at(10));
    CHECK_FALSE(stored[0].finished_at);
    CHECK(stored[1].target == "production");
    CHECK_FALSE(stored[1].from_digest);
    CHECK(stored[1].policy == "hold");
    CHECK(stored[1].wave == 1);
    // Added final (a monitor workload): finished when added.
    CHECK(stored[2].state == ReleaseState::monitored);
    CHECK(stored[2].finished_at == clock.at(10));
    // Another run's releases are its own.
    st::RunId other = ok(store->create_run(sample_run()));
    CHECK(ok(store->get_releases(other)).empty());
    ok(store->add_releases(other, {release("canary", "web-1", 0)}));
    CHECK(ok(store->get_releases(run)).size() == 3);
    CHECK(ok(store->get_releases(other)).size() == 1);
  }
  SUBCASE("add_releases is all or none") {
    ok(store->add_releases(run, {release("canary", "web-1")}));
    auto duplicate = store->add_releases(run, {release("production", "web-1"), release("canary", "web-1")});
    REQUIRE_FALSE(duplicate);
    CHECK(duplicate.error().code == st::ErrorCode::invalid_argument);
    CHECK(contains(duplicate.error().message, "add_releases(run " + std::to_string(run) + ")"));
    CHECK(contains(duplicate.error().message, "canary/web-1"));
    auto within = store->add_releases(run, {release("staging", "a"), release("staging", "a")});
    REQUIRE_FALSE(within);
    CHECK(within.error().code == st::ErrorCode::invalid_argument);
    auto stored = ok(store->get_releases(run));
    REQUIRE(stored.size() == 1);  // production/web-1 and staging/a rolled back with the duplicates
    CHECK(stored[0].target == "canary");

    auto unknown = store->add_releases(run + 100, {release("canary", "web-9")});
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code == st::ErrorCode::not_found);
    CHECK(contains(unknown.error().message, "add_releases(run " + std::to_string(run + 100) + ")"));
    CHECK(ok(store->get_releases(run + 100)).empty());
  }
  SUBCASE("set_release_state: updated_at on every change, finished_at on entry into a final state") {
    clock.now->store(100);
    ok(store->add_releases(run, {release("canary", "web-1"), release("production", "web-1")}));
    auto added = ok(store->get_releases(run));
    std::int64_t canary = added[0].id, production = added[1].id;

    clock.now->store(200);
    ok(store->set_release_state(canary, ReleaseState::held, "window opens 2026-01-01T09:00:00Z"));
    clock.now->store(300);
    ok(store->set_release_state(canary, ReleaseState::rolling, "approved by alice"));
    auto rolling = ok(store->get_releases(run))[0];
    CHECK(rolling.state == ReleaseState::rolling);
    CHECK(rolling.detail == "approved by alice");
    CHECK(rolling.created_at == clock.at(100));
    CHECK(rolling.updated_at == clock.at(300));
    CHECK_FALSE(rolling.finished_at);

    clock.now->store(400);
    ok(store->set_release_state(canary, ReleaseState::done, "healthy"));
    ok(store->set_release_state(production, ReleaseState::rejected, "rejected by bob"));
    auto finished = ok(store->get_releases(run));
    CHECK(finished[0].state == ReleaseState::done);
    CHECK(finished[0].finished_at == clock.at(400));
    CHECK(finished[1].state == ReleaseState::rejected);
    CHECK(finished[1].detail == "rejected by bob");
    CHECK(finished[1].finished_at == clock.at(400));

    // A final release never changes, not even its detail.
    clock.now->store(500);
    for (auto state : {ReleaseState::held, ReleaseState::rolling, ReleaseState::failed, ReleaseState::done}) {
      auto again = store->set_release_state(canary, state, "again");
      REQUIRE_FALSE(again);
      CHECK(again.error().code == st::ErrorCode::illegal_transition);
      CHECK(contains(again.error().message, "set_release_state(release " + std::to_string(canary) + ")"));
    }
    CHECK_FALSE(store->set_release_state(production, ReleaseState::rolling, "approved late"));
    auto kept = ok(store->get_releases(run));
    CHECK(kept[0].state == ReleaseState::done);
    CHECK(kept[0].detail == "healthy");
    CHECK(kept[0].updated_at == clock.at(400));
    CHECK(kept[1].state == ReleaseState::rejected);

    auto unknown = store->set_release_state(production + 100, ReleaseState::rolling, "");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code == st::ErrorCode::not_found);
  }
  SUBCASE("approvals: every decision kept, in the order recorded") {
    clock.now->store(1000);
    std::int64_t first = ok(store->record_approval({run, "production", "alice", true, "looks fine", false}));
    clock.now->store(2000);
    std::int64_t second = ok(store->record_approval({run, "", "api:bob", false, "not today", false}));
    std::int64_t third = ok(store->record_approval({run, "", "cli:root", true, "", true}));
    CHECK(first < second);
    CHECK(second < third);
    auto approvals = ok(store->get_approvals(run));
    REQUIRE(approvals.size() == 3);
    CHECK(approvals[0].id == first);
    CHECK(approvals[0].run == run);
    CHECK(approvals[0].target == "production");
    CHECK(approvals[0].actor == "alice");
    CHECK(approvals[0].approved);
    CHECK(approvals[0].comment == "looks fine");
    CHECK_FALSE(approvals[0].urgent);
    CHECK(approvals[0].at == clock.at(1000));
    CHECK(approvals[1].target == "");
    CHECK_FALSE(approvals[1].approved);
    CHECK(approvals[1].at == clock.at(2000));
    CHECK(approvals[2].urgent);

    auto unknown = store->record_approval({run + 100, "", "alice", true, "", false});
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code == st::ErrorCode::not_found);
    CHECK(contains(unknown.error().message, "record_approval(run " + std::to_string(run + 100) + ")"));
    CHECK(ok(store->get_approvals(run + 100)).empty());
  }
  SUBCASE("urgent: stored by create_run, set after the fact, read by every run query") {
    auto urgent_run = sample_run("r.example.com/base:1");
    urgent_run.trigger.urgent = true;
    st::RunId urgent = ok(store->create_run(urgent_run));
    CHECK(ok(store->get_run(urgent)).trigger.urgent);
    CHECK(ok(store->get_run(urgent)).trigger == urgent_run.trigger);
    CHECK_FALSE(ok(store->get_run(run)).trigger.urgent);
    ok(store->set_run_urgent(run));
    CHECK(ok(store->get_run(run)).trigger.urgent);
    for (const auto& listed : ok(store->list_runs(10))) CHECK(listed.trigger.urgent);
    for (const auto& unfinished : ok(store->unfinished_runs())) CHECK(unfinished.trigger.urgent);

    auto unknown = store->set_run_urgent(urgent + 100);
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code == st::ErrorCode::not_found);
    CHECK(contains(unknown.error().message, "set_run_urgent(run " + std::to_string(urgent + 100) + ")"));
  }
}

TEST_CASE("store::runs awaiting") {
  TempDir dir;
  ManualClock clock;
  auto store = open_store((dir / "state.db").string(), clock.options());
  st::RunId built = ok(store->create_run(sample_run()));
  st::RunId before_build = ok(store->create_run(sample_run()));
  st::RunId busy = ok(store->create_run(sample_run()));
  ok(store->add_tasks(built, chain_tasks(1)));
  clock.now->store(50);
  ok(store->set_run_state(built, RunState::running));
  ok(store->set_run_state(busy, RunState::running));
  push_task(*store, built, "r.example.com/img-0");
  ok(store->set_run_state(built, RunState::awaiting, "awaiting approval"));
  ok(store->set_run_state(before_build, RunState::awaiting, "approval before build"));

  CHECK(run_ids(ok(store->awaiting_runs())) == std::vector<st::RunId>{built, before_build});
  CHECK(run_ids(ok(store->unfinished_runs())) == std::vector<st::RunId>{busy});
  auto waiting = ok(store->get_run(built));
  CHECK(waiting.state == RunState::awaiting);
  CHECK(waiting.started_at == clock.at(50));
  CHECK_FALSE(waiting.finished_at);
  CHECK(waiting.summary.pushed == 1);  // awaiting_runs reads runs as get_run does
  CHECK(ok(store->awaiting_runs())[0].summary.pushed == 1);
  CHECK_FALSE(ok(store->get_run(before_build)).started_at);
  // An awaiting run is neither interrupted nor planned again.
  CHECK(failure(store->set_run_state(built, RunState::interrupted)) == st::ErrorCode::illegal_transition);
  CHECK(failure(store->set_run_state(built, RunState::planned)) == st::ErrorCode::illegal_transition);

  clock.now->store(90);
  ok(store->set_run_state(built, RunState::succeeded, "released"));
  ok(store->set_run_state(before_build, RunState::running, "approved"));
  CHECK(ok(store->awaiting_runs()).empty());
  CHECK(ok(store->get_run(built)).finished_at == clock.at(90));
  CHECK(run_ids(ok(store->unfinished_runs())) == std::vector<st::RunId>{before_build, busy});
  CHECK(ok(store->get_run(before_build)).started_at == clock.at(90));
  ok(store->set_run_state(busy, RunState::awaiting));
  CHECK(run_ids(ok(store->awaiting_runs())) == std::vector<st::RunId>{busy});

  auto history = ok(store->get_transitions(built));
  std::vector<std::string> run_states;
  for (const auto& transition : history)
    if (!transition.image) run_states.push_back(transition.to);
  CHECK(run_states == std::vector<std::string>{"planned", "running", "awaiting", "succeeded"});
  check_consistent(*store, built);
  check_consistent(*store, before_build);
}

TEST_CASE("store::notifications") {
  TempDir dir;
  ManualClock clock;
  auto store = open_store((dir / "state.db").string(), clock.options());

  SUBCASE("enqueue stores each one once; a second enqueue of the same event changes nothing") {
    clock.now->store(5);
    ok(store->enqueue_notifications({notification("slack", "run-1-started", clock.at(5)),
                                     notification("hook", "run-1-started", clock.at(5))}));
    auto stored = ok(store->list_notifications());
    REQUIRE(stored.size() == 2);
    CHECK(stored[0].destination == "slack");
    CHECK(stored[0].event_id == "run-1-started");
    CHECK(stored[0].event == "run-started");
    CHECK(stored[0].body == R"({"id":"run-1-started","event":"run-started"})");
    CHECK(stored[0].attempts == 0);
    CHECK(stored[0].next_at == clock.at(5));
    CHECK_FALSE(stored[0].delivered_at);
    CHECK(stored[0].last_error == "");
    CHECK(stored[0].created_at == clock.at(5));
    CHECK(event_ids(ok(store->list_notifications("hook"))) == std::vector<std::string>{"hook/run-1-started"});

    ok(store->mark_attempt_failed("slack", "run-1-started", clock.at(1000), "HTTP 503"));
    auto again = notification("slack", "run-1-started", clock.at(6));
    again.body = R"({"changed":true})";
    clock.now->store(7);
    ok(store->enqueue_notifications({again, notification("slack", "run-1-finished", clock.at(7), "run-finished"),
                                     notification("slack", "run-1-finished", clock.at(8), "run-finished")}));
    stored = ok(store->list_notifications("slack"));
    REQUIRE(stored.size() == 2);
    CHECK(stored[0].body == R"({"id":"run-1-started","event":"run-started"})");
    CHECK(stored[0].attempts == 1);
    CHECK(stored[0].next_at == clock.at(1000));
    CHECK(stored[0].last_error == "HTTP 503");
    CHECK(stored[0].created_at == clock.at(5));
    CHECK(stored[1].event_id == "run-1-finished");
    CHECK(stored[1].next_at == clock.at(7));  // the first of the batch's two
  }
  SUBCASE("enqueue is all or none") {
    auto broken = notification("hook", "run-2-started", clock.at(0));
    broken.body = "not json";
    auto refused = store->enqueue_notifications({notification("slack", "run-2-started", clock.at(0)), broken});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == st::ErrorCode::invalid_argument);
    CHECK(contains(refused.error().message, "enqueue_notifications(2 notifications)"));
    CHECK(contains(refused.error().message, "hook/run-2-started"));
    CHECK(ok(store->list_notifications()).empty());
    ok(store->enqueue_notifications({}));
  }
  SUBCASE("due: undelivered ones at or before now, by next_at then the order stored, at most limit") {
    ok(store->enqueue_notifications({notification("slack", "e1", clock.at(300)),
                                     notification("slack", "e2", clock.at(100)),
                                     notification("hook", "e3", clock.at(100)),
                                     notification("hook", "e4", clock.at(200))}));
    CHECK(ok(store->due_notifications(clock.at(99), 10)).empty());
    CHECK(event_ids(ok(store->due_notifications(clock.at(100), 10))) ==
          std::vector<std::string>{"slack/e2", "hook/e3"});
    CHECK(event_ids(ok(store->due_notifications(clock.at(1000), 10))) ==
          std::vector<std::string>{"slack/e2", "hook/e3", "hook/e4", "slack/e1"});
    CHECK(event_ids(ok(store->due_notifications(clock.at(1000), 3))) ==
          std::vector<std::string>{"slack/e2", "hook/e3", "hook/e4"});
    // list_notifications: oldest first, whatever is due.
    CHECK(event_ids(ok(store->list_notifications())) ==
          std::vector<std::string>{"slack/e1", "slack/e2", "hook/e3", "hook/e4"});

    clock.now->store(150);
    ok(store->mark_delivered("slack", "e2"));
    clock.now->store(160);
    ok(store->mark_delivered("slack", "e2"));  // again: the first delivery's time stays
    CHECK(event_ids(ok(store->due_notifications(clock.at(1000), 10))) ==
          std::vector<std::string>{"hook/e3", "hook/e4", "slack/e1"});
    auto delivered = ok(store->list_notifications("slack"));
    REQUIRE(delivered.size() == 2);
    CHECK(delivered[1].delivered_at == clock.at(150));
    CHECK_FALSE(delivered[0].delivered_at);

    ok(store->mark_attempt_failed("hook", "e3", clock.at(500), "connection refused"));
    ok(store->mark_attempt_failed("hook", "e3", clock.at(900), "HTTP 502"));
    CHECK(event_ids(ok(store->due_notifications(clock.at(499), 10))) ==
          std::vector<std::string>{"hook/e4", "slack/e1"});
    CHECK(event_ids(ok(store->due_notifications(clock.at(900), 10))) ==
          std::vector<std::string>{"hook/e4", "slack/e1", "hook/e3"});
    auto failed = ok(store->list_notifications("hook"))[0];
    CHECK(failed.attempts == 2);
    CHECK(failed.next_at == clock.at(900));
    CHECK(failed.last_error == "HTTP 502");

    auto unknown = store->mark_delivered("slack", "e9");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code == st::ErrorCode::not_found);
    CHECK(contains(unknown.error().message, "mark_delivered(slack, e9)"));
    auto unknown_failure = store->mark_attempt_failed("nobody", "e1", clock.at(0), "x");
    REQUIRE_FALSE(unknown_failure);
    CHECK(unknown_failure.error().code == st::ErrorCode::not_found);
    CHECK(contains(unknown_failure.error().message, "mark_attempt_failed(nobody, e1)"));
  }
}

TEST_CASE("store: releases, approvals, urgent runs and the outbox survive closing the file") {
  TempDir dir;
  std::string path = (dir / "state.db").string();
  ManualClock clock;
  st::RunId run;
  {
    auto store = open_store(path, clock.options());
    run = ok(store->create_run(sample_run()));
    ok(store->set_run_state(run, RunState::awaiting));
    ok(store->set_run_urgent(run));
    ok(store->add_releases(run, {release("canary", "web-1", 0), release("production", "web-1", 1)}));
    ok(store->set_release_state(ok(store->get_releases(run))[0].id, ReleaseState::done, "healthy"));
    ok(store->record_approval({run, "", "alice", true, "", true}));
    ok(store->enqueue_notifications({notification("slack", "run-1-awaiting", clock.at(0), "awaiting-approval")}));
    ok(store->mark_attempt_failed("slack", "run-1-awaiting", clock.at(60'000), "HTTP 500"));
  }
  auto store = open_store(path, clock.options());
  CHECK(run_ids(ok(store->awaiting_runs())) == std::vector<st::RunId>{run});
  CHECK(ok(store->get_run(run)).trigger.urgent);
  auto releases = ok(store->get_releases(run));
  REQUIRE(releases.size() == 2);
  CHECK(releases[0].state == ReleaseState::done);
  CHECK(releases[1].state == ReleaseState::held);
  CHECK(releases[1].wave == 1);
  REQUIRE(ok(store->get_approvals(run)).size() == 1);
  CHECK(ok(store->get_approvals(run))[0].urgent);
  auto due = ok(store->due_notifications(clock.at(60'000), 10));
  REQUIRE(due.size() == 1);
  CHECK(due[0].attempts == 1);
  CHECK(due[0].event == "awaiting-approval");
}

TEST_CASE("store::migrations to version 8: runs may await, and keep everything they had") {
  TempDir dir;
  std::string path = (dir / "state.db").string();
  st::RunId legacy, typed, rolled, gone;
  st::EventId joined;
  {
    auto options = test_options();
    options.schema_version = kBeforeReleases;
    auto v7 = open_store(path, options);
    RawDb raw(path);
    legacy = insert_legacy_run(raw, "rebuild:apps/*", legacy_plan_json(), "running");
    // As a version 7 binary stored a run (today's create_run writes the urgent column).
    raw.exec("INSERT INTO runs (trigger_kind, trigger_image, trigger_digest, trigger_actor, pipeline_path, state, "
             "created_at, plan_json, trigger_action, trigger_args, plan_version) VALUES ('api', 'advisory:GHSA-x', "
             "NULL, 'api', '/pipelines/fleet.yaml', 'planned', 1767225600000, "
             R"('{"query":"q","trigger_digests":{},"rebuilt_starts":[],"advisory_documents":[]}', 'fix', )"
             R"('{"advisories":["GHSA-x"]}', 1))");
    typed = std::stoll(raw.one("SELECT max(id) FROM runs"));
    raw.exec("INSERT INTO transitions (run_id, image, from_state, to_state, detail, at) VALUES (" +
             std::to_string(typed) + ", NULL, NULL, 'planned', '', 1767225600000)");
    rolled = insert_legacy_run(raw, "docker.io/library/debian:12", legacy_plan_json(), "running");
    gone = insert_legacy_run(raw);
    raw.exec("DELETE FROM transitions WHERE run_id = " + std::to_string(gone));
    raw.exec("DELETE FROM runs WHERE id = " + std::to_string(gone));  // its id is never used again
    // Version 7 refuses the new state: the reason the table is rebuilt.
    CHECK_THROWS(raw.exec("UPDATE runs SET state = 'awaiting' WHERE id = " + std::to_string(rolled)));
    ok(v7->add_tasks(rolled, chain_tasks(2)));
    push_task(*v7, rolled, "r.example.com/img-0");
    ok(v7->record_rollout_step({rolled, "podman", "web", "r.example.com/img-0", kDigestA, kDigestB,
                                st::RolloutState::healthy, "healthy"}));
    ok(v7->record_digest("r.example.com/img-0", kDigestB, st::DigestSource::pushed, rolled));
    joined = ok(v7->record_event({"harbor:1", "harbor", "1", "docker.io/library/debian:12", kDigestA})).id;
    ok(v7->attach_event(joined, rolled));
    CHECK(raw.one("PRAGMA user_version") == std::to_string(kBeforeReleases));
  }
  auto store = open_store(path);
  RawDb raw(path);
  CHECK(raw.one("PRAGMA user_version") == std::to_string(st::latest_schema_version()));
  CHECK(raw.one("PRAGMA integrity_check") == "ok");
  CHECK(raw.rows("PRAGMA foreign_key_check").empty());
  CHECK(raw.one("SELECT count(*) FROM sqlite_schema WHERE name = 'runs_new'") == "0");
  CHECK(raw.one("SELECT count(*) FROM sqlite_schema WHERE name = 'runs_by_state'") == "1");

  // The old runs read as before, not urgent.
  auto legacy_run = ok(store->get_run(legacy));
  CHECK(legacy_run.trigger.action == st::TriggerAction::rebuild);
  CHECK(legacy_run.trigger.globs == std::vector<std::string>{"apps/*"});
  CHECK(legacy_run.state == RunState::running);
  CHECK_FALSE(legacy_run.trigger.urgent);
  auto typed_run = ok(store->get_run(typed));
  CHECK(typed_run.trigger.action == st::TriggerAction::fix);
  CHECK(typed_run.trigger.advisories == std::vector<std::string>{"GHSA-x"});
  CHECK(typed_run.trigger.kind == st::TriggerKind::api);
  CHECK_FALSE(typed_run.trigger.urgent);
  CHECK(ok(store->get_plan(typed)).query == "q");
  CHECK(run_ids(ok(store->unfinished_runs())) == std::vector<st::RunId>{legacy, typed, rolled});
  for (const auto& listed : ok(store->list_runs(10))) CHECK_FALSE(listed.trigger.urgent);

  // What referenced the runs still does.
  auto tasks = ok(store->get_tasks(rolled));
  REQUIRE(tasks.size() == 2);
  CHECK(tasks[0].state == st::TaskState::pushed);
  CHECK(ok(store->get_rollout_steps(rolled)).size() == 1);
  CHECK(ok(store->latest_digest("r.example.com/img-0"))->run == rolled);
  CHECK(ok(store->recent_events(1)).at(0).run == rolled);
  check_consistent(*store, rolled);

  // The migrated runs may await, urgent or not; new ids stay above every id ever used.
  ok(store->set_run_state(rolled, RunState::awaiting, "awaiting approval"));
  ok(store->set_run_urgent(legacy));
  ok(store->set_run_state(legacy, RunState::awaiting));
  CHECK(run_ids(ok(store->awaiting_runs())) == std::vector<st::RunId>{legacy, rolled});
  CHECK(ok(store->get_run(legacy)).trigger.urgent);
  ok(store->add_releases(rolled, {release("podman", "web")}));
  ok(store->set_run_state(rolled, RunState::succeeded));
  check_consistent(*store, rolled);
  CHECK(ok(store->create_run(sample_run())) > gone);

  // Foreign keys are enforced again after the migration.
  auto orphan = store->record_rollout_step({gone + 100, "podman", "web", "a:1", std::nullopt, kDigestB,
                                            st::RolloutState::updating, ""});
  REQUIRE_FALSE(orphan);
  CHECK(orphan.error().code == st::ErrorCode::invalid_argument);
}
