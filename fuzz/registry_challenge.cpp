// Registry WWW-Authenticate headers: registry::parse_challenges.
#include "cascade/registry.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade;
  auto challenges = registry::parse_challenges(fuzz::view(data, size));
  for (const auto& challenge : challenges)
    for (char c : challenge.scheme)
      if (c >= 'A' && c <= 'Z') fuzz::violated("challenge scheme not in lowercase");
  return 0;
}
