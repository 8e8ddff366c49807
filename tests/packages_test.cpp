// Tests of the packages module: dpkg status (this machine's real database, compared with
// dpkg-query's own answers, plus inline stanzas), apk installed, rpm header blobs (built here
// and taken from a real rpmdb.sqlite that rpm wrote: tests/data/packages/make-rpmdb.sh),
// hostile input for every parser, and os-release.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cascade/packages.hpp"
#include "cascade/process.hpp"

namespace {

using namespace cascade::packages;
using Packages = std::vector<Package>;

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string fixture(const std::string& name) {
  auto text = slurp(std::string(CASCADE_SOURCE_DIR_DEFAULT) + "/tests/data/packages/" + name);
  REQUIRE_MESSAGE(text.has_value(), "missing fixture " << name);
  return *text;
}

Packages dpkg(const std::string& text, bool status_d = false) {
  auto parsed = parse_dpkg_status(text, status_d);
  REQUIRE_MESSAGE(parsed.has_value(), (parsed ? "" : parsed.error().message));
  return *parsed;
}

const Package* find(const Packages& packages, const std::string& name) {
  const auto it = std::find_if(packages.begin(), packages.end(), [&](const Package& p) { return p.name == name; });
  return it == packages.end() ? nullptr : &*it;
}

// dpkg-query's view of the installed packages (state `installed`, whatever the want), one
// "name arch version source-name source-version" line each, sorted; nullopt without dpkg.
std::optional<std::vector<std::string>> dpkg_query() {
  if (cascade::process::find_executable("dpkg-query").empty()) return std::nullopt;
  auto run = cascade::process::run(
      {"dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Package} ${Architecture} ${Version} ${source:Package} "
                           "${source:Version}\\n"});
  REQUIRE_MESSAGE(run.has_value(), (run ? "" : run.error()));
  REQUIRE_MESSAGE(run->exit_code == 0, run->err);
  std::vector<std::string> lines;
  std::istringstream in(run->out);
  for (std::string line; std::getline(in, line);) {
    const auto bar = line.find('|');
    if (bar >= 2 && line[1] == 'i') lines.push_back(line.substr(bar + 1));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace

TEST_CASE("packages::dpkg this machine") {
  const auto status = slurp("/var/lib/dpkg/status");
  if (!status) {
    MESSAGE("no /var/lib/dpkg/status here: skipped");
    return;
  }
  SUBCASE("the real status file, as dpkg-query sees it") {
    const auto start = std::chrono::steady_clock::now();
    const Packages packages = dpkg(*status);
    const auto took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    MESSAGE(packages.size() << " packages from " << status->size() << " bytes in " << took.count() << " ms");
    const Package* bash = find(packages, "bash");
    REQUIRE(bash != nullptr);
    CHECK(bash->source_name == "bash");
    const Package* libc6 = find(packages, "libc6");
    REQUIRE(libc6 != nullptr);
    CHECK(libc6->source_name == "glibc");
    CHECK(libc6->source_version == libc6->version);
    const auto expected = dpkg_query();
    if (!expected) MESSAGE("no dpkg-query here: not compared");
    if (expected) {
      std::vector<std::string> ours;
      for (const auto& p : packages) {
        ours.push_back(p.name + " " + p.architecture + " " + p.version + " " + p.source_name + " " + p.source_version);
      }
      std::sort(ours.begin(), ours.end());
      CHECK(ours.size() == expected->size());
      CHECK(ours == *expected);
    }
  }
}

TEST_CASE("packages::dpkg") {
  SUBCASE("a stanza shaped like bash's on Debian 12") {
    const Packages packages = dpkg(
        "Package: bash\nEssential: yes\nStatus: install ok installed\nPriority: required\nSection: shells\n"
        "Installed-Size: 7164\nMaintainer: Matthias Klose <doko@debian.org>\nArchitecture: amd64\n"
        "Multi-Arch: foreign\nSource: bash (5.2.15-2)\nVersion: 5.2.15-2+b8\nConffiles:\n"
        " /etc/bash.bashrc 89269e1298235f1b12b4c16e4065ad0d\nDescription: GNU Bourne Again SHell\n"
        " Bash is an sh-compatible command language interpreter that executes\n .\n more text\n");
    REQUIRE(packages.size() == 1);
    CHECK(packages[0] == Package{"bash", "5.2.15-2+b8", "bash", "5.2.15-2", "amd64"});
  }

  SUBCASE("only the state `installed` counts, whatever the want") {
    const Packages packages = dpkg(
        "Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n"
        "Package: held\nStatus: hold ok installed\nVersion: 2.0\n\n"
        "Package: leaving\nStatus: deinstall ok installed\nVersion: 3.0\n\n"
        "Package: half\nStatus: install reinstreq half-installed\nVersion: 4.0\n\n"
        "Package: nostatus\nVersion: 5.0\n\n"
        "Package: short\nStatus: install ok\nVersion: 6.0\n");
    REQUIRE(packages.size() == 2);
    CHECK(packages[0].name == "held");
    CHECK(packages[1].name == "leaving");
  }

  SUBCASE("source name and version (binNMU, epoch only on the binary, unrelated versions)") {
    const Packages packages = dpkg(
        "Package: busybox-static\nStatus: install ok installed\nSource: busybox (1:1.35.0-4+deb12u1)\n"
        "Version: 1:1.35.0-4+deb12u1+b1\n\n"
        "Package: bsdutils\nStatus: install ok installed\nSource: util-linux (2.38.1-5+deb12u3)\n"
        "Version: 1:2.38.1-5+deb12u3\n\n"
        "Package: clang\nStatus: install ok installed\nSource: llvm-defaults (0.55.7~deb12u1)\n"
        "Version: 1:14.0-55.7~deb12u1\n\n"
        "Package: libc6\nStatus: install ok installed\nSource: glibc\nVersion: 2.36-9+deb12u14\n\n"
        "Package: spaced\nStatus: install ok installed\nSource:   odd   (  1.0-1  )  \nVersion: 1.0-1+b2\n\n"
        "Package: tight\nStatus: install ok installed\nSource: t(2.0)\nVersion: 2.0+b1\n\n"
        "Package: empty-source\nStatus: install ok installed\nSource:\nVersion: 3.0\n");
    REQUIRE(packages.size() == 7);
    CHECK(packages[0] == Package{"busybox-static", "1:1.35.0-4+deb12u1+b1", "busybox", "1:1.35.0-4+deb12u1", ""});
    CHECK(packages[1].source_version == "2.38.1-5+deb12u3");
    CHECK(packages[2].source_name == "llvm-defaults");
    CHECK(packages[2].source_version == "0.55.7~deb12u1");
    CHECK(packages[3] == Package{"libc6", "2.36-9+deb12u14", "glibc", "2.36-9+deb12u14", ""});
    CHECK(packages[4].source_name == "odd");
    CHECK(packages[4].source_version == "1.0-1");
    CHECK(packages[5].source_name == "t");
    CHECK(packages[5].source_version == "2.0");
    CHECK(packages[6].source_name == "empty-source");
    CHECK(packages[6].source_version == "3.0");
  }

  SUBCASE("Multi-Arch: same, installed for two architectures") {
    const std::string stanza = "Package: libssl3\nStatus: install ok installed\nMulti-Arch: same\nSource: openssl\n"
                               "Version: 3.0.17-1~deb12u2\nArchitecture: ";
    const Packages packages = dpkg(stanza + "amd64\n\n" + stanza + "i386\n");
    REQUIRE(packages.size() == 2);
    CHECK(packages[0].architecture == "amd64");
    CHECK(packages[1].architecture == "i386");
    CHECK(packages[1].source_name == "openssl");
  }

  SUBCASE("distroless status.d: a control file without Status") {
    const std::string control = "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\nMulti-Arch: foreign\n"
                                "Description: time zone and daylight-saving time data\n";
    CHECK(dpkg(control, true).size() == 1);
    CHECK(dpkg(control, false).empty());
    CHECK(dpkg("Status: deinstall ok config-files\n" + control, true).empty());
  }
}

TEST_CASE("packages::dpkg layout and errors") {
  SUBCASE("field names ignore case; separators; stanzas lacking Package or Version") {
    const Packages packages = dpkg(
        "\n\nPACKAGE: a\nstatus: install ok installed\nversion: 1\n \t\n"
        "Package: no-version\nStatus: install ok installed\n\n"
        "Version: 2\nStatus: install ok installed\n\n\n"
        "Package: b\r\nStatus: install ok installed\r\nVersion: 3\r\n\r\n"
        "Package: c\nStatus: install ok installed\nVersion: 4");
    REQUIRE(packages.size() == 3);
    CHECK(packages[0] == Package{"a", "1", "a", "1", ""});
    CHECK(packages[1] == Package{"b", "3", "b", "3", ""});
    CHECK(packages[2].version == "4");
    CHECK(dpkg("").empty());
  }

  SUBCASE("errors name the line") {
    const auto error = [](const std::string& text) {
      auto parsed = parse_dpkg_status(text);
      REQUIRE_FALSE(parsed.has_value());
      return parsed.error();
    };
    CHECK(error(" leading continuation\nPackage: a\n").message == "line 1: continuation line before any field");
    CHECK(error("Package: a\nVersion: 1\n\n more\n").line == 4);
    CHECK(error("Package: a\nVersion: 1\nnonsense\n").message == "line 3: field line without a colon");
    CHECK(error("Package: a\nVersion: 1\nnonsense\n").line == 3);
    CHECK(error("Package: bash\nVersion: 1\nversion: 2\n").message ==
          "line 3: field 'Version' given twice in the stanza of 'bash'");
    CHECK(error("Pack age: x\n").line == 1);
    CHECK_FALSE(parse_dpkg_status(": x\n").has_value());
  }
}

TEST_CASE("packages::apk") {
  SUBCASE("the excerpt of PACKAGES.md section 5") {
    auto parsed = parse_apk_installed("C:Q1YIqh3Tnv97xmFdPl4zODdQ+PXsw=\nP:musl-utils\nV:1.1.14-r10\nA:x86_64\n"
                                      "o:musl\nF:usr/bin\nR:ldd\n");
    REQUIRE(parsed.has_value());
    REQUIRE(parsed->size() == 1);
    CHECK((*parsed)[0] == Package{"musl-utils", "1.1.14-r10", "musl", "1.1.14-r10", "x86_64"});
  }

  SUBCASE("a realistic Alpine 3.20 database (checksums, files, modes, dependencies)") {
    auto parsed = parse_apk_installed(fixture("apk-installed"));
    REQUIRE_MESSAGE(parsed.has_value(), (parsed ? "" : parsed.error().message));
    REQUIRE(parsed->size() == 10);
    CHECK((*parsed)[0] == Package{"alpine-baselayout-data", "3.6.5-r0", "alpine-baselayout", "3.6.5-r0", "x86_64"});
    CHECK((*parsed)[3] == Package{"busybox-binsh", "1.36.1-r29", "busybox", "1.36.1-r29", "x86_64"});
    CHECK((*parsed)[5] == Package{"libcrypto3", "3.3.1-r0", "openssl", "3.3.1-r0", "x86_64"});
    CHECK((*parsed)[9] == Package{"apk-tools", "2.14.4-r0", "apk-tools", "2.14.4-r0", "x86_64"});
  }

  SUBCASE("no origin: the name; blocks lacking P or V are skipped") {
    auto parsed = parse_apk_installed("P:noorigin\nV:1.0-r0\n\nP:noversion\nA:x86_64\n\nV:2.0-r0\no:x\n\n\n"
                                      "P:last\r\nV:3.0-r1\r\nV:3.0-r2\r\n");
    REQUIRE(parsed.has_value());
    REQUIRE(parsed->size() == 2);
    CHECK((*parsed)[0] == Package{"noorigin", "1.0-r0", "noorigin", "1.0-r0", ""});
    CHECK((*parsed)[1].version == "3.0-r2");  // a repeated key: the later one, as apk reads it
    CHECK(parse_apk_installed("")->empty());
  }

  SUBCASE("a line that is not X:value is an error naming it") {
    auto parsed = parse_apk_installed("P:a\nV:1\n\nP:b\nversion 2\n");
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().line == 5);
    CHECK(parsed.error().message == "line 5: not a \"X:value\" line");
    CHECK_FALSE(parse_apk_installed("P:a\nx\n").has_value());
  }
}

namespace {

// An RPM header blob as rpmdb stores it: a HEADERIMMUTABLE region (entry 0 and its trailer
// after the data) holding the given entries, each aligned for its type.
struct Item {
  std::uint32_t tag, type, count;
  std::string data;
};

void put32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

Item str(std::uint32_t tag, const std::string& text) { return {tag, 6, 1, text + '\0'}; }
Item int32(std::uint32_t tag, std::uint32_t value) {
  Item item{tag, 4, 1, {}};
  put32(item.data, value);
  return item;
}

std::string header_blob(const std::vector<Item>& items, bool region = true) {
  std::string index, data;
  for (const auto& item : items) {
    const std::size_t align = item.type == 3 ? 2 : item.type == 4 ? 4 : item.type == 5 ? 8 : 1;
    while (data.size() % align != 0) data += '\0';
    for (std::uint32_t field : {item.tag, item.type, static_cast<std::uint32_t>(data.size()), item.count}) {
      put32(index, field);
    }
    data += item.data;
  }
  std::uint32_t il = static_cast<std::uint32_t>(items.size());
  if (region) {
    std::string entry;
    for (std::uint32_t field : {63u, 7u, static_cast<std::uint32_t>(data.size()), 16u}) put32(entry, field);
    index = entry + index;
    ++il;
    for (std::uint32_t field : {63u, 7u, static_cast<std::uint32_t>(-16 * static_cast<std::int32_t>(il)), 16u}) {
      put32(data, field);
    }
  }
  std::string blob;
  put32(blob, il);
  put32(blob, static_cast<std::uint32_t>(data.size()));
  return blob + index + data;
}

const std::vector<Item> kFoo = {{100, 8, 1, std::string("C\0", 2)}, str(1000, "foo"), str(1001, "1.0"), str(1002, "1")};

std::string rpm_error(const std::string& blob) {
  auto parsed = parse_rpm_header(blob);
  if (parsed.has_value()) return "(decoded)";
  CHECK(parsed.error().line == 0);
  return parsed.error().message;
}

std::string with(std::string blob, std::size_t at, char byte) {
  blob.replace(at, 1, 1, byte);  // throws when `at` is out of the blob
  return blob;
}

// The header blobs of an rpmdb.sqlite file, read with SQLite directly.
std::vector<std::string> blobs_of(const std::string& bytes) {
  std::string copy = with(with(bytes, 18, 1), 19, 1);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
  REQUIRE(sqlite3_deserialize(db, "main", reinterpret_cast<unsigned char*>(copy.data()),
                              static_cast<sqlite3_int64>(copy.size()), static_cast<sqlite3_int64>(copy.size()),
                              SQLITE_DESERIALIZE_READONLY) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT blob FROM Packages ORDER BY hnum", -1, &statement, nullptr) == SQLITE_OK);
  std::vector<std::string> blobs;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    blobs.emplace_back(static_cast<const char*>(sqlite3_column_blob(statement, 0)),
                       static_cast<std::size_t>(sqlite3_column_bytes(statement, 0)));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return blobs;
}

// An SQLite database made here with `sql`, as bytes.
std::string database_with(const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_int64 size = 0;
  unsigned char* data = sqlite3_serialize(db, "main", &size, 0);
  REQUIRE(data != nullptr);
  std::string bytes(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size));
  sqlite3_free(data);
  sqlite3_close(db);
  return bytes;
}

}  // namespace

TEST_CASE("packages::rpm header") {
  SUBCASE("the shape of the worked example: region, I18NTABLE, NAME, VERSION, RELEASE") {
    const std::string blob = header_blob(kFoo);
    CHECK(blob.substr(0, 8) == std::string("\0\0\0\5\0\0\0\x1c", 8));  // il 5, dl 12 + trailer
    auto parsed = parse_rpm_header(blob);
    REQUIRE(parsed.has_value());
    REQUIRE(parsed->has_value());
    CHECK(**parsed == Package{"foo", "1.0-1", "foo", "1.0-1", ""});
    auto legacy = parse_rpm_header(header_blob(kFoo, false));  // no region at all
    REQUIRE(legacy.has_value());
    CHECK((*legacy)->name == "foo");
  }

  SUBCASE("EPOCH, ARCH and SOURCERPM (its epoch is the binary's)") {
    auto parsed = parse_rpm_header(header_blob({str(1000, "ca-certificates-tools"), str(1001, "2.0.0"),
                                                str(1002, "1.cm2"), int32(1003, 1), str(1022, "noarch"),
                                                str(1044, "ca-certificates-2.0.0-1.cm2.src.rpm")}));
    REQUIRE(parsed.has_value());
    CHECK(**parsed == Package{"ca-certificates-tools", "1:2.0.0-1.cm2", "ca-certificates", "1:2.0.0-1.cm2", "noarch"});
    auto nosrc = parse_rpm_header(header_blob({str(1000, "util-linux"), str(1001, "2.32.1"), str(1002, "42.el8_8"),
                                               int32(1003, 0), str(1044, "util-linux-2.32.1-42.el8_8.nosrc.rpm")}));
    REQUIRE(nosrc.has_value());
    CHECK((*nosrc)->source_version == "0:2.32.1-42.el8_8");
    auto odd = parse_rpm_header(header_blob({str(1000, "x"), str(1001, "1"), str(1002, "2"), str(1044, "(none)")}));
    REQUIRE(odd.has_value());
    CHECK((*odd)->source_name == "x");
    CHECK((*odd)->source_version == "1-2");
  }

  SUBCASE("gpg-pubkey is a key, not a package") {
    auto parsed = parse_rpm_header(header_blob({str(1000, "gpg-pubkey"), str(1001, "4659a175"), str(1002, "6b1")}));
    REQUIRE(parsed.has_value());
    CHECK_FALSE(parsed->has_value());
  }
}

TEST_CASE("packages::rpm header malformed") {
  SUBCASE("sizes, offsets, types, counts, region: errors, never crashes") {
    const std::string good = header_blob(kFoo);
    CHECK(rpm_error("") != "(decoded)");
    CHECK(rpm_error(good.substr(0, good.size() - 1)).find("make 116") != std::string::npos);  // truncated
    CHECK(rpm_error(good + '\0') != "(decoded)");
    constexpr std::size_t kName = 8 + 2 * 16;  // entry 2: NAME
    CHECK(rpm_error(with(good, 1, 1)).find("65541 entries") != std::string::npos);  // il = 0x10005
    CHECK(rpm_error(with(good, 3, 0)).find("0 entries") != std::string::npos);
    CHECK(rpm_error(with(good, 4, 0x10)).find("2^28") != std::string::npos);
    CHECK(rpm_error(with(good, kName + 10, 0x7f)).find("offset out of the data") != std::string::npos);
    CHECK(rpm_error(with(good, kName + 8, '\x80')).find("offset out of the data") != std::string::npos);
    CHECK(rpm_error(header_blob({str(1000, "a"), {1001, 6, 1, "no-nul"}}, false)).find("not terminated") !=
          std::string::npos);
    CHECK(rpm_error(header_blob({str(1000, "a"), {1001, 8, 3, std::string("a\0b\0", 4)}})) != "(decoded)");
    CHECK(rpm_error(header_blob({str(1000, "a"), {1001, 6, 2, std::string("a\0b\0", 4)}})) != "(decoded)");
    CHECK(rpm_error(header_blob({{1000, 10, 1, std::string("a\0", 2)}})).find("unknown type") != std::string::npos);
    CHECK(rpm_error(header_blob({{1000, 6, 0, std::string("a\0", 2)}})).find("count") != std::string::npos);
    CHECK(rpm_error(header_blob({{1000, 4, 2, "abcd"}}, false)).find("past the end") != std::string::npos);
    CHECK(rpm_error(header_blob({{99, 6, 1, std::string("a\0", 2)}})).find("below 100") != std::string::npos);
    CHECK(rpm_error(header_blob({str(1001, "1"), str(1002, "1")})).find("no NAME") != std::string::npos);
    CHECK(rpm_error(header_blob({str(1000, "a"), str(1001, "1")})).find("no VERSION") != std::string::npos);
    CHECK(rpm_error(header_blob({str(1000, "a"), str(1001, "1"), str(1002, "1"), str(1003, "1")}))
              .find("EPOCH") != std::string::npos);
    CHECK(rpm_error(header_blob({int32(1000, 7), str(1001, "1"), str(1002, "1")})).find("NAME") != std::string::npos);
    // EPOCH at offset 5 instead of 4; VERSION inside NAME's data
    CHECK(rpm_error(with(header_blob({str(1000, "ab"), int32(1003, 1)}, false), 35, 5)).find("aligned") !=
          std::string::npos);
    CHECK(rpm_error(with(header_blob({str(1000, "abc"), str(1001, "1")}, false), 35, 1)).find("overlaps") !=
          std::string::npos);
    CHECK(rpm_error(with(good, good.size() - 13, 62)).find("does not match") != std::string::npos);  // trailer tag
    CHECK(rpm_error(with(good, 8 + 15, 17)).find("not BIN of 16") != std::string::npos);  // region count
    // -16*ril no longer a multiple of 16 within the index
    CHECK(rpm_error(with(good, good.size() - 5, 0x10)).find("region trailer says") != std::string::npos);
  }
}

TEST_CASE("packages::rpm header fuzz") {
  SUBCASE("random bytes are errors") {
    std::mt19937 random(20240612);
    for (int round = 0; round < 3000; ++round) {
      std::string blob(random() % 300, '\0');
      for (auto& c : blob) c = static_cast<char>(random());
      if (round % 2 == 1 && blob.size() >= 24) {  // sizes that agree with the length: entries are checked
        const std::uint32_t il = 1 + random() % static_cast<std::uint32_t>((blob.size() - 8) / 16);
        std::string sizes;
        put32(sizes, il);
        put32(sizes, static_cast<std::uint32_t>(blob.size() - 8 - 16 * il));
        blob.replace(0, 8, sizes);
      }
      CHECK_MESSAGE(!parse_rpm_header(blob).has_value(), "round " << round);
    }
  }

  SUBCASE("real headers with bytes changed never crash the decoder") {
    const auto blobs = blobs_of(fixture("rpmdb.sqlite"));
    REQUIRE(blobs.size() == 4);
    std::mt19937 random(7);
    int decoded = 0;
    for (int round = 0; round < 20000; ++round) {
      std::string blob = blobs[static_cast<std::size_t>(round) % blobs.size()];
      for (int flips = 1 + static_cast<int>(random() % 4); flips > 0; --flips) {
        blob[random() % blob.size()] = static_cast<char>(random());
      }
      if (round % 5 == 0) blob.resize(random() % blob.size());
      auto parsed = parse_rpm_header(blob);
      if (parsed && *parsed) ++decoded;
    }
    MESSAGE(decoded << " of 20000 changed headers still decoded");
    CHECK(decoded < 20000);
  }
}

TEST_CASE("packages::rpmdb.sqlite") {
  const std::string bytes = fixture("rpmdb.sqlite");
  SUBCASE("the database rpm wrote (WAL mode in its header)") {
    CHECK(bytes.size() < 200 * 1024);
    CHECK(bytes[18] == 2);  // as rpm leaves it
    auto parsed = parse_rpmdb_sqlite(bytes);
    REQUIRE_MESSAGE(parsed.has_value(), (parsed ? "" : parsed.error().message));
    const Packages expected = {
        {"cascade-tiny", "0.5-1", "cascade-tiny", "0.5-1", "noarch"},
        {"cascade-hello-doc", "2:1.0~rc1-3.cas", "cascade-hello", "2:1.0~rc1-3.cas", "noarch"},
        {"cascade-hello", "2:1.0~rc1-3.cas", "cascade-hello", "2:1.0~rc1-3.cas", "noarch"},
    };
    CHECK(*parsed == expected);  // hnum 4, the gpg-pubkey, is left out
    const auto blobs = blobs_of(bytes);
    REQUIRE(blobs.size() == 4);
    CHECK(parse_rpm_header(blobs[3]).has_value());
    CHECK_FALSE(parse_rpm_header(blobs[3])->has_value());
    auto again = parse_rpmdb_sqlite(with(with(bytes, 18, 1), 19, 1));  // as if rpm had not set WAL
    REQUIRE(again.has_value());
    CHECK(*again == expected);
  }

  SUBCASE("not an SQLite database") {
    for (const std::string& junk : {std::string(), std::string("SQLite format 3"), std::string(4096, 'x'),
                                    std::string("\x8e\xad\xe8\x01\0\0\0\0", 8) + std::string(200, '\0')}) {
      auto parsed = parse_rpmdb_sqlite(junk);
      REQUIRE_FALSE(parsed.has_value());
      CHECK(parsed.error().message == "rpmdb.sqlite: not an SQLite database");
    }
    CHECK_FALSE(parse_rpmdb_sqlite(bytes.substr(0, 16) + std::string(4080, '\x5a')).has_value());
    CHECK_FALSE(parse_rpmdb_sqlite(bytes.substr(0, bytes.size() / 2)).has_value());
  }

  SUBCASE("SQLite, but not an rpm database") {
    auto none = parse_rpmdb_sqlite(database_with("CREATE TABLE Other(x)"));
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().message == "rpmdb.sqlite: no Packages table");
    auto view = parse_rpmdb_sqlite(
        database_with("CREATE TABLE t(hnum, blob); CREATE VIEW Packages AS SELECT hnum, blob FROM t"));
    CHECK_FALSE(view.has_value());
    auto columns = parse_rpmdb_sqlite(database_with("CREATE TABLE Packages(key, value)"));
    REQUIRE_FALSE(columns.has_value());
    CHECK(columns.error().message.find("no such column") != std::string::npos);
  }

  SUBCASE("a bad blob is named by its hnum") {
    auto bad = parse_rpmdb_sqlite(database_with(
        "CREATE TABLE Packages(hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);"
        "INSERT INTO Packages VALUES (3, x'0000000100000000'), (7, x'00000001000000000000000000000000')"));
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().message.starts_with("rpmdb.sqlite: hnum 3: rpm header: "));
    auto text = parse_rpmdb_sqlite(database_with("CREATE TABLE Packages(hnum INTEGER PRIMARY KEY, blob);"
                                                 "INSERT INTO Packages VALUES (5, 'text')"));
    REQUIRE_FALSE(text.has_value());
    CHECK(text.error().message == "rpmdb.sqlite: hnum 5: blob is not a BLOB");
    auto empty = parse_rpmdb_sqlite(database_with("CREATE TABLE Packages(hnum INTEGER PRIMARY KEY, blob)"));
    REQUIRE(empty.has_value());
    CHECK(empty->empty());
  }

