// The store's API on real SQLite files: schema, runs, tasks and their transitions,
// digests, durations, events, rollout steps, quarantine and migrations.
#include <doctest/doctest.h>

#include "store_support.hpp"
#include "support.hpp"

using namespace cascade::test;
using st::RunState;
using st::TaskState;

namespace {

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("store::open") {
  TempDir dir;
  std::string path = (dir / "state/nested/state.db").string();

  SUBCASE("creates the folders and a WAL file at the latest schema") {
    { auto store = open_store(path); }
    RawDb raw(path);
    CHECK(raw.one("PRAGMA journal_mode") == "wal");
    CHECK(raw.one("PRAGMA user_version") == std::to_string(st::latest_schema_version()));
    CHECK(raw.rows("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name") ==
          std::vector<std::string>{"approvals", "build_durations", "events", "image_digests", "image_layers",
                                   "image_scans", "layer_files", "layer_packages", "layers", "notifications",
                                   "quarantine", "releases", "rollout_steps", "runs", "settings", "tasks",
                                   "transitions"});
    CHECK(raw.one("PRAGMA integrity_check") == "ok");
  }
  SUBCASE("reopening keeps the data") {
    st::RunId run = ok(open_store(path)->create_run(sample_run()));
    auto store = open_store(path);
    CHECK(ok(store->get_run(run)).trigger.actor == "cli:test");
  }
  SUBCASE("a file that is not a database is a schema error naming the file") {
    write_file(path, std::string(4096, 'x'));
    auto store = st::open_sqlite(path);
    REQUIRE_FALSE(store);
    CHECK(store.error().code == st::ErrorCode::schema);
    CHECK(contains(store.error().message, path));
    CHECK(contains(store.error().message, "open"));
  }
  SUBCASE("a folder that cannot be created is an io error") {
    write_file(dir / "file", "");
    auto store = st::open_sqlite((dir / "file/state.db").string());
    REQUIRE_FALSE(store);
    CHECK(store.error().code == st::ErrorCode::io);
    CHECK(contains(store.error().message, "file/state.db"));
  }
}

TEST_CASE("store::migrations") {
  TempDir dir;
  std::string path = (dir / "state.db").string();

  SUBCASE("a version 1 file migrates to the latest version and keeps its rows") {
    st::RunId run;
    {
      auto options = test_options();
      options.schema_version = 1;
      auto v1 = open_store(path, options);
      {
        RawDb raw(path);
        run = insert_legacy_run(raw);  // as a version 1 binary stored it (today's writes version 5 columns)
      }
      ok(v1->add_tasks(run, chain_tasks(2)));
      ok(v1->record_digest("r.example.com/img-0", kDigestA, st::DigestSource::registry));
    }
    {
      RawDb raw(path);
      // As a version 1 binary moved the task (today's transition_task reads version 4 columns).
      raw.exec("UPDATE tasks SET state = 'building', attempts = 1, reason = 'attempt' WHERE image = 'r.example.com/img-0'");
      raw.exec("INSERT INTO transitions (run_id, image, from_state, to_state, detail, at) VALUES (" + std::to_string(run) +
               ", 'r.example.com/img-0', 'pending', 'building', 'attempt', 0)");
      CHECK(raw.one("PRAGMA user_version") == "1");
      CHECK(raw.one("SELECT count(*) FROM sqlite_schema WHERE name = 'events'") == "0");
    }
    auto store = open_store(path);
    CHECK(RawDb(path).one("PRAGMA user_version") == std::to_string(st::latest_schema_version()));
    CHECK(ok(store->get_tasks(run)).at(0).state == TaskState::building);
    CHECK(ok(store->latest_digest("r.example.com/img-0"))->digest == kDigestA);
    CHECK(ok(store->get_transitions(run)).size() == 4);
    CHECK(ok(store->record_event({"k1", "harbor", std::nullopt, "a:1", kDigestA})).is_new);
    ok(store->quarantine("a:1", kDigestA, "unhealthy", run));
    check_consistent(*store, run);
  }
  SUBCASE("a version 2 file with events migrates to version 3 and keeps them, pending or joined") {
    st::RunId run;
    st::EventId waiting, joined;
    {
      auto options = test_options();
      options.schema_version = 2;
      auto v2 = open_store(path, options);
      RawDb raw(path);
      run = insert_legacy_run(raw);  // as a version 2 binary stored them (today's write version 6 columns)
      waiting = insert_legacy_event(raw, "harbor:1", "harbor", "a:1", "1", kDigestA);
      joined = insert_legacy_event(raw, "harbor:2", "harbor", "b:1", "2", kDigestB);
    }
    {
      RawDb raw(path);
      // As a version 2 binary attached it (today's attach_event reads the version 3 column).
      raw.exec("UPDATE events SET run_id = " + std::to_string(run) + " WHERE id = " + std::to_string(joined));
      CHECK(raw.one("PRAGMA user_version") == "2");
      CHECK(raw.one("SELECT count(*) FROM pragma_table_info('events') WHERE name = 'outcome'") == "0");
      CHECK(raw.one("SELECT count(*) FROM sqlite_schema WHERE name = 'settings'") == "0");
    }
    auto store = open_store(path);
    CHECK(RawDb(path).one("PRAGMA user_version") == std::to_string(st::latest_schema_version()));
    auto recent = ok(store->recent_events(10));
    REQUIRE(recent.size() == 2);
    CHECK(recent[0].id == joined);
    CHECK(recent[0].run == run);
    CHECK(recent[1].id == waiting);
    CHECK(recent[1].event_id == "1");
    CHECK(recent[1].digest == kDigestA);
    for (const auto& event : recent) CHECK_FALSE(event.outcome);
    auto pending = ok(store->pending_events());
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].id == waiting);
    // The old events dedupe as before; the new columns and table work on the migrated file.
    CHECK_FALSE(ok(store->record_event({"harbor:1", "harbor", "1", "a:1", kDigestA})).is_new);
    ok(store->settle_event(waiting, "up to date"));
    CHECK(ok(store->pending_events()).empty());
    ok(store->put_setting("schedule.nightly.last", "2026-01-01T03:00:00Z"));
    CHECK(ok(store->get_setting("schedule.nightly.last")) == "2026-01-01T03:00:00Z");
    CHECK(RawDb(path).one("PRAGMA integrity_check") == "ok");
  }
  SUBCASE("a file from a newer cascade is refused with a clear message") {
    { auto store = open_store(path); }
    RawDb(path).exec("PRAGMA user_version = 99");
    auto store = st::open_sqlite(path);
    REQUIRE_FALSE(store);
    CHECK(store.error().code == st::ErrorCode::schema);
    CHECK(contains(store.error().message, path));
    CHECK(contains(store.error().message, "schema version 99 is newer"));
  }
}

