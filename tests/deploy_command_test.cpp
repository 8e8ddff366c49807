// The command deploy target against real programs: sh scripts written by the test to a
// temporary folder and run through argv (cascade itself never runs a shell).
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cascade/deploy_command.hpp"
#include "support.hpp"

using namespace cascade::deploy;
using cascade::test::read_file;
using cascade::test::TempDir;
using cascade::test::write_file;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kDigest = "sha256:9c0e5b7a1f0b4c8d2e6a3f9b1c7d5e2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c1d3e";

cascade::reference::Reference new_image() {
  return *cascade::reference::parse("registry.example.com/apps/web@" + std::string(kDigest));
}

Workload workload() {
  Workload w;
  w.target = "legacy";
  w.name = "registry.example.com/apps/web";
  w.image = "registry.example.com/apps/web";
  w.digest = "sha256:1a2b";
  return w;
}

/// Writes an executable sh script and returns its path.
std::string script(const TempDir& dir, const std::string& name, const std::string& body) {
  auto path = dir / name;
  write_file(path, "#!/bin/sh\n" + body);
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path.string();
}

std::unique_ptr<CommandTarget> make(CommandOptions options) {
  auto target = CommandTarget::create(std::move(options));
  if (!target) FAIL(target.error().str());
  return std::move(*target);
}

}  // namespace

