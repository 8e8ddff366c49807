// A trigger event as a typed record: what record_event and record_events store (action,
// source, globs, advisories) reads back the same through pending_events and recent_events,
// the columns hold exactly that (the file refuses an unknown action or source), and a file
// an older cascade wrote (schema version 5: what was asked only in the image and the sender)
// migrates and reads back typed, its rows left as written.
#include <doctest/doctest.h>

#include "store_support.hpp"
#include "support.hpp"

using namespace cascade::test;

namespace {

const std::string kDigestA = "sha256:" + std::string(64, 'a');

// The last schema version before events kept typed records.
constexpr int kBeforeEventRecords = 5;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

st::Event typed(const std::string& key, st::EventAction action, st::TriggerKind source, const std::string& sender,
                const std::string& image) {
  st::Event event;
  event.dedupe_key = key;
  event.sender = sender;
  event.image = image;
  event.action = action;
  event.source = source;
  return event;
}

// One event of each action and source the daemon writes, with its arguments set.
std::vector<st::Event> every_kind() {
  auto push = typed("hook:harbor:id:1", st::EventAction::patch, st::TriggerKind::webhook, "harbor", "r.example.com/a:1");
  push.event_id = "1";
  push.digest = kDigestA;
  auto api = typed("api:1", st::EventAction::patch, st::TriggerKind::api, "api", "r.example.com/a:1@" + kDigestA);
  auto rebuild = typed("schedule:weekly:1", st::EventAction::rebuild, st::TriggerKind::schedule, "schedule:weekly",
                       "rebuild:2");
  rebuild.globs = {"apps/*", "tools/*"};
  auto refresh = typed("schedule:hourly:1", st::EventAction::refresh, st::TriggerKind::schedule, "schedule:hourly",
                       "refresh");
  auto scan = typed("schedule:daily:1", st::EventAction::scan, st::TriggerKind::schedule, "schedule:daily", "scan");
  auto fix = typed("api:fix:1", st::EventAction::fix, st::TriggerKind::api, "api", "advisory:GHSA-x, CVE-y");
  fix.advisories = {"GHSA-x", "CVE-y"};
  return {push, api, rebuild, refresh, scan, fix};
}

/// What the store read back of `event`, as asked (the fields record_event reads).
void check_same(const st::Event& read, const st::Event& asked) {
  INFO("event " << asked.dedupe_key);
  CHECK(read.dedupe_key == asked.dedupe_key);
  CHECK(read.sender == asked.sender);
  CHECK(read.event_id == asked.event_id);
  CHECK(read.image == asked.image);
  CHECK(read.digest == asked.digest);
  CHECK(read.action == asked.action);
  CHECK(read.source == asked.source);
  CHECK(read.globs == asked.globs);
  CHECK(read.advisories == asked.advisories);
}

}  // namespace

TEST_CASE("store: event actions have names") {
  for (auto action : {st::EventAction::patch, st::EventAction::rebuild, st::EventAction::refresh,
                      st::EventAction::scan, st::EventAction::fix})
    CHECK(st::parse_event_action(st::to_string(action)) == action);
  CHECK_FALSE(st::parse_event_action("legacy"));
  CHECK_FALSE(st::parse_event_action("deploy"));
}

