// dpkg status files: packages::parse_dpkg_status (first byte: status.d mode).
#include "cascade/packages.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade;
  if (size < 1) return 0;
  (void)packages::parse_dpkg_status(fuzz::view(data + 1, size - 1), (data[0] & 1) != 0);
  return 0;
}
