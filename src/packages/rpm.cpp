// rpm's database: header blobs as rpmdb stores them (no magic; big-endian index entries and
// a data area, checked against the limits rpm itself enforces: PACKAGES.md section 7), and
// rpmdb.sqlite given as bytes, opened as a private read-only in-memory copy (never a path).
#include <sqlite3.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cascade/packages.hpp"

namespace cascade::packages {
namespace {

constexpr std::uint32_t kTagI18nTable = 100;  // the lowest tag of a real entry
constexpr std::uint32_t kRegionImage = 61, kRegionSignatures = 62, kRegionImmutable = 63;
constexpr std::uint32_t kTagName = 1000, kTagVersion = 1001, kTagRelease = 1002, kTagEpoch = 1003;
constexpr std::uint32_t kTagArch = 1022, kTagSourceRpm = 1044;
constexpr std::uint32_t kTypeInt32 = 4, kTypeString = 6, kTypeBin = 7, kTypeStringArray = 8, kTypeI18n = 9;
constexpr std::uint32_t kMaxTags = 0xffff, kMaxData = 0x0fffffff, kMaxArray = 0x000fffff;
constexpr std::uint32_t kEntrySize = 16;  // also the count of a region entry and its trailer's size

// Per type 0..9: bytes per item (0 = strings, counted up to their NULs) and alignment.
constexpr std::array<std::uint32_t, 10> kItemSize = {0, 1, 1, 2, 4, 8, 0, 1, 0, 0};
constexpr std::array<std::uint32_t, 10> kAlign = {1, 1, 1, 2, 4, 8, 1, 1, 1, 1};

std::uint32_t be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) | u[3];
}

struct Entry {
  std::uint32_t tag = 0, type = 0, count = 0;
  std::int64_t offset = 0;   // signed on disk: a region trailer's is negative
  std::uint32_t length = 0;  // bytes of data, once verified
};

Entry entry_at(const char* p) {
  return Entry{be32(p), be32(p + 4), be32(p + 12), static_cast<std::int32_t>(be32(p + 8)), 0};
}

std::string describe(std::size_t index, const Entry& e) {
  return "entry " + std::to_string(index) + " (tag " + std::to_string(e.tag) + ", type " + std::to_string(e.type) +
         ", offset " + std::to_string(e.offset) + ", count " + std::to_string(e.count) + ")";
}

// Bytes taken by `count` NUL-terminated strings starting at data[offset]; nullopt when the
// data ends first. Linear in the bytes it passes.
std::optional<std::uint32_t> strings_length(std::string_view data, std::uint32_t offset, std::uint32_t count) {
  std::size_t at = offset;
  for (std::uint32_t i = 0; i < count; ++i) {
    const auto nul = data.find('\0', at);
    if (nul == std::string_view::npos) return std::nullopt;
    at = nul + 1;
  }
  return static_cast<std::uint32_t>(at - offset);
}

class Header {
 public:
  // Checks the sizes, the region and every entry; an error says which and why.
  static Expected<Header, std::string> decode(std::string_view blob);
  const Entry* find(std::uint32_t tag) const;
  std::string_view bytes(const Entry& e) const { return data_.substr(static_cast<std::size_t>(e.offset), e.length); }

 private:
  std::optional<std::string> check_region();
  std::optional<std::string> check_entry(std::size_t index, Entry& e, std::uint32_t& end) const;

  std::vector<Entry> entries_;
  std::string_view data_;
  bool region_ = false;
  std::uint32_t region_dl_ = 0;  // data bytes up to the end of the region trailer
};

Expected<Header, std::string> Header::decode(std::string_view blob) {
  if (blob.size() < 8) return unexpected("blob of " + std::to_string(blob.size()) + " bytes, shorter than its sizes");
  const std::uint32_t il = be32(blob.data()), dl = be32(blob.data() + 4);
  if (il < 1 || il > kMaxTags) return unexpected("index of " + std::to_string(il) + " entries (1 to 65535 allowed)");
  if (dl > kMaxData) return unexpected("data of " + std::to_string(dl) + " bytes (at most 2^28-1 allowed)");
  const std::uint64_t size = 8 + std::uint64_t{kEntrySize} * il + dl;
  if (blob.size() != size) {
    return unexpected("blob of " + std::to_string(blob.size()) + " bytes, but il " + std::to_string(il) + " and dl " +
                      std::to_string(dl) + " make " + std::to_string(size));
  }
  Header header;
  header.data_ = blob.substr(8 + std::size_t{kEntrySize} * il);
  header.entries_.reserve(il);
  for (std::uint32_t i = 0; i < il; ++i) header.entries_.push_back(entry_at(blob.data() + 8 + kEntrySize * i));
  if (auto failure = header.check_region()) return unexpected(std::move(*failure));
  std::uint32_t end = 0;  // entries' data must come in order, without overlapping
  for (std::size_t i = header.region_ ? 1 : 0; i < header.entries_.size(); ++i) {
    if (auto failure = header.check_entry(i, header.entries_[i], end)) return unexpected(std::move(*failure));
  }
  return header;
}

