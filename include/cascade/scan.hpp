// Reading image contents from the registry: manifests, then each layer blob streamed once
// through libarchive (tar, gzip, zstd), keeping only the package databases and os-release
// files (layer_index.hpp), verified against the blob's digest, bounded in size; every
// layer's index stored by digest so it is never read again; an image's packages are the
// fold of its layers' indexes. Reaches the network only through registry::Registry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/layer_index.hpp"
#include "cascade/reference.hpp"
#include "cascade/registry.hpp"
#include "cascade/store.hpp"
#include "cascade/util/expected.hpp"

namespace cascade::scan {

/// Bounds on what a layer may make cascade read (PACKAGES.md section 1.5).
struct Limits {
  std::uint64_t max_uncompressed = 8ull << 30;  // bytes of tar per layer (compression bombs)
  std::uint64_t max_file = 256ull << 20;        // one database or os-release file
  std::uint64_t max_entries = 1'000'000;        // tar entries per layer
  std::size_t max_layers = 256;                 // layers per image
};

struct Error {
  enum class Kind {
    registry,  // the registry failed (kind and message from registry::Error)
    invalid,   // the layer or manifest is bad: digest mismatch, corrupt archive, over a limit
    store,     // the state store failed
  } kind = Kind::invalid;
  bool transient = false;  // worth another try later (network, 5xx)
  std::string message;     // names the image and the layer digest; never a secret
};

/// Reads one layer blob held in memory (any compression; sniffed from its magic bytes) into
/// its index; `digest` is only copied into the result. Fails (invalid) on a corrupt or
/// truncated archive or a limit reached, naming what. For tests and fuzzing; the Scanner
/// streams instead.
Expected<packages::LayerIndex, Error> index_layer(std::string_view blob, const std::string& digest,
                                                  const Limits& limits = {});

/// One image as indexed.
struct ScannedImage {
  std::string image;         // the reference scanned, normalized
  std::string digest;        // what it pointed to (manifest or index digest)
  std::string image_digest;  // the platform's image manifest digest
  std::vector<std::string> layers;  // layer digests, bottom first
  packages::ImageContents contents;
};

/// Counters of one Scanner, for progress and benchmarks.
struct Stats {
  std::size_t images = 0;          // images scanned
  std::size_t manifests_read = 0;  // manifest GETs (an image named by a digest seen before needs none)
  std::size_t layers_read = 0;     // layer blobs streamed from the registry
  std::size_t layers_known = 0;    // layers whose index was already stored
  std::uint64_t bytes_read = 0;    // compressed bytes streamed
};

class Scanner {
 public:
  /// `parallel`: layer blobs streamed at once within one scan_all().
  Scanner(registry::Registry& registry, store::Store& store, Limits limits = {}, std::size_t parallel = 8);

  /// Indexes `image` (a tag: resolved now; or a digest): its manifest (from the store when
  /// the digest was seen before), every layer not yet stored (streamed, verified, stored),
  /// and (with `fold`) the fold into its packages; without it, `contents` stays empty. Fails
  /// naming the image and the layer; nothing half-stored.
  Expected<ScannedImage, Error> scan(const reference::Reference& image, bool fold = true);

  /// scan() for many images, layers shared between them read once, at most `parallel`
  /// blobs at a time; results in the same order. `progress` (may be empty) is called
  /// after each image, from any thread, one call at a time.
  std::vector<Expected<ScannedImage, Error>> scan_all(const std::vector<reference::Reference>& images,
                                                      const std::function<void(std::size_t done, std::size_t total)>& progress = {},
                                                      bool fold = true);

  /// The contents of an image manifest digest from the store alone (no network); nullopt
  /// when its manifest or a layer was never indexed.
  Expected<std::optional<ScannedImage>, Error> stored(const std::string& image, const std::string& image_digest);

  Stats stats() const;

 private:
  /// Fills digest, image_digest and layers, reading and storing every layer not indexed yet.
  Expected<void, Error> image_layers(const reference::Reference& image, ScannedImage& scanned);
  Expected<void, Error> ensure_layer(const reference::Reference& image, const registry::BlobDescriptor& layer);
  Expected<void, Error> read_and_store(const reference::Reference& image, const registry::BlobDescriptor& layer);
  Expected<ScannedImage, Error> fold_stored(ScannedImage scanned);

  registry::Registry& registry_;
  store::Store& store_;
  Limits limits_;
  std::size_t parallel_;
  mutable std::mutex mutex_;  // guards stats_ and in_flight_
  Stats stats_;
  std::map<std::string, std::shared_future<Expected<void, Error>>> in_flight_;  // layer digest -> its one reading
};

}  // namespace cascade::scan
