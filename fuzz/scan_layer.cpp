// Layer blobs (tar, gzip, zstd, any libarchive sniffs): scan::index_layer with small limits.
#include "cascade/scan.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade;
  scan::Limits limits;
  limits.max_uncompressed = 8u << 20;
  limits.max_file = 1u << 20;
  limits.max_entries = 1000;
  limits.max_layers = 4;
  static const std::string digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
  auto index = scan::index_layer(fuzz::view(data, size), digest, limits);
  if (index && index->uncompressed_bytes > limits.max_uncompressed) fuzz::violated("uncompressed limit exceeded");
  return 0;
}
