// scan::index_layer on layer tarballs made here with libarchive's writer (nothing on disk):
// the files of interest a layer adds, links and deletes, path forms, hard links, the three
// compressions, corrupt input and every limit; then packages::fold over layer indexes:
// whiteouts and opaque directories, the layer each package entered at, which os-release wins.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <vector>

#include "cascade/layer_index.hpp"
#include "cascade/scan.hpp"
#include "package_images.hpp"

namespace pk = cascade::packages;
namespace scan = cascade::scan;
using cascade::test::Compression;
using cascade::test::make_tar;
using cascade::test::TarEntry;
using cascade::test::tar_dir;
using cascade::test::tar_file;
using cascade::test::tar_hardlink;
using cascade::test::tar_symlink;

namespace {

std::string stanza(const std::string& name, const std::string& version, const std::string& source,
                   const std::string& status = "install ok installed") {
  return "Package: " + name + "\nStatus: " + status + "\nPriority: required\nArchitecture: amd64\n" +
         (source.empty() ? "" : "Source: " + source + "\n") + "Version: " + version +
         "\nDescription: " + name + " for the scan tests\n";
}

const std::string kBash = stanza("bash", "5.2.15-2+b8", "bash (5.2.15-2)");
const std::string kLibc = stanza("libc6", "2.36-9+deb12u14", "glibc");
const std::string kRemoved = stanza("nano", "7.2-1", "", "deinstall ok config-files");
const std::string kStatus = kBash + "\n" + kLibc + "\n" + kRemoved;
const std::string kStatusWithoutBash = kLibc;
const std::string kDebianOs = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
                              "VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
const std::string kUbuntuOs = "NAME=\"Ubuntu\"\nVERSION=\"24.04.3 LTS (Noble Numbat)\"\nID=ubuntu\nID_LIKE=debian\n"
                              "VERSION_ID=\"24.04\"\n";

pk::LayerIndex must_index(const std::string& blob, const scan::Limits& limits = {}) {
  auto index = scan::index_layer(blob, "sha256:layer", limits);
  REQUIRE_MESSAGE(index, (index ? std::string() : index.error().message));
  return *index;
}

const pk::LayerFile* find_file(const pk::LayerIndex& index, const std::string& path) {
  auto found = std::find_if(index.files.begin(), index.files.end(), [&](const pk::LayerFile& f) { return f.path == path; });
  return found == index.files.end() ? nullptr : &*found;
}

std::vector<std::string> names(const std::vector<pk::Package>& packages) {
  std::vector<std::string> result;
  for (const auto& package : packages) result.push_back(package.name);
  return result;
}

bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// A layer like a Debian base's: directories, an unrelated binary, the status file, os-release.
std::vector<TarEntry> debian_like_entries() {
  return {tar_dir("etc/"),
          tar_symlink("etc/os-release", "../usr/lib/os-release"),
          tar_dir("usr/"),
          tar_dir("usr/bin/"),
          tar_file("usr/bin/bash", std::string(3000, 'B')),
          tar_dir("usr/lib/"),
          tar_file("usr/lib/os-release", kDebianOs),
          tar_dir("var/"),
          tar_dir("var/lib/"),
          tar_dir("var/lib/dpkg/"),
          tar_file("var/lib/dpkg/info/bash.list", "/usr/bin/bash\n"),
          tar_file("var/lib/dpkg/status", kStatus)};
}

// Text that compresses poorly, so a truncated stream really is cut in the middle.
std::string noise(std::size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string text(size, '\0');
  for (auto& c : text) c = static_cast<char>(random());
  return text;
}

}  // namespace