TEST_CASE("store::runs") {
  TempDir dir;
  auto store = open_store((dir / "state.db").string());

  SUBCASE("create_run stores the trigger, the plan and state planned") {
    st::RunId first = ok(store->create_run(sample_run()));
    st::RunId second = ok(store->create_run(sample_run("r.example.com/base:1")));
    CHECK(second > first);
    auto run = ok(store->get_run(first));
    CHECK(run.id == first);
    CHECK(run.trigger.kind == st::TriggerKind::cli);
    CHECK(run.trigger.image == "docker.io/library/debian:12");
    CHECK(run.trigger.digest == kDigestA);
    CHECK(run.pipeline_path == "/pipelines/fleet.yaml");
    CHECK(run.state == RunState::planned);
    CHECK(run.created_at.time_since_epoch().count() >= 1'767'225'600'000);
    CHECK_FALSE(run.started_at);
    CHECK_FALSE(run.finished_at);
    CHECK(run.summary.total == 0);
    CHECK(ok(store->get_plan(first)) == sample_run().plan);
    CHECK(ok(store->get_plan(second)).query == "r.example.com/base:1");
  }
  SUBCASE("a plan record of another version is refused") {
    auto run = sample_run();
    run.plan.version = st::kPlanVersion + 1;
    auto id = store->create_run(run);
    REQUIRE_FALSE(id);
    CHECK(id.error().code == st::ErrorCode::invalid_argument);
    CHECK(contains(id.error().message, "plan record version"));
    CHECK(ok(store->list_runs(10)).empty());
  }
  SUBCASE("set_run_state sets started and finished times and records the change") {
    st::RunId run = ok(store->create_run(sample_run()));
    ok(store->set_run_state(run, RunState::running, "started"));
    auto running = ok(store->get_run(run));
    REQUIRE(running.started_at);
    CHECK_FALSE(running.finished_at);
    ok(store->set_run_state(run, RunState::interrupted, "SIGTERM"));
    CHECK(ok(store->get_run(run)).finished_at);
    ok(store->set_run_state(run, RunState::running, "resumed"));
    auto resumed = ok(store->get_run(run));
    CHECK(resumed.started_at == running.started_at);
    CHECK_FALSE(resumed.finished_at);
    ok(store->set_run_state(run, RunState::succeeded));
    CHECK(*ok(store->get_run(run)).finished_at > *resumed.started_at);
    auto history = ok(store->get_transitions(run));
    REQUIRE(history.size() == 5);
    CHECK_FALSE(history[0].from);
    CHECK(history[0].to == "planned");
    CHECK(history[2].from == "running");
    CHECK(history[2].to == "interrupted");
    CHECK(history[2].detail == "SIGTERM");
    CHECK_FALSE(history[2].image);
  }
  SUBCASE("illegal run changes are refused and change nothing") {
    st::RunId run = ok(store->create_run(sample_run()));
    ok(store->set_run_state(run, RunState::failed));
    auto again = store->set_run_state(run, RunState::running);
    REQUIRE_FALSE(again);
    CHECK(again.error().code == st::ErrorCode::illegal_transition);
    CHECK(contains(again.error().message, "failed -> running"));
    CHECK(contains(again.error().message, "set_run_state(run " + std::to_string(run) + ")"));
    CHECK(ok(store->get_run(run)).state == RunState::failed);
    CHECK(ok(store->get_transitions(run)).size() == 2);
  }
  SUBCASE("unknown runs are not_found") {
    CHECK(store->get_run(42).error().code == st::ErrorCode::not_found);
    CHECK(store->get_plan(42).error().code == st::ErrorCode::not_found);
    CHECK(store->set_run_state(42, RunState::running).error().code == st::ErrorCode::not_found);
    CHECK(store->add_tasks(42, chain_tasks(1)).error().code == st::ErrorCode::not_found);
    CHECK(ok(store->get_tasks(42)).empty());
    CHECK(ok(store->get_transitions(42)).empty());
  }
  SUBCASE("list_runs is newest first and limited; unfinished_runs is oldest first") {
    std::vector<st::RunId> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(ok(store->create_run(sample_run())));
    ok(store->set_run_state(ids[0], RunState::running));
    ok(store->set_run_state(ids[1], RunState::succeeded));
    ok(store->set_run_state(ids[2], RunState::interrupted));
    ok(store->set_run_state(ids[3], RunState::failed));
    auto newest = ok(store->list_runs(3));
    REQUIRE(newest.size() == 3);
    CHECK(newest[0].id == ids[4]);
    CHECK(newest[2].id == ids[2]);
    CHECK(ok(store->list_runs(100)).size() == 5);
    auto unfinished = ok(store->unfinished_runs());
    REQUIRE(unfinished.size() == 2);
    CHECK(unfinished[0].id == ids[0]);
    CHECK(unfinished[0].state == RunState::running);
    CHECK(unfinished[1].id == ids[4]);
  }
}

