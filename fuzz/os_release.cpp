// os-release files: packages::parse_os_release and distro_name.
#include "cascade/packages.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  auto os = cascade::packages::parse_os_release(cascade::fuzz::view(data, size));
  (void)cascade::packages::distro_name(os);
  return 0;
}
