// The `platforms:` lists of the pipeline file (top level, sources, image recipes, discover
// entries): containerd's normalization of every accepted spelling, the order kept, and
// every error with its line, column and what to write instead.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/pipeline.hpp"
#include "pipeline_support.hpp"

using namespace cascade::pipeline;
using namespace pipeline_test;

namespace {

using Platforms = std::vector<std::string>;

bool contains(const std::string& text, std::string_view fragment) { return text.find(fragment) != std::string::npos; }

/// "version: 1", "platforms: <list>" on line 2, then kHead's source (lines 3-7).
cascade::Expected<Pipeline, Error> parse_top_level(std::string_view list) {
  std::string file = "version: 1\nplatforms: " + std::string(list) + "\n" + std::string(kHead.substr(11));
  return parse(file, "cascade.yaml", "/srv/fleet", kEnv);
}

/// The top-level list `list` (a YAML flow list or scalar) once read.
Platforms normalized(std::string_view list) {
  auto result = parse_top_level(list);
  REQUIRE_MESSAGE(result, result.error().str());
  REQUIRE(result->platforms);
  return *result->platforms;
}

/// Checks the error's place and a fragment of its message; a top-level list is on line 2.
void check_error(cascade::Expected<Pipeline, Error> result, int line, int column, std::string_view fragment) {
  REQUIRE_MESSAGE(!result, "parsed without error");
  INFO(result.error().str());
  CHECK(result.error().file == "cascade.yaml");
  CHECK(result.error().line == line);
  CHECK(result.error().column == column);
  CHECK(contains(result.error().message, fragment));
}

void check_top_level_error(std::string_view list, int column, std::string_view fragment) {
  INFO("platforms: " << list);
  check_error(parse_top_level(list), 2, column, fragment);
}

constexpr std::string_view kEverywhere = R"(version: 1
platforms: [linux/amd64]
sources:
  - name: apps
    git: repos/apps
    platforms:
      - linux/amd64
      - linux/arm64
    images:
      - {image: registry.example.com/apps/api:1, dockerfile: api/Dockerfile, platforms: [linux/arm/v7]}
      - {image: registry.example.com/apps/web:1, dockerfile: web/Dockerfile}
    discover:
      - dockerfiles: "services/*/Dockerfile"
        image: "registry.example.com/apps/{dir}:1"
        platforms: [linux/s390x, linux/ppc64le]
      - {dockerfiles: "jobs/*/Dockerfile", image: "registry.example.com/jobs/{dir}:1"}
  - name: plain
    git: repos/plain
    discover:
      - {dockerfiles: "*/Dockerfile", image: "registry.example.com/plain/{dir}:1"}
)";

}  // namespace

