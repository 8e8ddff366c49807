// The tricky cases of DOCKERFILE.md section 13 (one SUBCASE each, with the exact bases,
// frontend or error line) and the examples of sections 3-10.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "cascade/dockerfile.hpp"

namespace {

using cascade::dockerfile::Analysis;
using cascade::dockerfile::analyze;
using cascade::dockerfile::Error;
using cascade::dockerfile::Options;
using cascade::dockerfile::UseKind;
using Strings = std::vector<std::string>;

const std::string kHex = "9c1e4b7a2d5f8c0e3a6b9d2f5c8e1a4b7d0f3c6e9a2b5d8f1c4e7a0b3d6f9c2e";

Analysis ok(const std::string& text, const Options& options = {}) {
  auto result = analyze(text, options);
  if (!result) FAIL_CHECK("unexpected error at line " << result.error().line << ": " << result.error().message);
  REQUIRE(result);
  return *result;
}

Error error_of(const std::string& text, const Options& options = {}) {
  auto result = analyze(text, options);
  REQUIRE_FALSE(result);
  return result.error();
}

Strings bases(const std::string& text, const Options& options = {}) { return ok(text, options).bases; }

Options with_args(std::map<std::string, std::string> args) {
  Options options;
  options.build_args = std::move(args);
  return options;
}

Options with_target(std::string target) {
  Options options;
  options.target = std::move(target);
  return options;
}

// "label (KIND): reference" for every use, sorted like the result lists of section 13.
Strings uses_of(const Analysis& analysis) {
  Strings out;
  for (const auto& use : analysis.uses) {
    out.push_back(analysis.stages[use.stage].label() + " (" + std::string(to_string(use.kind)) +
                  "): " + use.image.str());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("dockerfile::tricky cases (section 13)") {
  SUBCASE("13.1 keyword and AS case do not matter; stage names fold to lowercase") {
    const auto analysis = ok(
        "from golang:1.23 as Builder\n"
        "run go build -o /out/app ./cmd/app\n"
        "From gcr.io/distroless/static:nonroot\n"
        "copy --from=builder /out/app /app\n");
    CHECK(uses_of(analysis) == Strings{"builder (FROM): docker.io/library/golang:1.23",
                                       "stage-1 (FROM): gcr.io/distroless/static:nonroot"});
    CHECK(analysis.stages[0].name == "builder");
  }
  SUBCASE("13.2 a stage alias that looks like an image name shadows the image") {
    const auto analysis = ok(
        "FROM registry.example.com/base/debian:12 AS python\n"
        "RUN apt-get install -y python3\n"
        "FROM python\n"
        "COPY app.py /\n");
    CHECK(uses_of(analysis) == Strings{"python (FROM): registry.example.com/base/debian:12"});
    CHECK(analysis.stages[1].base_stage == 0);
  }
  SUBCASE("13.3 adding a tag makes it an image again") {
    const auto analysis = ok("FROM registry.example.com/base/debian:12 AS python\nFROM python:3.12\n");
    CHECK(uses_of(analysis) == Strings{"stage-1 (FROM): docker.io/library/python:3.12"});
    CHECK_FALSE(analysis.stages[0].needed);
  }
  SUBCASE("13.4 a stage can only be referenced after it is defined") {
    const auto analysis = ok("FROM tools AS first\nFROM alpine:3.20 AS tools\nFROM first\n");
    CHECK(uses_of(analysis) == Strings{"first (FROM): docker.io/library/tools:latest"});
  }
  SUBCASE("13.5 the FROM of a stage never refers to itself") {
    const auto analysis = ok("FROM node:22 AS node\nFROM node\nRUN node -v\n");
    CHECK(uses_of(analysis) == Strings{"node (FROM): docker.io/library/node:22"});
  }
  SUBCASE("13.6 global ARG default") {
    CHECK(bases("ARG DEBIAN=bookworm\nFROM debian:${DEBIAN}-slim\n") ==
          Strings{"docker.io/library/debian:bookworm-slim"});
  }
  SUBCASE("13.7 global ARG overridden by a build argument") {
    CHECK(bases("ARG DEBIAN=bookworm\nFROM debian:${DEBIAN}-slim\n", with_args({{"DEBIAN", "trixie"}})) ==
          Strings{"docker.io/library/debian:trixie-slim"});
  }
  SUBCASE("13.8 an undeclared build argument has no effect on FROM") {
    CHECK(bases("FROM debian:${DEBIAN:-bookworm}\n", with_args({{"DEBIAN", "trixie"}})) ==
          Strings{"docker.io/library/debian:bookworm"});
  }
  SUBCASE("13.9 ARG inside a stage is not visible to later FROM lines") {
    const auto analysis = ok(
        "ARG VER=20\n"
        "FROM node:${VER} AS deps\n"
        "ARG VER=22\n"
        "FROM node:${VER}-slim\n"
        "COPY --from=deps /app/node_modules /app/node_modules\n");
    CHECK(uses_of(analysis) == Strings{"deps (FROM): docker.io/library/node:20",
                                       "stage-1 (FROM): docker.io/library/node:20-slim"});
  }
  SUBCASE("13.10 meta ARGs are evaluated in order, within one line, after overrides") {
    CHECK(bases("ARG REGISTRY=docker.io/library IMAGE=${REGISTRY}/postgres:16\nFROM ${IMAGE}\n",
                with_args({{"REGISTRY", "mirror.local:5000/hub"}})) == Strings{"mirror.local:5000/hub/postgres:16"});
  }
  SUBCASE("13.11 empty build argument versus :- and -") {
    const auto analysis = ok(
        "ARG TAG=1.27\n"
        "FROM nginx:${TAG:-stable} AS a\n"
        "FROM nginx${TAG-:mainline} AS b\n"
        "COPY --from=a / /a\n",
        with_args({{"TAG", ""}}));
    CHECK(uses_of(analysis) == Strings{"a (FROM): docker.io/library/nginx:stable",
                                       "b (FROM): docker.io/library/nginx:latest"});
  }
  SUBCASE("13.12 pattern operators") {
    const auto analysis = ok(
        "ARG FULL=ghcr.io/acme/api:2.4.1-rc1\n"
        "FROM ${FULL%-*} AS pinned\n"
        "FROM ${FULL/ghcr.io/mirror.acme.dev}\n"
        "COPY --from=pinned /bin/api /bin/api\n");
    CHECK(uses_of(analysis) == Strings{"pinned (FROM): ghcr.io/acme/api:2.4.1",
                                       "stage-1 (FROM): mirror.acme.dev/acme/api:2.4.1-rc1"});
  }
  SUBCASE("13.13 an undefined variable leaves an empty tag: error") {
    const Error error = error_of("ARG TAG\nFROM redis:$TAG\n");
    CHECK(error.line == 2);
    CHECK(error.message.find("redis:") != std::string::npos);
  }
  SUBCASE("13.14 built-in platform ARGs are usable without declaration") {
    const auto analysis = ok(
        "FROM --platform=$BUILDPLATFORM tonistiigi/xx:1.5 AS xx\n"
        "FROM --platform=$BUILDPLATFORM golang:1.23 AS build\n"
        "COPY --from=xx / /\n"
        "FROM registry.example.com/runtime-${TARGETARCH}:3\n"
        "COPY --from=build /out /out\n");
    CHECK(uses_of(analysis) == Strings{"build (FROM): docker.io/library/golang:1.23",
                                       "stage-2 (FROM): registry.example.com/runtime-amd64:3",
                                       "xx (FROM): docker.io/tonistiigi/xx:1.5"});
    CHECK(analysis.stages[0].platform == "linux/amd64");
  }
  SUBCASE("13.15 comments and blank lines inside a continuation are dropped") {
    const auto analysis = ok(
        "FROM \\\n"
        "# the registry mirror\n"
        "    mirror.example.org/library/eclipse-temurin:21 \\\n"
        "\n"
        "    AS jre\n");
    CHECK(uses_of(analysis) == Strings{"jre (FROM): mirror.example.org/library/eclipse-temurin:21"});
  }
  SUBCASE("13.16 continuation does not add or remove spaces") {
    CHECK(bases("FROM ghcr.io/acme/\\\nworker:7\n") == Strings{"ghcr.io/acme/worker:7"});
  }
  SUBCASE("13.17 heredoc bodies are opaque") {
    const auto analysis = ok(
        "FROM alpine:3.20\n"
        "COPY <<'EOF' /app/Dockerfile.template\n"
        "FROM ubuntu:24.04\n"
        "RUN --mount=from=busybox true\n"
        "EOF\n"
        "RUN <<-SCRIPT sh\n"
        "\tFROM=1 echo done\n"
        "\tSCRIPT\n");
    CHECK(uses_of(analysis) == Strings{"stage-0 (FROM): docker.io/library/alpine:3.20"});
    CHECK(analysis.stages.size() == 1);
  }
  SUBCASE("13.18 cat<<EOF is not a heredoc: the body lines are instructions") {
    const Error error = error_of("FROM alpine:3.20\nRUN cat<<EOF >/etc/motd\nhello\nEOF\n");
    CHECK(error.line == 3);
    CHECK(error.message == "unknown instruction: HELLO");
  }
  SUBCASE("13.19 escape directive with backtick") {
    const auto analysis = ok(
        "# escape=`\n"
        "FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS sdk\n"
        "WORKDIR C:\\src\\\n"
        "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n"
        "COPY --from=sdk C:\\src C:\\app\n");
    CHECK(uses_of(analysis) == Strings{"sdk (FROM): mcr.microsoft.com/windows/servercore:ltsc2022",
                                       "stage-1 (FROM): mcr.microsoft.com/windows/nanoserver:ltsc2022"});
  }
  SUBCASE("13.20 without the directive the backslash swallows the next line") {
    const auto analysis = ok(
        "FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS sdk\n"
        "WORKDIR C:\\src\\\n"
        "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n");
    CHECK(uses_of(analysis) == Strings{"sdk (FROM): mcr.microsoft.com/windows/servercore:ltsc2022"});
    CHECK(analysis.stages.size() == 1);
  }
  SUBCASE("13.21 a directive after a comment is just a comment") {
    const auto analysis = ok("# Build file for the API\n# syntax=docker/dockerfile:1.9\nFROM alpine:3.20\n");
    CHECK(analysis.bases == Strings{"docker.io/library/alpine:3.20"});
    CHECK_FALSE(analysis.frontend);
  }
  SUBCASE("13.22 # syntax= names a frontend image, reported separately") {
    const auto analysis = ok("# syntax=docker/dockerfile:1.9\nFROM alpine:3.20\n");
    CHECK(analysis.bases == Strings{"docker.io/library/alpine:3.20"});
    REQUIRE(analysis.frontend);
    CHECK(analysis.frontend->str() == "docker.io/docker/dockerfile:1.9");
  }
  SUBCASE("13.23 COPY --from: stage name, numeric index, image") {
    const auto analysis = ok(
        "FROM rust:1.80 AS build\n"
        "FROM debian:12-slim\n"
        "COPY --from=0 /usr/local/cargo/bin/tool /usr/bin/\n"
        "COPY --from=ghcr.io/jqlang/jq:1.7.1 /jq /usr/bin/jq\n");
    CHECK(uses_of(analysis) == Strings{"build (FROM): docker.io/library/rust:1.80",
                                       "stage-1 (COPY --from): ghcr.io/jqlang/jq:1.7.1",
                                       "stage-1 (FROM): docker.io/library/debian:12-slim"});
  }
  SUBCASE("13.24 RUN --mount from= accepts a stage name or an image, never an index") {
    const auto analysis = ok(
        "FROM golang:1.23 AS src\n"
        "FROM alpine:3.20\n"
        "RUN --mount=type=bind,from=src,source=/usr/local/go,target=/go \\\n"
        "    --mount=type=cache,target=/root/.cache,from=ghcr.io/acme/seed-cache:1 \\\n"
        "    --mount=from=0,target=/zero true\n");
    CHECK(uses_of(analysis) == Strings{"src (FROM): docker.io/library/golang:1.23",
                                       "stage-1 (FROM): docker.io/library/alpine:3.20",
                                       "stage-1 (RUN --mount from): docker.io/library/0:latest",
                                       "stage-1 (RUN --mount from): ghcr.io/acme/seed-cache:1"});
  }
  const std::string web_file =
      "FROM node:22 AS ui\n"
      "FROM golang:1.23 AS api\n"
      "FROM api AS test\n"
      "RUN --mount=from=postgres:16,target=/pg true\n"
      "FROM nginx:1.27 AS web\n"
      "COPY --from=ui /dist /usr/share/nginx/html\n";
  SUBCASE("13.25 target selection skips unrelated stages") {
    const auto analysis = ok(web_file, with_target("test"));
    CHECK(uses_of(analysis) == Strings{"api (FROM): docker.io/library/golang:1.23",
                                       "test (RUN --mount from): docker.io/library/postgres:16"});
    CHECK(analysis.target == 2);
  }
  SUBCASE("13.26 the default target is the last stage") {
    const auto analysis = ok(web_file);
    CHECK(uses_of(analysis) == Strings{"ui (FROM): docker.io/library/node:22",
                                       "web (FROM): docker.io/library/nginx:1.27"});
    CHECK(analysis.target == 3);
  }
  SUBCASE("13.27 ONBUILD triggers of a parent stage run in the child stage") {
    const auto analysis = ok(
        "FROM python:3.12-slim AS pybase\n"
        "ONBUILD COPY --from=ghcr.io/astral-sh/uv:0.4 /uv /bin/uv\n"
        "FROM pybase AS app\n"
        "RUN uv --version\n");
    CHECK(uses_of(analysis) == Strings{"app (ONBUILD COPY --from): ghcr.io/astral-sh/uv:0.4",
                                       "pybase (FROM): docker.io/library/python:3.12-slim"});
  }
  SUBCASE("13.28 ONBUILD in the final stage is only recorded") {
    CHECK(bases("FROM python:3.12-slim\nONBUILD COPY --from=ghcr.io/astral-sh/uv:0.4 /uv /bin/uv\n") ==
          Strings{"docker.io/library/python:3.12-slim"});
  }
  SUBCASE("13.29 scratch is not an image; SCRATCH is an invalid reference") {
    const auto analysis = ok(
        "FROM scratch AS empty\n"
        "FROM empty\n"
        "COPY --from=alpine:3.20 /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/\n");
    CHECK(uses_of(analysis) == Strings{"stage-1 (COPY --from): docker.io/library/alpine:3.20"});
    CHECK(analysis.stages[0].scratch);
    CHECK(error_of("FROM SCRATCH\n").line == 1);
  }
  SUBCASE("13.30 Docker Hub spellings collapse to one normalized reference") {
    const auto analysis = ok(
        "FROM index.docker.io/library/redis AS a\n"
        "FROM docker.io/redis:latest AS b\n"
        "FROM redis\n"
        "COPY --from=a / /a\n"
        "COPY --from=b / /b\n");
    CHECK(uses_of(analysis) == Strings{"a (FROM): docker.io/library/redis:latest",
                                       "b (FROM): docker.io/library/redis:latest",
                                       "stage-2 (FROM): docker.io/library/redis:latest"});
    CHECK(analysis.bases == Strings{"docker.io/library/redis:latest"});
  }
  SUBCASE("13.31 registry with port, localhost, and a single-component localhost:5000") {
    const auto analysis = ok(
        "FROM localhost:5000/team/base:1 AS a\n"
        "FROM localhost/dev-tools AS b\n"
        "FROM localhost:5000\n"
        "COPY --from=a / /a\n"
        "COPY --from=b / /b\n");
    CHECK(uses_of(analysis) == Strings{"a (FROM): localhost:5000/team/base:1",
                                       "b (FROM): localhost/dev-tools:latest",
                                       "stage-2 (FROM): docker.io/library/localhost:5000"});
  }
  SUBCASE("13.32 tag plus digest keeps both; digest only gets no tag") {
    const auto analysis = ok(
        "FROM alpine:3.20@sha256:" + kHex + " AS pinned\n"
        "FROM busybox@sha256:" + kHex + "\n"
        "COPY --from=pinned / /p\n");
    CHECK(uses_of(analysis) == Strings{"pinned (FROM): docker.io/library/alpine:3.20@sha256:" + kHex,
                                       "stage-1 (FROM): docker.io/library/busybox@sha256:" + kHex});
  }
  SUBCASE("13.33 a trailing # comment is part of the instruction") {
    const Error error = error_of("FROM alpine:3.20 # pinned\n");
    CHECK(error.line == 1);
    CHECK(error.message == "FROM requires either one or three arguments");
  }
  SUBCASE("13.34 an invalid reference in a stage the target does not need still fails") {
    CHECK(error_of("FROM alpine:3.20 AS good\nFROM Ubuntu:24.04 AS legacy\nFROM good\n").line == 2);
  }
  SUBCASE("13.35 variables are not allowed in COPY --from") {
    const Error error = error_of(
        "ARG SRC=builder\n"
        "FROM golang:1.23 AS builder\n"
        "FROM alpine\n"
        "COPY --from=${SRC} /out /out\n");
    CHECK(error.line == 4);
    CHECK(error.message.find("variable expansion is not supported for --from") != std::string::npos);
  }
}

TEST_CASE("dockerfile::uses of a multi-stage file") {
  const auto analysis = ok(
      "# syntax=docker/dockerfile:1\n"                              // 1
      "ARG GO=1.23\n"                                               // 2
      "FROM golang:${GO} AS build\n"                                // 3
      "RUN --mount=type=cache,target=/go/pkg \\\n"                  // 4
      "    --mount=from=ghcr.io/acme/protoc:25,target=/p make\n"    // 5
      "FROM alpine:3.20 AS base\n"                                  // 6
      "ONBUILD COPY --from=busybox:1.36 /bin/busybox /bin/\n"       // 7
      "FROM base AS final\n"                                        // 8
      "COPY --from=build /out/app /app\n"                           // 9
      "COPY --from=gcr.io/distroless/static:nonroot /etc /etc\n");  // 10
  REQUIRE(analysis.uses.size() == 5);
  const auto check_use = [&](std::size_t i, int stage, UseKind kind, int line, const std::string& image) {
    CAPTURE(i);
    CHECK(analysis.uses[i].stage == stage);
    CHECK(analysis.uses[i].kind == kind);
    CHECK(analysis.uses[i].line == line);
    CHECK(analysis.uses[i].image.str() == image);
  };
  check_use(0, 0, UseKind::from, 3, "docker.io/library/golang:1.23");
  check_use(1, 0, UseKind::run_mount, 4, "ghcr.io/acme/protoc:25");
  check_use(2, 1, UseKind::from, 6, "docker.io/library/alpine:3.20");
  check_use(3, 2, UseKind::onbuild_copy_from, 7, "docker.io/library/busybox:1.36");
  check_use(4, 2, UseKind::copy_from, 10, "gcr.io/distroless/static:nonroot");
  CHECK(analysis.bases == Strings{"docker.io/library/alpine:3.20", "docker.io/library/busybox:1.36",
                                  "docker.io/library/golang:1.23", "gcr.io/distroless/static:nonroot",
                                  "ghcr.io/acme/protoc:25"});
  REQUIRE(analysis.frontend);
  CHECK(analysis.frontend->str() == "docker.io/docker/dockerfile:1");
  CHECK(analysis.target == 2);
  CHECK(analysis.stages[2].label() == "final");
  CHECK(analysis.stages[2].base_stage == 1);
  CHECK(analysis.stages[2].line == 8);
  CHECK(analysis.stages[1].base_text == "alpine:3.20");
  CHECK(to_string(UseKind::run_mount) == "RUN --mount from");
}

TEST_CASE("dockerfile::reading the file (section 2)") {
  SUBCASE("a byte-order mark and CRLF line ends are accepted") {
    CHECK(bases("\xEF\xBB\xBF" "FROM alpine:3.20 \\\r\n  AS a\r\nRUN true\r\n") ==
          Strings{"docker.io/library/alpine:3.20"});
  }
  SUBCASE("an empty file, a file of comments, a file of ARGs are errors") {
    CHECK(error_of("").line == 0);
    CHECK(error_of("# only a comment\n\n").message == "file with no instructions");
    CHECK(error_of("ARG A=1\n").line == 0);
  }
  SUBCASE("an instruction other than ARG before the first FROM is an error at its line") {
    CHECK(error_of("ARG A=1\nENV B=2\nFROM alpine\n").line == 2);
  }
}

TEST_CASE("dockerfile::logical lines and instructions (sections 3-5)") {
  SUBCASE("an escape directive after a blank line has no effect: the backslash continues") {
    const auto analysis = ok("\n# escape=`\nFROM alpine:3.20 AS a\nRUN dir c:\\\nFROM busybox\n");
    CHECK(analysis.stages.size() == 1);
  }
  SUBCASE("a continuation keeps the blanks of the next line: two words") {
    CHECK(error_of("FROM alpine\\\n  :3.20\n").message == "FROM requires either one or three arguments");
  }
  SUBCASE("FROM splits on blanks before quotes are removed") {
    CHECK(bases("FROM \"alpine:3.20\"\n") == Strings{"docker.io/library/alpine:3.20"});
    CHECK(error_of("FROM \"my image\"\n").line == 1);
  }
  SUBCASE("flag names are case-sensitive and must be known for the instruction") {
    CHECK(error_of("FROM alpine\nCOPY --FROM=x a b\n").message == "unknown flag: FROM");
    CHECK(error_of("FROM alpine\nADD --from=x a b\n").line == 2);
  }
  SUBCASE("a quoted flag value is unquoted before it is read") {
    const auto analysis = ok("FROM golang:1.23 AS build\nFROM alpine\nCOPY --from=\"build\" /a /a\n");
    CHECK(analysis.stages[0].needed);
  }
}

TEST_CASE("dockerfile::FROM (section 7)") {
  SUBCASE("FROM Build does not match stage build: it is an invalid image") {
    CHECK(error_of("FROM alpine AS build\nFROM Build\n").line == 2);
  }
  SUBCASE("FROM alpine AS alpine: the first is the image, a later FROM alpine the stage") {
    const auto analysis = ok("FROM alpine AS alpine\nFROM alpine\n");
    CHECK(analysis.bases == Strings{"docker.io/library/alpine:latest"});
    CHECK(analysis.stages[1].base_stage == 0);
  }
  SUBCASE("FROM ubuntu:latest never matches a stage named ubuntu") {
    const auto analysis = ok("FROM debian AS ubuntu\nFROM ubuntu:latest\n");
    CHECK(analysis.bases == Strings{"docker.io/library/ubuntu:latest"});
  }
  SUBCASE("a blank base name is an error") {
    CHECK(error_of("ARG EMPTY\nFROM ${EMPTY}\n").message == "base name (${EMPTY}) should not be blank");
  }
  SUBCASE("docker.io/library/scratch is an ordinary image") {
    CHECK(bases("FROM docker.io/library/scratch\n") == Strings{"docker.io/library/scratch:latest"});
  }
  SUBCASE("a stage named scratch shadows the empty image in later FROM lines") {
    const auto analysis = ok("FROM alpine AS scratch\nFROM scratch\n");
    CHECK(analysis.stages[1].base_stage == 0);
    CHECK(analysis.bases == Strings{"docker.io/library/alpine:latest"});
  }
  SUBCASE("duplicate names: FROM takes the definition above, --from the last in the file") {
    const auto analysis = ok(
        "FROM a:1 AS x\n"
        "FROM x AS y\n"
        "FROM b:1 AS x\n"
        "FROM y\n"
        "COPY --from=x / /\n");
    CHECK(analysis.stages[1].base_stage == 0);
    CHECK(analysis.bases == Strings{"docker.io/library/a:1", "docker.io/library/b:1"});
  }
  SUBCASE("copying from a duplicate name defined after the stage is an error") {
    const Error error = error_of("FROM a:1 AS x\nFROM alpine AS app\nCOPY --from=x / /\nFROM b:1 AS x\n",
                                 with_target("app"));
    CHECK(error.line == 3);
    CHECK(error.message.find("needs to be defined before current stage \"app\"") != std::string::npos);
  }
  SUBCASE("an invalid image in any stage fails, needed or not") {
    CHECK(error_of("FROM alpine:3.20 AS a\nFROM Alpine AS b\nFROM alpine:3.21 AS c\n", with_target("a")).line == 2);
  }
}

TEST_CASE("dockerfile::ARG and substitution in FROM (section 8)") {
  SUBCASE("a build argument replaces a global ARG literally, without expansion or quote removal") {
    CHECK(bases("ARG BASE=\"alpine\"\nFROM $BASE\n") == Strings{"docker.io/library/alpine:latest"});
    CHECK(error_of("ARG BASE=alpine\nFROM $BASE\n", with_args({{"BASE", "\"alpine\""}})).line == 2);
  }
  SUBCASE("single quotes keep $ literal in a default") {
    CHECK(bases("ARG A=3.20\nARG B='$A'\nFROM alpine:${B/?A/3.19}\n") == Strings{"docker.io/library/alpine:3.19"});
  }
  SUBCASE("a bare ARG keeps the earlier value; a new default overwrites it") {
    CHECK(bases("ARG T=1\nARG T\nFROM img:$T\n") == Strings{"docker.io/library/img:1"});
    CHECK(bases("ARG T=1\nARG T=2\nFROM img:$T\n") == Strings{"docker.io/library/img:2"});
  }
  SUBCASE("an empty build argument is a value, even without a default") {
    CHECK(bases("ARG T\nFROM img${T-:unset}\n", with_args({{"T", ""}})) == Strings{"docker.io/library/img:latest"});
    CHECK(bases("ARG T\nFROM img${T-:unset}\n") == Strings{"docker.io/library/img:unset"});
  }
  SUBCASE("built-in platform variables: overridden by a build argument or a global ARG") {
    CHECK(bases("FROM img-$TARGETARCH\n", with_args({{"TARGETARCH", "arm64"}})) ==
          Strings{"docker.io/library/img-arm64:latest"});
    CHECK(bases("ARG TARGETARCH=riscv64\nFROM img-$TARGETARCH\n") == Strings{"docker.io/library/img-riscv64:latest"});
    CHECK(bases("FROM img:${TARGETOS}-${BUILDARCH}${TARGETVARIANT:-x}${BUILDVARIANT+y}\n") ==
          Strings{"docker.io/library/img:linux-amd64xy"});
  }
  SUBCASE("TARGETSTAGE is the target, else the last stage's name, else default") {
    const std::string text = "FROM alpine:$TARGETSTAGE AS build\nFROM alpine:$TARGETSTAGE\n";
    CHECK(bases(text) == Strings{"docker.io/library/alpine:default"});
    CHECK(bases(text, with_target("build")) == Strings{"docker.io/library/alpine:build"});
    CHECK(bases("FROM alpine:$TARGETSTAGE AS final\n") == Strings{"docker.io/library/alpine:final"});
  }
  SUBCASE("an expanded value is not split again: a space makes an invalid reference") {
    CHECK(error_of("ARG I=\"alpine AS x\"\nFROM $I\n").line == 2);
  }
  SUBCASE("${VAR:?msg} fails at the FROM line; a failing default fails at the ARG line") {
    const Error error = error_of("ARG V\nFROM alpine:${V:?set-V}\n");
    CHECK(error.line == 2);
    CHECK(error.message.find("V: set-V") != std::string::npos);
    CHECK(error_of("ARG A=${B:?need B}\nFROM alpine\n").line == 1);
  }
  SUBCASE("--platform: an empty result or an invalid platform is an error; the value is reported") {
    CHECK(error_of("FROM --platform=$UNDEFINED alpine\n").message.find("empty platform value") != std::string::npos);
    CHECK(error_of("FROM --platform=linux/amd64/v8/x alpine\n").line == 1);
    CHECK(error_of("FROM --platform=foo alpine\n").line == 1);
    CHECK(error_of("FROM --platform=linux/* alpine\n").line == 1);
    for (const char* platform : {"windows", "arm64", "linux/arm/v7", "windows(10.0.17763)/amd64", "x86_64"}) {
      CAPTURE(platform);
      CHECK(ok(std::string("FROM --platform=") + platform + " alpine\n").stages[0].platform == platform);
    }
    CHECK(ok("FROM --platform= alpine\n").stages[0].platform.empty());
  }
  SUBCASE("a build argument can turn an image reference into a stage reference") {
    const std::string text = "ARG BASE=builder\nFROM golang:1.23 AS builder\nFROM ${BASE}\n";
    CHECK(bases(text) == Strings{"docker.io/library/golang:1.23"});
    CHECK(bases(text, with_args({{"BASE", "alpine:3.20"}})) == Strings{"docker.io/library/alpine:3.20"});
    CHECK(bases(text, with_args({{"BASE", "scratch"}})).empty());
  }
}

TEST_CASE("dockerfile::COPY --from, RUN --mount and ONBUILD (section 9)") {
  SUBCASE("COPY --from= empty reads the build context") {
    CHECK(bases("FROM alpine\nCOPY --from= a b\n") == Strings{"docker.io/library/alpine:latest"});
  }
  SUBCASE("quotes or escapes in --from count as variables") {
    CHECK(error_of("FROM alpine AS a\nFROM alpine\nCOPY --from=a\\\\b x y\n").line == 3);
    CHECK(error_of("FROM alpine AS a\nFROM alpine\nCOPY --from=\"'a'\" x y\n").line == 3);
  }
  SUBCASE("numeric indexes: out of range or negative are errors; huge numbers are names") {
    CHECK(error_of("FROM alpine AS a\nCOPY --from=1 a b\nFROM busybox\n", with_target("a")).message ==
          "cannot copy from stage \"1\", it needs to be defined before current stage \"a\"");
    CHECK(error_of("FROM alpine\nCOPY --from=1 a b\n").message == "invalid stage index 1");
    CHECK(error_of("FROM alpine\nCOPY --from=-1 a b\n").message == "invalid stage index -1");
    CHECK(ok("FROM alpine AS a\nFROM busybox\nCOPY --from=+0 a b\n").stages[0].needed);
    CHECK(bases("FROM alpine\nCOPY --from=99999999999999999999 a b\n") ==
          Strings{"docker.io/library/99999999999999999999:latest", "docker.io/library/alpine:latest"});
  }
  SUBCASE("names are case-insensitive; scratch reads nothing") {
    CHECK(ok("FROM alpine AS build\nFROM busybox\nCOPY --from=BUILD a b\n").stages[0].needed);
    CHECK(bases("FROM busybox\nCOPY --from=scratch a b\n") == Strings{"docker.io/library/busybox:latest"});
  }
  SUBCASE("an invalid --from image fails even in a stage the target does not need") {
    CHECK(error_of("FROM alpine AS a\nCOPY --from=Tools x y\nFROM busybox\n").line == 2);
    CHECK(error_of("FROM alpine AS a\nRUN --mount=from=Tools true\nFROM busybox\n").line == 2);
  }
  SUBCASE("copying from the stage itself or in a circle is an error") {
    CHECK(error_of("FROM alpine AS a\nCOPY --from=a x y\n").message == "circular dependency detected on stage: a");
    CHECK(error_of("FROM alpine AS a\nCOPY --from=b x y\nFROM busybox AS b\nCOPY --from=a x y\nFROM c\n").line == 4);
  }
  SUBCASE("a $ in a mount's from= is an error unless it is the last character") {
    CHECK(error_of("FROM alpine\nRUN --mount=from=${S},target=/s true\n").line == 2);
    CHECK(error_of("FROM alpine\nRUN --mount=from=img$,target=/s true\n").message.find("invalid image reference") !=
          std::string::npos);
  }
  SUBCASE("from= on a secret mount fails when the stage is built, not otherwise") {
    const std::string text = "FROM alpine AS a\nRUN --mount=type=secret,id=k,from=b true\nFROM busybox\n";
    CHECK(error_of(text, with_target("a")).message == "secret mount should not have a from");
    CHECK(bases(text) == Strings{"docker.io/library/busybox:latest"});
    CHECK(error_of("FROM alpine\nRUN --mount=type=nfs,target=/x true\n").line == 2);
  }
  SUBCASE("from= on tmpfs or ssh mounts still creates a dependency") {
    CHECK(bases("FROM alpine\nRUN --mount=type=tmpfs,target=/t,from=busybox true\n") ==
          Strings{"docker.io/library/alpine:latest", "docker.io/library/busybox:latest"});
  }
  SUBCASE("mounting from a stage defined later is an error when built") {
    const Error error = error_of("FROM alpine AS a\nRUN --mount=from=b,target=/b true\nFROM busybox AS b\n",
                                 with_target("a"));
    CHECK(error.line == 2);
  }
  SUBCASE("a mount without from= reads a stage named scratch if there is one") {
    const auto analysis = ok("FROM alpine AS scratch\nFROM busybox\nRUN --mount=type=cache,target=/c true\n");
    CHECK(analysis.stages[0].needed);
  }
  SUBCASE("triggers run in children only: grandchildren and --from users do not run them") {
    const std::string parent = "FROM alpine AS base\nONBUILD COPY --from=busybox:1.36 / /\n";
    CHECK(bases(parent + "FROM base AS child\nFROM child\n") ==
          Strings{"docker.io/library/alpine:latest", "docker.io/library/busybox:1.36"});
    CHECK(bases(parent + "FROM base AS child\nFROM child\n", with_target("base")) ==
          Strings{"docker.io/library/alpine:latest"});
    CHECK(bases(parent + "FROM golang\nCOPY --from=base / /\n") ==
          Strings{"docker.io/library/alpine:latest", "docker.io/library/golang:latest"});
  }
  SUBCASE("a trigger's stage names are resolved in this file and make those stages needed") {
    const auto analysis = ok(
        "FROM alpine AS tools\n"
        "FROM alpine AS base\n"
        "ONBUILD COPY --from=tools /t /t\n"
        "ONBUILD RUN --mount=from=ghcr.io/acme/cache:1,target=/c true\n"
        "FROM base\n");
    CHECK(analysis.stages[0].needed);
    CHECK(uses_of(analysis) == Strings{"base (FROM): docker.io/library/alpine:latest",
                                       "stage-2 (ONBUILD RUN --mount from): ghcr.io/acme/cache:1",
                                       "tools (FROM): docker.io/library/alpine:latest"});
  }
  SUBCASE("a trigger's errors surface at the child's FROM, and only when the child is needed") {
    const std::string text = "FROM alpine AS base\nONBUILD COPY --from=${X} / /\nFROM base AS child\nFROM busybox\n";
    CHECK(bases(text) == Strings{"docker.io/library/busybox:latest"});
    const Error error = error_of(text, with_target("child"));
    CHECK(error.line == 3);
    CHECK(error.message.find("line 2") != std::string::npos);
    CHECK(error_of("FROM alpine AS base\nONBUILD BOGUS x\nFROM base\n").line == 3);
  }
  SUBCASE("a trigger is parsed again with the default escape character") {
    const auto analysis = ok("# escape=`\nFROM alpine AS base\nONBUILD COPY --from=busybox:1 a\\ b /x\nFROM base\n");
    CHECK(analysis.bases == Strings{"docker.io/library/alpine:latest", "docker.io/library/busybox:1"});
  }
  SUBCASE("a trigger copying from a later stage fails in the child") {
    CHECK(error_of("FROM alpine AS base\nONBUILD COPY --from=late / /\nFROM base AS child\nFROM busybox AS late\n",
                   with_target("child"))
              .line == 3);
  }
  SUBCASE("ONBUILD with a heredoc keeps its body out of the instructions") {
    CHECK(bases("FROM alpine AS base\nONBUILD RUN <<EOF\nFROM nope\nEOF\nFROM base\n") ==
          Strings{"docker.io/library/alpine:latest"});
  }
}

TEST_CASE("dockerfile::target (section 10)") {
  const std::string text = "FROM node:22 AS ui\nFROM golang:1.23 AS api\nFROM nginx:1.27 AS web\nCOPY --from=ui / /\n";
  SUBCASE("an unknown target is an error") {
    const Error error = error_of(text, with_target("nope"));
    CHECK(error.message == "target stage \"nope\" could not be found");
  }
  SUBCASE("the target name is case-insensitive") {
    CHECK(ok(text, with_target("WEB")).target == 2);
  }
  SUBCASE("stages before the target that it does not need are not built (no legacy order)") {
    const auto analysis = ok(text);
    CHECK_FALSE(analysis.stages[1].needed);
    CHECK(analysis.bases == Strings{"docker.io/library/nginx:1.27", "docker.io/library/node:22"});
  }
  SUBCASE("an empty --target means the last stage") {
    CHECK(ok(text, with_target("")).target == 2);
  }
}
