// rpmdb.sqlite files as bytes: packages::parse_rpmdb_sqlite (SQLite opened from memory).
#include "cascade/packages.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  (void)cascade::packages::parse_rpmdb_sqlite(cascade::fuzz::view(data, size));
  return 0;
}
