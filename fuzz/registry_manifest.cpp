// Registry manifests, indexes and image configs as cascade reads them from a registry
// (src/registry/manifest.cpp): the platform choice, an index's children, a manifest's config
// and blobs, a config's labels. Every descriptor handed back must carry a digest.
#include "common.hpp"
#include "internal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade::registry::detail;
  std::string_view body = cascade::fuzz::view(data, size);
  const std::string registry = "registry.example.com";
  if (auto chosen = choose_platform(registry, body, "linux", "amd64"); chosen && chosen->empty())
    cascade::fuzz::violated("a platform chosen without a digest");
  if (auto children = children_of(registry, body))
    for (const auto& child : *children)
      if (child.digest.empty()) cascade::fuzz::violated("an index child without a digest");
  if (auto config = config_of(registry, body); config && config->digest.empty())
    cascade::fuzz::violated("a config descriptor without a digest");
  if (auto blobs = blobs_of(registry, body))
    for (const auto& blob : *blobs)
      if (blob.digest.empty()) cascade::fuzz::violated("a blob descriptor without a digest");
  (void)labels_of(registry, body);
  return 0;
}
