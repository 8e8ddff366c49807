// Tests of the daemon's Prometheus metrics: the exact text exposition (counters with labels,
// gauges, cumulative histograms, value formatting, escaping), exact sums under concurrent
// updates, and the output read back by Prometheus' own parser (promtool) when it is installed.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../src/daemon/metrics.hpp"
#include "cascade/process.hpp"

using cascade::daemon::Metrics;

namespace {

/// Runs `promtool check metrics` on `text`: its exit code and output, or nullopt when promtool
/// is not installed (scripts/setup.sh installs it with the `prometheus` package).
std::optional<cascade::process::Result> promtool_check(const std::string& text) {
  if (cascade::process::find_executable("promtool").empty()) return std::nullopt;
  cascade::process::Options options;
  options.input = text;
  options.timeout = std::chrono::seconds(30);
  auto result = cascade::process::run({"promtool", "check", "metrics"}, options);
  REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error()));
  return *result;
}

/// The exposition of families like the daemon's, in miniature, with a few samples each.
std::string sample_exposition() {
  Metrics metrics;
  metrics.counter("cascade_triggers_total", "Triggers received, by sender and outcome.", {"sender", "outcome"});
  metrics.gauge("cascade_queue_depth", "Runs waiting to start.");
  metrics.histogram("cascade_build_seconds", "Build time per image.", {0.0005, 0.25, 1, 10}, {"result"});
  metrics.histogram("cascade_intake_seconds", "Webhook intake.", {1e-5, 0.001});
  metrics.add("cascade_triggers_total", {"generic", "accepted"});
  metrics.add("cascade_triggers_total", {"harbor", "rejected \"bad\\sig\"\n"}, 2);
  metrics.set("cascade_queue_depth", 0.5);
  metrics.observe("cascade_build_seconds", {"ok"}, 3);
  metrics.observe("cascade_intake_seconds", 0.0004);
  return metrics.render();
}

}  // namespace

