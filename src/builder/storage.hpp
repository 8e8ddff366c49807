// buildah's storage, below the public interface: choosing its driver (storage.cpp) and
// deciding what a prune removes (prune.cpp). Declared here for the tests.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/builder.hpp"

namespace cascade::builder::detail {

/// Tries an overlay mount in the empty folder `scratch`: makes lower/, upper/, work/ and
/// merged/ there, mounts, reads a lower file and writes a new one through merged/, unmounts.
/// Returns empty when all of that worked, else one line saying what failed ("mount: Invalid
/// argument"). Leaves the folders for the caller to remove.
using OverlayProbe = std::function<std::string(const std::string& scratch)>;
std::string try_overlay_mount(const std::string& scratch);

/// choose_storage_driver with the overlay mount tried by `probe` (tests inject a refusal).
StorageChoice choose_storage_driver(const std::string& root, const OverlayProbe& probe);

/// The storage drivers whose image list under `root` names at least one image
/// (containers/storage keeps <root>/<driver>-images/images.json), with their image counts.
std::map<std::string, std::size_t> drivers_with_images(const std::string& root);

/// Bytes the files under `path` take on disk (st_blocks), not crossing into other file
/// systems (a mounted container's root) and counting hard links once; 0 when it is missing.
std::uint64_t disk_usage(const std::string& path);

// ---- pruning ------------------------------------------------------------------------

/// One image of a backend's storage, as its listing says.
struct StoredImage {
  std::string id;                  // "sha256:<64 hex>": the config digest
  std::vector<std::string> names;  // "repo:tag" and "repo@sha256:..."
  std::vector<std::string> digests;  // manifest digests the storage knows it by
  std::int64_t created = 0;        // seconds since the epoch
};

/// One working container of buildah's storage.
struct StoredContainer {
  std::string id;
  std::string name;
  std::string image_id;  // "sha256:<64 hex>"
  bool builder = false;  // made by buildah (bud, from), not by podman
  std::optional<std::int64_t> created;  // seconds since the epoch, when the storage says
};

/// `buildah images --json --no-trunc` (ids with or without "sha256:"). Fails naming what is malformed.
Expected<std::vector<StoredImage>, std::string> parse_buildah_images(std::string_view json);
/// `buildah containers --all --json`. Fails naming what is malformed.
Expected<std::vector<StoredContainer>, std::string> parse_buildah_containers(std::string_view json);
/// containers/storage's <root>/<driver>-containers/containers.json: id -> created (seconds).
std::map<std::string, std::int64_t> parse_container_times(std::string_view json);
/// `docker image inspect` of every image (a JSON array: Id, RepoTags, RepoDigests, Created).
Expected<std::vector<StoredImage>, std::string> parse_docker_images(std::string_view json);

/// The digests `keep` names: bare "sha256:..." entries and the digest of "repo@sha256:...".
std::set<std::string> kept_digests(const std::set<std::string>& keep);

/// "host/apps/shop:1" -> "host/apps/shop"; "host/apps/shop@sha256:..." -> "host/apps/shop".
std::string repository_of(std::string_view name);

/// True when the image is one `keep` names: its id, one of its digests, or the digest of one
/// of its names is among kept_digests(keep), or one of its names is in `keep` itself.
bool named_by(const StoredImage& image, const std::set<std::string>& keep, const std::set<std::string>& digests);

/// "2026-12-05T23:21:33.539439879Z" (RFC 3339, any offset) -> seconds since the epoch.
std::optional<std::int64_t> parse_utc_seconds(std::string_view text);
/// docker's rounded sizes ("0B", "43B", "1.982MB", "12.5kB": powers of 1000) -> bytes.
std::optional<std::uint64_t> parse_human_size(std::string_view text);
/// The labels in `buildah inspect --type image` output (its Docker and OCI configs); nullopt
/// when it is not that.
std::optional<std::map<std::string, std::string>> parse_buildah_labels(std::string_view json);

/// An image's labels, or nullopt when they cannot be read.
using LabelReader = std::function<std::optional<std::map<std::string, std::string>>(const StoredImage&)>;

/// The images a prune keeps, by id:
///  - every image named_by `keep`, and every image `in_use` (by a container);
///  - with `labels` (buildah): for each "repo@digest" of `keep` that no image is known by,
///    the newest image tagged "repo:<tag>" whose io.cascade.bases label lists only digests
///    `keep` holds (one such image per unmatched reference; an image whose labels cannot be
///    read counts as one, to be safe). buildah compresses the layers when it pushes, so the
///    digest the registry (and the store) has for an image cascade built is not one its local
///    copy is known by: it stays recognisable only by what it was built as and on.
std::set<std::string> images_to_keep(const std::vector<StoredImage>& images, const std::set<std::string>& keep,
                                     const std::set<std::string>& in_use, const LabelReader& labels);

}  // namespace cascade::builder::detail