TEST_CASE("pipeline::platforms") {
  SUBCASE("read at the top level, in a source, an image recipe and a discover entry") {
    auto result = parse(kEverywhere, "cascade.yaml", "/srv/fleet", kEnv);
    REQUIRE_MESSAGE(result, result.error().str());
    CHECK(result->platforms == Platforms{"linux/amd64"});
    const Source& apps = result->sources.at(0);
    CHECK(apps.platforms == Platforms{"linux/amd64", "linux/arm64"});
    CHECK(apps.images.at(0).platforms == Platforms{"linux/arm/v7"});
    CHECK_FALSE(apps.images.at(1).platforms);  // inherited later, by the fleet scan
    CHECK(apps.discover.at(0).platforms == Platforms{"linux/s390x", "linux/ppc64le"});
    CHECK_FALSE(apps.discover.at(1).platforms);
    const Source& plain = result->sources.at(1);
    CHECK_FALSE(plain.platforms);
    CHECK_FALSE(plain.discover.at(0).platforms);
  }
  SUBCASE("absent everywhere: no list at all, not an empty one") {
    Pipeline pipeline = parsed("");
    CHECK_FALSE(pipeline.platforms);
    CHECK_FALSE(pipeline.sources.at(0).platforms);
    CHECK_FALSE(pipeline.sources.at(0).images.at(0).platforms);
  }
  SUBCASE("every known architecture, in the order written") {
    CHECK(normalized("[linux/riscv64, linux/amd64, linux/arm64, linux/arm/v7, linux/386, linux/ppc64le, "
                     "linux/s390x, linux/mips64le]") ==
          Platforms{"linux/riscv64", "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/386", "linux/ppc64le",
                    "linux/s390x", "linux/mips64le"});
  }
  SUBCASE("a block list and quoted entries") {
    auto result = parse(std::string(kHead) + "platforms:\n  - 'linux/amd64'\n  - \"linux/arm64\"\n", "cascade.yaml",
                        "/srv/fleet", kEnv);
    REQUIRE_MESSAGE(result, result.error().str());
    CHECK(result->platforms == Platforms{"linux/amd64", "linux/arm64"});
  }
  SUBCASE("normalized as containerd does") {
    CHECK(normalized("[Linux/AMD64]") == Platforms{"linux/amd64"});
    CHECK(normalized("[linux/x86_64]") == Platforms{"linux/amd64"});
    CHECK(normalized("[linux/x86-64]") == Platforms{"linux/amd64"});
    CHECK(normalized("[linux/aarch64]") == Platforms{"linux/arm64"});
    CHECK(normalized("[linux/i386]") == Platforms{"linux/386"});
    CHECK(normalized("[linux/arm64/v8]") == Platforms{"linux/arm64"});
    CHECK(normalized("[linux/aarch64/8]") == Platforms{"linux/arm64"});
    CHECK(normalized("[linux/amd64/v1]") == Platforms{"linux/amd64"});
    CHECK(normalized("[linux/arm]") == Platforms{"linux/arm/v7"});
    CHECK(normalized("[linux/arm/7]") == Platforms{"linux/arm/v7"});
    CHECK(normalized("[linux/armhf]") == Platforms{"linux/arm/v7"});
    CHECK(normalized("[linux/armhf/v7]") == Platforms{"linux/arm/v7"});
    CHECK(normalized("[linux/armel]") == Platforms{"linux/arm/v6"});  // containerd: armel is the v6 port
    CHECK(normalized("[linux/ARM/V6]") == Platforms{"linux/arm/v6"});
  }
  SUBCASE("variants kept where they mean something") {
    CHECK(normalized("[linux/arm/v5, linux/arm/v6, linux/arm/v7, linux/arm/v8]") ==
          Platforms{"linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8"});
    CHECK(normalized("[linux/amd64/v2, linux/amd64/v3, linux/amd64/v4, linux/amd64]") ==
          Platforms{"linux/amd64/v2", "linux/amd64/v3", "linux/amd64/v4", "linux/amd64"});
  }
}

