// The schedule, on the real binary with a real registry and buildah: a `refresh` missed while
// the daemon was down runs once at start, resolves the external base in the registry and
// cascades only when its digest changed; a `rebuild` rebuilds even when nothing changed;
// `cascade status` shows the next times.
#include <doctest/doctest.h>

#include "cascade/store.hpp"
#include "flaky_proxy.hpp"
#include "hanging_peer.hpp"
#include "serve_fixture.hpp"

using nlohmann::json;
using namespace cascade;

namespace {

// A fleet of one image built on an external base ("upstream") that another team publishes.
struct UpstreamFleet {
  test::TempDir dir;
  test::DockerRegistry registry;
  test::BuildahSandbox sandbox;
  int port = test::free_port();
  std::string upstream = registry.host() + "/upstream/busybox:1";
  std::string app = registry.host() + "/team/app:1";
  std::string pipeline = (dir / "pipeline.yaml").string();

  UpstreamFleet() {
    test::make_repo(dir / "app", {{"Dockerfile", "FROM " + upstream + "\nRUN echo app > /app\n"}});
    write_pipeline("0 3 * * *");
  }
  // A missed time fires once: each round that pretends the daemon was down uses another time.
  void write_pipeline(const std::string& nightly) {
    test::write_file(pipeline, "version: 1\nregistries:\n  - host: " + registry.host() +
                                   "\n    insecure: true\nsources:\n  - name: app\n    git: app\n    ref: main\n"
                                   "    images:\n      - image: " + app + "\n        dockerfile: Dockerfile\n"
                                   "triggers:\n  listen: 127.0.0.1:" + std::to_string(port) +
                                   "\n  debounce: 0s\n  schedule:\n"
                                   "    - name: nightly\n      cron: \"" + nightly + "\"\n      timezone: Europe/Berlin\n"
                                   "      action: refresh\n"
                                   "    - name: weekly\n      cron: \"30 4 * * sun\"\n      action: rebuild\n");
  }
  std::string publish(const std::string& marker) {
    return test::buildah_push(sandbox, upstream, test::busybox_dockerfile("RUN echo " + marker + " > /etc/marker\n"),
                              "upstream-" + marker);
  }
  // As if the daemon had been down since 2020: every entry missed its last time.
  void pretend_down_since_2020(const std::vector<std::string>& entries) {
    auto store = store::open_sqlite((dir / ".cascade/state.db").string());
    REQUIRE(store);
    for (const auto& name : entries) REQUIRE((*store)->put_setting("schedule." + name + ".last", "2020-01-01T00:00:00Z"));
  }
  std::vector<json> runs(test::ServeProcess& serve) {
    std::vector<json> out;
    json answer = serve.json("/api/runs");  // kept: a range-for over a temporary's member dangles
    for (const auto& run : answer["runs"]) out.push_back(run);
    return out;
  }
};

bool finished(const json& run) { return run["state"] == "succeeded" || run["state"] == "failed"; }

// A fleet of one image whose registry (127.0.0.1:`port`, for both the external base and the
// image) the test puts there: a peer that never answers, or a proxy to a real registry. Its
// nightly refresh was missed (the daemon "down since 2020"), so it fires at the next start.
struct StalledRegistryFleet {
  test::TempDir dir;
  int port = test::free_port();
  int serve_port = test::free_port();
  std::string host = "127.0.0.1:" + std::to_string(port);
  std::string upstream = host + "/upstream/busybox:1";
  std::string pipeline = (dir / "pipeline.yaml").string();

  StalledRegistryFleet() {
    test::make_repo(dir / "app", {{"Dockerfile", "FROM " + upstream + "\nRUN echo app > /app\n"}});
    test::write_file(pipeline, "version: 1\nregistries:\n  - host: " + host +
                                   "\n    insecure: true\nsources:\n  - name: app\n    git: app\n    ref: main\n"
                                   "    images:\n      - image: " + host + "/team/app:1\n        dockerfile: Dockerfile\n"
                                   "triggers:\n  listen: 127.0.0.1:" + std::to_string(serve_port) +
                                   "\n  debounce: 0s\n  schedule:\n"
                                   "    - name: nightly\n      cron: \"0 3 * * *\"\n      action: refresh\n");
    auto store = store::open_sqlite((dir / ".cascade/state.db").string());
    REQUIRE(store);
    REQUIRE((*store)->put_setting("schedule.nightly.last", "2020-01-01T00:00:00Z"));
  }
  std::vector<store::Event> firings() {
    auto store = store::open_sqlite((dir / ".cascade/state.db").string());
    REQUIRE(store);
    auto events = (*store)->recent_events(100);
    REQUIRE(events);
    std::vector<store::Event> out;
    for (const auto& event : *events)
      if (event.sender == "schedule:nightly") out.push_back(event);
    return out;
  }
};

// Waits (generously) until the peer took a connection: the firing's lookup is under way.
void wait_for_lookup(const test::HangingPeer& peer, test::ServeProcess& serve) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (peer.accepted() == 0) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < until, serve.log());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t found = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++found;
  return found;
}

}  // namespace

