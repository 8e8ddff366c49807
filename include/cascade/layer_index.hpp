// What one image layer holds that matters for package questions, and the fold of an image's
// layers into its installed packages (shared/reference/PACKAGES.md sections 1 and 2).
//
// A layer is read once, ever (by the `scan` module, streamed from the registry); what it
// adds, replaces or deletes among the package databases and os-release files is kept as a
// LayerIndex, stored by layer digest. An image's packages are the fold of its layers'
// indexes in stack order: OCI whiteouts and opaque directories of a layer hide lower
// layers' files, never its own. Pure: values in, values out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/packages.hpp"

namespace cascade::packages {

/// The files cascade reads from a layer.
enum class FileKind {
  dpkg_status,    // var/lib/dpkg/status
  dpkg_status_d,  // var/lib/dpkg/status.d/<package> (distroless)
  apk_installed,  // lib/apk/db/installed, usr/lib/apk/db/installed
  rpm_sqlite,     // var/lib/rpm/rpmdb.sqlite, usr/lib/sysimage/rpm/rpmdb.sqlite
  rpm_bdb,        // var/lib/rpm/Packages: BerkeleyDB, not indexed
  rpm_ndb,        // var/lib/rpm/Packages.db: ndb, not indexed
  os_release,     // etc/os-release, usr/lib/os-release
};

/// "dpkg-status", "dpkg-status.d", "apk-installed", "rpmdb.sqlite", "rpm-bdb", "rpm-ndb", "os-release".
std::string_view to_string(FileKind kind);
std::optional<FileKind> parse_file_kind(std::string_view text);

/// The package database format of a kind (nullopt for os_release).
std::optional<Format> format_of(FileKind kind);

/// A layer path in canonical form: no leading "./" or "/", "." and empty components
/// dropped, ".." resolved without leaving the root, no trailing "/"; empty for the root.
std::string normalize_path(std::string_view tar_name);

/// The kind of file `path` (normalized) is, when cascade reads it.
std::optional<FileKind> classify(std::string_view path);

/// One file of interest that a layer adds or replaces.
struct LayerFile {
  std::string path;  // normalized
  FileKind kind = FileKind::os_release;
  std::vector<Package> packages;  // database kinds
  std::optional<OsRelease> os;    // os_release
  std::string problem;            // not empty: the file is there but not indexed, and why
  std::string link;               // a symbolic link: its target as written (nothing else is set)

  bool operator==(const LayerFile&) const = default;
};

/// Makes the LayerFile for `path` of `kind` from its bytes: a database parse error or an
/// unsupported format becomes `problem` ("rpm BerkeleyDB database: not indexed").
LayerFile index_file(std::string path, FileKind kind, std::string_view bytes);

struct LayerIndex {
  std::string digest;                    // the blob's digest (compressed bytes)
  std::vector<LayerFile> files;          // in tar order; a later entry for a path replaces an earlier one
  std::vector<std::string> whiteouts;    // normalized paths this layer deletes from lower layers
  std::vector<std::string> opaque_dirs;  // directories whose lower-layer contents this layer hides
  std::uint64_t uncompressed_bytes = 0;  // tar bytes read, up to the end-of-archive marker

  bool operator==(const LayerIndex&) const = default;
};

/// One installed package of an image and the layer (index into the folded list) where its
/// current version appeared.
struct ImagePackage {
  Package package;
  Format format = Format::dpkg;
  std::size_t layer = 0;
};

/// An image's packages: the fold of its layers.
struct ImageContents {
  std::optional<OsRelease> os;       // from etc/os-release, else usr/lib/os-release (links followed)
  std::vector<ImagePackage> packages;  // sorted by name, then architecture
  std::vector<std::string> problems;   // "var/lib/rpm/Packages: rpm BerkeleyDB database: not indexed"
  bool has_database = false;           // some package database was found (even an empty one)
};

/// Folds `layers` (bottom first). A package keeps the layer where its name, architecture and
/// version first appeared without a break; a layer that rewrites a database without changing
/// a package does not move it.
ImageContents fold(const std::vector<const LayerIndex*>& layers);

}  // namespace cascade::packages
