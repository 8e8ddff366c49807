// Images with real package databases for the scan tests. In memory: layer tarballs written
// with libarchive (any compression). In a registry: a Debian 12 base from the cached
// mmdebstrap tarball (scripts/debian-rootfs.sh), an "alpine 3.20"-style and a "rocky 9"-style
// base made of busybox and a package database, and images derived from Dockerfile text; all
// built with buildah on a BuildahSandbox's storage (vfs, chroot isolation) and pushed to a
// DockerRegistry; and hand-made OCI images (any layer bytes) pushed with skopeo. Every program
// runs with an argument vector, never a shell.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "builder_fixture.hpp"
#include "registry_fixture.hpp"
#include "support.hpp"

namespace cascade::test {

// ---- layer tarballs in memory -----------------------------------------------------------

enum class Compression { none, gzip, zstd };

/// One tar entry as written (the name exactly as given: "./etc/x", "/etc/x", "etc/.wh.x").
struct TarEntry {
  enum class Type { file, directory, symlink, hardlink } type = Type::file;
  std::string name;
  std::string content;      // a file's bytes
  std::string target;       // a symlink's target or a hard link's root-relative path
  std::uint64_t zeros = 0;  // when set, the file is this many zero bytes (written in chunks)
};

inline TarEntry tar_file(std::string name, std::string content) {
  return {TarEntry::Type::file, std::move(name), std::move(content), "", 0};
}
inline TarEntry tar_dir(std::string name) { return {TarEntry::Type::directory, std::move(name), "", "", 0}; }
inline TarEntry tar_symlink(std::string name, std::string target) {
  return {TarEntry::Type::symlink, std::move(name), "", std::move(target), 0};
}
inline TarEntry tar_hardlink(std::string name, std::string target) {
  return {TarEntry::Type::hardlink, std::move(name), "", std::move(target), 0};
}
inline TarEntry tar_zeros(std::string name, std::uint64_t size) {
  return {TarEntry::Type::file, std::move(name), "", "", size};
}

/// A libarchive writer collecting its output in a string.
class ArchiveWriter {
 public:
  ArchiveWriter(Compression compression, bool raw) : archive_(archive_write_new()) {
    check(raw ? archive_write_set_format_raw(archive_) : archive_write_set_format_pax_restricted(archive_));
    if (compression == Compression::gzip) {
      check(archive_write_add_filter_gzip(archive_));
      check(archive_write_set_filter_option(archive_, "gzip", "compression-level", "1"));
    } else if (compression == Compression::zstd) {
      check(archive_write_add_filter_zstd(archive_));
    } else {
      check(archive_write_add_filter_none(archive_));
    }
    // No zero padding after a compressed stream (none in real layers; it is no zstd frame).
    if (raw || compression != Compression::none) check(archive_write_set_bytes_in_last_block(archive_, 1));
    check(archive_write_open(archive_, &out_, nullptr, &ArchiveWriter::append, nullptr));
  }
  ~ArchiveWriter() { archive_write_free(archive_); }
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  void add(const TarEntry& entry) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> header(archive_entry_new(), &archive_entry_free);
    archive_entry_set_pathname(header.get(), entry.name.c_str());
    archive_entry_set_mtime(header.get(), 1767225600, 0);
    archive_entry_set_uid(header.get(), 0);
    archive_entry_set_gid(header.get(), 0);
    std::uint64_t size = entry.zeros ? entry.zeros : entry.content.size();
    switch (entry.type) {
      case TarEntry::Type::file:
        archive_entry_set_filetype(header.get(), AE_IFREG);
        archive_entry_set_perm(header.get(), 0644);
        archive_entry_set_size(header.get(), static_cast<la_int64_t>(size));
        break;
      case TarEntry::Type::directory:
        archive_entry_set_filetype(header.get(), AE_IFDIR);
        archive_entry_set_perm(header.get(), 0755);
        break;
      case TarEntry::Type::symlink:
        archive_entry_set_filetype(header.get(), AE_IFLNK);
        archive_entry_set_perm(header.get(), 0777);
        archive_entry_set_symlink(header.get(), entry.target.c_str());
        break;
      case TarEntry::Type::hardlink:
        archive_entry_set_filetype(header.get(), AE_IFREG);
        archive_entry_set_perm(header.get(), 0644);
        archive_entry_set_hardlink(header.get(), entry.target.c_str());
        break;
    }
    check(archive_write_header(archive_, header.get()));
    if (entry.type == TarEntry::Type::file) write_data(entry);
  }

  std::string finish() {
    check(archive_write_close(archive_));
    return std::move(out_);
  }

