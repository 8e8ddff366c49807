// One layer blob through libarchive: the tar entries cascade reads (package databases,
// os-release, their links), whiteouts and opaque markers; everything else is read past in
// blocks, counting bytes against the limits. Nothing but those files is kept.
#include <archive.h>
#include <archive_entry.h>

#include <map>
#include <memory>

#include "internal.hpp"

namespace cascade::scan::detail {

namespace {

struct Reader {
  const Source* source = nullptr;
  std::string_view chunk;
};

la_ssize_t pull(struct archive*, void* data, const void** buffer) {
  auto* reader = static_cast<Reader*>(data);
  reader->chunk = (*reader->source)();
  *buffer = reader->chunk.data();
  return static_cast<la_ssize_t>(reader->chunk.size());
}

Error invalid(const std::string& digest, const std::string& what) {
  return Error{Error::Kind::invalid, false, "layer " + digest + ": " + what};
}

using Archive = std::unique_ptr<struct archive, int (*)(struct archive*)>;

class LayerWalk {
 public:
  LayerWalk(struct archive* archive, const std::string& digest, const Limits& limits)
      : archive_(archive), digest_(digest), limits_(limits) {
    layer_.digest = digest;
  }

  Expected<packages::LayerIndex, Error> run() {
    for (;;) {
      struct archive_entry* entry = nullptr;
      int status = archive_read_next_header(archive_, &entry);
      if (status == ARCHIVE_EOF) break;
      if (status < ARCHIVE_WARN) return unexpected(invalid(digest_, archive_error()));
      if (++entries_ > limits_.max_entries)
        return unexpected(invalid(digest_, "more than " + std::to_string(limits_.max_entries) + " entries"));
      CASCADE_TRY(take(entry));
    }
    layer_.uncompressed_bytes = std::max<std::uint64_t>(bytes_, static_cast<std::uint64_t>(archive_filter_bytes(archive_, 0)));
    return std::move(layer_);
  }

 private:
  std::string archive_error() const {
    const char* message = archive_error_string(archive_);
    return message ? std::string("corrupt or truncated archive: ") + message : "corrupt or truncated archive";
  }

  Expected<void, Error> count(std::uint64_t more) {
    // What the tar reader consumed (headers, padding, PAX data) plus the block in hand.
    bytes_ = std::max<std::uint64_t>(bytes_ + more, static_cast<std::uint64_t>(archive_filter_bytes(archive_, 0)));
    if (bytes_ > limits_.max_uncompressed)
      return unexpected(invalid(digest_, "more than " + std::to_string(limits_.max_uncompressed) +
                                             " bytes uncompressed (the layer limit; a compression bomb?)"));
    return {};
  }

  /// Reads the entry's data in blocks; keeps at most `keep_limit` bytes of it in `kept`.
  Expected<void, Error> read_data(std::string* kept) {
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
      int status = archive_read_data_block(archive_, &block, &size, &offset);
      if (status == ARCHIVE_EOF) return {};
      if (status < ARCHIVE_WARN) return unexpected(invalid(digest_, archive_error()));
      CASCADE_TRY(count(size));
      if (!kept) continue;
      if (static_cast<std::uint64_t>(offset) + size > limits_.max_file)
        return unexpected(invalid(digest_, "a package database over " + std::to_string(limits_.max_file) + " bytes"));
      if (kept->size() < static_cast<std::size_t>(offset)) kept->resize(static_cast<std::size_t>(offset), '\0');
      kept->append(static_cast<const char*>(block), size);
    }
  }

  bool whiteout(const std::string& path) {
    std::size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    if (name.rfind(".wh.", 0) != 0) return false;
    if (name == ".wh.") bad_whiteout_ = path;
    else if (name == ".wh..wh..opq") layer_.opaque_dirs.push_back(dir);
    else if (name.rfind(".wh..wh.", 0) == 0) return true;  // AUFS metadata, not a deletion
    else if (name.size() > 4) layer_.whiteouts.push_back(dir.empty() ? name.substr(4) : dir + "/" + name.substr(4));
    return true;
  }

  void keep(packages::LayerFile file) {
    for (auto& existing : layer_.files)
      if (existing.path == file.path) {
        existing = std::move(file);
        return;
      }
    layer_.files.push_back(std::move(file));
  }

