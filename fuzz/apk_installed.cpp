// apk's lib/apk/db/installed: packages::parse_apk_installed.
#include "cascade/packages.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  (void)cascade::packages::parse_apk_installed(cascade::fuzz::view(data, size));
  return 0;
}