 private:
  static la_ssize_t append(struct archive*, void* out, const void* buffer, size_t length) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), length);
    return static_cast<la_ssize_t>(length);
  }

  void write_data(const TarEntry& entry) {
    if (!entry.zeros) {
      if (!entry.content.empty() && archive_write_data(archive_, entry.content.data(), entry.content.size()) < 0)
        check(ARCHIVE_FATAL);
      return;
    }
    const std::string chunk(1 << 20, '\0');
    for (std::uint64_t left = entry.zeros; left > 0;) {
      std::size_t n = left < chunk.size() ? static_cast<std::size_t>(left) : chunk.size();
      if (archive_write_data(archive_, chunk.data(), n) < 0) check(ARCHIVE_FATAL);
      left -= n;
    }
  }

  void check(int status) const {
    if (status < ARCHIVE_WARN) {
      const char* message = archive_error_string(archive_);
      throw std::runtime_error(std::string("libarchive: ") + (message ? message : "failed"));
    }
  }

  struct archive* archive_;
  std::string out_;
};

/// A tar stream of `entries` in order (pax restricted), compressed as asked.
inline std::string make_tar(const std::vector<TarEntry>& entries, Compression compression = Compression::none) {
  ArchiveWriter writer(compression, false);
  for (const auto& entry : entries) writer.add(entry);
  return writer.finish();
}

/// `bytes` compressed as one gzip member or zstd frame (not a tar: the bytes themselves).
inline std::string compress(const std::string& bytes, Compression compression) {
  ArchiveWriter writer(compression, true);
  writer.add(tar_file("data", bytes));
  return writer.finish();
}

// ---- images in a registry ---------------------------------------------------------------

/// Runs `buildah ARGS...` on the sandbox's storage (vfs); returns its trimmed stdout and
/// throws with its stderr when it fails.
inline std::string buildah(const BuildahSandbox& sandbox, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"buildah", "--root", (sandbox.path() / "root").string(), "--runroot",
                                   (sandbox.path() / "runroot").string(), "--storage-driver", "vfs"};
  argv.insert(argv.end(), args.begin(), args.end());
  process::Options options;
  options.timeout = std::chrono::minutes(10);
  auto result = test::run_build(argv, options);  // a retry only when runc could not start a step
  if (result.exit_code != 0)
    throw std::runtime_error("buildah " + args.front() + " failed (exit " + std::to_string(result.exit_code) +
                             "): " + result.err);
  std::string out = result.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

/// A file name for `image` ("base/debian:12" -> "base_debian_12").
inline std::string image_slug(const std::string& image) {
  std::string slug = image;
  for (auto& c : slug)
    if (c == '/' || c == ':' || c == '@') c = '_';
  return slug;
}

/// Pushes the local image `name` (host/repository:tag) to docker://name; returns the
/// manifest digest buildah wrote.
inline std::string buildah_push(const BuildahSandbox& sandbox, const std::string& name) {
  fs::path digest_file = sandbox.path() / "digests" / image_slug(name);
  fs::create_directories(digest_file.parent_path());
  buildah(sandbox, {"push", "--tls-verify=false", "--digestfile", digest_file.string(), name, "docker://" + name});
  std::string digest = read_file(digest_file);
  while (!digest.empty() && (digest.back() == '\n' || digest.back() == ' ')) digest.pop_back();
  if (digest.rfind("sha256:", 0) != 0) throw std::runtime_error("buildah push wrote no digest for " + name);
  return digest;
}

/// A one-layer image `image` ("repo:tag" on `registry`) from nothing: `fill` writes the root
/// file system into the mounted working container; committed (docker format) and pushed.
inline std::string push_rootfs(const DockerRegistry& registry, const BuildahSandbox& sandbox, const std::string& image,
                               const std::function<void(const fs::path& root)>& fill) {
  std::string container = buildah(sandbox, {"from", "scratch"});
  fs::path root = buildah(sandbox, {"mount", container});
  fill(root);
  buildah(sandbox, {"umount", container});
  std::string name = registry.host() + "/" + image;
  buildah(sandbox, {"commit", "--quiet", "--format", "docker", "--rm", container, name});
  return buildah_push(sandbox, name);
}

/// The cached Debian 12 root filesystem tarball, or why there is none: the reason when the
/// Debian archive is unreachable (the script's exit 3); throws on any other failure.
struct DebianRootfs {
  std::string tarball;
  std::string unavailable;
};

inline DebianRootfs debian_rootfs() {
  process::Options options;
  options.timeout = std::chrono::minutes(15);
  auto result = test::run({"bash", (source_dir() / "scripts/debian-rootfs.sh").string()}, options);
  std::string out = result.out, err = result.err;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  while (!err.empty() && err.back() == '\n') err.pop_back();
  if (result.exit_code == 3) return {"", "the Debian 12 image cannot be made: " + err};
  if (result.exit_code != 0) throw std::runtime_error("scripts/debian-rootfs.sh failed: " + result.err);
  return {out, ""};
}

