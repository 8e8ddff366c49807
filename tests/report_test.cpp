// What `cascade status RUN` shows of a fix run's question (and its before/after versions),
// made from the run's typed records: the same for a run stored today and for one an older
// cascade stored (its question inside the CLI's plan JSON); a patch run shows none.
#include <doctest/doctest.h>

#include "cascade/exposure.hpp"
#include "store_support.hpp"
#include "support.hpp"

using namespace cascade;
using namespace cascade::test;
using nlohmann::json;

namespace {

const char* kAdvisory = R"({"id": "x_T-1", "modified": "2026-01-01T00:00:00Z", "affected": [
  {"package": {"ecosystem": "Debian:12", "name": "bash"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.2.15-2+deb12u1"}]}]}]})";
const char* kConstraint = "bash<5.2.15-2+deb12u1";

}  // namespace

TEST_CASE("app::run_json: a fix run's question from its records, stored today or by an older cascade") {
  TempDir dir;
  std::string path = (dir / "state.db").string();
  auto question = app::advisory_question_from_texts({kAdvisory}, "advisory");
  REQUIRE(question);
  auto package = app::package_question(kConstraint);
  REQUIRE(package);
  json expected = app::question_json(*question);
  json expected_package = app::question_json(*package);
  CHECK(expected["label"] == "x_T-1");
  CHECK(expected["packages"] == json::array({"bash"}));

  // An older cascade's rows (schema version 4): the question inside the CLI's plan JSON.
  st::RunId old_fix, old_package;
  {
    auto options = test_options();
    options.schema_version = 4;
    { auto v4 = open_store(path, options); }
    RawDb raw(path);
    old_fix = insert_legacy_run(raw, "advisory:x_T-1",
                                json{{"query", "advisory:x_T-1"}, {"trigger", json::object()}, {"steps", json::array()},
                                     {"question", expected}}.dump());
    old_package = insert_legacy_run(raw, std::string("package:") + kConstraint,
                                    json{{"query", std::string("package:") + kConstraint}, {"trigger", json::object()},
                                         {"steps", json::array()}, {"question", expected_package}}.dump());
  }
  auto store = open_store(path);

  // Today's rows: the action, the advisory ids or the constraint, the OSV texts in the plan record.
  auto fix_run = sample_run("advisory:x_T-1");
  fix_run.trigger.action = st::TriggerAction::fix;
  fix_run.trigger.advisories = {"x_T-1"};
  fix_run.plan.advisory_documents = {kAdvisory};
  st::RunId fix = ok(store->create_run(fix_run));
  auto package_run = sample_run(std::string("package:") + kConstraint);
  package_run.trigger.action = st::TriggerAction::fix;
  package_run.trigger.package = kConstraint;
  st::RunId by_package = ok(store->create_run(package_run));
  st::RunId patch = ok(store->create_run(sample_run()));

  for (auto [id, want] : {std::pair{fix, expected}, std::pair{old_fix, expected}, std::pair{by_package, expected_package},
                          std::pair{old_package, expected_package}}) {
    INFO("run " << id);
    auto run = app::run_json(*store, id);
    REQUIRE(run);
    CHECK((*run)["question"] == want);
    CHECK((*run)["versions"] == json::array());  // no tasks: nothing before or after
  }
  CHECK((*app::run_json(*store, fix))["trigger"]["image"] == "advisory:x_T-1");
  CHECK((*app::run_json(*store, old_fix))["trigger"]["image"] == "advisory:x_T-1");
  auto patch_run = app::run_json(*store, patch);
  REQUIRE(patch_run);
  CHECK_FALSE(patch_run->contains("question"));
  CHECK_FALSE(patch_run->contains("versions"));
}