  SUBCASE("changed database bytes never crash the reader") {
    std::mt19937 random(11);
    int decoded = 0;
    for (int round = 0; round < 300; ++round) {
      std::string copy = bytes;
      for (int flips = 1 + static_cast<int>(random() % 8); flips > 0; --flips) {
        copy[100 + random() % (copy.size() - 100)] = static_cast<char>(random());
      }
      if (parse_rpmdb_sqlite(copy)) ++decoded;
    }
    MESSAGE(decoded << " of 300 changed databases still decoded");
  }
}

TEST_CASE("packages::os-release") {
  struct Row { const char* text; OsRelease expected; const char* distro; };
  const Row rows[] = {
      {"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"
       "VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
       {"debian", "12", "12 (bookworm)", "", "Debian GNU/Linux 12 (bookworm)"}, "debian 12"},
      {"PRETTY_NAME=\"Ubuntu 24.04.3 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\n"
       "VERSION=\"24.04.3 LTS (Noble Numbat)\"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n",
       {"ubuntu", "24.04", "24.04.3 LTS (Noble Numbat)", "debian", "Ubuntu 24.04.3 LTS"}, "ubuntu 24.04"},
      {"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.15.4\nPRETTY_NAME=\"Alpine Linux v3.15\"\n",
       {"alpine", "3.15.4", "", "", "Alpine Linux v3.15"}, "alpine 3.15"},
      {"ID=alpine\nVERSION_ID=3.20.3\n", {"alpine", "3.20.3", "", "", ""}, "alpine 3.20"},
      {"NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.4 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\n"
       "VERSION_ID=\"9.4\"\nPLATFORM_ID=\"platform:el9\"\n",
       {"rhel", "9.4", "9.4 (Plow)", "fedora", ""}, "rhel 9.4"},
      {"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n",
       {"rocky", "9.3", "", "rhel centos fedora", ""}, "rocky 9.3"},
      {"ID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n",
       {"almalinux", "9.4", "", "rhel centos fedora", ""}, "almalinux 9.4"},
      {"ID=fedora\nVERSION_ID=42\nVERSION_CODENAME=\"\"\n", {"fedora", "42", "", "", ""}, "fedora 42"},
      {"ID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\n",
       {"amzn", "2", "", "centos rhel fedora", ""}, "amzn 2"},
      {"ID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n", {"amzn", "2023", "", "fedora", ""}, "amzn 2023"},
      {"ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=\"20230201\"\n",
       {"wolfi", "20230201", "", "", "Wolfi"}, "wolfi 20230201"},
      {"PRETTY_NAME=\"Distroless\"\nNAME=\"Debian GNU/Linux\"\nID=\"debian\"\nVERSION_ID=\"12\"\n",
       {"debian", "12", "", "", "Distroless"}, "debian 12"},
  };
  SUBCASE("the rows of PACKAGES.md section 2") {
    for (const auto& row : rows) {
      const OsRelease os = parse_os_release(row.text);
      CHECK(os == row.expected);
      CHECK(distro_name(os) == row.distro);
    }
  }

  SUBCASE("quoting, escapes, comments, malformed lines") {
    const OsRelease os = parse_os_release(
        "# a comment\n\n   # an indented one\nPRETTY_NAME='single \"quoted\" $HOME \\n'\n"
        "VERSION=\"a \\\"b\\\" \\\\ \\$x \\`y\\` \\n\"\nID_LIKE=un\\ quoted\\\"  \nID=first\nID=\"second\"\n"
        "VERSION_ID=\"unterminated\nBAD KEY=x\n1ID=x\nnot an assignment\n  VERSION_ID = 1\n");
    CHECK(os.pretty_name == "single \"quoted\" $HOME \\n");
    CHECK(os.version == "a \"b\" \\ $x `y` \\n");
    CHECK(os.id_like == "un quoted\"");
    CHECK(os.id == "second");
    CHECK(os.version_id.empty());
    CHECK(parse_os_release("VERSION_ID=\"1\"'.'2\r\n").version_id == "1.2");
  }

  SUBCASE("no ID means linux; no VERSION_ID means the id alone") {
    const OsRelease os = parse_os_release("NAME=Something\n");
    CHECK(os.id == "linux");
    CHECK(distro_name(os) == "linux");
    CHECK(parse_os_release("").id == "linux");
    CHECK(distro_name(parse_os_release("ID=debian\nVERSION_CODENAME=trixie\n")) == "debian");
  }

  SUBCASE("this machine's /etc/os-release") {
    const auto text = slurp("/etc/os-release");
    if (!text) {
      MESSAGE("no /etc/os-release here: skipped");
      return;
    }
    const OsRelease os = parse_os_release(*text);
    MESSAGE("this machine: " << distro_name(os) << " (" << os.pretty_name << ")");
    CHECK(os.id != "linux");
    if (os.id == "debian" && os.version_id == "12") CHECK(os.pretty_name == "Debian GNU/Linux 12 (bookworm)");
  }
}

TEST_CASE("packages::format") {
  CHECK(to_string(Format::dpkg) == "dpkg");
  CHECK(to_string(Format::apk) == "apk");
  CHECK(to_string(Format::rpm) == "rpm");
  CHECK(scheme_of(Format::dpkg) == cascade::version::Scheme::dpkg);
  CHECK(scheme_of(Format::apk) == cascade::version::Scheme::apk);
  CHECK(scheme_of(Format::rpm) == cascade::version::Scheme::rpm);
}
