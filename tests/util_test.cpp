// Tests of the util module: text (lowercase, percent-encoding), time stamps, edit distance,
// git locations, DOT output and the error-propagation macros of expected.hpp.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "cascade/util/dot.hpp"
#include "cascade/util/edit_distance.hpp"
#include "cascade/util/expected.hpp"
#include "cascade/util/git_location.hpp"
#include "cascade/util/text.hpp"
#include "cascade/util/time.hpp"

namespace util = cascade::util;
namespace dot = cascade::util::dot;
using namespace std::chrono_literals;

TEST_CASE("lowercase, uppercase and iequals: ASCII letters only, byte by byte") {
  CHECK(util::lowercase("") == "");
  CHECK(util::lowercase("Bearer ABC-xyz_09") == "bearer abc-xyz_09");
  CHECK(util::lowercase("@[`{") == "@[`{");  // the neighbours of 'A'..'Z' and 'a'..'z'
  CHECK(util::lowercase("\xC3\x89t\xC3\xA9") == "\xC3\x89t\xC3\xA9");  // UTF-8 bytes unchanged
  CHECK(util::lowercase(std::string("A\0B", 3)) == std::string("a\0b", 3));
  CHECK(util::uppercase("ld_preload-x.9 \xC3\xA9") == "LD_PRELOAD-X.9 \xC3\xA9");
  CHECK(util::uppercase("@[`{") == "@[`{");
  CHECK(util::iequals("Content-Length", "content-LENGTH"));
  CHECK(util::iequals("", ""));
  CHECK_FALSE(util::iequals("abc", "abcd"));
  CHECK_FALSE(util::iequals("[", "{"));  // 0x5B and 0x7B differ by 0x20 but are not letters
  CHECK_FALSE(util::iequals("\xC3\x89", "\xC3\xA9"));
}

