// Pieces of the scan module shared between its files: the libarchive layer reader fed by a
// pull source, and the bounded queue that hands a streamed blob's chunks from the HTTP
// client's thread to the reader's.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "cascade/scan.hpp"

namespace cascade::scan::detail {

/// Gives the next chunk of a blob; an empty view at the end. The view stays valid until the
/// next call.
using Source = std::function<std::string_view()>;

/// Reads a layer tar (plain, gzip or zstd, sniffed) from `source` into its index; fails
/// (invalid) naming what is wrong and `digest`. Does not read past the archive's end.
Expected<packages::LayerIndex, Error> read_layer(const Source& source, const std::string& digest, const Limits& limits);

/// Chunks from one producer to one consumer, at most `capacity` bytes queued: push() waits
/// while it is full. close() ends the stream (pop() then gives nullopt once drained);
/// abandon() makes every later push() return false and drops what is queued.
class ChunkQueue {
 public:
  explicit ChunkQueue(std::size_t capacity) : capacity_(capacity) {}
  bool push(std::string_view chunk);
  void close();
  void abandon();
  /// The next chunk, waiting for one; nullopt after close() and once drained.
  std::optional<std::string> pop();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> chunks_;
  std::size_t queued_ = 0;
  std::size_t capacity_;
  bool closed_ = false;
  bool abandoned_ = false;
};

}  // namespace cascade::scan::detail