TEST_CASE("store::tasks") {
  TempDir dir;
  auto store = open_store((dir / "state.db").string());
  st::RunId run = ok(store->create_run(sample_run()));
  const std::string a = "r.example.com/img-0", b = "r.example.com/img-1", c = "r.example.com/img-2";

  SUBCASE("add_tasks stores them pending in plan order") {
    auto specs = chain_tasks(3);
    specs[0].old_digest = kDigestA;
    ok(store->add_tasks(run, specs));
    auto tasks = ok(store->get_tasks(run));
    REQUIRE(tasks.size() == 3);
    CHECK(tasks[0].image == a);
    CHECK(tasks[0].position == 0);
    CHECK(tasks[0].old_digest == kDigestA);
    CHECK(tasks[1].dependencies == std::vector<std::string>{a});
    CHECK(tasks[2].position == 2);
    CHECK(tasks[2].commit == std::string(40, 'c'));
    CHECK(tasks[2].state == TaskState::pending);
    CHECK(tasks[2].attempts == 0);
    CHECK(tasks[2].base_digests.empty());
    CHECK(ok(store->get_run(run)).summary.pending == 3);
    auto history = ok(store->get_transitions(run));
    REQUIRE(history.size() == 4);
    CHECK(history[1].image == a);
    CHECK(history[1].to == "pending");
    check_consistent(*store, run);
  }
  SUBCASE("add_tasks is all or nothing") {
    auto specs = chain_tasks(3);
    specs.push_back(specs[1]);
    auto added = store->add_tasks(run, specs);
    REQUIRE_FALSE(added);
    CHECK(added.error().code == st::ErrorCode::invalid_argument);
    CHECK(contains(added.error().message, "task " + b));
    CHECK(ok(store->get_tasks(run)).empty());
    CHECK(ok(store->get_transitions(run)).size() == 1);
    ok(store->add_tasks(run, chain_tasks(2)));
    auto more = store->add_tasks(run, {chain_tasks(3)[2], chain_tasks(1)[0]});
    CHECK_FALSE(more);
    CHECK(ok(store->get_tasks(run)).size() == 2);
  }
  SUBCASE("a task goes pending -> building -> pushing -> pushed with its fields and times") {
    ok(store->add_tasks(run, chain_tasks(1)));
    auto building = ok(store->transition_task(run, a, TaskState::building, "attempt 1"));
    CHECK(building.state == TaskState::building);
    CHECK(building.reason == "attempt 1");
    CHECK(building.attempts == 1);
    REQUIRE(building.started_at);
    CHECK_FALSE(building.finished_at);
    st::TaskUpdate built;
    built.base_digests = std::map<std::string, std::string>{{"docker.io/library/debian:12", kDigestB}};
    built.build_log = "/var/log/cascade/1/img-0.log";
    auto pushing = ok(store->transition_task(run, a, TaskState::pushing, "built", built));
    CHECK(pushing.base_digests.at("docker.io/library/debian:12") == kDigestB);
    CHECK(pushing.build_log == "/var/log/cascade/1/img-0.log");
    st::TaskUpdate pushed_fields;
    pushed_fields.new_digest = kDigestA;
    auto pushed = ok(store->transition_task(run, a, TaskState::pushed, "pushed", pushed_fields));
    CHECK(pushed.new_digest == kDigestA);
    CHECK(pushed.build_log == "/var/log/cascade/1/img-0.log");  // unchanged when not given
    REQUIRE(pushed.finished_at);
    REQUIRE(pushed.duration);
    CHECK(*pushed.duration == *pushed.finished_at - *building.started_at);
    CHECK(ok(store->get_tasks(run)).at(0).new_digest == kDigestA);
    auto summary = ok(store->get_run(run)).summary;
    CHECK(summary.pushed == 1);
    CHECK(summary.total == 1);
    check_consistent(*store, run);
  }
  SUBCASE("retries count attempts; skipped and blocked carry their reason") {
    ok(store->add_tasks(run, chain_tasks(3)));
    ok(store->transition_task(run, a, TaskState::building, "attempt 1"));
    ok(store->transition_task(run, a, TaskState::failed, "exit 1"));
    ok(store->transition_task(run, b, TaskState::blocked, "blocked by " + a));
    ok(store->transition_task(run, c, TaskState::skipped, "already built on " + kDigestB));
    ok(store->transition_task(run, a, TaskState::pending, "retry"));
    auto again = ok(store->transition_task(run, a, TaskState::building, "attempt 2"));
    CHECK(again.attempts == 2);
    CHECK_FALSE(again.finished_at);
    auto tasks = ok(store->get_tasks(run));
    CHECK(tasks[1].reason == "blocked by " + a);
    CHECK(tasks[1].finished_at);
    CHECK_FALSE(tasks[1].duration);
    CHECK(tasks[2].reason == "already built on " + kDigestB);
    auto summary = ok(store->get_run(run)).summary;
    CHECK(summary.building == 1);
    CHECK(summary.blocked == 1);
    CHECK(summary.skipped == 1);
    check_consistent(*store, run);
  }
  SUBCASE("illegal task changes are refused and write nothing") {
    ok(store->add_tasks(run, chain_tasks(1)));
    push_task(*store, run, a);
    std::size_t history = ok(store->get_transitions(run)).size();
    st::TaskUpdate update;
    update.new_digest = kDigestB;
    auto back = store->transition_task(run, a, TaskState::building, "again", update);
    REQUIRE_FALSE(back);
    CHECK(back.error().code == st::ErrorCode::illegal_transition);
    CHECK(contains(back.error().message, "pushed -> building"));
    CHECK(contains(back.error().message, "transition_task(run " + std::to_string(run) + ", " + a + ")"));
    auto task = ok(store->get_tasks(run)).at(0);
    CHECK(task.state == TaskState::pushed);
    CHECK(task.new_digest != kDigestB);
    CHECK(ok(store->get_transitions(run)).size() == history);
  }
  SUBCASE("pushed needs a new digest") {
    ok(store->add_tasks(run, chain_tasks(1)));
    ok(store->transition_task(run, a, TaskState::building, ""));
    ok(store->transition_task(run, a, TaskState::pushing, ""));
    auto pushed = store->transition_task(run, a, TaskState::pushed, "");
    REQUIRE_FALSE(pushed);
    CHECK(pushed.error().code == st::ErrorCode::invalid_argument);
  }
  SUBCASE("an unknown task is not_found") {
    auto missing = store->transition_task(run, "nope:1", TaskState::building, "");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == st::ErrorCode::not_found);
  }
  SUBCASE("the history is append-only under the API too") {
    ok(store->add_tasks(run, chain_tasks(1)));
    store.reset();
    RawDb raw((dir / "state.db").string());
    CHECK_THROWS_WITH(raw.exec("UPDATE transitions SET detail = 'x'"), "transitions are append-only");
  }
}

