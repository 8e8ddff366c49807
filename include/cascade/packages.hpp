// The installed OS packages of a container image file system, read from the databases the
// package managers keep (shared/reference/PACKAGES.md sections 2, 3, 5 and 7):
//   dpkg: var/lib/dpkg/status and distroless var/lib/dpkg/status.d/<package>
//   apk:  lib/apk/db/installed
//   rpm:  var/lib/rpm/rpmdb.sqlite (SQLite, opened from bytes; the RPM header blobs decoded)
// and the distribution from os-release. Pure: every parser takes the file's bytes, never a
// path, and fails with a message naming the line (or the header) and what is wrong.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/util/expected.hpp"
#include "cascade/version.hpp"

namespace cascade::packages {

/// Which package manager's database a package came from.
enum class Format { dpkg, apk, rpm };

/// "dpkg", "apk", "rpm".
std::string_view to_string(Format format);
/// The version ordering of a format (dpkg -> dpkg, apk -> apk, rpm -> rpm).
version::Scheme scheme_of(Format format);

struct Package {
  std::string name;            // binary package name ("libc6", "bash")
  std::string version;         // binary version as installed ("5.2.15-2+b8"; rpm: "[E:]V-R")
  std::string source_name;     // source package (dpkg Source:, apk origin o:, rpm SOURCERPM name); else name
  std::string source_version;  // source version (dpkg "(...)" of Source:, else Version; rpm: E:V-R of SOURCERPM); else version
  std::string architecture;    // "amd64", "x86_64", "all", "noarch"; may be empty

  bool operator==(const Package&) const = default;
};

struct ParseError {
  std::size_t line = 0;  // 1-based line of the text file, 0 when not line-based (rpm)
  std::string message;   // "line 12: field 'Version' given twice in the stanza of 'bash'"
};

/// The packages in dpkg's status file (deb822 stanzas) whose Status' third word is
/// `installed`, in file order. With `status_d` (a distroless status.d/<package> file) a
/// stanza without Status counts as installed. Stanzas without Package or Version are
/// skipped. Fails on a continuation line before any field or a field without a colon.
Expected<std::vector<Package>, ParseError> parse_dpkg_status(std::string_view text, bool status_d = false);

/// The packages of apk's lib/apk/db/installed (blocks of "X:value" lines), in file order;
/// blocks lacking P: or V: are skipped. Fails on a non-empty line that is not "X:value".
Expected<std::vector<Package>, ParseError> parse_apk_installed(std::string_view text);

/// One package from an RPM header blob as rpmdb stores it (no leading magic): NAME,
/// EPOCH, VERSION, RELEASE, ARCH, SOURCERPM. nullopt for a gpg-pubkey entry. Fails
/// (line 0) on a blob whose sizes, offsets or types are out of bounds.
Expected<std::optional<Package>, ParseError> parse_rpm_header(std::string_view blob);

/// Every package of an rpmdb.sqlite file given as bytes (the main file after a checkpoint;
/// WAL mode in the file header is accepted), in hnum order, gpg-pubkey entries skipped.
/// Fails when the bytes are not an SQLite database with a Packages(hnum, blob) table, or
/// a blob does not decode (naming its hnum).
Expected<std::vector<Package>, ParseError> parse_rpmdb_sqlite(std::string_view bytes);

/// What an os-release file says (os-release(5): KEY=value, shell quoting, no expansion).
struct OsRelease {
  std::string id;          // "debian", "alpine", "ubuntu", "rhel"; "linux" when ID is missing
  std::string version_id;  // "12", "3.20.3", "24.04"; empty when missing
  std::string version;     // VERSION: "24.04.3 LTS (Noble Numbat)"
  std::string id_like;     // space separated, closest first
  std::string pretty_name;

  bool operator==(const OsRelease&) const = default;
};

/// Parses os-release text; malformed lines are skipped (as systemd does).
OsRelease parse_os_release(std::string_view text);

/// The distribution as a person names it: "debian 12", "alpine 3.20", "ubuntu 24.04";
/// the id alone when there is no VERSION_ID.
std::string distro_name(const OsRelease& os);

}  // namespace cascade::packages
