// OSV documents (ossf/osv-schema; PACKAGES.md section 9) read into Advisory values: one
// record, an array of records, or {"vulns": [...]}. Every failure names the JSON path of the
// offending value and says what to write instead. Bounded before parsing (size, nesting),
// and no exception leaves this file.
#include <algorithm>
#include <array>
#include <cstddef>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cascade/advisory.hpp"

namespace cascade::advisory {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxBytes = std::size_t{64} << 20;  // a whole distribution's OSV export is read file by file
constexpr int kMaxDepth = 64;                             // an OSV record nests about 6 levels

std::string at_key(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string at_index(const std::string& path, std::size_t index) { return path + "[" + std::to_string(index) + "]"; }

Unexpected<Error> fail(std::string path, std::string message) {
  return unexpected(Error{std::move(path), std::move(message)});
}

// Text from the input made safe to print: control bytes become '?', and at most 60 bytes
// are kept (cut at a UTF-8 character boundary).
std::string printable(std::string_view text) {
  constexpr std::size_t kKeep = 60;
  bool cut = false;
  if (text.size() > kKeep) {
    std::size_t end = kKeep;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    text = text.substr(0, end);
    cut = true;
  }
  std::string out;
  for (char c : text) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  return cut ? out + "..." : out;
}

std::string in_quotes(std::string_view text) { return "'" + printable(text) + "'"; }

std::string found(const json& value) { return std::string(", found ") + value.type_name(); }

// Refuses, before nlohmann's parser sees them, texts too large or nested too deep.
std::optional<Error> check_bounds(std::string_view text) {
  if (text.size() > kMaxBytes) {
    return Error{"", "the text is " + std::to_string(text.size()) +
                         " bytes; cascade reads at most 64 MiB of OSV at once: split it into several files"};
  }
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) {
        return Error{"", "arrays and objects nested deeper than " + std::to_string(kMaxDepth) + " levels at byte " +
                             std::to_string(i) + "; an OSV record nests only a few levels"};
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::nullopt;
}

// "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..." ->
// "syntax error ...", with bytes that are not printable ASCII written as \xNN.
std::string parse_error_text(const json::parse_error& error) {
  std::string what = error.what();
  const auto colon = what.find(": ");
  if (colon != std::string::npos) what.erase(0, colon + 2);
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : what) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

// The member `key` of `object`; nullptr when absent or null (optional members written as
// null by some producers). Fails when present with another type than `type`.
Expected<const json*, Error> member(const json& object, const char* key, const std::string& path, json::value_t type,
                                    const char* what) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  if (it->type() != type) return fail(at_key(path, key), std::string("expected ") + what + found(*it));
  return &*it;
}

// A required, non-empty string member; `hint` says what to write when it is missing or empty.
Expected<std::string, Error> required_string(const json& object, const char* key, const std::string& path,
                                             const std::string& hint) {
  const auto it = object.find(key);
  if (it == object.end()) return fail(at_key(path, key), "missing; " + hint);
  if (!it->is_string()) return fail(at_key(path, key), "expected a string" + found(*it));
  std::string value = it->get<std::string>();
  if (value.empty()) return fail(at_key(path, key), "empty; " + hint);
  return value;
}

// An optional array of strings appended to `out` without repeats (aliases, upstream, versions).
std::optional<Error> read_strings(const json& object, const char* key, const std::string& path,
                                  std::vector<std::string>& out) {
  auto list = member(object, key, path, json::value_t::array, "an array of strings");
  if (!list) return list.error();
  if (!*list) return std::nullopt;
  for (std::size_t i = 0; i < (*list)->size(); ++i) {
    const json& item = (**list)[i];
    if (!item.is_string()) return Error{at_index(at_key(path, key), i), "expected a string" + found(item)};
    std::string value = item.get<std::string>();
    if (std::find(out.begin(), out.end(), value) == out.end()) out.push_back(std::move(value));
  }
  return std::nullopt;
}

// Why an ecosystem string cannot be read, saying what to write instead.
std::string unknown_ecosystem(std::string_view ecosystem) {
  const std::string base(ecosystem.substr(0, ecosystem.find(':')));
  const std::string shown = in_quotes(ecosystem);
  if (base == "Alpine") return "ecosystem " + shown + " needs the release branch with a v: write e.g. 'Alpine:v3.20'";
  if (base == "Ubuntu") return "ecosystem " + shown + " needs a release: write e.g. 'Ubuntu:24.04:LTS'";
  if (base == "Red Hat") {
    return "ecosystem " + shown + " needs a product stream: write e.g. 'Red Hat:enterprise_linux:9::baseos'";
  }
  if (base == "Wolfi" || base == "Chainguard") return "ecosystem " + shown + " takes no release: write '" + base + "'";
  std::string message = "unknown ecosystem " + shown +
                        " (cascade reads Debian, Ubuntu, Alpine, Wolfi, Chainguard, Red Hat, AlmaLinux, Rocky Linux)";
  static constexpr std::array<std::string_view, 8> kKnown = {"Debian",     "Ubuntu",  "Alpine",    "Wolfi",
                                                             "Chainguard", "Red Hat", "AlmaLinux", "Rocky Linux"};
  for (std::string_view known : kKnown) {
    const bool same = std::equal(base.begin(), base.end(), known.begin(), known.end(), [](char a, char b) {
      return (a >= 'A' && a <= 'Z' ? a + 32 : a) == (b >= 'A' && b <= 'Z' ? b + 32 : b);
    });
    if (same) {
      return message + "; ecosystem names are case-sensitive: write " +
             in_quotes(std::string(known) + std::string(ecosystem.substr(base.size())));
    }
  }
  return message;
}

struct EventName {
  std::string_view key;
  Event::Kind kind;
};
constexpr std::array<EventName, 4> kEventNames = {{{"introduced", Event::Kind::introduced},
                                                   {"fixed", Event::Kind::fixed},
                                                   {"last_affected", Event::Kind::last_affected},
                                                   {"limit", Event::Kind::limit}}};

constexpr const char* kOneEvent =
    "an event has exactly one of {\"introduced\": V}, {\"fixed\": V}, {\"last_affected\": V} or {\"limit\": V}";

// The version ordering an ECOSYSTEM range's versions must be valid in; nullptr for other ranges.
using Ordering = const version::Scheme*;

// One range event.
Expected<Event, Error> read_event(const json& value, const std::string& path, Ordering ordering) {
  if (!value.is_object()) return fail(path, "expected an object such as {\"fixed\": \"1.2-3\"}" + found(value));
  if (value.empty()) return fail(path, std::string("empty event; ") + kOneEvent);
  std::string keys;
  for (const auto& item : value.items()) {
    const auto known = std::find_if(kEventNames.begin(), kEventNames.end(),
                                    [&](const EventName& name) { return name.key == item.key(); });
    if (known == kEventNames.end()) return fail(path, "unknown key " + in_quotes(item.key()) + "; " + kOneEvent);
    keys += (keys.empty() ? "" : ", ") + item.key();
  }
  if (value.size() > 1)
    return fail(path, "keys " + keys + " in one event; " + kOneEvent + ": split it into one event each");
  const auto item = value.items().begin();
  const std::string key = item.key();
  const auto kind =
      std::find_if(kEventNames.begin(), kEventNames.end(), [&](const EventName& n) { return n.key == key; })->kind;
  if (!item.value().is_string()) return fail(at_key(path, key), "expected a version string" + found(item.value()));
  Event event{kind, item.value().get<std::string>()};
  if (event.version.empty())
    return fail(at_key(path, key), "empty version; write the version as the package manager shows it");
  const bool special =
      (kind == Event::Kind::introduced && event.version == "0") || (kind == Event::Kind::limit && event.version == "*");
  if (ordering && !special) {
    if (auto reason = version::invalid_reason(*ordering, event.version)) {
      return fail(at_key(path, key), in_quotes(event.version) + " is not a valid " +
                                         std::string(version::to_string(*ordering)) + " version (" + *reason +
                                         "); write it as the package manager shows it");
    }
  }
  return event;
}

// The events of one range: at least one introduced, never fixed together with last_affected.
std::optional<Error> read_events(const json& range, const std::string& path, Ordering ordering,
                                 std::vector<Event>& out) {
  const std::string events_path = at_key(path, "events");
  const auto it = range.find("events");
  if (it == range.end())
    return Error{events_path, "missing; add e.g. \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"VERSION\"}]"};
  if (!it->is_array()) return Error{events_path, "expected an array of events" + found(*it)};
  bool fixed = false;
  bool last_affected = false;
  bool introduced = false;
  for (std::size_t i = 0; i < it->size(); ++i) {
    auto event = read_event((*it)[i], at_index(events_path, i), ordering);
    if (!event) return std::move(event).error();
    fixed = fixed || event->kind == Event::Kind::fixed;
    last_affected = last_affected || event->kind == Event::Kind::last_affected;
    introduced = introduced || event->kind == Event::Kind::introduced;
    if (fixed && last_affected) {
      return Error{
          at_index(events_path, i),
          "'fixed' and 'last_affected' in one range; keep one of them (fixed is preferred) or split the range in two"};
    }
    out.push_back(std::move(*event));
  }
  if (!introduced)
    return Error{events_path, "no 'introduced' event; add {\"introduced\": \"0\"} for \"since the first version\""};
  return std::nullopt;
}

Expected<Range, Error> read_range(const json& value, const std::string& path, version::Scheme scheme) {
  if (!value.is_object())
    return fail(path, "expected a range object {\"type\": \"ECOSYSTEM\", \"events\": [...]}" + found(value));
  auto type = required_string(value, "type", path, "write \"type\": \"ECOSYSTEM\" for the distribution's own versions");
  if (!type) return unexpected(std::move(type).error());
  if (*type != "ECOSYSTEM" && *type != "SEMVER" && *type != "GIT") {
    return fail(at_key(path, "type"),
                "unknown range type " + in_quotes(*type) +
                    "; use \"ECOSYSTEM\" (the distribution's own version ordering), \"SEMVER\" or \"GIT\"");
  }
  Range range{*type, {}};
  const Ordering ordering = range.type == "ECOSYSTEM" ? &scheme : nullptr;
  if (auto error = read_events(value, path, ordering, range.events)) return unexpected(std::move(*error));
  return range;
}

// affected[i].package: ecosystem (one cascade can map) and name.
std::optional<Error> read_package(const json& entry, const std::string& path, Affected& out, version::Scheme& scheme) {
  const std::string package_path = at_key(path, "package");
  const auto it = entry.find("package");
  if (it == entry.end())
    return Error{package_path, "missing; add \"package\": {\"ecosystem\": \"Debian:12\", \"name\": \"bash\"}"};
  if (!it->is_object())
    return Error{package_path, "expected an object {\"ecosystem\": ..., \"name\": ...}" + found(*it)};
  auto ecosystem =
      required_string(*it, "ecosystem", package_path, "name the release, e.g. \"Debian:12\" or \"Alpine:v3.20\"");
  if (!ecosystem) return std::move(ecosystem).error();
  const auto ordering = scheme_of_ecosystem(*ecosystem);
  if (!ordering) return Error{at_key(package_path, "ecosystem"), unknown_ecosystem(*ecosystem)};
  auto name = required_string(*it, "name", package_path, "give the package name, e.g. \"bash\"");
  if (!name) return std::move(name).error();
  out.ecosystem = std::move(*ecosystem);
  out.package = std::move(*name);
  scheme = *ordering;
  return std::nullopt;
}

Expected<Affected, Error> read_affected(const json& value, const std::string& path) {
  if (!value.is_object()) return fail(path, "expected an object {\"package\": ..., \"ranges\": [...]}" + found(value));
  Affected affected;
  version::Scheme scheme = version::Scheme::dpkg;
  if (auto error = read_package(value, path, affected, scheme)) return unexpected(std::move(*error));
  if (auto error = read_strings(value, "versions", path, affected.versions)) return unexpected(std::move(*error));
  auto ranges = member(value, "ranges", path, json::value_t::array, "an array of ranges");
  if (!ranges) return unexpected(std::move(ranges).error());
  if (*ranges) {
    for (std::size_t i = 0; i < (*ranges)->size(); ++i) {
      auto range = read_range((**ranges)[i], at_index(at_key(path, "ranges"), i), scheme);
      if (!range) return unexpected(std::move(range).error());
      affected.ranges.push_back(std::move(*range));
    }
  }
  return affected;
}

Expected<Advisory, Error> read_advisory(const json& value, const std::string& path) {
  if (!value.is_object()) return fail(path, "expected an OSV record (an object)" + found(value));
  Advisory advisory;
  auto id = required_string(value, "id", path, "give the record's identifier, e.g. \"id\": \"DSA-3032-1\"");
  if (!id) return unexpected(std::move(id).error());
  advisory.id = std::move(*id);
  auto summary = member(value, "summary", path, json::value_t::string, "a string");
  if (!summary) return unexpected(std::move(summary).error());
  if (*summary) advisory.summary = (*summary)->get<std::string>();
  auto withdrawn =
      member(value, "withdrawn", path, json::value_t::string, "a string (the RFC 3339 time of withdrawal)");
  if (!withdrawn) return unexpected(std::move(withdrawn).error());
  advisory.withdrawn = *withdrawn != nullptr;
  if (auto error = read_strings(value, "aliases", path, advisory.aliases)) return unexpected(std::move(*error));
  if (auto error = read_strings(value, "upstream", path, advisory.aliases)) return unexpected(std::move(*error));
  const auto affected = value.find("affected");
  if (affected == value.end() || affected->is_null()) {
    if (advisory.withdrawn) return advisory;  // a retracted record may drop its packages
    return fail(at_key(path, "affected"),
                "missing; list the affected packages: \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\", "
                "\"name\": \"bash\"}, \"ranges\": [...]}]");
  }
  if (!affected->is_array())
    return fail(at_key(path, "affected"), "expected an array of affected packages" + found(*affected));
  for (std::size_t i = 0; i < affected->size(); ++i) {
    auto entry = read_affected((*affected)[i], at_index(at_key(path, "affected"), i));
    if (!entry) return unexpected(std::move(entry).error());
    advisory.affected.push_back(std::move(*entry));
  }
  return advisory;
}

// A list of records at `path` ("" for a top-level array, "vulns" for {"vulns": [...]}).
Expected<std::vector<Advisory>, Error> read_list(const json& list, const std::string& path) {
  std::vector<Advisory> out;
  out.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto advisory = read_advisory(list[i], at_index(path, i));
    if (!advisory) return unexpected(std::move(advisory).error());
    out.push_back(std::move(*advisory));
  }
  return out;
}

