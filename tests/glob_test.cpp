#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "cascade/pipeline.hpp"

using cascade::pipeline::expand_template;
using cascade::pipeline::glob_match;
using cascade::pipeline::validate_glob;

namespace {

/// The reason and offset validate_glob gives, or ("", 0) when the glob is valid.
std::pair<std::string, std::size_t> glob_problem(std::string_view glob) {
  auto valid = validate_glob(glob);
  if (valid) return {"", 0};
  return valid.error();
}

}  // namespace

TEST_CASE("pipeline::glob_match") {
  SUBCASE("literal paths match only themselves") {
    CHECK(glob_match("Dockerfile", "Dockerfile"));
    CHECK(glob_match("a/b/Dockerfile", "a/b/Dockerfile"));
    CHECK_FALSE(glob_match("Dockerfile", "dockerfile"));
    CHECK_FALSE(glob_match("a/Dockerfile", "a/Dockerfile.dev"));
    CHECK_FALSE(glob_match("a/Dockerfile", "Dockerfile"));
    CHECK_FALSE(glob_match("Dockerfile", "a/Dockerfile"));
  }
  SUBCASE("'*' matches within one segment") {
    CHECK(glob_match("services/*/Dockerfile", "services/api/Dockerfile"));
    CHECK(glob_match("services/*/Dockerfile", "services/.hidden/Dockerfile"));
    CHECK_FALSE(glob_match("services/*/Dockerfile", "services/api/v2/Dockerfile"));
    CHECK_FALSE(glob_match("services/*/Dockerfile", "services/Dockerfile"));
    CHECK(glob_match("*.Dockerfile", "api.Dockerfile"));
    CHECK(glob_match("*.Dockerfile", ".Dockerfile"));
    CHECK_FALSE(glob_match("*.Dockerfile", "docker/api.Dockerfile"));
    CHECK(glob_match("Dockerfile*", "Dockerfile"));
    CHECK(glob_match("Dockerfile*", "Dockerfile.dev"));
    CHECK(glob_match("a*b*c", "abc"));
    CHECK(glob_match("a*b*c", "aXbYbZc"));
    CHECK_FALSE(glob_match("a*b*c", "aXbYcZ"));
    CHECK(glob_match("*", "file"));
    CHECK_FALSE(glob_match("*", "dir/file"));
  }
  SUBCASE("'?' matches one character, never '/'") {
    CHECK(glob_match("app?/Dockerfile", "app1/Dockerfile"));
    CHECK_FALSE(glob_match("app?/Dockerfile", "app/Dockerfile"));
    CHECK_FALSE(glob_match("app?/Dockerfile", "app12/Dockerfile"));
    CHECK_FALSE(glob_match("a?b", "a/b"));
  }
  SUBCASE("'**' spans zero or more segments") {
    CHECK(glob_match("**/Dockerfile", "Dockerfile"));
    CHECK(glob_match("**/Dockerfile", "a/Dockerfile"));
    CHECK(glob_match("**/Dockerfile", "a/b/c/Dockerfile"));
    CHECK_FALSE(glob_match("**/Dockerfile", "a/b/Dockerfile.dev"));
    CHECK(glob_match("services/**/Dockerfile", "services/Dockerfile"));
    CHECK(glob_match("services/**/Dockerfile", "services/a/b/Dockerfile"));
    CHECK_FALSE(glob_match("services/**/Dockerfile", "other/a/Dockerfile"));
    CHECK(glob_match("a/**", "a/b"));
    CHECK(glob_match("a/**", "a/b/c"));
    CHECK(glob_match("**", "x/y/z"));
    CHECK(glob_match("**/*/Dockerfile", "a/b/Dockerfile"));
    CHECK_FALSE(glob_match("**/*/Dockerfile", "Dockerfile"));
    CHECK(glob_match("a/**/b/**/c", "a/x/b/y/z/c"));
    CHECK(glob_match("a/**/b/**/c", "a/b/c"));
    CHECK_FALSE(glob_match("a/**/b/**/c", "a/x/c"));
    CHECK(glob_match("**/docker/*.Dockerfile", "x/docker/y/docker/api.Dockerfile"));
  }
  SUBCASE("'**' inside a segment acts like '*'") {
    CHECK(glob_match("a**b", "aXXb"));
    CHECK_FALSE(glob_match("a**b", "a/b"));
  }
  SUBCASE("sets: [abc], [a-z], [!x], ']' first is a member") {
    CHECK(glob_match("app[12]/Dockerfile", "app1/Dockerfile"));
    CHECK_FALSE(glob_match("app[12]/Dockerfile", "app3/Dockerfile"));
    CHECK(glob_match("[a-c]x", "bx"));
    CHECK_FALSE(glob_match("[a-c]x", "dx"));
    CHECK(glob_match("[!a]x", "bx"));
    CHECK_FALSE(glob_match("[!a]x", "ax"));
    CHECK(glob_match("[!a-c]x", "dx"));
    CHECK_FALSE(glob_match("[!a-c]x", "bx"));
    CHECK(glob_match("[]a]", "]"));
    CHECK(glob_match("[a-]", "-"));
    CHECK(glob_match("v[0-9][0-9]/*", "v12/Dockerfile"));
    CHECK(glob_match("*[0-9]", "app7"));
    CHECK_FALSE(glob_match("*[0-9]", "app"));
  }
  SUBCASE("no regex meaning for other characters") {
    CHECK(glob_match("a.b", "a.b"));
    CHECK_FALSE(glob_match("a.b", "axb"));
    CHECK(glob_match("a+(b)", "a+(b)"));
    CHECK(glob_match("^$", "^$"));
  }
  SUBCASE("is fast on many paths and on pathological patterns") {
    std::vector<std::string> paths;
    for (int i = 0; i < 200000; ++i)
      paths.push_back("services/team" + std::to_string(i % 97) + "/app" + std::to_string(i) + "/docker/Dockerfile");
    auto start = std::chrono::steady_clock::now();
    std::size_t matched = 0;
    for (const auto& path : paths) matched += glob_match("services/**/app1*/**/Dockerfile", path) ? 1 : 0;
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(matched == 111111);  // app1, app10..app19, app100..app199, ... app100000..app199999
    CHECK(elapsed < std::chrono::seconds(1));
    std::string long_name(5000, 'a');
    start = std::chrono::steady_clock::now();
    CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", long_name));
    CHECK_FALSE(glob_match("**/**/**/**/**/**/b", "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/c"));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  }
}

