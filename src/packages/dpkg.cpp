// dpkg's database: var/lib/dpkg/status (and distroless status.d/<package> files), deb822
// stanzas read line by line in one pass. Only the fields cascade needs are kept; the source
// name and version follow dpkg's own source:Package / source:Version (PACKAGES.md section 3).
#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cascade/packages.hpp"
#include "cascade/util/text.hpp"

namespace cascade::packages {
namespace {

constexpr std::string_view kBlanks = " \t\r";

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kBlanks) - first + 1);
}

// The fields read from a stanza, in this order.
enum Field : std::size_t { kPackage, kVersion, kArchitecture, kSource, kStatus, kFieldCount, kOther = kFieldCount };
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {"Package", "Version", "Architecture", "Source",
                                                                   "Status"};

Field field_of(std::string_view name) {
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if (util::iequals(name, kFieldNames[i])) return static_cast<Field>(i);
  }
  return kOther;
}

struct Stanza {
  std::array<std::optional<std::string>, kFieldCount> fields;
  std::size_t first_line = 0;  // 0: no stanza open
};

ParseError error_at(std::size_t line, std::string message) {
  return ParseError{line, "line " + std::to_string(line) + ": " + std::move(message)};
}

std::string stanza_name(const Stanza& stanza) {
  if (stanza.fields[kPackage]) return "the stanza of '" + *stanza.fields[kPackage] + "'";
  return "the stanza starting at line " + std::to_string(stanza.first_line);
}

// Status is "want flag state": installed when the third word is `installed`.
bool installed(const Stanza& stanza, bool status_d) {
  const auto& status = stanza.fields[kStatus];
  if (!status) return status_d;
  std::string_view rest = *status;
  for (int word = 0; word < 3; ++word) {
    const auto start = rest.find_first_not_of(kBlanks);
    if (start == std::string_view::npos) return false;
    rest.remove_prefix(start);
    const auto end = std::min(rest.find_first_of(kBlanks), rest.size());
    if (word == 2) return rest.substr(0, end) == "installed";
    rest.remove_prefix(end);
  }
  return false;
}

// `Source: name` or `Source: name (version)`; each part defaults to the binary's.
void apply_source(const std::string& source, Package& package) {
  const std::string_view text = trim(source);
  const auto name_end = std::min(text.find_first_of(" \t("), text.size());
  if (name_end > 0) package.source_name = std::string(text.substr(0, name_end));
  const std::string_view rest = trim(text.substr(name_end));
  const auto close = rest.find(')');
  if (rest.starts_with('(') && close != std::string_view::npos) {
    const std::string_view version = trim(rest.substr(1, close - 1));
    if (!version.empty()) package.source_version = std::string(version);
  }
}

void finish(Stanza& stanza, bool status_d, std::vector<Package>& out) {
  auto& f = stanza.fields;
  if (stanza.first_line != 0 && f[kPackage] && f[kVersion] && !f[kPackage]->empty() && !f[kVersion]->empty() &&
      installed(stanza, status_d)) {
    Package package;
    package.name = *f[kPackage];
    package.version = *f[kVersion];
    package.source_name = package.name;
    package.source_version = package.version;
    package.architecture = f[kArchitecture].value_or("");
    if (f[kSource]) apply_source(*f[kSource], package);
    out.push_back(std::move(package));
  }
  stanza = Stanza{};
}

struct Reader {
  bool status_d;
  std::vector<Package> packages;
  Stanza stanza;
  Field last = kOther;       // the field a continuation line belongs to
  bool any_field = false;    // a field line seen in the open stanza

  std::optional<ParseError> line(std::string_view text, std::size_t number);
};

std::optional<ParseError> Reader::line(std::string_view text, std::size_t number) {
  if (trim(text).empty()) {  // stanza separator (whitespace-only lines accepted too)
    finish(stanza, status_d, packages);
    any_field = false;
    return std::nullopt;
  }
  if (text.front() == ' ' || text.front() == '\t') {
    if (!any_field) return error_at(number, "continuation line before any field");
    if (last != kOther) {  // a single-line field folded over lines: keep the words
      const std::string_view more = trim(text);
      if (more != ".") *stanza.fields[last] += " " + std::string(more);
    }
    return std::nullopt;
  }
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return error_at(number, "field line without a colon");
  const std::string_view name = trim(text.substr(0, colon));
  if (name.empty() || name.find_first_of(kBlanks) != std::string_view::npos) {
    return error_at(number, "invalid field name '" + std::string(name) + "'");
  }
  if (stanza.first_line == 0) stanza.first_line = number;
  any_field = true;
  last = field_of(name);
  if (last == kOther) return std::nullopt;
  auto& slot = stanza.fields[last];
  if (slot) {
    return error_at(number, "field '" + std::string(kFieldNames[last]) + "' given twice in " + stanza_name(stanza));
  }
  slot = std::string(trim(text.substr(colon + 1)));
  return std::nullopt;
}

}  // namespace

Expected<std::vector<Package>, ParseError> parse_dpkg_status(std::string_view text, bool status_d) {
  Reader reader{status_d, {}, {}, kOther, false};
  std::size_t number = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (auto failure = reader.line(line, ++number)) return unexpected(std::move(*failure));
  }
  finish(reader.stanza, status_d, reader.packages);
  return std::move(reader.packages);
}

}  // namespace cascade::packages