TEST_CASE("percent_encode keeps RFC 3986's unreserved set and escapes every other byte") {
  CHECK(util::percent_encode("") == "");
  CHECK(util::percent_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(util::percent_encode("app=web,tier in (a b)") == "app%3Dweb%2Ctier%20in%20%28a%20b%29");
  CHECK(util::percent_encode("repository:org/app:pull,push") == "repository%3Aorg%2Fapp%3Apull%2Cpush");
  CHECK(util::percent_encode("%+&?#[]@!$'*;") == "%25%2B%26%3F%23%5B%5D%40%21%24%27%2A%3B");
  CHECK(util::percent_encode("\xC3\xA9") == "%C3%A9");  // bytes, uppercase hex
  CHECK(util::percent_encode(std::string("\0\x7F\xFF", 3)) == "%00%7F%FF");
}

TEST_CASE("ISO 8601 UTC time stamps") {
  const std::chrono::sys_seconds at{1795843356s};  // 2026-11-28T05:22:36Z
  CHECK(util::iso_utc(at) == "2026-11-28T05:22:36Z");
  CHECK(util::iso_utc_ms(at + 123ms) == "2026-11-28T05:22:36.123Z");
  CHECK(util::iso_utc_ms(at) == "2026-11-28T05:22:36.000Z");
  CHECK(util::iso_utc_ms(at + 7ms) == "2026-11-28T05:22:36.007Z");
  CHECK(util::iso_utc(std::chrono::sys_seconds{}) == "1970-01-01T00:00:00Z");
  CHECK(util::iso_utc_ms(std::chrono::sys_time<std::chrono::milliseconds>{-1ms}) == "1969-12-31T23:59:59.999Z");
  CHECK(util::iso_utc(std::chrono::sys_seconds{951782400s}) == "2000-02-29T00:00:00Z");
  SUBCASE("now has the millisecond form and is today") {
    auto now = util::iso_now_ms();
    CHECK(now.size() == 24);
    CHECK(now[10] == 'T');
    CHECK(now.substr(19, 1) == ".");
    CHECK(now.back() == 'Z');
    auto today = util::iso_utc(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
    CHECK(now.substr(0, 10) == today.substr(0, 10));
  }
}

TEST_CASE("edit_distance: optimal string alignment, case ignored") {
  CHECK(util::edit_distance("", "") == 0);
  CHECK(util::edit_distance("", "abc") == 3);
  CHECK(util::edit_distance("abc", "") == 3);
  CHECK(util::edit_distance("target", "target") == 0);
  CHECK(util::edit_distance("Target", "tARGET") == 0);
  CHECK(util::edit_distance("tagret", "target") == 1);    // one swap of neighbours
  CHECK(util::edit_distance("kitten", "sitting") == 3);   // Levenshtein's example
  CHECK(util::edit_distance("dockerfil", "dockerfile") == 1);
  CHECK(util::edit_distance("ab", "ba") == 1);
  CHECK(util::edit_distance("ca", "abc") == 3);           // OSA: no substring edited twice (Damerau: 2)
  CHECK(util::edit_distance("abcdef", "badcfe") == 3);
  CHECK(util::edit_distance("python:3", "pyhton:3") == 1);
  CHECK(util::edit_distance("abc", "xyz") == 3);
  for (auto [a, b] : {std::pair{"kitten", "sitting"}, std::pair{"ca", "abc"}, std::pair{"tagret", "target"}})
    CHECK(util::edit_distance(a, b) == util::edit_distance(b, a));
}

TEST_CASE("git locations: URLs and scp-like addresses are remote, paths are local") {
  for (const char* url : {"https://github.com/org/repo.git", "http://git.example.com/repo", "ssh://git@host/repo",
                          "ssh://host:2222/repo.git", "git://host/repo", "file:///srv/repo", "git+ssh://host/repo",
                          "HTTPS://host/repo", "git@github.com:org/repo.git", "host:repo", "host:org/repo",
                          "user@host:", "host.example.com:~/repo"})
    CHECK_MESSAGE(util::is_remote_git_location(url), std::string(url));
  for (const char* path : {"/srv/repo", "./repo", "repo", "../a:b", "dir/host:repo", "C:/repo", "c:\\repo", "",
                           ":repo", "/srv/a://b", "./x://y"})
    CHECK_FALSE_MESSAGE(util::is_remote_git_location(path), std::string(path));
  CHECK(util::url_scheme("https://host/repo") == "https");
  CHECK(util::url_scheme("git+ssh://host/repo") == "git+ssh");
  CHECK(util::url_scheme("weird://host") == "weird");
  CHECK(util::url_scheme("git@host:repo") == "");
  CHECK(util::url_scheme("://host") == "");
  CHECK(util::url_scheme("a b://host") == "");
  CHECK(util::url_scheme("/srv/a://b") == "");
}

namespace {

struct Failure {
  std::string what;
};

// A failure converts into a wider error type on the way up.
struct Wider {
  Wider() = default;
  Wider(Failure failure) : what("wider: " + failure.what) {}
  std::string what;
};

int evaluations = 0;

cascade::Expected<int, Failure> number(bool ok, int value = 7) {
  ++evaluations;
  if (!ok) return cascade::unexpected(Failure{"no number"});
  return value;
}

cascade::Expected<void, Failure> check(bool ok) {
  ++evaluations;
  if (!ok) return cascade::unexpected(Failure{"check failed"});
  return {};
}

cascade::Expected<std::unique_ptr<int>, Failure> owned(bool ok) {
  if (!ok) return cascade::unexpected(Failure{"nothing owned"});
  return std::make_unique<int>(42);
}

cascade::Expected<int, Failure> sum(bool first, bool second) {
  CASCADE_TRY_ASSIGN(int a, number(first, 1));
  CASCADE_TRY_ASSIGN(auto b, number(second, 2));
  return a + b;
}

cascade::Expected<void, Failure> checks(bool first, bool second) {
  CASCADE_TRY(check(first));
  CASCADE_TRY(number(second));  // a value discarded
  return {};
}

cascade::Expected<std::string, Wider> widened(bool ok) {
  std::string text = "before";
  CASCADE_TRY_ASSIGN(text, number(ok).has_value() ? cascade::Expected<std::string, Failure>("value")
                                                  : cascade::unexpected(Failure{"no text"}));
  CASCADE_TRY(check(ok));
  return text;
}

cascade::Expected<int, Failure> from_named(const cascade::Expected<std::unique_ptr<int>, Failure>& kept) {
  CASCADE_TRY(kept);  // a named Expected is only looked at
  return **kept;
}

cascade::Expected<int, Failure> moved_out(bool ok) {
  CASCADE_TRY_ASSIGN(std::unique_ptr<int> pointer, owned(ok));  // move-only values move out of temporaries
  return *pointer;
}

}  // namespace

TEST_CASE("CASCADE_TRY and CASCADE_TRY_ASSIGN pass failures up, values on") {
  evaluations = 0;
  CHECK(*sum(true, true) == 3);
  CHECK(evaluations == 2);  // each expression evaluated once
  CHECK(sum(false, true).error().what == "no number");
  CHECK(evaluations == 3);  // the first failure returned before the second call
  CHECK(sum(true, false).error().what == "no number");
  CHECK(checks(true, true).has_value());
  CHECK(checks(false, true).error().what == "check failed");
  CHECK(checks(true, false).error().what == "no number");
  CHECK(*widened(true) == "value");
  CHECK(widened(false).error().what == "wider: no text");
  auto kept = owned(true);
  CHECK(*from_named(kept) == 42);
  CHECK(*kept != nullptr);  // not moved from
  CHECK(from_named(owned(false)).error().what == "nothing owned");
  CHECK(*moved_out(true) == 42);
  CHECK(moved_out(false).error().what == "nothing owned");
}

TEST_CASE("dot::quoted escapes quotes and backslashes only") {
  CHECK(dot::quoted("") == "\"\"");
  CHECK(dot::quoted("docker.io/library/debian:12") == "\"docker.io/library/debian:12\"");
  CHECK(dot::quoted("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(dot::quoted("line\nbreak") == "\"line\nbreak\"");
}

TEST_CASE("dot::render: attributes, nodes, clusters, edges in that order") {
  SUBCASE("top-level nodes with quoted ids (the dashboard's shape)") {
    dot::Digraph graph{.name = "cascade", .attributes = {"rankdir=LR", "edge [color=\"#8894a8\"]"}};
    graph.nodes.push_back({dot::quoted("r/base:1"), "base:1", ""});
    graph.nodes.push_back({dot::quoted("r/app:\"x\""), "app", ", style=\"dashed\""});
    graph.edges.push_back({dot::quoted("r/base:1"), dot::quoted("r/app:\"x\"")});
    CHECK(dot::render(graph) ==
          "digraph cascade {\n"
          "  rankdir=LR;\n"
          "  edge [color=\"#8894a8\"];\n"
          "  \"r/base:1\" [label=\"base:1\"];\n"
          "  \"r/app:\\\"x\\\"\" [label=\"app\", style=\"dashed\"];\n"
          "  \"r/base:1\" -> \"r/app:\\\"x\\\"\";\n"
          "}\n");
  }
  SUBCASE("clusters numbered in order with their own attributes (the CLI's shape)") {
    dot::Digraph graph{.name = "cascade", .attributes = {"rankdir=LR"}};
    graph.clusters.push_back({.label = "external", .attributes = {"style=dashed"}, .nodes = {{"n0", "debian:12", ", x=1"}}});
    graph.clusters.push_back({.label = "platform", .nodes = {{"n1", "base", ""}, {"n2", "tools", ""}}});
    graph.edges = {{"n0", "n1"}, {"n1", "n2"}};
    CHECK(dot::render(graph) ==
          "digraph cascade {\n"
          "  rankdir=LR;\n"
          "  subgraph cluster_0 {\n"
          "    label=\"external\";\n"
          "    style=dashed;\n"
          "    n0 [label=\"debian:12\", x=1];\n"
          "  }\n"
          "  subgraph cluster_1 {\n"
          "    label=\"platform\";\n"
          "    n1 [label=\"base\"];\n"
          "    n2 [label=\"tools\"];\n"
          "  }\n"
          "  n0 -> n1;\n"
          "  n1 -> n2;\n"
          "}\n");
  }
  SUBCASE("an empty graph") { CHECK(dot::render({.name = "g"}) == "digraph g {\n}\n"); }
}