// Entry 0 may open a region: a BIN entry of 16 bytes pointing at a trailer in the data that
// repeats the tag and holds -16 times the number of entries in the region.
std::optional<std::string> Header::check_region() {
  const Entry& first = entries_[0];
  if (first.tag < kRegionImage || first.tag > kRegionImmutable) return std::nullopt;  // legacy: no region
  const auto dl = static_cast<std::int64_t>(data_.size());
  if (first.type != kTypeBin || first.count != kEntrySize) return "region " + describe(0, first) + " is not BIN of 16";
  if (first.offset < 0 || first.offset + kEntrySize > dl) {
    return "region " + describe(0, first) + ": trailer out of the data";
  }
  Entry trailer = entry_at(data_.data() + first.offset);
  if (first.tag == kRegionSignatures && trailer.tag == kRegionImage) trailer.tag = kRegionSignatures;  // old packages
  if (trailer.tag != first.tag || trailer.type != kTypeBin || trailer.count != kEntrySize) {
    return "region trailer " + describe(0, trailer) + " does not match its region tag";
  }
  const std::int64_t span = -trailer.offset;
  if (span < 0 || span % kEntrySize != 0 || span / kEntrySize > static_cast<std::int64_t>(entries_.size())) {
    return "region trailer says " + std::to_string(span) + " bytes of entries, not a multiple of 16 within the index";
  }
  region_ = true;
  region_dl_ = static_cast<std::uint32_t>(first.offset + kEntrySize);
  return std::nullopt;
}

std::optional<std::string> Header::check_entry(std::size_t index, Entry& e, std::uint32_t& end) const {
  const auto dl = static_cast<std::uint32_t>(data_.size());
  const auto bad = [&](std::string_view why) { return describe(index, e) + ": " + std::string(why); };
  if (e.offset < 0 || e.offset > dl) return bad("offset out of the data (" + std::to_string(dl) + " bytes)");
  const auto offset = static_cast<std::uint32_t>(e.offset);
  if (end > offset) return bad("data overlaps the previous entry's");
  if (e.tag < kTagI18nTable) return bad("tag below 100");
  if (e.type < 1 || e.type > kTypeI18n) return bad("unknown type");
  if (e.count < 1 || e.count > dl) return bad("count out of range");
  if (e.type != kTypeBin && e.count > kMaxArray) return bad("array of more than 2^20 items");
  if (offset % kAlign[e.type] != 0) return bad("offset not aligned for its type");
  if (kItemSize[e.type] != 0) {
    const std::uint64_t length = std::uint64_t{kItemSize[e.type]} * e.count;
    if (length > dl - offset) return bad("data runs past the end");
    e.length = static_cast<std::uint32_t>(length);
  } else {
    if (e.type == kTypeString && e.count != 1) return bad("STRING with a count other than 1");
    const auto length = strings_length(data_, offset, e.count);
    if (!length) return bad("strings not terminated within the data");
    e.length = *length;
  }
  end = offset + e.length;
  if (region_ && end > region_dl_ - kEntrySize && offset < region_dl_) return bad("data overlaps the region trailer");
  return std::nullopt;
}

const Entry* Header::find(std::uint32_t tag) const {
  for (std::size_t i = region_ ? 1 : 0; i < entries_.size(); ++i) {
    if (entries_[i].tag == tag) return &entries_[i];
  }
  return nullptr;
}

ParseError header_error(std::string message) { return ParseError{0, "rpm header: " + std::move(message)}; }