Expected<std::vector<Advisory>, Error> read_root(const json& root) {
  if (root.is_array()) return read_list(root, "");
  if (!root.is_object()) {
    return fail("", "expected an OSV record (an object), an array of records or {\"vulns\": [...]}" + found(root));
  }
  const auto vulns = root.find("vulns");
  if (vulns != root.end() && !root.contains("id")) {
    if (!vulns->is_array()) return fail("vulns", "expected an array of OSV records" + found(*vulns));
    return read_list(*vulns, "vulns");
  }
  auto advisory = read_advisory(root, "");
  if (!advisory) return unexpected(std::move(advisory).error());
  return std::vector<Advisory>{std::move(*advisory)};
}

}  // namespace

std::string Error::str() const { return path.empty() ? message : path + ": " + message; }

Expected<std::vector<Advisory>, Error> parse_osv(std::string_view text) {
  if (auto error = check_bounds(text)) return unexpected(std::move(*error));
  try {
    json root;
    try {
      root = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& error) {
      return fail("", "not valid JSON at byte " + std::to_string(error.byte) + ": " + parse_error_text(error));
    }
    return read_root(root);
  } catch (const std::exception& error) {  // allocation failures and the like: reported, never thrown on
    return fail("", std::string("cannot read the OSV text: ") + error.what());
  }
}

}  // namespace cascade::advisory
