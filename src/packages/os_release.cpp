// os-release(5) parsing (KEY=value lines in shell quoting, no expansion), the distribution's
// everyday name, and the small Format helpers (PACKAGES.md section 2).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cascade/packages.hpp"

namespace cascade::packages {

std::string_view to_string(Format format) {
  switch (format) {
    case Format::dpkg: return "dpkg";
    case Format::apk: return "apk";
    case Format::rpm: return "rpm";
  }
  return "unknown";
}

version::Scheme scheme_of(Format format) {
  switch (format) {
    case Format::dpkg: return version::Scheme::dpkg;
    case Format::apk: return version::Scheme::apk;
    case Format::rpm: return version::Scheme::rpm;
  }
  return version::Scheme::dpkg;
}

namespace {

bool valid_key(std::string_view key) {
  if (key.empty() || (key[0] >= '0' && key[0] <= '9')) return false;
  for (const char c : key) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// The shell word of `text`: unquoted parts with backslash escapes, '...' taken literally,
// "..." where a backslash escapes only " \ $ `. Unquoted trailing blanks are dropped.
// nullopt when a quote is not closed.
std::optional<std::string> unquote(std::string_view text) {
  std::string value;
  std::size_t keep = 0;  // length of value up to its last character that is not an unquoted blank
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i++];
    if (c == '\'') {
      const auto close = text.find('\'', i);
      if (close == std::string_view::npos) return std::nullopt;
      value.append(text.substr(i, close - i));
      i = close + 1;
    } else if (c == '"') {
      for (;;) {
        if (i >= text.size()) return std::nullopt;
        const char d = text[i++];
        if (d == '"') break;
        if (d == '\\' && i < text.size() && std::string_view("\"\\$`").find(text[i]) != std::string_view::npos) {
          value += text[i++];
        } else {
          value += d;
        }
      }
    } else if (c == '\\') {
      if (i < text.size()) value += text[i++];
    } else {
      value += c;
      if (c == ' ' || c == '\t' || c == '\r') continue;
    }
    keep = value.size();
  }
  value.resize(keep);
  return value;
}

std::string* field_of(OsRelease& os, std::string_view key) {
  if (key == "ID") return &os.id;
  if (key == "VERSION_ID") return &os.version_id;
  if (key == "VERSION") return &os.version;
  if (key == "ID_LIKE") return &os.id_like;
  if (key == "PRETTY_NAME") return &os.pretty_name;
  return nullptr;
}

}  // namespace

OsRelease parse_os_release(std::string_view text) {
  OsRelease os;
  bool has_id = false;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    const auto start = line.find_first_not_of(" \t\r");
    if (start == std::string_view::npos || line[start] == '#') continue;
    line.remove_prefix(start);
    const auto equals = line.find('=');
    if (equals == std::string_view::npos || !valid_key(line.substr(0, equals))) continue;
    std::string* field = field_of(os, line.substr(0, equals));
    if (field == nullptr) continue;
    auto value = unquote(line.substr(equals + 1));
    if (!value) continue;  // malformed: skipped, as systemd does
    *field = std::move(*value);
    if (field == &os.id) has_id = true;
  }
  if (!has_id || os.id.empty()) os.id = "linux";
  return os;
}

std::string distro_name(const OsRelease& os) {
  if (os.version_id.empty()) return os.id;
  std::string_view version = os.version_id;
  if (os.id == "alpine") {  // Alpine releases are named by major.minor ("3.20", not "3.20.3")
    const auto first = version.find('.');
    const auto second = first == std::string_view::npos ? first : version.find('.', first + 1);
    version = version.substr(0, second);
  }
  return os.id + " " + std::string(version);
}

}  // namespace cascade::packages
