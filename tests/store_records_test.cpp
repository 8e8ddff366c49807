// A run's trigger and plan as typed, versioned records: what create_run stores reads back
// the same (action, globs, advisories, package; the PlanRecord), the columns hold exactly
// that, and a file an older cascade wrote (schema version 4: the action and its arguments in
// trigger_image, the plan as the CLI's JSON) migrates and reads back as the same records.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "store_support.hpp"
#include "support.hpp"

using namespace cascade::test;

namespace {

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');
const std::string kOsvX = R"({"id":"GHSA-x","affected":[{"package":{"ecosystem":"Debian:12","name":"bash"}}]})";
const std::string kOsvY = R"({"id":"CVE-y","summary":"it's bad","affected":[]})";

// The last schema version before runs kept typed records.
constexpr int kBeforeRecords = 4;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string json_string(const std::string& text) { return nlohmann::json(text).dump(); }

st::NewRun new_run(st::TriggerAction action, const std::string& image) {
  st::NewRun run = sample_run(image);
  run.trigger.action = action;
  return run;
}

// One run of each action, with every field of its trigger and plan set.
std::vector<st::NewRun> every_action() {
  auto patch = new_run(st::TriggerAction::patch, "docker.io/library/debian:12");
  patch.plan.rebuilt_starts = {"r.example.com/base:1"};

  auto rebuild = new_run(st::TriggerAction::rebuild, "rebuild:apps/*,tools/*");
  rebuild.trigger.kind = st::TriggerKind::schedule;
  rebuild.trigger.digest = std::nullopt;
  rebuild.trigger.globs = {"apps/*", "tools/*"};
  rebuild.plan.query = "rebuild:apps/*,tools/*";
  rebuild.plan.trigger_digests.clear();
  rebuild.plan.rebuilt_starts = {"r.example.com/apps/web:1", "r.example.com/tools/cli:1"};

  auto fix = new_run(st::TriggerAction::fix, "advisory:GHSA-x, CVE-y");
  fix.trigger.kind = st::TriggerKind::api;
  fix.trigger.advisories = {"GHSA-x", "CVE-y"};
  fix.plan.query = "advisory:GHSA-x, CVE-y";
  fix.plan.trigger_digests = {{"docker.io/library/debian:12", kDigestA}, {"docker.io/library/alpine:3", kDigestB}};
  fix.plan.rebuilt_starts = {"r.example.com/apps/tool:1"};
  fix.plan.advisory_documents = {kOsvX, kOsvY};

  auto package = new_run(st::TriggerAction::fix, "package:bash<5.2.15-2+deb12u1");
  package.trigger.package = "bash<5.2.15-2+deb12u1";
  package.plan.query = "package:bash<5.2.15-2+deb12u1";

  auto deploy = new_run(st::TriggerAction::deploy, "r.example.com/apps/web:1@" + kDigestB);
  deploy.plan.query = deploy.trigger.image;
  deploy.plan.trigger_digests = {{"r.example.com/apps/web:1", kDigestB}};
  deploy.plan.rebuilt_starts = {"r.example.com/apps/web:1"};

  auto every_glob = new_run(st::TriggerAction::rebuild, "rebuild:*");  // no globs: every fleet image
  return {patch, rebuild, fix, package, deploy, every_glob};
}

}  // namespace

TEST_CASE("store::trigger actions") {
  for (auto action : {st::TriggerAction::patch, st::TriggerAction::rebuild, st::TriggerAction::fix,
                      st::TriggerAction::deploy})
    CHECK(st::parse_trigger_action(st::to_string(action)) == action);
  CHECK(st::to_string(st::TriggerAction::fix) == "fix");
  CHECK_FALSE(st::parse_trigger_action("rebuild:*"));
  CHECK_FALSE(st::parse_trigger_action(""));
}

