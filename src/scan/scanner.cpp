// The Scanner: resolves an image to its layers (kept by digest in the store), streams each
// layer not indexed yet from the registry into the layer reader on this thread while the
// HTTP client fills a bounded queue, verifies the blob's digest before storing anything,
// and folds the stored indexes into the image's packages. Layers shared by images scanned
// at the same time are read once.
#include <atomic>
#include <future>
#include <thread>

#include "internal.hpp"

namespace cascade::scan {

namespace {

constexpr std::size_t kQueueBytes = 4u << 20;  // streamed bytes waiting for the reader, per layer
constexpr int kLayerAttempts = 3;             // a transient failure mid-stream starts the layer over

// A blob or manifest the registry served but that is bad (digest mismatch, short body, not
// JSON) is invalid content; the rest is the registry failing.
Error from_registry(const registry::Error& error) {
  auto kind = error.kind == registry::ErrorKind::invalid ? Error::Kind::invalid : Error::Kind::registry;
  return Error{kind, error.transient(), error.str()};
}

Error from_store(const store::Error& error) { return Error{Error::Kind::store, false, error.message}; }


}  // namespace

Scanner::Scanner(registry::Registry& registry, store::Store& store, Limits limits, std::size_t parallel)
    : registry_(registry), store_(store), limits_(limits), parallel_(parallel ? parallel : 1) {}

Stats Scanner::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

Expected<void, Error> Scanner::image_layers(const reference::Reference& image, ScannedImage& scanned) {
  if (!image.digest.empty()) {  // an exact digest seen before: no request at all
    auto known = store_.get_image_layers(image.digest);
    if (!known) return unexpected(from_store(known.error()));
    if (*known) {
      std::lock_guard lock(mutex_);
      stats_.layers_known += (*known)->layers.size();
      scanned.digest = image.digest;
      scanned.image_digest = (*known)->image_digest;
      scanned.layers = (*known)->layers;
      return {};
    }
  }
  // A tag: one GET answers both what it points to and what that is made of.
  auto manifest = registry_.image_manifest(image);
  if (!manifest) return unexpected(from_registry(manifest.error()));
  {
    std::lock_guard lock(mutex_);
    ++stats_.manifests_read;
  }
  scanned.digest = manifest->digest;
  scanned.image_digest = manifest->image_digest;
  if (manifest->layers.size() > limits_.max_layers)
    return unexpected(Error{Error::Kind::invalid, false, image.familiar() + ": more than " +
                                                             std::to_string(limits_.max_layers) + " layers"});
  store::ImageLayers record{manifest->digest, manifest->image_digest, {}};
  for (const auto& layer : manifest->layers) record.layers.push_back(layer.digest);
  auto known = store_.get_image_layers(record.digest);
  if (!known) return unexpected(from_store(known.error()));
  if (*known) {
    std::lock_guard lock(mutex_);
    stats_.layers_known += record.layers.size();
  } else {
    // The layers' blobs are read before the record is stored: a record names only indexed layers.
    for (const auto& layer : manifest->layers) CASCADE_TRY(ensure_layer(image, layer));
    auto stored_record = store_.put_image_layers(record);
    if (!stored_record) return unexpected(from_store(stored_record.error()));
  }
  scanned.layers = std::move(record.layers);
  return {};
}

namespace {

// Streams one blob into the layer reader: the HTTP client pushes chunks on its thread, the
// reader pulls them here. The blob is read to its end (so its digest is checked) even when
// the archive ends earlier; a digest mismatch wins over whatever the reader made of it.
Expected<packages::LayerIndex, Error> stream_layer(registry::Registry& registry, const reference::Reference& image,
                                                   const registry::BlobDescriptor& blob, const Limits& limits,
                                                   std::uint64_t& bytes) {
  detail::ChunkQueue queue(kQueueBytes);
  std::optional<registry::Error> fetch_error;
  std::thread producer([&] {
    auto streamed = registry.stream_blob(image, blob, [&](std::string_view chunk) { return queue.push(chunk); });
    if (!streamed) fetch_error = streamed.error();
    queue.close();
  });
  std::string current;
  detail::Source source = [&]() -> std::string_view {
    auto chunk = queue.pop();
    if (!chunk) return {};
    current = std::move(*chunk);
    bytes += current.size();
    return current;
  };
  auto index = detail::read_layer(source, blob.digest, limits);
  if (index) {
    while (queue.pop()) {
    }
  } else {
    queue.abandon();
  }
  producer.join();
  if (fetch_error && (index || fetch_error->message.find("stopped by the reader") == std::string::npos))
    return unexpected(from_registry(*fetch_error));
  if (!index) return unexpected(Error{index.error().kind, false, image.familiar() + ": " + index.error().message});
  return index;
}

}  // namespace

Expected<void, Error> Scanner::ensure_layer(const reference::Reference& image, const registry::BlobDescriptor& layer) {
  auto known = store_.known_layers({layer.digest});
  if (!known) return unexpected(from_store(known.error()));
  if (!known->empty()) {
    std::lock_guard lock(mutex_);
    ++stats_.layers_known;
    return {};
  }
  std::shared_future<Expected<void, Error>> pending;
  std::promise<Expected<void, Error>> mine;
  bool reader = false;
  {
    std::lock_guard lock(mutex_);
    auto found = in_flight_.find(layer.digest);
    if (found == in_flight_.end()) {
      pending = mine.get_future().share();
      in_flight_.emplace(layer.digest, pending);
      reader = true;
    } else {
      pending = found->second;
      ++stats_.layers_known;
    }
  }
  if (!reader) return pending.get();
  Expected<void, Error> result = read_and_store(image, layer);
  mine.set_value(result);
  std::lock_guard lock(mutex_);
  in_flight_.erase(layer.digest);
  return result;
}

Expected<void, Error> Scanner::read_and_store(const reference::Reference& image, const registry::BlobDescriptor& layer) {
  for (int attempt = 1;; ++attempt) {
    std::uint64_t bytes = 0;
    auto index = stream_layer(registry_, image, layer, limits_, bytes);
    {
      std::lock_guard lock(mutex_);
      stats_.bytes_read += bytes;
    }
    if (!index) {
      if (index.error().transient && attempt < kLayerAttempts) continue;
      return unexpected(index.error());
    }
    auto stored = store_.put_layer_index(*index);
    if (!stored) return unexpected(from_store(stored.error()));
    std::lock_guard lock(mutex_);
    ++stats_.layers_read;
    return {};
  }
}

Expected<ScannedImage, Error> Scanner::fold_stored(ScannedImage scanned) {
  auto indexes = store_.get_layer_indexes(scanned.layers);
  if (!indexes) return unexpected(from_store(indexes.error()));
  std::vector<const packages::LayerIndex*> layers;
  for (const auto& digest : scanned.layers) {
    auto found = indexes->find(digest);
    if (found == indexes->end())
      return unexpected(Error{Error::Kind::store, false, scanned.image + ": layer " + digest + " is not indexed"});
    layers.push_back(&found->second);
  }
  scanned.contents = packages::fold(layers);
  return scanned;
}

Expected<ScannedImage, Error> Scanner::scan(const reference::Reference& image, bool fold) {
  ScannedImage scanned;
  scanned.image = image.str();
  CASCADE_TRY(image_layers(image, scanned));
  {
    std::lock_guard lock(mutex_);
    ++stats_.images;
  }
  if (!fold) return scanned;
  return fold_stored(std::move(scanned));
}

Expected<std::optional<ScannedImage>, Error> Scanner::stored(const std::string& image, const std::string& digest) {
  auto known = store_.get_image_layers(digest);
  if (!known) return unexpected(from_store(known.error()));
  if (!*known) return std::optional<ScannedImage>();
  ScannedImage scanned{image, digest, (*known)->image_digest, (*known)->layers, {}};
  CASCADE_TRY_ASSIGN(auto folded, fold_stored(std::move(scanned)));
  return std::optional<ScannedImage>(std::move(folded));
}

std::vector<Expected<ScannedImage, Error>> Scanner::scan_all(
    const std::vector<reference::Reference>& images, const std::function<void(std::size_t, std::size_t)>& progress,
    bool fold) {
  std::vector<std::optional<Expected<ScannedImage, Error>>> results(images.size());
  std::atomic<std::size_t> next{0};
  std::size_t done = 0;
  std::mutex progress_mutex;
  auto work = [&] {
    for (std::size_t index = next++; index < images.size(); index = next++) {
      results[index].emplace(scan(images[index], fold));
      std::lock_guard lock(progress_mutex);
      ++done;
      if (progress) progress(done, images.size());
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t i = 1; i < std::min(parallel_, images.size()); ++i) workers.emplace_back(work);
  work();
  for (auto& worker : workers) worker.join();
  std::vector<Expected<ScannedImage, Error>> ordered;
  ordered.reserve(images.size());
  for (auto& result : results) ordered.push_back(std::move(*result));
  return ordered;
}

}  // namespace cascade::scan
