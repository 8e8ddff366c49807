// The release decision, pure: change windows in a zone, approvals (count, distinct actors,
// rejection, timeout), the urgent override, waves with their soak, workload policies.
#include <doctest/doctest.h>

#include <date/date.h>

#include <algorithm>

#include "cascade/release.hpp"

using namespace cascade;
using namespace std::chrono;
using State = store::ReleaseState;

namespace {

store::Time utc(int year, unsigned month, unsigned day, int hour = 0, int minute = 0, int second = 0) {
  return time_point_cast<milliseconds>(date::sys_days{date::year{year} / month / day} + hours{hour} +
                                       minutes{minute} + seconds{second});
}

pipeline::DeployTarget target(std::string name) {
  pipeline::DeployTarget target;
  target.name = std::move(name);
  return target;
}

store::Release held(std::int64_t id, std::string target, int wave = -1, std::string policy = "") {
  store::Release release;
  release.id = id;
  release.run = 1;
  release.target = std::move(target);
  release.workload = "web";
  release.image = "r/app:1";
  release.from_digest = "sha256:old";
  release.to_digest = "sha256:new";
  release.wave = wave;
  release.policy = std::move(policy);
  return release;
}

store::Approval approval(std::string actor, bool approved = true, std::string target = "") {
  store::Approval decision;
  decision.run = 1;
  decision.actor = std::move(actor);
  decision.approved = approved;
  decision.target = std::move(target);
  return decision;
}

const release::Change* change_of(const release::Decision& decision, std::int64_t id) {
  auto found = std::find_if(decision.changes.begin(), decision.changes.end(),
                            [&](const release::Change& change) { return change.release == id; });
  return found == decision.changes.end() ? nullptr : &*found;
}

bool starts(const release::Decision& decision, std::int64_t id) {
  return std::find(decision.start.begin(), decision.start.end(), id) != decision.start.end();
}

pipeline::Window office_hours() {  // weekdays 09:00-17:00 in Berlin (CET in December: UTC+1)
  pipeline::Window window;
  window.cron = "0 9 * * 1-5";
  window.duration = hours{8};
  window.timezone = "Europe/Berlin";
  return window;
}

}  // namespace

TEST_CASE("a change window is open inside its duration and says when it closes or opens next") {
  std::vector<pipeline::Window> windows{office_hours()};
  // Monday 2026-12-07 09:30 in Berlin is 08:30 UTC: open until 17:00 Berlin = 16:00 UTC.
  auto open = release::window_state(windows, utc(2026, 12, 7, 8, 30));
  REQUIRE(open);
  CHECK(open->open);
  CHECK(open->closes == utc(2026, 12, 7, 16, 0));
  // 17:00 Berlin sharp: closed (the end is exclusive); next opening Tuesday 08:00 UTC.
  auto closed = release::window_state(windows, utc(2026, 12, 7, 16, 0));
  REQUIRE(closed);
  CHECK_FALSE(closed->open);
  CHECK(closed->opens == utc(2026, 12, 8, 8, 0));
  // Saturday: the next opening is Monday 09:00 Berlin.
  auto weekend = release::window_state(windows, utc(2026, 12, 5, 12, 0));
  REQUIRE(weekend);
  CHECK_FALSE(weekend->open);
  CHECK(weekend->opens == utc(2026, 12, 7, 8, 0));
  // No windows: always open.
  auto none = release::window_state({}, utc(2026, 12, 5, 12, 0));
  REQUIRE(none);
  CHECK(none->open);
  // A bad zone (only a hand-made value: the parser refuses it first) is an error naming the window.
  pipeline::Window broken = office_hours();
  broken.timezone = "Mars/Olympus";
  auto failed = release::window_state({broken}, utc(2026, 12, 5, 12, 0));
  REQUIRE_FALSE(failed);
  CHECK(failed.error().find("window 1") != std::string::npos);
}