TEST_CASE("deploy::CommandTarget") {
  TempDir dir;
  std::vector<Step> steps;
  StepSink sink = [&](const Step& step) { steps.push_back(step); };

  SUBCASE("exit 0 is healthy; placeholders in argv and CASCADE_* in the environment, no shell") {
    std::string program = script(dir, "deploy.sh",
                                 "for a in \"$@\"; do echo \"arg=$a\"; done > \"$OUT\"\n"
                                 "env | grep -E '^(CASCADE_(DIGEST|IMAGE|OLD_DIGEST|REPOSITORY|RUN)|EXTRA)=' | sort >> \"$OUT\"\n");
    CommandOptions options;
    options.name = "legacy";
    options.argv = {program, "image={image}", "-e", "digest={digest}", "{old_digest}", "{run}", "{repository}",
                    "{{literal}}", "$(touch pwned)"};
    options.env = {{"OUT", (dir / "out.txt").string()}, {"EXTRA", "1"}};
    options.run = "run-42";
    auto target = make(options);
    CHECK(target->name() == "legacy");
    auto result = target->rollout(workload(), new_image(), RolloutPolicy{}, sink, {});
    REQUIRE(result);
    CHECK(result->outcome == RolloutResult::Outcome::healthy);
    CHECK(result->reason.empty());
    REQUIRE(result->instances.size() == 1);
    CHECK(result->instances[0].outcome == InstanceOutcome::updated);
    std::string image = "registry.example.com/apps/web@" + std::string(kDigest);
    CHECK(read_file(dir / "out.txt") ==
          "arg=image=" + image + "\narg=-e\narg=digest=" + std::string(kDigest) +
              "\narg=sha256:1a2b\narg=run-42\narg=registry.example.com/apps/web\narg={literal}\narg=$(touch pwned)\n"
              "CASCADE_DIGEST=" + std::string(kDigest) + "\nCASCADE_IMAGE=" + image +
              "\nCASCADE_OLD_DIGEST=sha256:1a2b\nCASCADE_REPOSITORY=registry.example.com/apps/web\n"
              "CASCADE_RUN=run-42\nEXTRA=1\n");
    CHECK_FALSE(std::filesystem::exists("pwned"));
    REQUIRE(steps.size() == 2);
    CHECK(steps[0].state == StepState::updating);
    CHECK(steps[0].workload == "registry.example.com/apps/web");
    CHECK(steps[0].from == "sha256:1a2b");
    CHECK(steps[0].to == image);
    CHECK(steps[1].state == StepState::healthy);
  }
  SUBCASE("a non-zero exit fails with the last lines of the output, stdout and stderr in order") {
    std::string program = script(dir, "fail.sh",
                                 "for i in 1 2 3 4 5; do echo \"line $i\"; done\necho 'fatal: host web-3 unreachable' "
                                 ">&2\nexit 3\n");
    CommandOptions options;
    options.argv = {program};
    options.tail_lines = 3;
    auto result = make(options)->rollout(workload(), new_image(), RolloutPolicy{}, sink, {});
    REQUIRE(result);
    CHECK(result->outcome == RolloutResult::Outcome::failed);
    CHECK(result->reason == program + " exited with 3:\nline 4\nline 5\nfatal: host web-3 unreachable");
    CHECK(result->instances[0].outcome == InstanceOutcome::failed);
    REQUIRE(steps.size() == 2);
    CHECK(steps[1].state == StepState::failed);
    CHECK(steps[1].detail == result->reason);
  }
  SUBCASE("the timeout stops the program and fails") {
    std::string program = script(dir, "slow.sh", "echo starting\nexec sleep 30\n");
    CommandOptions options;
    options.argv = {program};
    options.timeout = 300ms;
    auto started = std::chrono::steady_clock::now();
    auto result = make(options)->rollout(workload(), new_image(), RolloutPolicy{}, sink, {});
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    REQUIRE(result);
    CHECK(result->outcome == RolloutResult::Outcome::failed);
    CHECK(result->reason == "timed out after 0.3s:\nstarting");
  }
  SUBCASE("a stop request: before the start an Error, while running a failed result") {
    std::string program = script(dir, "slow.sh", "exec sleep 30\n");
    CommandOptions options;
    options.argv = {program};
    std::stop_source early;
    early.request_stop();
    auto refused = make(options)->rollout(workload(), new_image(), RolloutPolicy{}, sink, early.get_token());
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == ErrorKind::cancelled);
    std::stop_source late;
    std::thread stopper([&] {
      std::this_thread::sleep_for(200ms);
      late.request_stop();
    });
    auto result = make(options)->rollout(workload(), new_image(), RolloutPolicy{}, sink, late.get_token());
    stopper.join();
    REQUIRE(result);
    CHECK(result->outcome == RolloutResult::Outcome::failed);
    CHECK(result->reason == "cancelled");
  }
  SUBCASE("inventory is empty; recover has nothing to do") {
    CommandOptions options;
    options.argv = {"true"};
    auto target = make(options);
    auto inventory = target->inventory(std::nullopt);
    REQUIRE(inventory);
    CHECK(inventory->empty());
    CHECK(target->recover("run-1", RolloutPolicy{}, sink));
  }
  SUBCASE("bad options and inputs") {
    CommandOptions options;
    CHECK(CommandTarget::create(options).error().kind == ErrorKind::invalid);
    options.argv = {"deploy", "--tag={tag}"};
    auto unknown = CommandTarget::create(options);
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().message ==
          "command target 'command': argument '--tag={tag}': unknown placeholder {tag}; known: {image}, {digest}, "
          "{old_digest}, {run}, {repository}");
    options.argv = {"/nonexistent/deploy"};
    auto missing = make(options)->rollout(workload(), new_image(), RolloutPolicy{}, sink, {});
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind == ErrorKind::invalid);
    options.argv = {"true"};
    auto tagged = make(options)->rollout(workload(), *cascade::reference::parse("nginx:1.25"), RolloutPolicy{}, sink, {});
    REQUIRE_FALSE(tagged);
    CHECK(tagged.error().message == "command target 'command': image docker.io/library/nginx:1.25 has no digest; "
                                    "deploy repo@digest");
  }
}

TEST_CASE("deploy::substitute") {
  std::map<std::string, std::string> values{{"image", "r/a@sha256:1"}, {"run", "7"}};
  CHECK(*substitute("x={image},{run}", values) == "x=r/a@sha256:1,7");
  CHECK(*substitute("{{\"json\": 1}}", values) == "{\"json\": 1}");
  CHECK(substitute("{image", values).error() == "unclosed '{': write '{{' for a literal brace");
  CHECK(substitute("a}b", values).error() == "stray '}': write '}}' for a literal brace");
  CHECK(substitute("{}", values).error().rfind("unknown placeholder {}", 0) == 0);
}