TEST_CASE("scan::index_layer: the files of interest in a layer") {
  SUBCASE("the dpkg status file is found among other files and its installed packages parsed") {
    std::string tar = make_tar(debian_like_entries());
    pk::LayerIndex index = must_index(tar);
    CHECK(index.digest == "sha256:layer");
    // Up to the end-of-archive marker; the writer's padding of the last record is not read.
    CHECK(index.uncompressed_bytes >= tar.size() - 10240);
    CHECK(index.uncompressed_bytes <= tar.size());
    CHECK(find_file(index, "usr/bin/bash") == nullptr);
    CHECK(find_file(index, "var/lib/dpkg/info/bash.list") == nullptr);
    const pk::LayerFile* status = find_file(index, "var/lib/dpkg/status");
    REQUIRE(status != nullptr);
    CHECK(status->kind == pk::FileKind::dpkg_status);
    CHECK(status->problem.empty());
    CHECK(names(status->packages) == std::vector<std::string>{"bash", "libc6"});
    CHECK(status->packages[0] == pk::Package{"bash", "5.2.15-2+b8", "bash", "5.2.15-2", "amd64"});
    CHECK(status->packages[1].source_name == "glibc");
    CHECK(index.whiteouts.empty());
    CHECK(index.opaque_dirs.empty());
  }
  SUBCASE("etc/os-release as a symbolic link is recorded as a link; its target is parsed") {
    pk::LayerIndex index = must_index(make_tar(debian_like_entries()));
    const pk::LayerFile* link = find_file(index, "etc/os-release");
    REQUIRE(link != nullptr);
    CHECK(link->kind == pk::FileKind::os_release);
    CHECK(link->link == "../usr/lib/os-release");
    CHECK_FALSE(link->os.has_value());
    const pk::LayerFile* target = find_file(index, "usr/lib/os-release");
    REQUIRE(target != nullptr);
    CHECK(target->link.empty());
    REQUIRE(target->os.has_value());
    CHECK(target->os->id == "debian");
    CHECK(target->os->version_id == "12");
  }
  SUBCASE("whiteouts and opaque markers are recorded by normalized path, never as files") {
    pk::LayerIndex index = must_index(make_tar({
        tar_file("var/lib/dpkg/.wh.status", ""),
        tar_file("./usr/lib/.wh.os-release", ""),
        tar_file("/var/lib/.wh.rpm", ""),
        tar_file("./etc/.wh..wh..opq", ""),
        tar_file("lib/apk/db/.wh..wh..opq", ""),
        tar_file("etc/os-release", kUbuntuOs),  // the opaque directory's own new content
    }));
    for (const char* path : {"var/lib/dpkg/status", "usr/lib/os-release", "var/lib/rpm"})
      CHECK_MESSAGE(has(index.whiteouts, path), path);
    CHECK(has(index.opaque_dirs, "etc"));
    CHECK(has(index.opaque_dirs, "lib/apk/db"));
    for (const auto& path : index.whiteouts) CHECK(path.find(".wh.") == std::string::npos);
    for (const auto& path : index.opaque_dirs) CHECK(path.find(".wh.") == std::string::npos);
    REQUIRE(index.files.size() == 1);
    CHECK(index.files[0].path == "etc/os-release");
    CHECK(index.files[0].os->id == "ubuntu");
  }
  SUBCASE("names with ./ and / prefixes and dot components are normalized") {
    pk::LayerIndex index = must_index(make_tar({
        tar_dir("./"),
        tar_dir("./var/"),
        tar_file("./var/lib/dpkg/status", kStatus),
        tar_file("/lib/apk/db/installed", cascade::test::alpine_installed()),
        tar_file("usr//lib/./os-release", kDebianOs),
    }));
    std::vector<std::string> paths;
    for (const auto& file : index.files) paths.push_back(file.path);
    std::sort(paths.begin(), paths.end());
    CHECK(paths == std::vector<std::string>{"lib/apk/db/installed", "usr/lib/os-release", "var/lib/dpkg/status"});
    CHECK(names(find_file(index, "lib/apk/db/installed")->packages) ==
          std::vector<std::string>{"musl", "busybox", "busybox-binsh", "apk-tools"});
    CHECK(pk::normalize_path("./a/b/../c/") == "a/c");
    CHECK(pk::normalize_path("/../../etc/os-release") == "etc/os-release");
    CHECK(pk::normalize_path("./") == "");
  }
}