/// The Debian 12 base (one layer: the mmdebstrap tarball, /dev left out) as `image`; returns
/// the pushed digest, or nullopt with `unavailable` set when the Debian archive is unreachable.
inline std::optional<std::string> push_debian_base(const DockerRegistry& registry, const BuildahSandbox& sandbox,
                                                   const std::string& image, std::string* unavailable = nullptr) {
  DebianRootfs rootfs = debian_rootfs();
  if (rootfs.tarball.empty()) {
    if (unavailable) *unavailable = rootfs.unavailable;
    return std::nullopt;
  }
  return push_rootfs(registry, sandbox, image, [&](const fs::path& root) {
    auto tar = test::run({"tar", "--numeric-owner", "--exclude=./dev/*", "-xpf", rootfs.tarball, "-C", root.string()});
    if (tar.exit_code != 0) throw std::runtime_error("tar -x of the Debian rootfs failed: " + tar.err);
  });
}

/// busybox as /bin/busybox and /bin/sh (a symbolic link), as a busybox-based base has them.
inline void add_busybox(const fs::path& root) {
  fs::create_directories(root / "bin");
  fs::copy_file("/usr/bin/busybox", root / "bin/busybox", fs::copy_options::overwrite_existing);
  fs::permissions(root / "bin/busybox", fs::perms(0755));
  fs::create_symlink("busybox", root / "bin/sh");
  fs::create_directories(root / "tmp");
}

/// One block of apk's lib/apk/db/installed, in apk's own field order and format.
inline std::string apk_block(const std::string& name, const std::string& version, const std::string& origin,
                             const std::string& description, const std::string& files = "") {
  return "C:Q1" + std::string(26, 'A') + "=\nP:" + name + "\nV:" + version + "\nA:x86_64\nS:1024\nI:4096\nT:" +
         description + "\nU:https://alpinelinux.org\nL:GPL-2.0-only\no:" + origin +
         "\nm:Natanael Copa <ncopa@alpinelinux.org>\nt:1718000000\nc:0123456789abcdef0123456789abcdef01234567\n" +
         files + "\n";
}

/// The "alpine 3.20" base's apk database: musl, busybox, busybox-binsh, apk-tools; no bash.
inline std::string alpine_installed() {
  return apk_block("musl", "1.2.5-r0", "musl", "the musl c library (libc) implementation",
                   "p:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1q7ccy2TrHNu7Ua8WXz6aBQ9L1yg=\n") +
         apk_block("busybox", "1.36.1-r29", "busybox", "Size optimized toolbox of many common UNIX utilities",
                   "D:so:libc.musl-x86_64.so.1\nF:bin\nR:busybox\na:0:0:755\nZ:Q1sSNCl4MTQ0d1V/0NTXAhIjY7Nqo=\n") +
         apk_block("busybox-binsh", "1.36.1-r29", "busybox", "busybox ash /bin/sh", "D:busybox=1.36.1-r29\n") +
         apk_block("apk-tools", "2.14.4-r0", "apk-tools", "Alpine Package Keeper - package manager for alpine",
                   "D:musl>=1.2.3_git20230424 so:libc.musl-x86_64.so.1\n");
}

/// The "alpine 3.20"-style base: busybox, etc/os-release, lib/apk/db/installed (no bash).
inline std::string push_apk_base(const DockerRegistry& registry, const BuildahSandbox& sandbox, const std::string& image) {
  return push_rootfs(registry, sandbox, image, [](const fs::path& root) {
    add_busybox(root);
    write_file(root / "etc/os-release",
               "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n"
               "HOME_URL=\"https://alpinelinux.org/\"\nBUG_REPORT_URL=\"https://gitlab.alpinelinux.org/alpine/aports/-/issues\"\n");
    write_file(root / "etc/alpine-release", "3.20.3\n");
    write_file(root / "lib/apk/db/installed", alpine_installed());
  });
}

/// tests/data/packages/rpmdb.sqlite (a real rpm 4.18 database: cascade-hello,
/// cascade-hello-doc, cascade-tiny and a gpg-pubkey).
inline fs::path rpmdb_fixture() { return source_dir() / "tests/data/packages/rpmdb.sqlite"; }