TEST_CASE("approvals: a count of distinct approvers, a rejection ends it, a timeout expires it") {
  pipeline::Pipeline pipeline;
  pipeline::DeployTarget prod = target("prod");
  prod.approval = pipeline::Approval{2, hours{24}, false, {}};
  pipeline.deploy = {prod};
  release::Input input;
  input.pipeline = &pipeline;
  input.waiting_since = utc(2026, 12, 6, 10, 0);
  input.now = utc(2026, 12, 6, 11, 0);
  input.releases = {held(7, "prod")};

  SUBCASE("one of two (the same person twice counts once): waits, wakes at the deadline") {
    input.approvals = {approval("alice"), approval("alice")};
    auto decision = release::decide(input);
    CHECK(decision.start.empty());
    CHECK(decision.awaiting_approval);
    REQUIRE(change_of(decision, 7));
    CHECK(change_of(decision, 7)->state == State::held);
    CHECK(change_of(decision, 7)->detail.starts_with("awaiting approval (1 of 2)"));
    CHECK(decision.wake == utc(2026, 12, 7, 10, 0));
    CHECK_FALSE(decision.finished);
  }
  SUBCASE("two people: it starts; an approval for another target does not count") {
    input.approvals = {approval("alice"), approval("bob", true, "staging")};
    CHECK(release::decide(input).start.empty());
    input.approvals = {approval("alice"), approval("bob", true, "prod")};
    auto decision = release::decide(input);
    CHECK(starts(decision, 7));
    CHECK_FALSE(decision.awaiting_approval);
  }
  SUBCASE("a rejection wins over approvals and is final") {
    input.approvals = {approval("alice"), approval("bob"), approval("carol", false)};
    auto decision = release::decide(input);
    CHECK(decision.start.empty());
    REQUIRE(change_of(decision, 7));
    CHECK(change_of(decision, 7)->state == State::rejected);
    CHECK(change_of(decision, 7)->detail.find("rejected by carol") != std::string::npos);
    CHECK(decision.finished);
  }
  SUBCASE("past the timeout: expired, and the run fails") {
    input.now = utc(2026, 12, 7, 10, 0);
    auto decision = release::decide(input);
    REQUIRE(change_of(decision, 7));
    CHECK(change_of(decision, 7)->state == State::expired);
    CHECK(change_of(decision, 7)->detail.find("timed out after 24h") != std::string::npos);
    auto ended = input.releases;
    ended[0].state = State::expired;
    CHECK(release::final_state(ended, false) == store::RunState::failed);
  }
  SUBCASE("the top-level approval applies to a target without its own") {
    pipeline.deploy[0].approval.reset();
    pipeline.approval = pipeline::Approval{1, hours{2}, false, {}};
    CHECK(release::decide(input).awaiting_approval);
    input.approvals = {approval("dana")};
    CHECK(starts(release::decide(input), 7));
  }
}

TEST_CASE("windows hold releases until they open; an urgent run skips them only where allowed") {
  pipeline::Pipeline pipeline;
  pipeline::DeployTarget prod = target("prod");
  prod.windows = {office_hours()};
  pipeline.deploy = {prod};
  release::Input input;
  input.pipeline = &pipeline;
  input.now = utc(2026, 12, 5, 12, 0);  // Saturday
  input.releases = {held(3, "prod")};

  auto decision = release::decide(input);
  CHECK(decision.start.empty());
  REQUIRE(change_of(decision, 3));
  CHECK(change_of(decision, 3)->detail == "outside the change window of prod; it opens 2026-12-07T09:00:00+01:00");
  CHECK(decision.wake == utc(2026, 12, 7, 8, 0));
  CHECK_FALSE(decision.awaiting_approval);

  input.urgent = true;  // the target does not allow it
  CHECK(release::decide(input).start.empty());
  pipeline.deploy[0].urgent = true;
  auto urgent = release::decide(input);
  CHECK(starts(urgent, 3));
  CHECK(urgent.urgent_used);

  input.urgent = false;
  input.now = utc(2026, 12, 7, 8, 0);  // Monday 09:00 Berlin: it opens
  CHECK(starts(release::decide(input), 3));
}

TEST_CASE("an urgent run skips the approval only on targets with urgent: true") {
  pipeline::Pipeline pipeline;
  pipeline::DeployTarget prod = target("prod"), lab = target("lab");
  prod.approval = lab.approval = pipeline::Approval{1, hours{24}, false, {}};
  lab.urgent = true;
  pipeline.deploy = {prod, lab};
  release::Input input;
  input.pipeline = &pipeline;
  input.urgent = true;
  input.releases = {held(1, "prod"), held(2, "lab")};
  auto decision = release::decide(input);
  CHECK_FALSE(starts(decision, 1));
  CHECK(starts(decision, 2));
  CHECK(decision.urgent_used);
  CHECK(decision.awaiting_approval);
}