TEST_CASE("scan::index_layer: hard links and databases cascade does not read") {
  SUBCASE("a status file stored as a hard link to an earlier entry has that entry's packages") {
    // tar stores the second name of an inode as a link to the first, whichever path that
    // is (directory order): here a file cascade has no other reason to read.
    pk::LayerIndex index = must_index(make_tar({
        tar_file("./var/lib/dpkg/status-old", kStatus),
        tar_hardlink("./var/lib/dpkg/status", "./var/lib/dpkg/status-old"),
    }));
    const pk::LayerFile* status = find_file(index, "var/lib/dpkg/status");
    REQUIRE(status != nullptr);
    CHECK(status->link.empty());
    CHECK(names(status->packages) == std::vector<std::string>{"bash", "libc6"});
  }
  SUBCASE("a hard link to the os-release file carries its content, not a link") {
    pk::LayerIndex index = must_index(make_tar({
        tar_file("usr/lib/os-release", kDebianOs),
        tar_hardlink("etc/os-release", "usr/lib/os-release"),
    }));
    const pk::LayerFile* linked = find_file(index, "etc/os-release");
    REQUIRE(linked != nullptr);
    CHECK(linked->link.empty());
    REQUIRE(linked->os.has_value());
    CHECK(linked->os->id == "debian");
  }
  SUBCASE("an rpm BerkeleyDB Packages file is recorded with a problem, not packages") {
    std::string bdb(4096, '\0');
    bdb.replace(12, 4, std::string("\x61\x15\x06\x00", 4));  // BerkeleyDB hash magic 0x00061561
    pk::LayerIndex index = must_index(make_tar({tar_file("var/lib/rpm/Packages", bdb)}));
    const pk::LayerFile* packages = find_file(index, "var/lib/rpm/Packages");
    REQUIRE(packages != nullptr);
    CHECK(packages->kind == pk::FileKind::rpm_bdb);
    CHECK(packages->packages.empty());
    CHECK(lower(packages->problem).find("not indexed") != std::string::npos);
  }
  SUBCASE("rpmdb.sqlite is read from its bytes") {
    std::string db = cascade::test::read_file(cascade::test::rpmdb_fixture());
    REQUIRE(!db.empty());
    pk::LayerIndex index = must_index(make_tar({tar_file("var/lib/rpm/rpmdb.sqlite", db)}, Compression::gzip));
    const pk::LayerFile* rpmdb = find_file(index, "var/lib/rpm/rpmdb.sqlite");
    REQUIRE(rpmdb != nullptr);
    CHECK_MESSAGE(rpmdb->problem.empty(), rpmdb->problem);
    CHECK(has(names(rpmdb->packages), "cascade-tiny"));
  }
}

TEST_CASE("scan::index_layer: compressions") {
  std::vector<TarEntry> entries = debian_like_entries();
  entries.push_back(tar_file("var/lib/dpkg/.wh.status-old", ""));
  std::string plain = make_tar(entries);
  pk::LayerIndex expected = must_index(plain);
  REQUIRE(expected.files.size() == 3);

  SUBCASE("gzip, zstd and plain tar give the same index") {
    for (Compression compression : {Compression::gzip, Compression::zstd}) {
      std::string blob = make_tar(entries, compression);
      REQUIRE(blob != plain);
      pk::LayerIndex index = must_index(blob);
      CHECK(index == expected);  // uncompressed_bytes included: the same tar stream
    }
  }
  SUBCASE("a multi-member gzip and a multi-frame zstd stream are read whole") {
    std::size_t half = plain.size() / 2;
    for (Compression compression : {Compression::gzip, Compression::zstd}) {
      std::string blob = cascade::test::compress(plain.substr(0, half), compression) +
                         cascade::test::compress(plain.substr(half), compression);
      pk::LayerIndex index = must_index(blob);
      CHECK(index == expected);
    }
  }
}

