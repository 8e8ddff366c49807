// rpm version ordering and validation, behaving as rpm's rpmio/rpmvercmp.cc (rpmvercmp) and
// rpmio/rpmver.cc (parseEVR, rpmverCmp), i.e. the Lua `rpm.vercmp` on full EVRs: epochs,
// then versions, then releases, where a missing release is older than any release.
// invalid_reason follows rpmbuild's checks on a dependency's EVR (parseReqs.cc).
#include "cascade/version.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "chars.hpp"

namespace cascade::version {
using namespace detail;
namespace {

constexpr bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }

// Anything but ASCII letters, digits, `~` and `^` only separates segments.
constexpr bool is_separator(char c) { return c != '\0' && !is_alnum(c) && c != '~' && c != '^'; }

std::string_view take_run(std::string_view text, std::size_t& index, bool (*belongs)(char)) {
  const std::size_t start = index;
  while (index < text.size() && belongs(text[index])) ++index;
  return text.substr(start, index - start);
}

// How `~` and `^` at the current positions decide, if they do: 2 when neither is there.
constexpr int kUndecided = 2;
int compare_tilde_caret(char a, char b) {
  if (a == '~' || b == '~') {
    if (a != '~') return 1;
    if (b != '~') return -1;
    return 0;
  }
  if (a == '^' || b == '^') {
    if (a == '\0') return -1;
    if (b == '\0') return 1;
    if (a != '^') return 1;
    if (b != '^') return -1;
    return 0;
  }
  return kUndecided;
}

// rpmvercmp(): segments of digits or of letters, separators skipped; `~` sorts before
// anything (even the end), `^` after the end but before anything else.
int rpmvercmp(std::string_view a, std::string_view b) {
  if (a == b) return 0;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() || j < b.size()) {
    while (is_separator(char_at(a, i))) ++i;
    while (is_separator(char_at(b, j))) ++j;
    const int by_marker = compare_tilde_caret(char_at(a, i), char_at(b, j));
    if (by_marker != kUndecided) {
      if (by_marker != 0) return by_marker;
      ++i;
      ++j;
      continue;
    }
    if (i >= a.size() || j >= b.size()) break;
    const bool numeric = is_digit(a[i]);
    const std::string_view a_segment = take_run(a, i, numeric ? is_digit : is_alpha);
    const std::string_view b_segment = take_run(b, j, numeric ? is_digit : is_alpha);
    // Different kinds: a numeric segment is newer than an alphabetic one.
    if (b_segment.empty()) return numeric ? 1 : -1;
    const int result =
        numeric ? compare_decimal(a_segment, b_segment) : sign(a_segment.compare(b_segment));
    if (result != 0) return result;
  }
  if (i >= a.size() && j >= b.size()) return 0;
  return i >= a.size() ? -1 : 1;
}

// parseEVR(): the epoch is the leading digits when a `:` follows them ("0" when absent or
// empty); the release is what follows the last `-`, absent without one.
struct Evr {
  std::string_view epoch = "0";
  std::string_view version;
  std::optional<std::string_view> release;
  bool has_epoch = false;
};

Evr split_evr(std::string_view text) {
  Evr evr;
  std::size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) ++digits;
  const std::size_t hyphen = text.rfind('-');
  std::size_t version_start = 0;
  if (digits < text.size() && text[digits] == ':') {
    evr.has_epoch = true;
    if (digits > 0) evr.epoch = text.substr(0, digits);
    version_start = digits + 1;
  }
  if (hyphen != npos && hyphen >= version_start) {
    evr.version = text.substr(version_start, hyphen - version_start);
    evr.release = text.substr(hyphen + 1);
  } else {
    evr.version = text.substr(version_start);
  }
  return evr;
}

// rpmbuild's character check: letters, digits and `._+~^` plus the `-` and `:` separators.
// `%{}` (allowed there, for unexpanded macros) are refused: a typed constraint has no macros.
std::optional<std::string> character_problem(std::string_view text) {
  constexpr std::string_view kAllowed = "._+~^-:";
  for (std::size_t index = 0; index < text.size(); ++index) {
    const char c = text[index];
    if (!is_alnum(c) && kAllowed.find(c) == npos) {
      return "invalid character " + quoted(c) + " at " + std::to_string(index);
    }
  }
  if (const std::size_t dots = text.find(".."); dots != npos) {
    return "'..' at " + std::to_string(dots);
  }
  return std::nullopt;
}

// rpmbuild's separator and epoch checks, then empty parts.
std::optional<std::string> structure_problem(std::string_view text) {
  for (const char separator : {'-', ':'}) {
    const std::size_t first = text.find(separator);
    if (first != npos && text.find(separator, first + 1) != npos) {
      return std::string("more than one '") + separator + "'";
    }
  }
  if (const std::size_t colon = text.find(':'); colon != npos) {
    const std::string_view epoch = text.substr(0, colon);
    if (epoch.empty()) return "epoch is empty";
    if (epoch.find_first_not_of("0123456789") != npos) return "epoch is not a number";
  }
  const Evr evr = split_evr(text);
  if (evr.version.empty()) return "version is empty";
  if (evr.release && evr.release->empty()) return "release is empty";
  return std::nullopt;
}

}  // namespace

int compare_rpm(std::string_view a, std::string_view b) {
  // rpm reads C strings: a version ends at its first NUL (else an embedded NUL, neither a
  // separator nor part of a segment, stopped rpmvercmp without an order: "\0" < "\0\0" and
  // "\0\0" < "\0" both).
  a = a.substr(0, a.find('\0'));
  b = b.substr(0, b.find('\0'));
  const Evr a_evr = split_evr(a);
  const Evr b_evr = split_evr(b);
  if (const int by_epoch = rpmvercmp(a_evr.epoch, b_evr.epoch)) return by_epoch;
  if (const int by_version = rpmvercmp(a_evr.version, b_evr.version)) return by_version;
  if (!a_evr.release || !b_evr.release) {
    // A missing release is older than any release (rpm.vercmp).
    return static_cast<int>(a_evr.release.has_value()) -
           static_cast<int>(b_evr.release.has_value());
  }
  return rpmvercmp(*a_evr.release, *b_evr.release);
}

namespace detail {

// Offsets in messages count from 0.
std::optional<std::string> rpm_invalid_reason(std::string_view text) {
  if (text.empty()) return "empty version";
  if (auto problem = character_problem(text)) return problem;
  return structure_problem(text);
}

}  // namespace detail
}  // namespace cascade::version