TEST_CASE("waves: the next one starts once the earlier is healthy and soaked; a failure stops it") {
  pipeline::Pipeline pipeline;
  pipeline.deploy = {target("canary"), target("prod")};
  pipeline.waves = {pipeline::Wave{"canary", {"canary"}, seconds{30}, {}}, pipeline::Wave{"production", {"prod"}, {}, {}}};
  release::Input input;
  input.pipeline = &pipeline;
  input.now = utc(2026, 12, 6, 12, 0);
  input.releases = {held(1, "canary", 0), held(2, "prod", 1)};

  auto first = release::decide(input);
  CHECK(starts(first, 1));
  CHECK_FALSE(starts(first, 2));
  REQUIRE(change_of(first, 2));
  CHECK(change_of(first, 2)->detail == "after wave canary (rolling out)");

  input.releases[0].state = State::done;
  input.releases[0].finished_at = utc(2026, 12, 6, 12, 1);
  input.now = utc(2026, 12, 6, 12, 1, 10);
  auto soaking = release::decide(input);
  CHECK(soaking.start.empty());
  CHECK(soaking.wake == utc(2026, 12, 6, 12, 1, 30));
  REQUIRE(change_of(soaking, 2));
  CHECK(change_of(soaking, 2)->detail.find("soaking until 2026-12-06T12:01:30.000Z") != std::string::npos);

  input.now = utc(2026, 12, 6, 12, 1, 30);
  CHECK(starts(release::decide(input), 2));

  input.releases[0].state = State::failed;
  auto stopped = release::decide(input);
  CHECK(stopped.start.empty());
  REQUIRE(change_of(stopped, 2));
  CHECK(change_of(stopped, 2)->state == State::stopped);
  CHECK(change_of(stopped, 2)->detail == "not rolled out: wave canary failed");
  CHECK(stopped.finished);
}

TEST_CASE("workload policies: monitor is reported and never touched; hold needs a person even without approval") {
  pipeline::Pipeline pipeline;
  pipeline.deploy = {target("docker")};
  release::Input input;
  input.pipeline = &pipeline;
  input.urgent = true;
  pipeline.deploy[0].urgent = true;
  input.releases = {held(1, "docker", -1, "monitor"), held(2, "docker", -1, "hold"),
                    held(3, "docker", -1, "freeze")};
  input.releases[1].workload = "db";
  input.releases[2].workload = "cache";
  auto decision = release::decide(input);
  REQUIRE(change_of(decision, 1));
  CHECK(change_of(decision, 1)->state == State::monitored);
  CHECK(change_of(decision, 1)->detail.find("would move from sha256:old to sha256:new") != std::string::npos);
  CHECK(decision.start.empty());  // urgent does not skip a workload's own hold
  REQUIRE(change_of(decision, 2));
  CHECK(change_of(decision, 2)->detail.find("policy is hold") != std::string::npos);
  REQUIRE(change_of(decision, 3));
  CHECK(change_of(decision, 3)->detail.find("\"freeze\" is not understood") != std::string::npos);
  CHECK_FALSE(decision.wake);  // no deadline without an approval timeout

  input.approvals = {approval("ops")};
  auto approved = release::decide(input);
  CHECK(starts(approved, 2));
  CHECK(starts(approved, 3));

  CHECK(release::gated(pipeline, pipeline.deploy[0], "hold"));
  CHECK_FALSE(release::gated(pipeline, pipeline.deploy[0], "skip"));
  CHECK_FALSE(release::gated(pipeline, pipeline.deploy[0]));
}

TEST_CASE("a release whose target left the pipeline fails; the final state of a run") {
  pipeline::Pipeline pipeline;
  release::Input input;
  input.pipeline = &pipeline;
  input.releases = {held(1, "gone")};
  auto decision = release::decide(input);
  REQUIRE(change_of(decision, 1));
  CHECK(change_of(decision, 1)->state == State::failed);
  CHECK(decision.finished);

  std::vector<store::Release> ended{held(1, "a"), held(2, "b")};
  ended[0].state = State::done;
  ended[1].state = State::rejected;
  CHECK(release::final_state(ended, false) == store::RunState::succeeded);  // a rejection is a decision, not a failure
  CHECK(release::final_state(ended, true) == store::RunState::failed);
  ended[1].state = State::failed;
  CHECK(release::final_state(ended, false) == store::RunState::failed);
}

TEST_CASE("only real changes are reported: a second pass over the same state changes nothing") {
  pipeline::Pipeline pipeline;
  pipeline::DeployTarget prod = target("prod");
  prod.approval = pipeline::Approval{1, hours{1}, false, {}};
  pipeline.deploy = {prod};
  release::Input input;
  input.pipeline = &pipeline;
  input.releases = {held(1, "prod")};
  auto first = release::decide(input);
  REQUIRE(first.changes.size() == 1);
  input.releases[0].detail = first.changes[0].detail;
  CHECK(release::decide(input).changes.empty());
}
