#include <doctest/doctest.h>

#include "cascade/process.hpp"

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
