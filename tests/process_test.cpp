#include <doctest/doctest.h>

#include "cascade/process.hpp"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

using cascade::process::run;

TEST_CASE("process::run") {
  SUBCASE("captures stdout, stderr and the exit code") {
    auto result = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
    REQUIRE(result);
    CHECK(result->out == "out\n");
    CHECK(result->err == "err\n");
    CHECK(result->exit_code == 3);
  }
  SUBCASE("arguments are passed verbatim, never through a shell") {
    auto result = run({"printf", "%s|", "a b", "$HOME", "*"});
    REQUIRE(result);
    CHECK(result->out == "a b|$HOME|*|");
  }
  SUBCASE("feeds stdin and sets environment") {
    cascade::process::Options options;
    options.input = "hello";
    options.env = {{"CASCADE_X", "42"}, {"CASCADE_Y", "y"}, {"CASCADE_Z", "z z"}, {"HOME", "/nowhere"}};
    auto result = run({"sh", "-c", "cat; printf '%s|' \"$CASCADE_X\" \"$CASCADE_Y\" \"$CASCADE_Z\" \"$HOME\" \"$PATH\""},
                      options);
    REQUIRE(result);
    CHECK(result->out.rfind("hello42|y|z z|/nowhere|", 0) == 0);
    CHECK(result->out.size() > std::string("hello42|y|z z|/nowhere||").size());  // PATH inherited
  }
  SUBCASE("a missing program is an error naming it") {
    auto result = run({"cascade-no-such-program"});
    REQUIRE_FALSE(result);
    CHECK(result.error().find("cascade-no-such-program") != std::string::npos);
  }
  SUBCASE("a timeout kills the child") {
    cascade::process::Options options;
    options.timeout = std::chrono::milliseconds(200);
    auto result = run({"sleep", "10"}, options);
    REQUIRE(result);
    CHECK(result->timed_out);
    CHECK(result->exit_code != 0);
  }
}

namespace {

// True while a process whose command line contains `needle` exists.
bool process_running(const std::string& needle) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline(std::istreambuf_iterator<char>(in), {});
    for (auto& c : cmdline) if (c == '\0') c = ' ';
    if (cmdline.find(needle) != std::string::npos && cmdline.find("process_running") == std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("process::run stops and streams") {
  using namespace std::chrono_literals;
  std::string dir = (std::filesystem::temp_directory_path() / ("cascade-process-" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir);
  SUBCASE("a cancel from another thread stops the child and its children") {
    cascade::CancelSource source;
    cascade::process::Options options;
    options.cancel = source.get_token();
    std::thread canceller([&] {
      std::this_thread::sleep_for(300ms);
      source.request_stop();
    });
    auto start = std::chrono::steady_clock::now();
    auto result = run({"sh", "-c", "sleep 41.5 & sleep 41.6; echo never"}, options);
    canceller.join();
    REQUIRE(result);
    CHECK(result->cancelled);
    CHECK_FALSE(result->timed_out);
    CHECK(result->exit_code == 128 + SIGTERM);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK_FALSE(process_running("sleep 41.5"));  // the grandchild went with the group
    CHECK_FALSE(process_running("sleep 41.6"));
  }
  SUBCASE("a stop requested before the start starts nothing") {
    cascade::CancelSource source;
    source.request_stop();
    cascade::process::Options options;
    options.cancel = source.get_token();
    options.output_file = dir + "/never.log";
    auto result = run({"sh", "-c", "echo started > " + dir + "/started"}, options);
    REQUIRE(result);
    CHECK(result->cancelled);
    CHECK(result->exit_code == -1);
    CHECK_FALSE(std::filesystem::exists(dir + "/started"));
  }
  SUBCASE("a child ignoring SIGTERM is killed after the grace period") {
    cascade::process::Options options;
    options.timeout = 200ms;
    options.kill_grace = 300ms;
    auto start = std::chrono::steady_clock::now();
    auto result = run({"sh", "-c", "trap '' TERM; sleep 41.7; sleep 41.7"}, options);
    REQUIRE(result);
    CHECK(result->timed_out);
    CHECK(result->exit_code == 128 + SIGKILL);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK_FALSE(process_running("sleep 41.7"));
  }
  SUBCASE("output_file receives stdout and stderr in order, appended") {
    cascade::process::Options options;
    options.output_file = dir + "/out.log";
    std::ofstream(options.output_file) << "before\n";
    auto result = run({"sh", "-c", "echo one; echo two >&2; echo three"}, options);
    REQUIRE(result);
    CHECK(result->exit_code == 0);
    CHECK(result->out.empty());
    CHECK(result->err.empty());
    std::ifstream in(options.output_file);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "before\none\ntwo\nthree\n");
  }
  SUBCASE("an output file that cannot be opened is an error naming it") {
    cascade::process::Options options;
    options.output_file = dir + "/missing/folder/out.log";
    auto result = run({"true"}, options);
    REQUIRE_FALSE(result);
    CHECK(result.error().find("missing/folder/out.log") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}