TEST_CASE("daemon::metrics render") {
  SUBCASE("a counter with labels: one sample per label set, sorted by values, integers plain") {
    Metrics metrics;
    metrics.counter("cascade_triggers_total", "Triggers received.", {"sender", "outcome"});
    metrics.add("cascade_triggers_total", {"harbor", "rejected"});
    metrics.add("cascade_triggers_total", {"generic", "accepted"});
    metrics.add("cascade_triggers_total", {"generic", "accepted"}, 2);
    CHECK(metrics.value("cascade_triggers_total", {"generic", "accepted"}) == 3);
    CHECK(metrics.value("cascade_triggers_total", {"quay", "accepted"}) == 0);
    CHECK(metrics.render() ==
          "# HELP cascade_triggers_total Triggers received.\n"
          "# TYPE cascade_triggers_total counter\n"
          "cascade_triggers_total{sender=\"generic\",outcome=\"accepted\"} 3\n"
          "cascade_triggers_total{sender=\"harbor\",outcome=\"rejected\"} 1\n");
  }

  SUBCASE("a counter without labels is exposed as 0 before its first increment") {
    Metrics metrics;
    metrics.counter("cascade_runs_total", "Runs started.");
    CHECK(metrics.render() ==
          "# HELP cascade_runs_total Runs started.\n"
          "# TYPE cascade_runs_total counter\n"
          "cascade_runs_total 0\n");
    metrics.add("cascade_runs_total");
    metrics.add("cascade_runs_total", {}, 0.5);
    CHECK(metrics.render().ends_with("\ncascade_runs_total 1.5\n"));
  }

  SUBCASE("a gauge: the last value set, in the shortest exact form") {
    Metrics metrics;
    metrics.gauge("cascade_queue_depth", "Runs waiting.");
    metrics.gauge("cascade_up", "Targets up.", {"target"});
    const std::vector<std::pair<double, std::string>> cases = {
        {7, "7"},            {0.25, "0.25"},     {-2, "-2"},       {1e6, "1000000"},
        {0.1, "0.1"},        {0.0005, "0.0005"}, {-0.0, "0"},      {2.5e-5, "2.5e-05"},
        {1.5e-7, "1.5e-07"}, {1e300, "1e+300"},  {1e16, "1e+16"},  {9007199254740991.0, "9007199254740991"},
        {HUGE_VAL, "+Inf"},  {-HUGE_VAL, "-Inf"}, {NAN, "NaN"},   {123456.789, "123456.789"},
    };
    for (const auto& [value, text] : cases) {
      CAPTURE(text);
      metrics.set("cascade_queue_depth", value);
      CHECK(metrics.render().find("\ncascade_queue_depth " + text + "\n") != std::string::npos);
    }
    metrics.set("cascade_queue_depth", 4);
    metrics.set("cascade_up", {"prod"}, 1);
    metrics.add("cascade_up", {"prod"}, -1);  // a gauge may go down
    metrics.add("cascade_up", {"staging"}, 2);
    CHECK(metrics.value("cascade_queue_depth") == 4);
    CHECK(metrics.render() ==
          "# HELP cascade_queue_depth Runs waiting.\n"
          "# TYPE cascade_queue_depth gauge\n"
          "cascade_queue_depth 4\n"
          "# HELP cascade_up Targets up.\n"
          "# TYPE cascade_up gauge\n"
          "cascade_up{target=\"prod\"} 0\n"
          "cascade_up{target=\"staging\"} 2\n");
  }

  SUBCASE("a histogram: cumulative buckets (upper bounds inclusive), +Inf, _sum and _count") {
    Metrics metrics;
    metrics.histogram("cascade_build_seconds", "Build time per image.", {0.25, 1, 10}, {"result"});
    metrics.histogram("cascade_scrape_seconds", "Scrapes.", {0.5});
    for (double seconds : {0.0625, 0.25, 0.5, 2.0, 64.0}) metrics.observe("cascade_build_seconds", {"ok"}, seconds);
    metrics.observe("cascade_build_seconds", {"failed"}, 1);
    CHECK(metrics.value("cascade_build_seconds", {"ok"}) == 5);
    CHECK(metrics.render() ==
          "# HELP cascade_build_seconds Build time per image.\n"
          "# TYPE cascade_build_seconds histogram\n"
          "cascade_build_seconds_bucket{result=\"failed\",le=\"0.25\"} 0\n"
          "cascade_build_seconds_bucket{result=\"failed\",le=\"1\"} 1\n"
          "cascade_build_seconds_bucket{result=\"failed\",le=\"10\"} 1\n"
          "cascade_build_seconds_bucket{result=\"failed\",le=\"+Inf\"} 1\n"
          "cascade_build_seconds_sum{result=\"failed\"} 1\n"
          "cascade_build_seconds_count{result=\"failed\"} 1\n"
          "cascade_build_seconds_bucket{result=\"ok\",le=\"0.25\"} 2\n"
          "cascade_build_seconds_bucket{result=\"ok\",le=\"1\"} 3\n"
          "cascade_build_seconds_bucket{result=\"ok\",le=\"10\"} 4\n"
          "cascade_build_seconds_bucket{result=\"ok\",le=\"+Inf\"} 5\n"
          "cascade_build_seconds_sum{result=\"ok\"} 66.8125\n"
          "cascade_build_seconds_count{result=\"ok\"} 5\n"
          "# HELP cascade_scrape_seconds Scrapes.\n"
          "# TYPE cascade_scrape_seconds histogram\n"
          "cascade_scrape_seconds_bucket{le=\"0.5\"} 0\n"
          "cascade_scrape_seconds_bucket{le=\"+Inf\"} 0\n"
          "cascade_scrape_seconds_sum 0\n"
          "cascade_scrape_seconds_count 0\n");
  }

  SUBCASE("escaping: backslash and newline in help; backslash, quote and newline in label values") {
    Metrics metrics;
    metrics.counter("cascade_errors_total", "Errors \"quoted\" in C:\\path\nsecond line.", {"detail"});
    metrics.add("cascade_errors_total", {"say \"hi\"\\n\nend"});
    CHECK(metrics.render() ==
          "# HELP cascade_errors_total Errors \"quoted\" in C:\\\\path\\nsecond line.\n"
          "# TYPE cascade_errors_total counter\n"
          "cascade_errors_total{detail=\"say \\\"hi\\\"\\\\n\\nend\"} 1\n");
  }

  SUBCASE("families render in declaration order, not by name") {
    Metrics metrics;
    metrics.gauge("zeta", "z");
    metrics.gauge("alpha", "a");
    std::string text = metrics.render();
    CHECK(text.find("# HELP zeta") < text.find("# HELP alpha"));
  }

#ifdef NDEBUG
  SUBCASE("misuse is ignored in release builds") {
    Metrics metrics;
    metrics.counter("cascade_runs_total", "Runs.", {"state"});
    metrics.counter("cascade_runs_total", "Declared twice.");           // duplicate: first one kept
    metrics.gauge("bad name", "Invalid.");                              // invalid name: not declared
    metrics.add("cascade_runs_total", {"ok", "extra"});                  // wrong label count
    metrics.add("cascade_runs_total", {"ok"}, -1);                      // a counter never decreases
    metrics.set("cascade_runs_total", {"ok"}, 5);                       // set is for gauges
    metrics.add("cascade_unknown_total");                               // unknown family
    CHECK(metrics.render() ==
          "# HELP cascade_runs_total Runs.\n"
          "# TYPE cascade_runs_total counter\n");
  }
#endif
}