TEST_CASE("store::can_transition") {
  using S = TaskState;
  const std::vector<S> all = {S::pending, S::building, S::pushing, S::pushed, S::skipped, S::failed, S::blocked};
  const std::map<S, std::vector<S>> legal = {
      {S::pending, {S::building, S::skipped, S::blocked, S::failed}},
      {S::building, {S::pushing, S::failed, S::pending}},
      {S::pushing, {S::pushed, S::failed, S::pending}},
      {S::failed, {S::pending}},
      {S::blocked, {S::pending}},
  };
  for (S from : all)
    for (S to : all) {
      auto it = legal.find(from);
      bool expected = it != legal.end() && std::find(it->second.begin(), it->second.end(), to) != it->second.end();
      INFO(st::to_string(from) << " -> " << st::to_string(to));
      CHECK(st::can_transition(from, to) == expected);
    }
  CHECK(st::is_final(S::pushed));
  CHECK(st::is_final(S::skipped));
  CHECK_FALSE(st::is_final(S::failed));
  CHECK(st::can_transition(RunState::interrupted, RunState::running));
  CHECK_FALSE(st::can_transition(RunState::succeeded, RunState::running));
  CHECK_FALSE(st::can_transition(RunState::running, RunState::planned));
  for (S state : all) CHECK(st::parse_task_state(st::to_string(state)) == state);
  CHECK_FALSE(st::parse_task_state("done"));
}