TEST_CASE("store: typed events round-trip") {
  TempDir dir;
  std::string path = (dir / "state.db").string();
  auto store = open_store(path);
  auto asked = every_kind();

  SUBCASE("record_events, then pending_events and recent_events") {
    auto recorded = ok(store->record_events(asked));
    REQUIRE(recorded.size() == asked.size());
    auto pending = ok(store->pending_events());
    REQUIRE(pending.size() == asked.size());
    for (std::size_t i = 0; i < asked.size(); ++i) {
      check_same(pending[i], asked[i]);
      CHECK(pending[i].id == recorded[i].id);
    }
    auto recent = ok(store->recent_events(10));
    REQUIRE(recent.size() == asked.size());
    for (std::size_t i = 0; i < asked.size(); ++i) check_same(recent[i], asked[asked.size() - 1 - i]);
  }
  SUBCASE("record_event one by one; a duplicate keeps the first event's record") {
    for (const auto& event : asked) CHECK(ok(store->record_event(event)).is_new);
    auto again = asked[2];
    again.globs = {"other/*"};
    CHECK_FALSE(ok(store->record_event(again)).is_new);
    auto pending = ok(store->pending_events());
    REQUIRE(pending.size() == asked.size());
    check_same(pending[2], asked[2]);
  }
  SUBCASE("the columns hold the action, the source and the arguments as JSON") {
    ok(store->record_events(asked));
    RawDb raw(path);
    CHECK(raw.rows("SELECT action, source, args FROM events ORDER BY id") ==
          std::vector<std::string>{"patch|webhook|NULL", "patch|api|NULL",
                                   R"(rebuild|schedule|{"globs":["apps/*","tools/*"]})", "refresh|schedule|NULL",
                                   "scan|schedule|NULL", R"(fix|api|{"advisories":["GHSA-x","CVE-y"]})"});
    // The file refuses what no cascade writes.
    CHECK_THROWS_WITH(raw.exec("UPDATE events SET action = 'deploy' WHERE id = 1"), doctest::Contains("CHECK"));
    CHECK_THROWS_WITH(raw.exec("UPDATE events SET source = 'registry' WHERE id = 1"), doctest::Contains("CHECK"));
    CHECK_THROWS_WITH(raw.exec("UPDATE events SET source = 'legacy' WHERE id = 1"), doctest::Contains("CHECK"));
    CHECK_THROWS_WITH(raw.exec("UPDATE events SET args = '{' WHERE id = 1"), doctest::Contains("CHECK"));
  }
  SUBCASE("settled and joined events keep their records") {
    auto recorded = ok(store->record_events(asked));
    st::RunId run = ok(store->create_run(sample_run()));
    ok(store->attach_event(recorded[0].id, run));
    ok(store->settle_event(recorded[5].id, "fixed"));
    auto recent = ok(store->recent_events(10));
    check_same(recent.back(), asked[0]);
    CHECK(recent.back().run == run);
    check_same(recent.front(), asked[5]);
    CHECK(recent.front().outcome == "fixed");
    CHECK(ok(store->pending_events()).size() == asked.size() - 2);
  }
}

TEST_CASE("store: a schema version 5 file's events migrate and read back typed") {
  TempDir dir;
  std::string path = (dir / "state.db").string();
  st::EventId push, api, rebuild, counted, every, refresh, scan, fix, settled;
  {
    auto options = test_options();
    options.schema_version = kBeforeEventRecords;
    { auto v5 = open_store(path, options); }
    RawDb raw(path);
    CHECK(raw.one("PRAGMA user_version") == std::to_string(kBeforeEventRecords));
    CHECK(raw.one("SELECT count(*) FROM pragma_table_info('events') WHERE name = 'action'") == "0");
    push = insert_legacy_event(raw, "hook:harbor:id:7", "harbor", "r.example.com/apps/web:1", "7", kDigestA);
    api = insert_legacy_event(raw, "api:2026:1", "api", "r.example.com/base:1@" + kDigestA);
    rebuild = insert_legacy_event(raw, "schedule:weekly:2026", "schedule:weekly", "rebuild:apps/*");
    counted = insert_legacy_event(raw, "schedule:nightly:2026", "schedule:nightly", "rebuild:2");
    every = insert_legacy_event(raw, "schedule:all:2026", "schedule:all", "rebuild:*");
    refresh = insert_legacy_event(raw, "schedule:hourly:2026", "schedule:hourly", "refresh");
    scan = insert_legacy_event(raw, "schedule:daily:2026", "schedule:daily", "scan");
    fix = insert_legacy_event(raw, "api:2026:fix:0", "api", "advisory:GHSA-x, CVE-y");
    settled = insert_legacy_event(raw, "hook:harbor:id:8", "harbor", "r.example.com/apps/web:1", "8", kDigestA);
    raw.exec("UPDATE events SET outcome = 'up to date' WHERE id = " + std::to_string(settled));
  }
  auto store = open_store(path);
  RawDb raw(path);
  CHECK(raw.one("PRAGMA user_version") == std::to_string(st::latest_schema_version()));
  CHECK(raw.one("PRAGMA integrity_check") == "ok");

  auto pending = ok(store->pending_events());
  REQUIRE(pending.size() == 8);
  std::map<st::EventId, st::Event> by_id;
  for (const auto& event : pending) by_id[event.id] = event;

  SUBCASE("a registry's push and an API patch: patches, the source from the sender") {
    const auto& hook = by_id.at(push);
    CHECK(hook.action == st::EventAction::patch);
    CHECK(hook.source == st::TriggerKind::webhook);
    CHECK(hook.image == "r.example.com/apps/web:1");
    CHECK(hook.digest == kDigestA);
    CHECK(hook.event_id == "7");
    CHECK(hook.globs.empty());
    CHECK(hook.advisories.empty());
    const auto& asked = by_id.at(api);
    CHECK(asked.action == st::EventAction::patch);
    CHECK(asked.source == st::TriggerKind::api);
    CHECK(asked.image == "r.example.com/base:1@" + kDigestA);
  }
  SUBCASE("schedule firings: rebuild with its globs, refresh, scan") {
    const auto& globs = by_id.at(rebuild);
    CHECK(globs.action == st::EventAction::rebuild);
    CHECK(globs.source == st::TriggerKind::schedule);
    CHECK(globs.globs == std::vector<std::string>{"apps/*"});
    CHECK(globs.image == "rebuild:apps/*");  // what users saw, unchanged
    // An older cascade's firing kept how many globs its entry had, not the globs.
    CHECK(by_id.at(counted).action == st::EventAction::rebuild);
    CHECK(by_id.at(counted).globs.empty());
    CHECK(by_id.at(every).action == st::EventAction::rebuild);
    CHECK(by_id.at(every).globs.empty());
    CHECK(by_id.at(refresh).action == st::EventAction::refresh);
    CHECK(by_id.at(refresh).source == st::TriggerKind::schedule);
    CHECK(by_id.at(scan).action == st::EventAction::scan);
    CHECK(by_id.at(scan).source == st::TriggerKind::schedule);
    for (auto id : {refresh, scan}) {
      CHECK(by_id.at(id).globs.empty());
      CHECK(by_id.at(id).advisories.empty());
    }
  }
  SUBCASE("an advisory fix request: fix, its advisories, from the API") {
    const auto& asked = by_id.at(fix);
    CHECK(asked.action == st::EventAction::fix);
    CHECK(asked.source == st::TriggerKind::api);
    CHECK(asked.advisories == std::vector<std::string>{"GHSA-x", "CVE-y"});
    CHECK(asked.image == "advisory:GHSA-x, CVE-y");
  }
  SUBCASE("recent_events reads them the same, settled ones too") {
    auto recent = ok(store->recent_events(20));
    REQUIRE(recent.size() == 9);
    CHECK(recent.front().id == settled);
    CHECK(recent.front().outcome == "up to date");
    CHECK(recent.front().action == st::EventAction::patch);
    CHECK(recent.front().source == st::TriggerKind::webhook);
    for (const auto& event : recent)
      if (by_id.count(event.id)) check_same(event, by_id.at(event.id));
  }
  SUBCASE("the old rows stay as written; new events are written typed and the old ones go on") {
    CHECK(raw.one("SELECT count(*) FROM events WHERE action = 'legacy' AND source = 'legacy' AND args IS NULL") ==
          "9");
    CHECK(raw.one("SELECT image FROM events WHERE id = " + std::to_string(fix)) == "advisory:GHSA-x, CVE-y");
    auto asked = every_kind()[2];
    auto recorded = ok(store->record_event(asked));
    CHECK(recorded.is_new);
    CHECK(recorded.id > settled);
    CHECK(raw.one("SELECT action || '|' || source FROM events WHERE id = " + std::to_string(recorded.id)) ==
          "rebuild|schedule");
    check_same(ok(store->pending_events()).back(), asked);
    // An old event dedupes as before, joins a run or is settled.
    CHECK_FALSE(ok(store->record_event(typed("hook:harbor:id:7", st::EventAction::patch, st::TriggerKind::webhook,
                                             "harbor", "r.example.com/apps/web:1")))
                    .is_new);
    st::RunId run = ok(store->create_run(sample_run()));
    ok(store->attach_event(push, run));
    ok(store->settle_event(fix, "not resumed"));
    auto left = ok(store->pending_events());
    CHECK(left.size() == 7);
    for (const auto& event : left) CHECK(event.id != push);
    CHECK(contains(raw.one("SELECT outcome FROM events WHERE id = " + std::to_string(fix)), "not resumed"));
  }
}