// The first string of a string-class tag; nullopt when the tag is absent.
Expected<std::optional<std::string>, ParseError> string_tag(const Header& header, std::uint32_t tag,
                                                            std::string_view name) {
  const Entry* e = header.find(tag);
  if (e == nullptr) return std::optional<std::string>{};
  if (e->type != kTypeString && e->type != kTypeStringArray && e->type != kTypeI18n) {
    return unexpected(header_error(std::string(name) + " has type " + std::to_string(e->type) + ", not a string"));
  }
  const std::string_view data = header.bytes(*e);
  return std::optional<std::string>(std::string(data.substr(0, data.find('\0'))));
}

Expected<std::optional<std::string>, ParseError> epoch_tag(const Header& header) {
  const Entry* e = header.find(kTagEpoch);
  if (e == nullptr) return std::optional<std::string>{};
  if (e->type != kTypeInt32) {
    return unexpected(header_error("EPOCH has type " + std::to_string(e->type) + ", not INT32"));
  }
  return std::optional<std::string>(std::to_string(be32(header.bytes(*e).data())));
}

// "name-version-release.src.rpm" split at its last two dashes; nullopt when not that shape.
std::optional<std::array<std::string_view, 3>> split_source_rpm(std::string_view text) {
  if (text.ends_with(".src.rpm")) {
    text.remove_suffix(8);
  } else if (text.ends_with(".nosrc.rpm")) {
    text.remove_suffix(10);
  } else {
    return std::nullopt;
  }
  const auto last = text.rfind('-');
  if (last == std::string_view::npos || last == 0) return std::nullopt;
  const auto middle = text.rfind('-', last - 1);
  if (middle == std::string_view::npos || middle == 0 || middle + 1 == last || last + 1 == text.size()) {
    return std::nullopt;
  }
  return std::array{text.substr(0, middle), text.substr(middle + 1, last - middle - 1), text.substr(last + 1)};
}

std::string evr(const std::optional<std::string>& epoch, std::string_view version, std::string_view release) {
  std::string text = epoch ? *epoch + ":" : std::string();
  text.append(version).append("-").append(release);
  return text;
}

}  // namespace

Expected<std::optional<Package>, ParseError> parse_rpm_header(std::string_view blob) {
  auto header = Header::decode(blob);
  if (!header) return unexpected(header_error(std::move(header.error())));
  auto name = string_tag(*header, kTagName, "NAME");
  if (!name) return unexpected(std::move(name.error()));
  if (!*name || (*name)->empty()) return unexpected(header_error("no NAME"));
  if (**name == "gpg-pubkey") return std::optional<Package>{};
  auto version = string_tag(*header, kTagVersion, "VERSION");
  auto release = string_tag(*header, kTagRelease, "RELEASE");
  auto arch = string_tag(*header, kTagArch, "ARCH");
  auto source = string_tag(*header, kTagSourceRpm, "SOURCERPM");
  auto epoch = epoch_tag(*header);
  for (auto* part : {&version, &release, &arch, &source}) {
    if (!*part) return unexpected(std::move(part->error()));
  }
  if (!epoch) return unexpected(std::move(epoch.error()));
  if (!*version || !*release) return unexpected(header_error("'" + **name + "' has no VERSION or RELEASE"));
  Package package;
  package.name = std::move(**name);
  package.version = evr(*epoch, **version, **release);
  package.architecture = arch->value_or("");
  package.source_name = package.name;
  package.source_version = package.version;
  if (const auto parts = *source ? split_source_rpm(**source) : std::nullopt) {
    package.source_name = std::string((*parts)[0]);
    package.source_version = evr(*epoch, (*parts)[1], (*parts)[2]);  // SOURCERPM never carries the epoch
  }
  return std::optional<Package>(std::move(package));
}

namespace {

// Settings for a database file nobody vouches for (sqlite.org/security.html): no triggers,
// views or schema functions, bounded sizes, page checks, and a cap on the work of a query.
constexpr int kProgressStep = 1000;        // virtual machine steps between two calls
constexpr long kProgressBudget = 200'000;  // calls: 2*10^8 steps, far above any real rpmdb
constexpr int kMaxLength = static_cast<int>(kMaxData) + (1 << 21);  // rpm's largest header, and more

int on_progress(void* budget) { return --*static_cast<long*>(budget) < 0 ? 1 : 0; }

struct Database {
  sqlite3* db = nullptr;
  long budget = kProgressBudget;
  ~Database() { sqlite3_close(db); }
};

struct Statement {
  sqlite3_stmt* statement = nullptr;
  ~Statement() { sqlite3_finalize(statement); }
};

ParseError sqlite_error(std::string message) { return ParseError{0, "rpmdb.sqlite: " + std::move(message)}; }

void harden(sqlite3* db) {
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, kMaxLength);
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 100);
  sqlite3_limit(db, SQLITE_LIMIT_COLUMN, 100);
}

