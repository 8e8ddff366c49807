// Package constraints a person types: advisory::parse_constraint, to_string round trip,
// satisfies() in each scheme.
#include "cascade/advisory.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade;
  auto parsed = advisory::parse_constraint(fuzz::view(data, size));
  if (!parsed) return 0;
  std::string text = advisory::to_string(*parsed);
  auto again = advisory::parse_constraint(text);
  if (!again) fuzz::violated("to_string of a parsed constraint does not parse");
  if (advisory::to_string(*again) != text) fuzz::violated("constraint to_string is not idempotent");
  for (auto scheme : {version::Scheme::dpkg, version::Scheme::apk, version::Scheme::rpm})
    (void)advisory::satisfies(*parsed, scheme, "1.2.3-1");
  return 0;
}