TEST_CASE("scan::index_layer: corrupt input") {
  std::vector<TarEntry> entries = debian_like_entries();
  entries.insert(entries.begin(), tar_file("usr/share/doc/noise", noise(256 << 10, 7)));

  SUBCASE("a truncated gzip stream is invalid") {
    std::string blob = make_tar(entries, Compression::gzip);
    auto index = scan::index_layer(blob.substr(0, blob.size() / 2), "sha256:cut");
    REQUIRE_FALSE(index);
    CHECK(index.error().kind == scan::Error::Kind::invalid);
  }
  SUBCASE("a plain tar cut in the middle of a file is invalid") {
    std::string tar = make_tar(entries);
    auto index = scan::index_layer(tar.substr(0, 100'000), "sha256:cut");
    REQUIRE_FALSE(index);
    CHECK(index.error().kind == scan::Error::Kind::invalid);
  }
  SUBCASE("random bytes are invalid") {
    auto index = scan::index_layer(noise(64 << 10, 11), "sha256:noise");
    REQUIRE_FALSE(index);
    CHECK(index.error().kind == scan::Error::Kind::invalid);
  }
  SUBCASE("gzip magic followed by random bytes is invalid") {
    auto index = scan::index_layer(std::string("\x1f\x8b\x08\x00", 4) + noise(64 << 10, 13), "sha256:noise");
    REQUIRE_FALSE(index);
    CHECK(index.error().kind == scan::Error::Kind::invalid);
  }
}

TEST_CASE("scan::index_layer: limits") {
  SUBCASE("a gzip bomb stops at max_uncompressed, and the error names that limit") {
    std::string bomb = make_tar({cascade::test::tar_zeros("usr/share/zeros", 200u << 20), tar_file("var/lib/dpkg/status", kStatus)}, Compression::gzip);
    REQUIRE(bomb.size() < (2u << 20));
    scan::Limits limits;
    limits.max_uncompressed = 10u << 20;
    auto stopped = scan::index_layer(bomb, "sha256:bomb", limits);
    REQUIRE_FALSE(stopped);
    CHECK(stopped.error().kind == scan::Error::Kind::invalid);
    std::string message = lower(stopped.error().message);
    CHECK_MESSAGE((message.find("uncompressed") != std::string::npos || message.find("decompressed") != std::string::npos ||
                   message.find("10485760") != std::string::npos || message.find("10 mib") != std::string::npos),
                  stopped.error().message);
    // The same blob is a valid layer: only the limit stopped it.
    pk::LayerIndex whole = must_index(bomb);
    CHECK(whole.uncompressed_bytes > (200u << 20));
    CHECK(find_file(whole, "var/lib/dpkg/status") != nullptr);
  }
  SUBCASE("a database file over max_file is an error naming it; other big files are not read") {
    std::string big_status;
    for (int i = 0; i < 40; ++i) big_status += stanza("pkg" + std::to_string(i), "1.0-" + std::to_string(i), "") + "\n";
    REQUIRE(big_status.size() > 4096);
    scan::Limits limits;
    limits.max_file = 1024;
    auto over = scan::index_layer(make_tar({tar_file("var/lib/dpkg/status", big_status)}), "sha256:big", limits);
    REQUIRE_FALSE(over);
    CHECK(over.error().kind == scan::Error::Kind::invalid);
    CHECK_MESSAGE(over.error().message.find("var/lib/dpkg/status") != std::string::npos, over.error().message);
    CHECK(must_index(make_tar({tar_file("usr/share/doc/big", big_status)}), limits).files.empty());
  }
  SUBCASE("more entries than max_entries is an error; exactly max_entries is not") {
    scan::Limits limits;
    limits.max_entries = 100;
    std::vector<TarEntry> entries;
    for (int i = 0; i < 100; ++i) entries.push_back(tar_file("usr/share/f" + std::to_string(i), "x"));
    CHECK(must_index(make_tar(entries), limits).files.empty());
    entries.push_back(tar_file("var/lib/dpkg/status", kStatus));
    auto over = scan::index_layer(make_tar(entries), "sha256:many", limits);
    REQUIRE_FALSE(over);
    CHECK(over.error().kind == scan::Error::Kind::invalid);
    CHECK_MESSAGE(lower(over.error().message).find("entries") != std::string::npos, over.error().message);
  }
}

namespace {

pk::LayerFile status_file(const std::string& text, const std::string& path = "var/lib/dpkg/status") {
  return pk::index_file(path, pk::FileKind::dpkg_status, text);
}

pk::LayerFile os_file(const std::string& path, const std::string& text) {
  return pk::index_file(path, pk::FileKind::os_release, text);
}

pk::LayerFile os_link(const std::string& path, const std::string& target) {
  pk::LayerFile file;
  file.path = path;
  file.kind = pk::FileKind::os_release;
  file.link = target;
  return file;
}

pk::LayerIndex layer(std::vector<pk::LayerFile> files, std::vector<std::string> whiteouts = {},
                     std::vector<std::string> opaque_dirs = {}) {
  pk::LayerIndex index;
  index.files = std::move(files);
  index.whiteouts = std::move(whiteouts);
  index.opaque_dirs = std::move(opaque_dirs);
  return index;
}

pk::ImageContents fold(const std::vector<pk::LayerIndex>& layers) {
  std::vector<const pk::LayerIndex*> pointers;
  for (const auto& index : layers) pointers.push_back(&index);
  return pk::fold(pointers);
}

std::vector<std::string> names(const pk::ImageContents& contents) {
  std::vector<std::string> result;
  for (const auto& entry : contents.packages) result.push_back(entry.package.name);
  return result;
}

const pk::ImagePackage* find_package(const pk::ImageContents& contents, const std::string& name) {
  for (const auto& entry : contents.packages)
    if (entry.package.name == name) return &entry;
  return nullptr;
}

const std::string kBashNewer = stanza("bash", "5.2.15-2+deb12u1", "bash (5.2.15-2+deb12u1)");

}  // namespace

TEST_CASE("packages::fold: package databases across layers") {
  const pk::LayerIndex base = layer({status_file(kStatus), os_file("etc/os-release", kDebianOs)});

  SUBCASE("one layer: its installed packages, entered at layer 0") {
    pk::ImageContents contents = fold({base});
    CHECK(names(contents) == std::vector<std::string>{"bash", "libc6"});
    CHECK(contents.has_database);
    CHECK(contents.problems.empty());
    for (const auto& entry : contents.packages) {
      CHECK(entry.layer == 0);
      CHECK(entry.format == pk::Format::dpkg);
    }
    CHECK(find_package(contents, "bash")->package.source_version == "5.2.15-2");
  }
  SUBCASE("a whiteout of the status file in layer 2 leaves no packages") {
    pk::ImageContents contents = fold({base, layer({}, {"var/lib/dpkg/status"})});
    CHECK(contents.packages.empty());
    CHECK_FALSE(contents.has_database);
    REQUIRE(contents.os.has_value());
    CHECK(contents.os->id == "debian");
  }
  SUBCASE("a whiteout of a parent directory hides the status file too") {
    CHECK(fold({base, layer({}, {"var/lib"})}).packages.empty());
  }
  SUBCASE("a whiteout of a sibling with a common prefix hides nothing") {
    CHECK(fold({base, layer({}, {"var/lib/dpkg/status-old", "var/lib/dpk"})}).packages.size() == 2);
  }
  SUBCASE("layer 2 replacing the status file without bash removes bash; libc6 stays at layer 0") {
    pk::ImageContents contents = fold({base, layer({status_file(kStatusWithoutBash)})});
    CHECK(names(contents) == std::vector<std::string>{"libc6"});
    CHECK(contents.packages[0].layer == 0);
  }
  SUBCASE("an opaque var/lib/dpkg in layer 2 hides the lower status file") {
    CHECK(fold({base, layer({}, {}, {"var/lib/dpkg"})}).packages.empty());
  }
  SUBCASE("an opaque directory or whiteout never hides its own layer's files") {
    pk::ImageContents opaque = fold({base, layer({status_file(kStatusWithoutBash)}, {}, {"var/lib/dpkg"})});
    CHECK(names(opaque) == std::vector<std::string>{"libc6"});
    pk::ImageContents whiteout = fold({base, layer({status_file(kStatusWithoutBash)}, {"var/lib/dpkg/status"})});
    CHECK(names(whiteout) == std::vector<std::string>{"libc6"});
  }
  SUBCASE("a status rewritten with the same versions keeps layer 0; a changed version moves to its layer") {
    pk::LayerIndex same = layer({status_file(kStatus)});
    pk::LayerIndex unrelated = layer({os_file("usr/lib/os-release", kDebianOs)});
    pk::LayerIndex bumped = layer({status_file(kBashNewer + "\n" + kLibc)});
    pk::ImageContents contents = fold({base, same, unrelated, bumped});
    REQUIRE(names(contents) == std::vector<std::string>{"bash", "libc6"});
    CHECK(find_package(contents, "libc6")->layer == 0);
    CHECK(find_package(contents, "bash")->layer == 3);
    CHECK(find_package(contents, "bash")->package.version == "5.2.15-2+deb12u1");
    CHECK(fold({base, same, unrelated}).packages[0].layer == 0);
  }
  SUBCASE("a package removed and installed again enters at the layer it came back") {
    pk::ImageContents contents = fold({base, layer({status_file(kStatusWithoutBash)}), layer({status_file(kStatus)})});
    CHECK(find_package(contents, "bash")->layer == 2);
    CHECK(find_package(contents, "libc6")->layer == 0);
  }
  SUBCASE("a database present but not indexed is reported as a problem") {
    pk::LayerFile bdb = pk::index_file("var/lib/rpm/Packages", pk::FileKind::rpm_bdb, std::string(64, '\0'));
    pk::ImageContents contents = fold({layer({bdb})});
    CHECK(contents.has_database);
    REQUIRE(contents.problems.size() == 1);
    CHECK(contents.problems[0].find("var/lib/rpm/Packages") != std::string::npos);
  }
}

TEST_CASE("packages::fold: os-release") {
  const pk::LayerFile debian = os_file("usr/lib/os-release", kDebianOs);

  SUBCASE("etc/os-release as a relative symbolic link is followed to usr/lib/os-release") {
    pk::ImageContents contents = fold({layer({os_link("etc/os-release", "../usr/lib/os-release"), debian})});
    REQUIRE(contents.os.has_value());
    CHECK(contents.os->id == "debian");
    CHECK(contents.os->version_id == "12");
  }
  SUBCASE("an absolute link resolves against the image root") {
    pk::ImageContents contents = fold({layer({os_link("etc/os-release", "/usr/lib/os-release"), debian})});
    REQUIRE(contents.os.has_value());
    CHECK(contents.os->id == "debian");
  }
  SUBCASE("the link resolves in the merged tree: a later layer's target wins") {
    pk::ImageContents contents = fold({layer({os_link("etc/os-release", "../usr/lib/os-release"), debian}),
                                       layer({os_file("usr/lib/os-release", kUbuntuOs)})});
    REQUIRE(contents.os.has_value());
    CHECK(contents.os->id == "ubuntu");
  }
  SUBCASE("etc/os-release is preferred over usr/lib/os-release") {
    pk::ImageContents contents = fold({layer({debian}), layer({os_file("etc/os-release", kUbuntuOs)})});
    REQUIRE(contents.os.has_value());
    CHECK(contents.os->id == "ubuntu");
    CHECK(contents.os->version_id == "24.04");
  }
  SUBCASE("usr/lib/os-release is used when etc/os-release is whited out") {
    pk::ImageContents contents =
        fold({layer({debian, os_file("etc/os-release", kUbuntuOs)}), layer({}, {"etc/os-release"})});
    REQUIRE(contents.os.has_value());
    CHECK(contents.os->id == "debian");
  }
  SUBCASE("a link loop or a dangling link gives no os") {
    CHECK_FALSE(fold({layer({os_link("etc/os-release", "../usr/lib/os-release")})}).os.has_value());
    CHECK_FALSE(fold({layer({os_link("etc/os-release", "os-release")})}).os.has_value());
  }
}