  Expected<void, Error> take(struct archive_entry* entry) {
    CASCADE_TRY(count(512));
    const char* name = archive_entry_pathname(entry);
    std::string path = packages::normalize_path(name ? name : "");
    if (path.empty()) return read_data(nullptr);
    if (whiteout(path)) {
      if (!bad_whiteout_.empty()) return unexpected(invalid(digest_, "a bare whiteout '" + bad_whiteout_ + "' (OCI layers may not have one)"));
      return read_data(nullptr);
    }
    auto kind = packages::classify(path);
    if (!kind) {
      bool regular = archive_entry_filetype(entry) == AE_IFREG && !archive_entry_hardlink(entry);
      if (!regular || !maybe_linked(path)) return read_data(nullptr);
      std::string content;  // a file a database may be hard-linked to later in this layer
      auto read = read_data(&content);
      if (read) contents_[path] = std::move(content);
      return read;
    }
    if (const char* target = archive_entry_hardlink(entry)) {
      auto found = contents_.find(packages::normalize_path(target));
      if (found != contents_.end()) {
        keep(packages::index_file(path, *kind, found->second));
      } else {
        packages::LayerFile unread;
        unread.path = path;
        unread.kind = *kind;
        unread.problem = "a hard link to " + packages::normalize_path(target) + ", whose content was not kept: not indexed";
        keep(std::move(unread));
      }
      return read_data(nullptr);
    }
    if (archive_entry_filetype(entry) == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      packages::LayerFile link;
      link.path = path;
      link.kind = *kind;
      link.link = target ? target : "";
      keep(std::move(link));
      return read_data(nullptr);
    }
    if (archive_entry_filetype(entry) != AE_IFREG) return read_data(nullptr);
    if (archive_entry_size_is_set(entry) && static_cast<std::uint64_t>(archive_entry_size(entry)) > limits_.max_file)
      return unexpected(invalid(digest_, path + " is over " + std::to_string(limits_.max_file) + " bytes"));
    std::string content;
    CASCADE_TRY(read_data(&content));
    keep(packages::index_file(path, *kind, content));
    contents_[path] = std::move(content);
    return {};
  }

  // A file in a package database's folder (or an os-release look-alike) that a database path
  // of the same layer may name as its hard link target: its content is kept (bounded by
  // max_file each) until the layer ends.
  static bool maybe_linked(const std::string& path) {
    std::size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    static const char* const kDatabaseDirs[] = {"var/lib/dpkg", "var/lib/dpkg/status.d", "lib/apk/db", "usr/lib/apk/db",
                                                "var/lib/rpm", "usr/lib/sysimage/rpm"};
    for (const char* candidate : kDatabaseDirs)
      if (dir == candidate) return true;
    return (dir == "etc" || dir == "usr/lib") && name.rfind("os-release", 0) == 0;
  }

  struct archive* archive_;
  std::string bad_whiteout_;
  const std::string& digest_;
  const Limits& limits_;
  packages::LayerIndex layer_;
  std::map<std::string, std::string> contents_;  // files read in this layer, for hard links to them
  std::uint64_t bytes_ = 0;
  std::uint64_t entries_ = 0;
};

}  // namespace

Expected<packages::LayerIndex, Error> read_layer(const Source& source, const std::string& digest, const Limits& limits) {
  Archive archive(archive_read_new(), archive_read_free);
  if (!archive) return unexpected(Error{Error::Kind::invalid, false, "libarchive: out of memory"});
  archive_read_support_filter_gzip(archive.get());
  archive_read_support_filter_zstd(archive.get());
  archive_read_support_format_tar(archive.get());
  Reader reader{&source, {}};
  if (archive_read_open(archive.get(), &reader, nullptr, pull, nullptr) != ARCHIVE_OK) {
    const char* message = archive_error_string(archive.get());
    return unexpected(invalid(digest, std::string("not a tar, tar+gzip or tar+zstd layer") +
                                          (message ? std::string(": ") + message : "")));
  }
  return LayerWalk(archive.get(), digest, limits).run();
}

bool ChunkQueue::push(std::string_view chunk) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return abandoned_ || queued_ < capacity_; });
  if (abandoned_) return false;
  chunks_.emplace_back(chunk);
  queued_ += chunk.size();
  changed_.notify_all();
  return true;
}

void ChunkQueue::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  changed_.notify_all();
}

void ChunkQueue::abandon() {
  std::lock_guard lock(mutex_);
  abandoned_ = true;
  chunks_.clear();
  queued_ = 0;
  changed_.notify_all();
}

std::optional<std::string> ChunkQueue::pop() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !chunks_.empty() || closed_ || abandoned_; });
  if (chunks_.empty()) return std::nullopt;
  std::string chunk = std::move(chunks_.front());
  chunks_.pop_front();
  queued_ -= chunk.size();
  changed_.notify_all();
  return chunk;
}

}  // namespace cascade::scan::detail

namespace cascade::scan {

Expected<packages::LayerIndex, Error> index_layer(std::string_view blob, const std::string& digest, const Limits& limits) {
  bool given = false;
  detail::Source source = [&]() -> std::string_view {
    if (given) return {};
    given = true;
    return blob;
  };
  return detail::read_layer(source, digest, limits);
}

}  // namespace cascade::scan
