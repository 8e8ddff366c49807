// `cascade plan` and `cascade patch` end to end: the real cascade binary, a real
// docker-registry on 127.0.0.1, real buildah, and the example fleet in real git repositories.
#include <doctest/doctest.h>

#include <csignal>
#include <functional>

#include "flaky_proxy.hpp"
#include "patch_support.hpp"

using nlohmann::json;
using namespace cascade;
using test::PatchFleet;

namespace {

json run_json(const process::Result& result) {
  INFO("stderr: " << result.err);
  REQUIRE_FALSE(result.out.empty());
  return json::parse(result.out);
}

// Every task started after each task it waits for had finished.
void check_order(const json& run) {
  auto tasks = test::tasks_by_image(run);
  for (const auto& [image, task] : tasks)
    for (const auto& dep : task["after"]) {
      INFO(image << " after " << dep);
      REQUIRE(tasks.count(dep));
      CHECK(task["started_at"].get<std::string>() >= tasks[dep]["finished_at"].get<std::string>());
    }
}

// Each built image says it was built on the digest its bases have now, in this registry.
void check_labels(const PatchFleet& fleet, const json& run) {
  auto tasks = test::tasks_by_image(run);
  for (const auto& [image, task] : tasks) {
    if (task["state"] != "pushed") continue;
    auto labels = fleet.labels(image);
    auto bases = json::parse(labels.at("io.cascade.bases"));
    for (const auto& [base, digest] : bases.items()) {
      INFO(image << " built on " << base);
      CHECK(digest == test::skopeo_inspect(base)["Digest"]);
      if (tasks.count(base)) CHECK(digest == tasks[base]["new_digest"]);
    }
    CHECK(labels.at("io.cascade.run") == std::to_string(run["id"].get<long long>()));
  }
}

// Polls run 1 (from another process, as `cascade status` would) until `ready` holds for its
// summary or about a minute has passed; returns the run as last seen.
// Polls run 1 until `ready` holds for the whole run record (or about a minute passed).
json wait_for_run_record(const PatchFleet& fleet, const std::function<bool(const json& run)>& ready) {
  json run;
  for (int i = 0; i < 1200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto status = fleet.cascade("status", {"1", "--format", "json"});
    if (status.exit_code != 0) continue;
    run = json::parse(status.out);
    if (ready(run)) break;
  }
  return run;
}

json wait_for_run(const PatchFleet& fleet, const std::function<bool(const json& summary)>& ready) {
  return wait_for_run_record(fleet, [&](const json& run) { return ready(run["summary"]); });
}

bool has_retry_transition(const json& run) {
  for (const auto& t : run["transitions"])
    if (t["to"] == "pending" && t["detail"].get<std::string>().rfind("retrying: ", 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("patch: the example fleet's base, then the same patch again") {
  PatchFleet fleet;
  auto plan = fleet.cascade("plan", {fleet.image("platform/base:1"), "--format", "json"});
  REQUIRE_MESSAGE(plan.exit_code == 0, plan.err);
  auto steps = json::parse(plan.out)["steps"];
  REQUIRE(steps.size() == 9);
  CHECK(steps[0]["image"] == fleet.image("platform/base:1"));
  CHECK(steps[0]["action"] == "build");

  auto first = fleet.cascade("patch", {fleet.image("platform/base:1"), "--format", "json", "--parallel", "2"});
  CHECK_MESSAGE(first.exit_code == 0, first.err);
  json run = run_json(first);
  CHECK(run["state"] == "succeeded");
  CHECK(run["summary"]["pushed"] == 9);
  check_order(run);
  check_labels(fleet, run);
  auto tasks = test::tasks_by_image(run);
  SUBCASE("the diamond child is built once, after both parents") {
    const auto& combo = tasks[fleet.image("runtimes/combo:1")];
    CHECK(combo["attempts"] == 1);
    CHECK(combo["after"].size() == 2);
    auto labels = fleet.labels(fleet.image("runtimes/combo:1"));
    CHECK(labels.at("org.opencontainers.image.base.digest") == tasks[fleet.image("runtimes/web:1")]["new_digest"]);
  }
  SUBCASE("progress on stderr names each build with its time") {
    CHECK(first.err.find("pushed   " + fleet.image("apps/reports:1")) != std::string::npos);
    CHECK(first.err.find(" s)") != std::string::npos);
  }
  SUBCASE("the same patch again builds nothing") {
    auto again = fleet.cascade("patch", {fleet.image("platform/base:1"), "--format", "json"});
    CHECK_MESSAGE(again.exit_code == 0, again.err);
    json rerun = run_json(again);
    CHECK(rerun["summary"]["pushed"] == 0);
    CHECK(rerun["summary"]["skipped"] == 9);
    for (const auto& task : rerun["tasks"]) CHECK(task["old_digest"] == tasks[task["image"]]["new_digest"]);
  }
  SUBCASE("status lists the run and shows it in detail") {
    auto list = fleet.cascade("status", {});
    CHECK(list.exit_code == 0);
    CHECK(list.out.find("succeeded") != std::string::npos);
    auto detail = fleet.cascade("status", {std::to_string(run["id"].get<long long>())});
    CHECK(detail.exit_code == 0);
    CHECK(detail.out.find("9 pushed") != std::string::npos);
  }
}

TEST_CASE("patch: a failing build blocks only its descendants") {
  PatchFleet fleet;
  test::commit_files(fleet.repos() / "runtimes",
                     {{"worker/Dockerfile", test::read_file(fleet.repos() / "runtimes/worker/Dockerfile") + "RUN false\n"}});
  auto result = fleet.cascade("patch", {fleet.image("platform/base:1"), "--format", "json"});
  CHECK(result.exit_code == 1);
  json run = run_json(result);
  CHECK(run["state"] == "failed");
  auto tasks = test::tasks_by_image(run);
  const auto& worker = tasks[fleet.image("runtimes/worker:1")];
  CHECK(worker["state"] == "failed");
  CHECK(worker["reason"].get<std::string>().find("build-failed") != std::string::npos);
  CHECK(test::read_file(worker["build_log"].get<std::string>()).find("false") != std::string::npos);
  for (const char* blocked : {"apps/billing:1", "runtimes/combo:1", "apps/reports:1"}) {
    INFO(blocked);
    CHECK(tasks[fleet.image(blocked)]["state"] == "blocked");
  }
  // the report names the chain from the failure
  std::string worker_failed = "blocked by " + fleet.image("runtimes/worker:1") + " (failed): ";
  CHECK(tasks[fleet.image("runtimes/combo:1")]["reason"] ==
        worker_failed + fleet.image("runtimes/worker:1") + " -> " + fleet.image("runtimes/combo:1"));
  CHECK(tasks[fleet.image("apps/reports:1")]["reason"] == worker_failed + fleet.image("runtimes/worker:1") + " -> " +
                                                              fleet.image("runtimes/combo:1") + " -> " +
                                                              fleet.image("apps/reports:1"));
  for (const char* pushed : {"platform/base:1", "platform/toolbox:1", "runtimes/web:1", "apps/shop:1", "apps/status:1"}) {
    INFO(pushed);
    CHECK(tasks[fleet.image(pushed)]["state"] == "pushed");
  }
  auto text = fleet.cascade("status", {std::to_string(run["id"].get<long long>())});
  CHECK(text.out.find("blocked by " + fleet.image("runtimes/worker:1")) != std::string::npos);
}

TEST_CASE("patch: kill -9 in the middle, then --resume") {
  PatchFleet fleet;
  namespace bp = boost::process::v2;
  boost::asio::io_context io;
  std::vector<std::string> args = {"patch", "-p", fleet.pipeline(), fleet.image("platform/base:1"), "--parallel", "1"};
  bp::process patch(io, test::cascade_binary(), args, bp::process_stdio{nullptr, nullptr, nullptr});

  // Wait until some images are pushed, then kill cascade without warning.
  json before = wait_for_run(fleet, [](const json& summary) { return summary["pushed"].get<int>() >= 3; });
  REQUIRE(before["summary"]["pushed"].get<int>() >= 3);
  ::kill(patch.id(), SIGKILL);
  boost::system::error_code ec;
  patch.wait(ec);
  // A build cascade started may still be running: let it end, as an operator would see it.
  for (int i = 0; i < 300 && !test::processes_mentioning(fleet.dir().str()).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::map<std::string, std::string> pushed_before;
  for (const auto& task : before["tasks"])
    if (task["state"] == "pushed") pushed_before[task["image"]] = task["new_digest"];

  auto resumed = fleet.cascade("patch", {"--resume", "1", "--format", "json"});
  CHECK_MESSAGE(resumed.exit_code == 0, resumed.err);
  json run = run_json(resumed);
  CHECK(run["id"] == 1);
  CHECK(run["state"] == "succeeded");
  auto tasks = test::tasks_by_image(run);
  for (const auto& [image, digest] : pushed_before) {
    INFO(image << " was pushed before the kill");
    CHECK(tasks[image]["state"] == "pushed");
    CHECK(tasks[image]["new_digest"] == digest);
    CHECK(tasks[image]["attempts"] == 1);
    CHECK(test::skopeo_inspect(image)["Digest"] == digest);
  }
  for (const auto& [image, task] : tasks) CHECK(task["state"] != "pending");
  check_labels(fleet, run);
  auto again = fleet.cascade("patch", {"--resume", "1"});
  CHECK(again.exit_code == 2);
  CHECK(again.err.find("already succeeded") != std::string::npos);
}

TEST_CASE("patch: SIGINT starts nothing new, lets the running build finish, records the run interrupted") {
  PatchFleet fleet;
  namespace bp = boost::process::v2;
  boost::asio::io_context io;
  boost::asio::readable_pipe out(io);
  std::vector<std::string> args = {"patch", "-p", fleet.pipeline(), fleet.image("platform/base:1"), "--parallel", "1",
                                   "--format", "json"};
  bp::process patch(io, test::cascade_binary(), args, bp::process_stdio{nullptr, out, nullptr});
  json before = wait_for_run(fleet, [](const json& summary) {
    return summary["building"].get<int>() == 1 && summary["pushed"].get<int>() >= 1;
  });
  REQUIRE(before["summary"]["building"].get<int>() == 1);
  ::kill(patch.id(), SIGINT);
  std::string report;
  boost::system::error_code ec;
  boost::asio::read(out, boost::asio::dynamic_buffer(report), ec);
  int code = patch.wait(ec);
  CHECK(code == 1);
  json run = json::parse(report);
  CHECK(run["state"] == "interrupted");
  // the build running at the signal finished and was pushed; nothing else started
  CHECK(run["summary"]["pushed"].get<int>() == before["summary"]["pushed"].get<int>() + 1);
  CHECK(run["summary"]["pending"].get<int>() == 9 - run["summary"]["pushed"].get<int>());
  auto resumed = fleet.cascade("patch", {fleet.image("platform/base:1"), "--format", "json"});
  CHECK_MESSAGE(resumed.exit_code == 0, resumed.err);
  CHECK(resumed.err.find("finishing run 1") != std::string::npos);
  json finished = run_json(resumed);
  CHECK(finished["id"] == 1);
  CHECK(finished["summary"]["pushed"] == 9);
  check_labels(fleet, finished);
}

TEST_CASE("patch: a push or pull that fails on the network is retried with backoff") {
  int proxy_port = test::free_port();
  PatchFleet fleet({}, "127.0.0.1:" + std::to_string(proxy_port));
  std::string upstream = fleet.registry().host();
  test::FlakyProxy proxy(proxy_port, std::stoi(upstream.substr(upstream.rfind(':') + 1)));
  namespace bp = boost::process::v2;
  boost::asio::io_context io;
  boost::asio::readable_pipe out(io);
  std::vector<std::string> args = {"patch", "-p", fleet.pipeline(), fleet.image("platform/base:1"), "--parallel", "1",
                                   "--format", "json"};
  bp::process patch(io, test::cascade_binary(), args, bp::process_stdio{nullptr, out, nullptr});
  wait_for_run(fleet, [](const json& summary) { return summary["pushed"].get<int>() >= 1; });
  proxy.refuse(true);  // the registry goes away while the next image builds and pushes
  // The registry stays away until a task has failed on it and been put back (a fixed outage
  // can fall between two tasks on a slow machine, where only the client's own retries see it).
  json failing = wait_for_run_record(fleet, has_retry_transition);
  proxy.refuse(false);
  std::string report;
  boost::system::error_code ec;
  boost::asio::read(out, boost::asio::dynamic_buffer(report), ec);
  int exit_code = patch.wait(ec);
  json run = json::parse(report);
  // On failure, say what each task went through (a flaky network test must explain itself).
  std::string story = "summary when the proxy came back: " + failing["summary"].dump() + "\n";
  for (const auto& t : run["transitions"])
    if (!t["image"].is_null()) story += t["at"].get<std::string>() + " " + t["image"].get<std::string>() + " -> " +
                                        t["to"].get<std::string>() + ": " + t["detail"].get<std::string>() + "\n";
  INFO(story);
  CHECK(exit_code == 0);
  CHECK(run["state"] == "succeeded");
  CHECK(run["summary"]["pushed"] == 9);
  CHECK(proxy.refused() > 0);
  bool retried = false;
  for (const auto& task : run["tasks"])
    if (task["attempts"].get<int>() > 1) retried = true;
  CHECK(retried);
  CHECK(has_retry_transition(run));
}

TEST_CASE("patch: bad input and unreachable registries") {
  SUBCASE("an image the fleet does not know is bad input") {
    PatchFleet fleet;
    auto result = fleet.cascade("patch", {"docker.io/library/nope:1"});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find("no image in the fleet matches docker.io/library/nope:1") != std::string::npos);
  }
  SUBCASE("a malformed digest is bad input") {
    PatchFleet fleet;
    auto result = fleet.cascade("patch", {fleet.image("platform/base:1") + "@sha256:1234"});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find("digest") != std::string::npos);
  }
  SUBCASE("a registry nobody answers on fails the operation, naming it") {
    std::string dead = "127.0.0.1:" + std::to_string(test::free_port());
    PatchFleet fleet({}, dead);
    auto result = fleet.cascade("plan", {fleet.image("platform/base:1")});
    CHECK(result.exit_code == 1);
    CHECK(result.err.find(dead) != std::string::npos);
  }
}

TEST_CASE("patch: a registry with Basic auth and credentials from docker's config.json") {
  test::TempDir secrets;
  auto htpasswd = test::run({"htpasswd", "-Bbn", "alice", "wonder-land-42"});
  REQUIRE(htpasswd.exit_code == 0);
  test::write_file(secrets / "htpasswd", htpasswd.out);
  test::RegistryAuth auth;
  auth.htpasswd_file = (secrets / "htpasswd").string();
  PatchFleet fleet(auth);
  auto config_with = [&](const std::string& password) {
    std::string user_password = "alice:" + password;
    auto encoded = test::run({"base64", "-w0"}, [&] { process::Options o; o.input = user_password; return o; }());
    test::write_file(secrets / "docker/config.json",
                     R"({"auths": {")" + fleet.registry().host() + R"(": {"auth": ")" + encoded.out + R"("}}})");
    process::Options options;
    options.env["DOCKER_CONFIG"] = (secrets / "docker").string();
    return options;
  };
  SUBCASE("the right credentials: built and pushed") {
    auto result = fleet.cascade("patch", {fleet.image("platform/base:1"), "--format", "json"}, config_with("wonder-land-42"));
    CHECK_MESSAGE(result.exit_code == 0, result.err);
    CHECK(run_json(result)["summary"]["pushed"] == 9);
  }
  SUBCASE("wrong credentials: a clear error without the password") {
    auto result = fleet.cascade("patch", {fleet.image("platform/base:1")}, config_with("not-the-password"));
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("unauthorized") != std::string::npos);
    CHECK(result.err.find(fleet.registry().host()) != std::string::npos);
    CHECK(result.err.find("not-the-password") == std::string::npos);
  }
}