TEST_CASE("store::durations") {
  using D = st::Duration;
  SUBCASE("estimate_duration is the median of the last five") {
    CHECK_FALSE(st::estimate_duration({}));
    CHECK(st::estimate_duration({D(7)}) == D(7));
    CHECK(st::estimate_duration({D(10), D(30)}) == D(20));
    CHECK(st::estimate_duration({D(100), D(10), D(1000)}) == D(100));
    // Only the last five count: the old 1000s are forgotten, one outlier does not move it.
    CHECK(st::estimate_duration({D(1000), D(1000), D(1000), D(50), D(40), D(60), D(9000), D(55)}) == D(55));
  }
  SUBCASE("expected_duration over recorded builds") {
    TempDir dir;
    auto store = open_store((dir / "state.db").string());
    CHECK_FALSE(ok(store->expected_duration("a:1")));
    for (int seconds : {90, 60, 61, 59, 600, 62}) ok(store->record_duration("a:1", std::chrono::seconds(seconds)));
    ok(store->record_duration("b:1", 5s));
    CHECK(ok(store->expected_duration("a:1")) == D(61'000));
    CHECK(ok(store->expected_duration("b:1")) == D(5'000));
    auto negative = store->record_duration("a:1", D(-1));
    REQUIRE_FALSE(negative);
    CHECK(negative.error().code == st::ErrorCode::invalid_argument);
    for (int i = 0; i < 50; ++i) ok(store->record_duration("a:1", 1s));
    store.reset();
    CHECK(RawDb((dir / "state.db").string()).one("SELECT count(*) FROM build_durations WHERE image = 'a:1'") == "20");
  }
}

TEST_CASE("store::digests") {
  TempDir dir;
  auto store = open_store((dir / "state.db").string());
  st::RunId run = ok(store->create_run(sample_run()));
  CHECK_FALSE(ok(store->latest_digest("a:1")));
  ok(store->record_digest("a:1", kDigestA, st::DigestSource::registry));
  auto first = ok(store->latest_digest("a:1"));
  REQUIRE(first);
  CHECK(first->digest == kDigestA);
  CHECK(first->source == st::DigestSource::registry);
  CHECK_FALSE(first->run);
  ok(store->record_digest("a:1", kDigestB, st::DigestSource::pushed, run));
  auto second = ok(store->latest_digest("a:1"));
  CHECK(second->digest == kDigestB);
  CHECK(second->source == st::DigestSource::pushed);
  CHECK(second->run == run);
  CHECK(second->observed_at > first->observed_at);
  CHECK(store->record_digest("a:1", kDigestA, st::DigestSource::pushed, 999).error().code ==
        st::ErrorCode::invalid_argument);
}

TEST_CASE("store::events") {
  TempDir dir;
  auto store = open_store((dir / "state.db").string());
  st::Event event{"harbor:evt-1", "harbor", "evt-1", "r.example.com/base:1", kDigestA};
  auto first = ok(store->record_event(event));
  CHECK(first.is_new);
  CHECK_FALSE(first.run);
  auto duplicate = ok(store->record_event(event));
  CHECK_FALSE(duplicate.is_new);
  CHECK(duplicate.id == first.id);
  auto other = ok(store->record_event({"harbor:evt-2", "harbor", std::nullopt, "r.example.com/base:1", kDigestB}));
  CHECK(other.is_new);
  CHECK(other.id != first.id);

  auto pending = ok(store->pending_events());
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].dedupe_key == "harbor:evt-1");
  CHECK(pending[0].event_id == "evt-1");
  CHECK(pending[0].digest == kDigestA);
  CHECK(pending[1].event_id == std::nullopt);

  st::RunId run = ok(store->create_run(sample_run()));
  ok(store->attach_event(first.id, run));
  CHECK(ok(store->record_event(event)).run == run);
  CHECK(ok(store->pending_events()).size() == 1);
  CHECK(store->attach_event(999, run).error().code == st::ErrorCode::not_found);
  CHECK(store->attach_event(first.id, 999).error().code == st::ErrorCode::not_found);
}

TEST_CASE("store::rollout steps and quarantine") {
  TempDir dir;
  auto store = open_store((dir / "state.db").string());
  st::RunId run = ok(store->create_run(sample_run()));

  SUBCASE("rollout steps are a per-run history") {
    st::RolloutStep step{run, "podman-local", "shop", "r.example.com/shop:1", kDigestA, kDigestB,
                         st::RolloutState::updating, "batch 1/2"};
    auto first = ok(store->record_rollout_step(step));
    step.state = st::RolloutState::rolled_back;
    step.detail = "health check failed";
    auto second = ok(store->record_rollout_step(step));
    CHECK(second > first);
    auto steps = ok(store->get_rollout_steps(run));
    REQUIRE(steps.size() == 2);
    CHECK(steps[0].state == st::RolloutState::updating);
    CHECK(steps[0].from_digest == kDigestA);
    CHECK(steps[1].state == st::RolloutState::rolled_back);
    CHECK(steps[1].detail == "health check failed");
    CHECK(steps[1].at > steps[0].at);
    CHECK(ok(store->get_rollout_steps(run + 1)).empty());
    step.run = 999;
    CHECK_FALSE(store->record_rollout_step(step));
  }
  SUBCASE("quarantine, list, clear") {
    CHECK_FALSE(ok(store->is_quarantined("a:1", kDigestA)));
    ok(store->quarantine("a:1", kDigestA, "rolled back: unhealthy", run));
    ok(store->quarantine("b:1", kDigestB, "manual"));
    CHECK(ok(store->is_quarantined("a:1", kDigestA)));
    CHECK_FALSE(ok(store->is_quarantined("a:1", kDigestB)));
    auto all = ok(store->list_quarantined());
    REQUIRE(all.size() == 2);
    CHECK(all[0].image == "b:1");
    CHECK(all[1].run == run);
    CHECK(all[1].reason == "rolled back: unhealthy");
    CHECK(ok(store->list_quarantined("a:1")).size() == 1);
    ok(store->quarantine("a:1", kDigestA, "again"));
    CHECK(ok(store->list_quarantined("a:1")).at(0).reason == "again");
    CHECK(ok(store->clear_quarantine("a:1", kDigestA)));
    CHECK_FALSE(ok(store->clear_quarantine("a:1", kDigestA)));
    CHECK_FALSE(ok(store->is_quarantined("a:1", kDigestA)));
    CHECK(ok(store->list_quarantined()).size() == 1);
  }
}
