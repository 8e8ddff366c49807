// RPM header blobs as rpmdb stores them: packages::parse_rpm_header.
#include "cascade/packages.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  (void)cascade::packages::parse_rpm_header(cascade::fuzz::view(data, size));
  return 0;
}