TEST_CASE("store::run records") {
  TempDir dir;
  std::string path = (dir / "state.db").string();
  auto store = open_store(path);

  SUBCASE("every action's trigger and plan read back as stored") {
    for (const auto& run : every_action()) {
      INFO(run.trigger.image);
      st::RunId id = ok(store->create_run(run));
      CHECK(ok(store->get_run(id)).trigger == run.trigger);
      auto plan = ok(store->get_plan(id));
      CHECK(plan == run.plan);
      CHECK(plan.version == st::kPlanVersion);
    }
    // The lists read the same triggers.
    auto runs = ok(store->list_runs(10));
    auto asked = every_action();
    REQUIRE(runs.size() == asked.size());
    for (std::size_t i = 0; i < asked.size(); ++i) CHECK(runs[asked.size() - 1 - i].trigger == asked[i].trigger);
    auto unfinished = ok(store->unfinished_runs());
    REQUIRE(unfinished.size() == asked.size());
    CHECK(unfinished[1].trigger.globs == std::vector<std::string>{"apps/*", "tools/*"});
  }
  SUBCASE("the columns hold the typed record: the action, its arguments as JSON, a versioned plan") {
    auto asked = every_action();
    st::RunId patch = ok(store->create_run(asked[0]));
    st::RunId rebuild = ok(store->create_run(asked[1]));
    st::RunId fix = ok(store->create_run(asked[2]));
    st::RunId package = ok(store->create_run(asked[3]));
    RawDb raw(path);
    auto row = [&](st::RunId id, const std::string& columns) {
      return raw.one("SELECT " + columns + " FROM runs WHERE id = " + std::to_string(id));
    };
    CHECK(row(patch, "trigger_action, trigger_args, plan_version") == "patch|NULL|1");
    CHECK(row(rebuild, "trigger_action, trigger_args") == R"(rebuild|{"globs":["apps/*","tools/*"]})");
    CHECK(row(fix, "trigger_action, trigger_args") == R"(fix|{"advisories":["GHSA-x","CVE-y"]})");
    CHECK(row(package, "trigger_args ->> '$.package'") == "bash<5.2.15-2+deb12u1");
    CHECK(row(fix, "plan_json ->> '$.advisory_documents[1]'") == kOsvY);
    CHECK(row(fix, "json_array_length(plan_json, '$.rebuilt_starts')") == "1");
    CHECK(row(patch, "plan_json -> '$.steps'") == "NULL");  // the record, not the CLI's plan
    // The file refuses an action it does not know.
    CHECK_THROWS(raw.exec("UPDATE runs SET trigger_action = 'explode' WHERE id = " + std::to_string(patch)));
    CHECK_THROWS(raw.exec("UPDATE runs SET trigger_args = 'not json' WHERE id = " + std::to_string(patch)));
  }
  SUBCASE("a plan record of a newer layout is a schema error; a damaged one an io error") {
    st::RunId newer = ok(store->create_run(sample_run()));
    st::RunId damaged = ok(store->create_run(sample_run()));
    {
      RawDb raw(path);
      raw.exec("UPDATE runs SET plan_version = " + std::to_string(st::kPlanVersion + 1) +
               " WHERE id = " + std::to_string(newer));
      raw.exec(R"(UPDATE runs SET plan_json = '{"query": 7}' WHERE id = )" + std::to_string(damaged));
    }
    auto plan = store->get_plan(newer);
    REQUIRE_FALSE(plan);
    CHECK(plan.error().code == st::ErrorCode::schema);
    CHECK(contains(plan.error().message, "plan record version " + std::to_string(st::kPlanVersion + 1) + " is newer"));
    CHECK(contains(plan.error().message, "get_plan(run " + std::to_string(newer) + ")"));
    CHECK(ok(store->get_run(newer)).trigger.image == "docker.io/library/debian:12");
    auto broken = store->get_plan(damaged);
    REQUIRE_FALSE(broken);
    CHECK(broken.error().code == st::ErrorCode::io);
  }
}

TEST_CASE("store::migrations to version 5: an older cascade's runs read as typed records") {
  TempDir dir;
  std::string path = (dir / "state.db").string();
  // The CLI's plan JSON as a version 4 binary stored it (cascade plan --format json).
  const std::string patch_plan = R"({"query":"docker.io/library/debian:12",
    "trigger":{"docker.io/library/debian:12":")" + kDigestA + R"("},
    "steps":[{"image":"r.example.com/base:1","after":[],"action":"build","reason":"base changed","depth":0,
              "via":["docker.io/library/debian:12","r.example.com/base:1"],"base_digests":{},"bases_built_in_run":[],
              "old_digest":null,"no_cache":false,"because":[],"workloads":[]},
             {"image":"r.example.com/apps/web:1","after":["r.example.com/base:1"],"action":"build","reason":"base",
              "depth":1,"via":[],"base_digests":{},"bases_built_in_run":["r.example.com/base:1"],"old_digest":null,
              "no_cache":false,"because":[],"workloads":[]}]})";
  const std::string rebuild_plan = R"({"query":"rebuild:apps/*","trigger":{},
    "steps":[{"image":"r.example.com/apps/web:1","depth":0},{"image":"r.example.com/apps/tool:1","depth":0},
             {"image":"r.example.com/apps/tool-cli:1","depth":1}]})";
  const std::string fix_plan = R"({"query":"advisory:GHSA-x, CVE-y","trigger":{"docker.io/library/debian:12":")" +
                               kDigestB + R"("},"steps":[{"image":"r.example.com/apps/tool:1","depth":0}],
    "question":{"label":"GHSA-x, CVE-y","packages":["bash"],"documents":[)" +
                               json_string(kOsvX) + "," + json_string(kOsvY) + "]}}";
  const std::string package_plan = R"({"query":"package:bash<5.2.15-2+deb12u1","trigger":{},"steps":[],
    "question":{"label":"bash<5.2.15-2+deb12u1","packages":["bash"],"documents":[],"constraint":"bash<5.2.15-2+deb12u1"}})";
  st::RunId patch, rebuild, every, fix, package;
  {
    auto options = test_options();
    options.schema_version = kBeforeRecords;
    { auto v4 = open_store(path, options); }
    RawDb raw(path);
    CHECK(raw.one("PRAGMA user_version") == std::to_string(kBeforeRecords));
    patch = insert_legacy_run(raw, "docker.io/library/debian:12", patch_plan, "running");
    rebuild = insert_legacy_run(raw, "rebuild:apps/*", rebuild_plan, "interrupted");
    every = insert_legacy_run(raw, "rebuild:*", R"({"query":"rebuild:*","trigger":{},"steps":[]})");
    fix = insert_legacy_run(raw, "advisory:GHSA-x, CVE-y", fix_plan, "running");
    package = insert_legacy_run(raw, "package:bash<5.2.15-2+deb12u1", package_plan);
  }
  auto store = open_store(path);
  RawDb raw(path);
  CHECK(raw.one("PRAGMA user_version") == std::to_string(st::latest_schema_version()));
  CHECK(raw.one("PRAGMA integrity_check") == "ok");

  SUBCASE("the triggers: the action and its arguments from the old trigger image") {
    auto patch_run = ok(store->get_run(patch));
    CHECK(patch_run.trigger.action == st::TriggerAction::patch);
    CHECK(patch_run.trigger.image == "docker.io/library/debian:12");
    CHECK(patch_run.trigger.digest == kDigestA);
    CHECK(patch_run.trigger.globs.empty());
    auto rebuild_run = ok(store->get_run(rebuild));
    CHECK(rebuild_run.trigger.action == st::TriggerAction::rebuild);
    CHECK(rebuild_run.trigger.globs == std::vector<std::string>{"apps/*"});
    CHECK(rebuild_run.trigger.image == "rebuild:apps/*");  // the name users saw, unchanged
    CHECK(rebuild_run.state == st::RunState::interrupted);
    auto every_run = ok(store->get_run(every));
    CHECK(every_run.trigger.action == st::TriggerAction::rebuild);
    CHECK(every_run.trigger.globs.empty());
    auto fix_run = ok(store->get_run(fix));
    CHECK(fix_run.trigger.action == st::TriggerAction::fix);
    CHECK(fix_run.trigger.advisories == std::vector<std::string>{"GHSA-x", "CVE-y"});
    CHECK_FALSE(fix_run.trigger.package);
    auto package_run = ok(store->get_run(package));
    CHECK(package_run.trigger.action == st::TriggerAction::fix);
    CHECK(package_run.trigger.package == "bash<5.2.15-2+deb12u1");
    CHECK(package_run.trigger.advisories.empty());
    // What resume reads after a crash: the same typed triggers.
    auto unfinished = ok(store->unfinished_runs());
    REQUIRE(unfinished.size() == 4);
    CHECK(unfinished[0].trigger.action == st::TriggerAction::patch);
    CHECK(unfinished[1].trigger.globs.empty());
    CHECK(unfinished[2].trigger.advisories.size() == 2);
  }
  SUBCASE("the plans: start digests, depth-0 images and the advisories from the old CLI JSON") {
    auto patch_plan_record = ok(store->get_plan(patch));
    CHECK(patch_plan_record.version == 0);
    CHECK(patch_plan_record.query == "docker.io/library/debian:12");
    CHECK(patch_plan_record.trigger_digests == std::map<std::string, std::string>{{"docker.io/library/debian:12", kDigestA}});
    CHECK(patch_plan_record.rebuilt_starts == std::vector<std::string>{"r.example.com/base:1"});
    CHECK(patch_plan_record.advisory_documents.empty());
    auto rebuild_plan_record = ok(store->get_plan(rebuild));
    CHECK(rebuild_plan_record.trigger_digests.empty());
    CHECK(rebuild_plan_record.rebuilt_starts ==
          std::vector<std::string>{"r.example.com/apps/web:1", "r.example.com/apps/tool:1"});
    auto fix_plan_record = ok(store->get_plan(fix));
    CHECK(fix_plan_record.query == "advisory:GHSA-x, CVE-y");
    CHECK(fix_plan_record.trigger_digests.at("docker.io/library/debian:12") == kDigestB);
    CHECK(fix_plan_record.advisory_documents == std::vector<std::string>{kOsvX, kOsvY});
    auto package_plan_record = ok(store->get_plan(package));
    CHECK(package_plan_record.advisory_documents.empty());
    CHECK(package_plan_record.rebuilt_starts.empty());
  }
  SUBCASE("the old rows stay as written (converted when read); new runs are written as records") {
    CHECK(raw.one("SELECT count(*) FROM runs WHERE plan_version = 0 AND trigger_action = 'patch' AND "
                  "trigger_args IS NULL") == "5");
    CHECK(raw.one("SELECT plan_json ->> '$.steps[0].image' FROM runs WHERE id = " + std::to_string(patch)) ==
          "r.example.com/base:1");
    auto asked = every_action()[1];
    st::RunId id = ok(store->create_run(asked));
    CHECK(id > package);
    CHECK(ok(store->get_run(id)).trigger == asked.trigger);
    CHECK(ok(store->get_plan(id)) == asked.plan);
    CHECK(raw.one("SELECT plan_version FROM runs WHERE id = " + std::to_string(id)) == "1");
    // The old runs go on: tasks, states.
    ok(store->add_tasks(rebuild, chain_tasks(2)));
    ok(store->set_run_state(rebuild, st::RunState::running, "resumed"));
    check_consistent(*store, rebuild);
  }
}