// A private copy of the bytes as the "main" database of an in-memory connection, read-only.
Expected<void, ParseError> open_copy(Database& database, std::string_view bytes) {
  constexpr std::string_view kMagic{"SQLite format 3\0", 16};
  if (bytes.size() < 100 || !bytes.starts_with(kMagic)) return unexpected(sqlite_error("not an SQLite database"));
  if (sqlite3_open_v2(":memory:", &database.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    return unexpected(sqlite_error("cannot open an in-memory database"));
  }
  harden(database.db);
  sqlite3_progress_handler(database.db, kProgressStep, on_progress, &database.budget);
  auto* copy = static_cast<unsigned char*>(sqlite3_malloc64(bytes.size()));
  if (copy == nullptr) {
    return unexpected(sqlite_error("out of memory for a copy of " + std::to_string(bytes.size()) + " bytes"));
  }
  std::memcpy(copy, bytes.data(), bytes.size());
  if (copy[18] == 2 && copy[19] == 2) copy[18] = copy[19] = 1;  // WAL mode: read as a rollback-journal file
  const auto size = static_cast<sqlite3_int64>(bytes.size());
  const int rc = sqlite3_deserialize(database.db, "main", copy, size, size,
                                     SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY);
  if (rc != SQLITE_OK) return unexpected(sqlite_error(std::string("cannot load the bytes: ") + sqlite3_errstr(rc)));
  sqlite3_exec(database.db, "PRAGMA cell_size_check = ON", nullptr, nullptr, nullptr);
  return {};
}

Expected<void, ParseError> prepare(Database& database, const char* sql, Statement& statement) {
  if (sqlite3_prepare_v2(database.db, sql, -1, &statement.statement, nullptr) != SQLITE_OK) {
    return unexpected(sqlite_error(sqlite3_errmsg(database.db)));
  }
  return {};
}

// Packages must be an ordinary table (not a virtual one, whose module would run on the file).
Expected<void, ParseError> check_schema(Database& database) {
  Statement statement;
  auto prepared = prepare(database,
                          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'Packages' "
                          "COLLATE NOCASE AND sql NOT LIKE 'CREATE VIRTUAL%'",
                          statement);
  if (!prepared) return prepared;
  if (sqlite3_step(statement.statement) != SQLITE_ROW) return unexpected(sqlite_error(sqlite3_errmsg(database.db)));
  if (sqlite3_column_int64(statement.statement, 0) != 1) return unexpected(sqlite_error("no Packages table"));
  return {};
}

}  // namespace

Expected<std::vector<Package>, ParseError> parse_rpmdb_sqlite(std::string_view bytes) {
  Database database;
  if (auto opened = open_copy(database, bytes); !opened) return unexpected(std::move(opened).error());
  if (auto schema = check_schema(database); !schema) return unexpected(std::move(schema).error());
  Statement statement;
  auto prepared = prepare(database, "SELECT hnum, blob FROM Packages ORDER BY hnum", statement);
  if (!prepared) return unexpected(std::move(prepared).error());
  std::vector<Package> packages;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(statement.statement)) == SQLITE_ROW) {
    const sqlite3_int64 hnum = sqlite3_column_int64(statement.statement, 0);
    const std::string where = "hnum " + std::to_string(hnum) + ": ";
    if (sqlite3_column_type(statement.statement, 1) != SQLITE_BLOB) {
      return unexpected(sqlite_error(where + "blob is not a BLOB"));
    }
    const void* data = sqlite3_column_blob(statement.statement, 1);
    const int size = sqlite3_column_bytes(statement.statement, 1);
    const std::string_view blob(static_cast<const char*>(data), data == nullptr ? 0 : static_cast<std::size_t>(size));
    auto package = parse_rpm_header(blob);
    if (!package) return unexpected(sqlite_error(where + package.error().message));
    if (*package) packages.push_back(std::move(**package));
  }
  if (rc != SQLITE_DONE) return unexpected(sqlite_error(sqlite3_errmsg(database.db)));
  return packages;
}

}  // namespace cascade::packages
