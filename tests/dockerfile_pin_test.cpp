// dockerfile::pin: every pinned use names its digest afterwards, and nothing else moves.
#include <doctest/doctest.h>

#include "cascade/dockerfile.hpp"

using namespace cascade;

namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');
const std::string kOther = "sha256:" + std::string(64, 'b');

std::string pin_ok(const std::string& text, const std::map<std::string, std::string>& pins,
                   const dockerfile::Options& options = {}) {
  auto pinned = dockerfile::pin(text, options, pins);
  REQUIRE_MESSAGE(pinned, (pinned ? "" : pinned.error().message));
  return *pinned;
}

std::vector<std::string> bases(const std::string& text, const dockerfile::Options& options = {}) {
  auto analysis = dockerfile::analyze(text, options);
  REQUIRE(analysis);
  return analysis->bases;
}

}  // namespace

TEST_CASE("dockerfile::pin") {
  SUBCASE("a FROM line names the digest; the alias and the other lines stay") {
    std::string text = "FROM r.example.com/base:1 AS build\nRUN make\nFROM alpine:3.20\nCOPY --from=build /a /a\n";
    std::string pinned = pin_ok(text, {{"r.example.com/base:1", "r.example.com/base@" + kDigest}});
    CHECK(pinned == "FROM r.example.com/base@" + kDigest + " AS build\nRUN make\nFROM alpine:3.20\nCOPY --from=build /a /a\n");
  }
  SUBCASE("an ARG-templated FROM is rewritten whole, with its platform flag") {
    std::string text = "ARG REGISTRY=r.example.com\nARG TAG=1\nFROM --platform=$BUILDPLATFORM ${REGISTRY}/base:${TAG}\n"
                       "RUN true\n";
    std::string pinned = pin_ok(text, {{"r.example.com/base:1", "r.example.com/base@" + kDigest}});
    CHECK(pinned.find("FROM --platform=$BUILDPLATFORM r.example.com/base@" + kDigest + "\n") != std::string::npos);
    CHECK(bases(pinned) == std::vector<std::string>{"r.example.com/base@" + kDigest});
  }
  SUBCASE("build arguments choose which base is pinned") {
    std::string text = "ARG TAG=1\nFROM r.example.com/base:${TAG}\n";
    dockerfile::Options options;
    options.build_args = {{"TAG", "2"}};
    std::string pinned = pin_ok(text, {{"r.example.com/base:2", "r.example.com/base@" + kDigest}}, options);
    CHECK(bases(pinned, options) == std::vector<std::string>{"r.example.com/base@" + kDigest});
  }
  SUBCASE("COPY --from and RUN --mount from= images are pinned in place") {
    std::string text = "FROM alpine:3.20\nCOPY --from=r.example.com/tools:1 /bin/x /bin/x\n"
                       "RUN --mount=type=bind,from=r.example.com/tools:1,target=/t ls /t\n"
                       "COPY --from=\"r.example.com/data:1\" /d /d\n";
    std::string pinned = pin_ok(text, {{"r.example.com/tools:1", "r.example.com/tools@" + kDigest},
                                       {"r.example.com/data:1", "r.example.com/data@" + kOther}});
    CHECK(pinned.find("COPY --from=r.example.com/tools@" + kDigest + " /bin/x") != std::string::npos);
    CHECK(pinned.find("from=r.example.com/tools@" + kDigest + ",target=/t") != std::string::npos);
    CHECK(pinned.find("COPY --from=\"r.example.com/data@" + kOther + "\"") != std::string::npos);
    CHECK(bases(pinned) == std::vector<std::string>{"docker.io/library/alpine:3.20", "r.example.com/data@" + kOther,
                                                    "r.example.com/tools@" + kDigest});
  }
  SUBCASE("a FROM continued over lines keeps the line numbers of what follows") {
    std::string text = "FROM \\\n  r.example.com/base:1 \\\n  AS build\nRUN bad-line-3\n";
    std::string pinned = pin_ok(text, {{"r.example.com/base:1", "r.example.com/base@" + kDigest}});
    CHECK(pinned == "FROM r.example.com/base@" + kDigest + " AS build\n\n\nRUN bad-line-3\n");
    auto analysis = dockerfile::analyze(pinned);
    REQUIRE(analysis);
    CHECK(analysis->stages[0].name == "build");
  }
  SUBCASE("bases without a pin and CRLF line endings are left as they are") {
    std::string text = "FROM debian:12\r\nFROM r.example.com/base:1\r\nCOPY --from=0 /a /a\r\n";
    std::string pinned = pin_ok(text, {{"r.example.com/base:1", "r.example.com/base@" + kDigest}});
    CHECK(pinned == "FROM debian:12\r\nFROM r.example.com/base@" + kDigest + "\r\nCOPY --from=0 /a /a\r\n");
  }
  SUBCASE("a pin that is not a reference, or a file that does not analyze, is an error") {
    CHECK_FALSE(dockerfile::pin("FROM debian:12\n", {}, {{"docker.io/library/debian:12", "Not A Ref"}}));
    auto broken = dockerfile::pin("FROM debian:12\nFROM ${NOPE}\n", {}, {});
    REQUIRE_FALSE(broken);
    CHECK(broken.error().line == 2);
  }
}
