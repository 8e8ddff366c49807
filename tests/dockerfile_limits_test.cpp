// The resource bounds of the dockerfile module (README "Resource bounds"): hostile
// Dockerfiles — deep ${...} nesting over continuation lines, over-long logical lines,
// ONBUILD chains, huge patterns, exponential ARGs — fail with an error naming the line
// and the bound instead of overflowing the stack or memory; `cascade dockerfile -` too.
#include <doctest/doctest.h>

#include <string>

#include "cascade/dockerfile.hpp"
#include "support.hpp"

namespace {

namespace dockerfile = cascade::dockerfile;
namespace test = cascade::test;

// `FROM ${a:-${a:-...alpine...}}` nested `depth` deep, one `${a:-` per continuation line.
std::string nested_from(int depth, const std::string& keyword = "FROM ") {
  std::string text = keyword;
  for (int i = 0; i < depth; ++i) text += "${a:-\\\n";
  text += "alpine";
  text.append(static_cast<std::size_t>(depth), '}');
  return text + "\n";
}

// `FROM alpine` then a RUN whose logical line (continuations joined) is `length` bytes,
// written as physical lines of at most 60000 bytes.
std::string run_of_length(std::size_t length) {
  std::string logical = "RUN " + std::string(length - 4, 'x');
  std::string text = "FROM alpine\n";
  for (std::size_t pos = 0; pos < logical.size(); pos += 60000) {
    text += logical.substr(pos, 60000);
    text += pos + 60000 < logical.size() ? "\\\n" : "\n";
  }
  return text;
}

dockerfile::Error error_of(const std::string& text) {
  auto result = dockerfile::analyze(text);
  REQUIRE_FALSE(result);
  return result.error();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("substitutions nested deeper than the bound fail with the line, not a crash") {
  const std::string limit = std::to_string(dockerfile::kMaxSubstitutionDepth);
  SUBCASE("15,000 levels over continuation lines, the finding's input") {
    const auto error = error_of(nested_from(15000));
    CHECK(error.line == 1);
    CHECK(contains(error.message, "nested deeper than the limit of " + limit + " levels"));
    CHECK(error.message.size() < 400);  // the 90 KB word is cut in the message
  }
  SUBCASE("in a global ARG, on its own line") {
    const auto error = error_of("# comment\nARG base=" + nested_from(15000, "") + "FROM $base\n");
    CHECK(error.line == 2);
    CHECK(contains(error.message, limit));
  }
  SUBCASE("in a RUN line holding a heredoc marker") {
    const auto error = error_of("FROM alpine\n" + nested_from(15000, "RUN <<EOF ") + "EOF\n");
    CHECK(error.line == 2);
    CHECK(contains(error.message, limit));
  }
  SUBCASE("inside double quotes too") {
    std::string word;
    for (int i = 0; i < 15000; ++i) word += "\"${a:-\\\n";
    word += "alpine";
    for (int i = 0; i < 15000; ++i) word += "}\"";
    CHECK(contains(error_of("FROM " + word + "\n").message, limit));
  }
  SUBCASE("exactly at the bound it expands; one more level fails") {
    auto at_limit = dockerfile::analyze(nested_from(dockerfile::kMaxSubstitutionDepth));
    REQUIRE(at_limit);
    CHECK(at_limit->bases == std::vector<std::string>{"docker.io/library/alpine:latest"});
    CHECK(contains(error_of(nested_from(dockerfile::kMaxSubstitutionDepth + 1)).message, limit));
  }
}

TEST_CASE("a logical line is bounded once its continuation lines are joined") {
  const std::size_t limit = dockerfile::kMaxLogicalLineLength;
  SUBCASE("just under and at the bound it is read") {
    CHECK(dockerfile::analyze(run_of_length(limit - 1)));
    CHECK(dockerfile::analyze(run_of_length(limit)));
  }
  SUBCASE("one byte over fails, naming the instruction's first line and the bound") {
    const auto error = error_of(run_of_length(limit + 1));
    CHECK(error.line == 2);
    CHECK(contains(error.message, "max allowed size of " + std::to_string(limit)));
  }
  SUBCASE("a physical line keeps BuildKit's bound") {
    CHECK(dockerfile::analyze("FROM alpine\nRUN " + std::string(dockerfile::kMaxLineLength - 4, 'x') + "\n"));
    const auto error = error_of("FROM alpine\nRUN " + std::string(dockerfile::kMaxLineLength - 3, 'x') + "\n");
    CHECK(error.line == 2);
    CHECK(error.message == "dockerfile line greater than max allowed size of 65535");
  }
}

TEST_CASE("other hostile shapes are bounded") {
  SUBCASE("100,000 chained ONBUILDs fail like two") {
    std::string text = "FROM alpine\n";
    for (int i = 0; i < 100000; ++i) text += "ONBUILD \\\n";
    const auto error = error_of(text + "RUN true\n");
    CHECK(error.line == 2);
    CHECK(error.message == "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  }
  SUBCASE("a pattern of 600,000 characters") {
    std::string text = "ARG a=b\nARG c=${a#\\\n";
    for (int i = 0; i < 10; ++i) text += std::string(60000, '*') + "\\\n";
    const auto error = error_of(text + "}\nFROM alpine\n");
    CHECK(error.line == 2);
    CHECK(contains(error.message, "pattern longer than the limit of 4096 characters"));
  }
  SUBCASE("a pattern that would backtrack for minutes") {
    std::string text = "ARG a=" + std::string(60000, 'a') + "\nARG b=$a$a$a$a$a$a$a$a\nARG c=${b//*b/x}\nFROM alpine\n";
    const auto error = error_of(text);
    CHECK(error.line == 3);
    CHECK(contains(error.message, "too long to match"));
  }
  SUBCASE("an ARG that doubles its value on every line") {
    std::string text = "ARG a=aaaaaaaaaaaaaaaa\n";
    for (int i = 0; i < 40; ++i) text += "ARG a=$a$a\n";
    const auto error = error_of(text + "FROM alpine\n");
    CHECK(contains(error.message, "limit of " + std::to_string(dockerfile::kMaxExpandedLength) + " bytes"));
  }
  SUBCASE("one word expanding past the bound") {
    std::string twenty_copies = "ARG b=";
    for (int i = 0; i < 20; ++i) twenty_copies += "$a";
    const auto error = error_of("ARG a=" + std::string(60000, 'a') + "\n" + twenty_copies + "\nFROM alpine\n");
    CHECK(error.line == 2);
    CHECK(contains(error.message, "expansion longer than the limit of " +
                                      std::to_string(dockerfile::kMaxExpandedLength) + " bytes"));
  }
  SUBCASE("many ARGs each holding a large copy") {
    std::string text = "ARG a=" + std::string(60000, 'a') + "\n";
    for (int i = 0; i < 3000; ++i) text += "ARG v" + std::to_string(i) + "=$a$a$a$a\n";
    const auto error = error_of(text + "FROM alpine\n");
    CHECK(error.line == 6);  // 60000 + 5 x 240000 passes 1 MiB at the fifth copy
    CHECK(contains(error.message, "global ARGs"));
  }
}

TEST_CASE("cascade dockerfile - on the hostile input exits 2 with the line") {
  cascade::process::Options options;
  options.input = nested_from(15000);
  auto result = test::cascade({"dockerfile", "-"}, options);
  CHECK(result.exit_code == 2);
  CHECK(contains(result.err, "-:1: "));
  CHECK(contains(result.err, "limit of " + std::to_string(dockerfile::kMaxSubstitutionDepth)));
}