TEST_CASE("pipeline::validate_glob") {
  SUBCASE("accepts the documented forms") {
    for (const char* glob : {"Dockerfile", "services/*/Dockerfile", "**/Dockerfile", "app[0-9]/Dockerfile",
                             "[!.]*/Dockerfile", "docker/*.Dockerfile", "a/**", "[]x]"})
      CHECK_MESSAGE(glob_problem(glob).first.empty(), glob);
  }
  SUBCASE("empty pattern") {
    auto [reason, offset] = glob_problem("");
    CHECK(reason.find("empty pattern") != std::string::npos);
    CHECK(offset == 0);
  }
  SUBCASE("absolute pattern") {
    auto [reason, offset] = glob_problem("/services/*/Dockerfile");
    CHECK(reason.find("absolute") != std::string::npos);
    CHECK(reason.find("remove the leading '/'") != std::string::npos);
    CHECK(offset == 0);
  }
  SUBCASE("'..' segment") {
    auto [reason, offset] = glob_problem("services/../Dockerfile");
    CHECK(reason.find("'..'") != std::string::npos);
    CHECK(offset == 9);
    CHECK(glob_problem("..").second == 0);
    CHECK(glob_problem("a..b/Dockerfile").first.empty());
  }
  SUBCASE("'.' segment and empty segments") {
    CHECK(glob_problem("./Dockerfile").first.find("'.'") != std::string::npos);
    auto [reason, offset] = glob_problem("a//Dockerfile");
    CHECK(reason.find("empty path segment") != std::string::npos);
    CHECK(offset == 2);
    CHECK(glob_problem("services/").second == 9);
  }
  SUBCASE("unclosed '['") {
    auto [reason, offset] = glob_problem("app[12/Dockerfile");
    CHECK(reason.find("unclosed '['") != std::string::npos);
    CHECK(offset == 3);
    CHECK(glob_problem("a[]").second == 1);
    CHECK(glob_problem("a[/]b").first.find("unclosed") != std::string::npos);
  }
  SUBCASE("reversed range") {
    auto [reason, offset] = glob_problem("app[z-a]");
    CHECK(reason.find("empty range 'z-a'") != std::string::npos);
    CHECK(offset == 4);
  }
}

TEST_CASE("pipeline::expand_template") {
  SUBCASE("each placeholder") {
    CHECK(*expand_template("{dir}", "services/api/Dockerfile", "apps") == "api");
    CHECK(*expand_template("{path}", "services/api/Dockerfile", "apps") == "services/api");
    CHECK(*expand_template("{file}", "services/api/Dockerfile", "apps") == "Dockerfile");
    CHECK(*expand_template("{source}", "services/api/Dockerfile", "apps") == "apps");
  }
  SUBCASE("mixed with literal text, several times") {
    CHECK(*expand_template("registry.example.com/{source}/{dir}:latest", "services/api/Dockerfile", "apps") ==
          "registry.example.com/apps/api:latest");
    CHECK(*expand_template("r.io/{dir}-{dir}", "x/y/Dockerfile", "s") == "r.io/y-y");
    CHECK(*expand_template("plain", "x/Dockerfile", "s") == "plain");
    CHECK(expand_template("", "x/Dockerfile", "s")->empty());
  }
  SUBCASE("a Dockerfile at the repository root") {
    CHECK(*expand_template("{dir}", "Dockerfile", "s") == ".");
    CHECK(*expand_template("{path}", "Dockerfile", "s") == ".");
    CHECK(*expand_template("{file}", "Dockerfile", "s") == "Dockerfile");
  }
  SUBCASE("unknown placeholder") {
    auto result = expand_template("r.io/{foo}", "x/Dockerfile", "s");
    REQUIRE_FALSE(result);
    CHECK(result.error() == "unknown placeholder '{foo}': use {dir}, {path}, {source} or {file}");
    CHECK_FALSE(expand_template("{}", "x/Dockerfile", "s"));
    CHECK_FALSE(expand_template("{DIR}", "x/Dockerfile", "s"));
  }
  SUBCASE("unclosed '{' and stray '}'") {
    auto unclosed = expand_template("r.io/{dir", "x/Dockerfile", "s");
    REQUIRE_FALSE(unclosed);
    CHECK(unclosed.error() == "unclosed '{' at character 6: close the placeholder with '}'");
    auto nested = expand_template("r.io/{d{ir}", "x/Dockerfile", "s");
    REQUIRE_FALSE(nested);
    CHECK(nested.error().find("unclosed '{' at character 6") == 0);
    auto stray = expand_template("r.io/dir}", "x/Dockerfile", "s");
    REQUIRE_FALSE(stray);
    CHECK(stray.error() == "unmatched '}' at character 9: remove it");
  }
}
