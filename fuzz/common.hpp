// Shared helpers of the libFuzzer targets (fuzz/README in bench/README.md).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <fuzzer/FuzzedDataProvider.h>

namespace cascade::fuzz {

inline std::string_view view(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// An invariant the code under test promises was broken: report it and crash, so libFuzzer
/// keeps the input.
[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

}  // namespace cascade::fuzz
