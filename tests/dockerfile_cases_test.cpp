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
  check_use(0, 0, UseKind::From, 3, "docker.io/library/golang:1.23");
  check_use(1, 0, UseKind::RunMount, 4, "ghcr.io/acme/protoc:25");
  check_use(2, 1, UseKind::From, 6, "docker.io/library/alpine:3.20");
  check_use(3, 2, UseKind::OnbuildCopyFrom, 7, "docker.io/library/busybox:1.36");
  check_use(4, 2, UseKind::CopyFrom, 10, "gcr.io/distroless/static:nonroot");
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
  CHECK(to_string(UseKind::RunMount) == "RUN --mount from");
}
