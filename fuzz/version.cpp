// Version ordering: compare() of each scheme on two versions split at the first newline.
// Invariants (version.hpp): the result is -1, 0 or 1; compare(a, a) == 0; antisymmetry
// compare(a, b) == -compare(b, a). Any violation aborts.
#include "cascade/version.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade;
  if (size < 1) return 0;
  static constexpr version::Scheme schemes[] = {version::Scheme::dpkg, version::Scheme::apk, version::Scheme::rpm};
  version::Scheme scheme = schemes[data[0] % 3];
  std::string_view rest = fuzz::view(data + 1, size - 1);
  auto split = rest.find('\n');
  std::string_view a = rest.substr(0, split);
  std::string_view b = split == std::string_view::npos ? std::string_view{} : rest.substr(split + 1);
  int ab = version::compare(scheme, a, b);
  int ba = version::compare(scheme, b, a);
  if (ab < -1 || ab > 1 || ba < -1 || ba > 1) fuzz::violated("compare() returned something other than -1, 0 or 1");
  if (ab != -ba) fuzz::violated("compare() is not antisymmetric");
  if (version::compare(scheme, a, a) != 0) fuzz::violated("compare(a, a) != 0");
  (void)version::invalid_reason(scheme, a);
  (void)version::invalid_reason(scheme, b);
  return 0;
}