/// The "rocky 9"-style base: busybox, var/lib/rpm/rpmdb.sqlite, usr/lib/os-release and
/// etc/os-release -> ../usr/lib/os-release (a symbolic link, as on Rocky).
inline std::string push_rpm_base(const DockerRegistry& registry, const BuildahSandbox& sandbox, const std::string& image) {
  return push_rootfs(registry, sandbox, image, [](const fs::path& root) {
    add_busybox(root);
    write_file(root / "usr/lib/os-release",
               "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n"
               "VERSION_ID=\"9.3\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n");
    fs::create_directories(root / "etc");
    fs::create_symlink("../usr/lib/os-release", root / "etc/os-release");
    fs::create_directories(root / "var/lib/rpm");
    fs::copy_file(rpmdb_fixture(), root / "var/lib/rpm/rpmdb.sqlite");
  });
}

/// Builds `dockerfile` (its FROM names images on `registry` by host) with `context_files`
/// (path -> content) as `image` on `registry`, and pushes it; returns the pushed digest.
inline std::string build_and_push(const DockerRegistry& registry, const BuildahSandbox& sandbox, const std::string& image,
                                  const std::string& dockerfile,
                                  const std::map<std::string, std::string>& context_files = {}) {
  fs::path context = sandbox.path() / "contexts" / image_slug(image);
  fs::create_directories(context);
  write_file(context / "Dockerfile", dockerfile);
  for (const auto& [path, content] : context_files) write_file(context / path, content);
  std::string name = registry.host() + "/" + image;
  buildah(sandbox, {"bud", "--quiet", "--isolation", "chroot", "--tls-verify=false", "--format", "docker", "-f",
                    (context / "Dockerfile").string(), "-t", name, context.string()});
  return buildah_push(sandbox, name);
}

// ---- hand-made images (OCI layout, pushed by skopeo) -------------------------------------

/// An OCI image made here: its blobs as stored, their digests, the config and the manifest.
struct LayoutImage {
  std::vector<std::string> layers;  // blobs as stored (compressed)
  std::vector<std::string> layer_digests;
  std::string layer_media_type;
  std::string config;
  std::string config_digest;
  std::string manifest;
  std::string manifest_digest;
};

/// An image of `tars` (plain tar streams, bottom first), each compressed as asked; the
/// config's diff_ids are the digests of the plain tars.
inline LayoutImage layout_image(const std::vector<std::string>& tars, Compression compression) {
  LayoutImage image;
  image.layer_media_type = std::string("application/vnd.oci.image.layer.v1.tar") +
                           (compression == Compression::gzip ? "+gzip" : compression == Compression::zstd ? "+zstd" : "");
  std::string diff_ids, descriptors;
  for (const auto& tar : tars) {
    image.layers.push_back(compression == Compression::none ? tar : compress(tar, compression));
    image.layer_digests.push_back(sha256(image.layers.back()));
    diff_ids += (diff_ids.empty() ? "\"" : ",\"") + sha256(tar) + "\"";
    descriptors += std::string(descriptors.empty() ? "" : ",") + "{\"mediaType\":\"" + image.layer_media_type +
                   "\",\"digest\":\"" + image.layer_digests.back() + "\",\"size\":" +
                   std::to_string(image.layers.back().size()) + "}";
  }
  image.config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\","
                 "\"diff_ids\":[" + diff_ids + "]}}";
  image.config_digest = sha256(image.config);
  image.manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                   "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" +
                   image.config_digest + "\",\"size\":" + std::to_string(image.config.size()) + "},\"layers\":[" +
                   descriptors + "]}";
  image.manifest_digest = sha256(image.manifest);
  return image;
}

/// Writes `image` as an OCI layout under `layout` and pushes it unchanged with skopeo to
/// docker://<host>/<name>; returns the pushed digest (the manifest's).
inline std::string push_layout_image(const LayoutImage& image, const fs::path& layout, const std::string& host,
                                     const std::string& name) {
  auto store = [&](const std::string& digest, const std::string& bytes) {
    write_file(layout / "blobs/sha256" / digest.substr(7), bytes);
  };
  for (std::size_t i = 0; i < image.layers.size(); ++i) store(image.layer_digests[i], image.layers[i]);
  store(image.config_digest, image.config);
  store(image.manifest_digest, image.manifest);
  write_file(layout / "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
  write_file(layout / "index.json", "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                                    "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" +
                                        image.manifest_digest + "\",\"size\":" + std::to_string(image.manifest.size()) + "}]}");
  std::string digest_file = (layout / "pushed.digest").string();
  auto copy = test::run({"skopeo", "copy", "-q", "--preserve-digests", "--digestfile", digest_file, "--dest-tls-verify=false",
                         "oci:" + layout.string(), "docker://" + host + "/" + name});
  if (copy.exit_code != 0) throw std::runtime_error("skopeo copy failed: " + copy.err);
  return read_file(digest_file);
}

}  // namespace cascade::test