TEST_CASE("pipeline::platforms errors") {
  SUBCASE("not a list, an empty list, entries that are not strings") {
    check_top_level_error("linux/amd64", 12, "'platforms' must be a list, not a string: write [linux/amd64]");
    check_top_level_error("[]", 12, "'platforms' is empty: list at least one platform");
    check_top_level_error("{linux: amd64}", 12, "'platforms' must be a list, not a mapping");
    check_top_level_error("[linux/amd64, [linux, arm64]]", 26,
                          "each entry of 'platforms' must be a string like linux/amd64, not a list");
    check_error(parse_with("platforms:\n  - linux/amd64\n  -\n"), 9, 3,
                "'platforms' has an empty entry; give each '-' a platform like linux/amd64, or remove it");
    check_top_level_error("[linux/amd64, ~]", 12, "'platforms' has an empty entry");
    check_error(parse_with("platforms:\n"), 8, 1, "'platforms' has no value; give it one or remove the key");
  }
  SUBCASE("not os/arch") {
    check_top_level_error("[linux/x86]", 13,
                          "'linux/x86' is not a platform: write os/arch like linux/amd64 or linux/arm64 (unknown "
                          "architecture 'x86'; known: amd64, arm64, arm, 386, ppc64le, s390x, riscv64, mips64le)");
    check_top_level_error("[linux/amd64, amd64]", 26,
                          "'amd64' is not a platform: write os/arch like linux/amd64 or linux/arm64, or "
                          "os/arch/variant like linux/arm/v7");
    check_top_level_error("[linux/]", 13, "'linux/' is not a platform: write os/arch");
    check_top_level_error("['/amd64']", 13, "'/amd64' is not a platform: write os/arch");
    check_top_level_error("[linux/arm/v7/x]", 13, "'linux/arm/v7/x' is not a platform: write os/arch");
    check_top_level_error("[linux//v7]", 13, "'linux//v7' is not a platform");
  }
  SUBCASE("an os other than linux") {
    check_top_level_error("[windows/amd64]", 13,
                          "'windows/amd64' is not a platform cascade builds: the os must be linux; write linux/amd64");
    check_top_level_error("[darwin/aarch64]", 13, "the os must be linux; write linux/arm64");
    check_top_level_error("[freebsd/sparc]", 13,
                          "the os must be linux; write os/arch like linux/amd64 or linux/arm64");
  }
  SUBCASE("a variant that means nothing on its architecture") {
    check_top_level_error(
        "[linux/amd64/v5]", 13,
        "'linux/amd64/v5': amd64 has no variant 'v5'; write linux/amd64, or linux/amd64/v2, v3 or v4");
    check_top_level_error("[linux/arm/v9]", 13,
                          "'linux/arm/v9': arm has no variant 'v9'; write linux/arm, or linux/arm/v5, v6, v7 or v8");
    check_top_level_error("[linux/arm64/v9]", 13, "'linux/arm64/v9': arm64 has no variant 'v9'; write linux/arm64");
    check_top_level_error("[linux/s390x/v1]", 13, "'linux/s390x/v1': s390x has no variant 'v1'; write linux/s390x");
    check_top_level_error("[linux/386/v2]", 13, "'linux/386/v2': 386 has no variant 'v2'; write linux/386");
    check_top_level_error("[linux/armhf/v6]", 13,
                          "'linux/armhf/v6': armhf is linux/arm/v7; write linux/arm/v6 for that variant");
    check_top_level_error("[linux/armel/v7]", 13,
                          "'linux/armel/v7': armel is linux/arm/v6; write linux/arm/v7 for that variant");
  }
  SUBCASE("two entries naming one platform, as written or once normalized") {
    check_top_level_error("[linux/amd64, linux/arm64, linux/amd64]", 39,
                          "'linux/amd64' is already listed at line 2, column 13; keep only one");
    check_top_level_error("[linux/arm64, linux/aarch64]", 26,
                          "'linux/aarch64' is the same platform as 'linux/arm64' at line 2, column 13 (both are "
                          "linux/arm64); keep only one");
    check_top_level_error("[linux/arm, linux/arm/v7]", 24,
                          "'linux/arm/v7' is the same platform as 'linux/arm' at line 2, column 13 (both are "
                          "linux/arm/v7); keep only one");
    check_error(parse_with("platforms:\n  - linux/x86_64\n  - Linux/AMD64/v1\n"), 10, 5,
                "'Linux/AMD64/v1' is the same platform as 'linux/x86_64' at line 9, column 5");
  }
  SUBCASE("errors in a source, an image recipe and a discover entry point at the entry") {
    check_error(parse("version: 1\nsources:\n  - name: apps\n    git: repos/apps\n    platforms: [linux/amd64, "
                      "windows/amd64]\n    images: [{image: x/y:1, dockerfile: Dockerfile}]\n",
                      "cascade.yaml", "/srv/fleet", kEnv),
                5, 30, "'windows/amd64' is not a platform cascade builds");
    check_error(parse("version: 1\nsources:\n  - name: apps\n    git: repos/apps\n    images:\n"
                      "      - image: x/y:1\n        dockerfile: Dockerfile\n        platforms:\n"
                      "          - linux/arm64\n          - linux/mips\n",
                      "cascade.yaml", "/srv/fleet", kEnv),
                10, 13, "'linux/mips' is not a platform: write os/arch like linux/amd64 or linux/arm64");
    check_error(parse("version: 1\nsources:\n  - name: apps\n    git: repos/apps\n    discover:\n"
                      "      - {dockerfiles: '*/Dockerfile', image: 'x/{dir}:1', platforms: []}\n",
                      "cascade.yaml", "/srv/fleet", kEnv),
                6, 70, "'platforms' is empty");
  }
  SUBCASE("unknown keys are still errors, with the new key suggested") {
    check_error(parse_with("platform: [linux/amd64]\n"), 8, 1,
                "unknown key 'platform' in the pipeline file; did you mean 'platforms'?");
    check_error(parse("version: 1\nsources:\n  - name: apps\n    git: repos/apps\n    platfroms: [linux/amd64]\n"
                      "    images: [{image: x/y:1, dockerfile: Dockerfile}]\n",
                      "cascade.yaml", "/srv/fleet", kEnv),
                5, 5, "unknown key 'platfroms' in source; did you mean 'platforms'?");
    check_error(parse("version: 1\nsources:\n  - name: apps\n    git: repos/apps\n"
                      "    images: [{image: x/y:1, dockerfile: Dockerfile, arch: [linux/amd64]}]\n",
                      "cascade.yaml", "/srv/fleet", kEnv),
                5, 53,
                "unknown key 'arch' in image recipe; allowed: image, dockerfile, context, target, build_args, "
                "builder, platforms");
    check_error(parse("version: 1\nsources:\n  - name: apps\n    git: repos/apps\n"
                      "    discover: [{dockerfiles: '*/Dockerfile', image: 'x/{dir}:1', platfrom: [linux/amd64]}]\n",
                      "cascade.yaml", "/srv/fleet", kEnv),
                5, 66, "unknown key 'platfrom' in discover entry; did you mean 'platforms'?");
  }
}