TEST_CASE("a missed nightly refresh runs at start and cascades the changed external base, once") {
  UpstreamFleet fleet;
  std::string first = fleet.publish("one");

  // First start ever: nothing was missed, so nothing runs; the next times are known.
  {
    test::ServeProcess serve(fleet.pipeline, fleet.port, {});
    json schedule = serve.json("/api/schedule")["schedule"];
    REQUIRE(schedule.size() == 2);
    CHECK(schedule[0]["name"] == "nightly");
    CHECK(schedule[0]["next"].get<std::string>().find("T03:00:00+01:00") != std::string::npos);  // CET in winter
    CHECK(schedule[1]["next"].get<std::string>().find("T04:30:00") != std::string::npos);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    CHECK(fleet.runs(serve).empty());
    CHECK(serve.stop() == 0);
  }

  fleet.pretend_down_since_2020({"nightly"});
  long long first_run = 0;
  {
    test::ServeProcess serve(fleet.pipeline, fleet.port, {});
    json runs = serve.wait_for("/api/runs", [](const json& answer) {
      return answer["runs"].size() == 1 && finished(answer["runs"][0]);
    });
    json run = runs["runs"][0];
    CHECK_MESSAGE(run["state"] == "succeeded", serve.log());
    CHECK(run["trigger"]["kind"] == "schedule");
    CHECK(run["trigger"]["actor"] == "schedule:nightly");
    CHECK(run["trigger"]["digest"] == first);
    first_run = run["id"];
    CHECK(test::skopeo_inspect(fleet.app)["Labels"]["org.opencontainers.image.base.digest"] == first);
    CHECK(serve.stop() == 0);
  }

  // Upstream publishes a fix while the daemon is down; the missed refresh finds it.
  std::string second = fleet.publish("two");
  REQUIRE(second != first);
  fleet.write_pipeline("0 2 * * *");
  fleet.pretend_down_since_2020({"nightly"});
  {
    test::ServeProcess serve(fleet.pipeline, fleet.port, {});
    json runs = serve.wait_for("/api/runs", [](const json& answer) {
      return answer["runs"].size() == 2 && finished(answer["runs"][0]);
    });
    CHECK(runs["runs"][0]["trigger"]["digest"] == second);
    CHECK(runs["runs"][1]["id"] == first_run);
    CHECK(test::skopeo_inspect(fleet.app)["Labels"]["org.opencontainers.image.base.digest"] == second);
    CHECK(serve.stop() == 0);
  }

  // Nothing changed upstream: the refresh runs and starts nothing.
  fleet.write_pipeline("0 1 * * *");
  fleet.pretend_down_since_2020({"nightly"});
  {
    test::ServeProcess serve(fleet.pipeline, fleet.port, {});
    serve.wait_for("/api/events", [](const json& answer) {
      for (const auto& event : answer["events"])
        if (event["sender"] == "schedule:nightly" && event["outcome"].is_string()) return true;
      return false;
    });
    std::this_thread::sleep_for(std::chrono::seconds(2));
    CHECK(fleet.runs(serve).size() == 2);
    CHECK(serve.stop() == 0);
  }

  // A missed rebuild rebuilds even though nothing changed (picks up package updates).
  std::string before = test::skopeo_inspect(fleet.app)["Digest"];
  fleet.pretend_down_since_2020({"weekly"});
  {
    test::ServeProcess serve(fleet.pipeline, fleet.port, {});
    json runs = serve.wait_for("/api/runs", [](const json& answer) {
      return answer["runs"].size() == 3 && finished(answer["runs"][0]);
    });
    CHECK(runs["runs"][0]["trigger"]["actor"] == "schedule:weekly");
    CHECK(runs["runs"][0]["summary"]["pushed"] == 1);
    CHECK(test::skopeo_inspect(fleet.app)["Digest"] != before);
    CHECK(serve.stop() == 0);
  }

  auto status = test::cascade({"status", "-p", fleet.pipeline});
  CHECK_MESSAGE(status.exit_code == 0, status.err);
  CHECK(status.out.find("nightly  refresh") != std::string::npos);
  CHECK(status.out.find("next ") != std::string::npos);
}