TEST_CASE("daemon::metrics concurrent updates sum exactly") {
  Metrics metrics;
  metrics.counter("cascade_triggers_total", "Triggers.", {"sender"});
  metrics.histogram("cascade_build_seconds", "Builds.", {1, 2});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50000;
  std::atomic<bool> done{false};
  // A scraper renders the whole time: rendering must not race with updates.
  int scrapes = 0;
  bool scrapes_whole = true;
  std::thread scraper([&] {
    for (; !done; ++scrapes) scrapes_whole &= metrics.render().find("\ncascade_build_seconds_count ") != std::string::npos;
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      std::string own = "thread" + std::to_string(t);  // a label set created while others update
      for (int i = 0; i < kPerThread; ++i) {
        metrics.add("cascade_triggers_total", {"shared"});
        metrics.add("cascade_triggers_total", {own});
        metrics.observe("cascade_build_seconds", i % 2 ? 1.5 : 0.5);
      }
    });
  }
  for (auto& worker : workers) worker.join();
  done = true;
  scraper.join();
  CHECK(scrapes > 0);
  CHECK(scrapes_whole);

  CHECK(metrics.value("cascade_triggers_total", {"shared"}) == kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    CHECK(metrics.value("cascade_triggers_total", {"thread" + std::to_string(t)}) == kPerThread);
  }
  std::string text = metrics.render();
  CHECK(text.find("cascade_triggers_total{sender=\"shared\"} 200000\n") != std::string::npos);
  CHECK(text.find("cascade_build_seconds_bucket{le=\"1\"} 100000\n") != std::string::npos);
  CHECK(text.find("cascade_build_seconds_bucket{le=\"+Inf\"} 200000\n") != std::string::npos);
  CHECK(text.find("cascade_build_seconds_sum 200000\n") != std::string::npos);
  CHECK(text.find("cascade_build_seconds_count 200000\n") != std::string::npos);
}

TEST_CASE("daemon::metrics output passes promtool check metrics") {
  auto checked = promtool_check(sample_exposition());
  if (!checked) {
    MESSAGE("promtool not found (Debian package prometheus): skipped");
    return;
  }
  CAPTURE(checked->out);
  CAPTURE(checked->err);
  CHECK(checked->exit_code == 0);

  // The check is real: promtool rejects an unterminated label value.
  auto broken = promtool_check("cascade_x{a=\"b} 1\n");
  REQUIRE(broken);
  CHECK(broken->exit_code != 0);
}
