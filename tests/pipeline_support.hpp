// Shared by the pipeline section tests: a valid file head (7 lines) that a test appends one
// section to, and parsing it.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "cascade/pipeline.hpp"

namespace pipeline_test {

using namespace cascade::pipeline;

inline const Environment kEnv{"/home/dev", ""};

/// A valid file without the section under test (7 lines): an appended section starts at line 8.
constexpr std::string_view kHead = R"(version: 1
sources:
  - name: platform
    git: repos/platform
    images:
      - image: registry.example.com/base/debian:12
        dockerfile: debian/Dockerfile
)";

inline cascade::Expected<Pipeline, Error> parse_with(std::string_view section) {
  return parse(std::string(kHead) + std::string(section), "cascade.yaml", "/srv/fleet", kEnv);
}

inline Pipeline parsed(std::string_view section) {
  auto result = parse_with(section);
  if (!result) FAIL(result.error().str());
  return *result;
}

}  // namespace pipeline_test