TEST_CASE("a firing killed (SIGKILL) before its work was done is replayed at the next start, exactly once") {
  StalledRegistryFleet fleet;
  {
    auto peer = std::make_unique<test::HangingPeer>(fleet.port);
    test::ServeProcess serve(fleet.pipeline, fleet.serve_port, {});
    wait_for_lookup(*peer, serve);  // the missed refresh fired, is recorded, and waits on the registry
    auto firings = fleet.firings();
    REQUIRE(firings.size() == 1);
    CHECK_FALSE(firings[0].outcome);  // not settled before its work is done
    serve.kill();
  }

  // The registry answers now; the base was published meanwhile.
  test::DockerRegistry registry;
  test::FlakyProxy proxy(fleet.port, std::stoi(registry.host().substr(registry.host().rfind(':') + 1)));
  test::BuildahSandbox sandbox;
  std::string digest = test::buildah_push(sandbox, fleet.upstream, test::busybox_dockerfile("RUN echo one > /m\n"), "up");
  {
    test::ServeProcess serve(fleet.pipeline, fleet.serve_port, {});
    json runs = serve.wait_for("/api/runs", [](const json& answer) {
      return answer["runs"].size() == 1 && finished(answer["runs"][0]);
    }, std::chrono::seconds(240));
    json run = runs["runs"][0];
    CHECK_MESSAGE(run["state"] == "succeeded", serve.log());
    CHECK(run["trigger"]["actor"] == "schedule:nightly");
    CHECK(run["trigger"]["digest"] == digest);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    CHECK(serve.json("/api/runs")["runs"].size() == 1);
    CHECK(count(serve.log(), "replaying a firing") == 1);
    CHECK(serve.stop() == 0);
  }
  auto firings = fleet.firings();
  REQUIRE(firings.size() == 1);  // one firing, replayed; never recorded twice
  CHECK((firings[0].run || firings[0].outcome));

  // Settled: a later start replays nothing.
  {
    test::ServeProcess serve(fleet.pipeline, fleet.serve_port, {});
    std::this_thread::sleep_for(std::chrono::seconds(2));
    CHECK(serve.json("/api/runs")["runs"].size() == 1);
    CHECK(count(serve.log(), "replaying a firing") == 0);
    CHECK(serve.stop() == 0);
  }
}

TEST_CASE("SIGTERM while a registry accepts and never answers: the daemon exits within its grace, the firing stays pending") {
  StalledRegistryFleet fleet;
  test::HangingPeer peer(fleet.port);
  test::ServeProcess serve(fleet.pipeline, fleet.serve_port, {});
  wait_for_lookup(peer, serve);
  auto started = std::chrono::steady_clock::now();
  int exit_code = serve.stop();
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK_MESSAGE(exit_code == 0, serve.log());
  CHECK_MESSAGE(took < 20, serve.log());  // the grace is 10 s; without it: 4 tries x 60 s
  CHECK(serve.log().find("stop grace over") != std::string::npos);
  // Interrupted, not failed: the firing is left for the next start.
  auto firings = fleet.firings();
  REQUIRE(firings.size() == 1);
  CHECK_FALSE(firings[0].outcome);
  CHECK_FALSE(firings[0].run);
}

TEST_CASE("SIGTERM while a git server accepts and never answers (no libgit2 timeout): the watchdog ends the daemon") {
  // libgit2 1.5 waits on a silent server with no timeout and no callback, so the first clone
  // cannot be cancelled; the stop's last resort exits once grace + cancel grace (10 s + 10 s)
  // are over.
  test::TempDir dir;
  test::HangingPeer git_server;
  int serve_port = test::free_port();
  std::string pipeline = (dir / "pipeline.yaml").string();
  test::write_file(pipeline, "version: 1\nsources:\n  - name: app\n    git: http://" + git_server.host() +
                                 "/app.git\n    ref: main\n    images:\n      - image: 127.0.0.1:1/team/app:1\n"
                                 "        dockerfile: Dockerfile\ntriggers:\n  listen: 127.0.0.1:" +
                                 std::to_string(serve_port) + "\n");
  std::string log_path = (dir / "serve.log").string();
  std::FILE* log_file = std::fopen(log_path.c_str(), "w");
  REQUIRE(log_file);
  boost::asio::io_context io;
  namespace bp = boost::process::v2;
  bp::process child(io, test::cascade_binary(), {"serve", "-p", pipeline}, bp::process_stdio{nullptr, log_file, log_file});
  std::fclose(log_file);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (git_server.accepted() == 0) {  // the first clone is under way, waiting on the server
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < until, test::read_file(log_path));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto signalled = std::chrono::steady_clock::now();
  ::kill(child.id(), SIGTERM);
  boost::system::error_code ec;
  bool alive = true;
  for (int i = 0; i < 900 && (alive = child.running(ec)) && !ec; ++i)  // at most 90 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  if (alive && !ec) {
    child.terminate(ec);
    child.wait(ec);
  }
  std::string log = test::read_file(log_path);
  REQUIRE_MESSAGE(!alive, "still running 90 s after SIGTERM: " << log);
  CHECK(child.exit_code() == 0);
  CHECK_MESSAGE(took < 40, log);  // 20 s of grace, with room for a loaded machine
  CHECK_MESSAGE(log.find("exiting now, the run stays resumable") != std::string::npos, log);
}
