// dpkg version ordering and validation, behaving as dpkg's lib/dpkg/version.c (verrevcmp,
// dpkg_version_compare), lib/dpkg/parsehelp.c (parseversion) and `dpkg --compare-versions`
// (an empty version ranks below every other). Digit runs are compared as digit strings, so
// any length works. Where dpkg refuses a version outright (bad epoch, empty revision, ...)
// compare_dpkg still orders it by a lenient split; invalid_reason reports every error and
// warning parseversion would give.
#include "cascade/version.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "chars.hpp"

namespace cascade::version {
using namespace detail;
namespace {

constexpr bool is_blank(char c) { return c == ' ' || c == '\t'; }

// dpkg's order(): `~` sorts first, then the end of a part (and digits, which never meet a
// non-digit here), then letters by ASCII, then everything else by ASCII + 256. dpkg reads
// bytes as `char`, which is signed on amd64, so bytes >= 0x80 weigh 128..255 as they do there.
constexpr int order(char c) {
  if (is_digit(c) || c == '\0') return 0;
  if (is_alpha(c)) return c;
  if (c == '~') return -1;
  return static_cast<signed char>(c) + 256;
}

// dpkg's verrevcmp(): alternate non-digit prefixes (by order()) and digit runs (numerically,
// leading zeros skipped, the longer run wins, else the first differing digit).
int compare_part(std::string_view a, std::string_view b) {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() || j < b.size()) {
    while ((i < a.size() && !is_digit(a[i])) || (j < b.size() && !is_digit(b[j]))) {
      const int a_weight = order(char_at(a, i));
      const int b_weight = order(char_at(b, j));
      if (a_weight != b_weight) return sign(a_weight - b_weight);
      ++i;
      ++j;
    }
    while (char_at(a, i) == '0') ++i;
    while (char_at(b, j) == '0') ++j;
    int first_difference = 0;
    while (is_digit(char_at(a, i)) && is_digit(char_at(b, j))) {
      if (first_difference == 0) first_difference = a[i] - b[j];
      ++i;
      ++j;
    }
    if (is_digit(char_at(a, i))) return 1;
    if (is_digit(char_at(b, j))) return -1;
    if (first_difference != 0) return sign(first_difference);
  }
  return 0;
}

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

// `[epoch:]upstream[-revision]` split as parseversion does: epoch before the first `:`,
// revision after the last `-`. `epoch_digits` are the epoch's leading digits after an
// optional `+` (a malformed epoch such as `a` counts as 0, cascade's choice where dpkg
// refuses the version).
struct DpkgParts {
  bool has_colon = false;
  std::string_view epoch;
  std::string_view epoch_digits;
  std::string_view upstream;
  bool has_hyphen = false;
  std::string_view revision;
  std::size_t upstream_offset = 0;  // offsets into the trimmed text, for messages
  std::size_t revision_offset = 0;
};

DpkgParts split_dpkg(std::string_view trimmed) {
  DpkgParts parts;
  std::string_view rest = trimmed;
  if (const std::size_t colon = trimmed.find(':'); colon != npos) {
    parts.has_colon = true;
    parts.epoch = trimmed.substr(0, colon);
    // dpkg reads the epoch with strtol, which takes a leading '+'.
    const std::size_t sign_length = parts.epoch.starts_with('+') ? 1 : 0;
    std::size_t digits = sign_length;
    while (digits < parts.epoch.size() && is_digit(parts.epoch[digits])) ++digits;
    parts.epoch_digits = parts.epoch.substr(sign_length, digits - sign_length);
    rest = trimmed.substr(colon + 1);
    parts.upstream_offset = colon + 1;
  }
  parts.upstream = rest;
  if (const std::size_t hyphen = rest.rfind('-'); hyphen != npos) {
    parts.has_hyphen = true;
    parts.upstream = rest.substr(0, hyphen);
    parts.revision = rest.substr(hyphen + 1);
    parts.revision_offset = parts.upstream_offset + hyphen + 1;
  }
  return parts;
}

std::string describe_character(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f) return std::string("'") + c + "'";
  constexpr std::string_view kHex = "0123456789abcdef";
  return std::string("byte 0x") + kHex[byte >> 4] + kHex[byte & 0x0f];
}

std::string invalid_character(char c, std::size_t offset) {
  return "invalid character " + describe_character(c) + " at " + std::to_string(offset);
}

// Offset of the first character outside `allowed` (alphanumerics always pass), or npos.
std::size_t find_disallowed(std::string_view text, std::string_view allowed) {
  for (std::size_t index = 0; index < text.size(); ++index) {
    const char c = text[index];
    if (!is_digit(c) && !is_alpha(c) && allowed.find(c) == npos) return index;
  }
  return npos;
}

std::optional<std::string> epoch_problem(const DpkgParts& parts) {
  if (!parts.has_colon) return std::nullopt;
  if (parts.epoch.empty()) return "epoch is empty";
  // Stricter than strtol, as Dpkg::Version is: digits only (no sign).
  if (parts.epoch_digits.size() != parts.epoch.size()) {
    const std::string_view magnitude = parts.epoch.substr(1);
    const bool negative = parts.epoch.front() == '-' && !magnitude.empty() &&
                          magnitude.find_first_not_of("0123456789") == npos;
    return negative ? "epoch is negative" : "epoch is not a number";
  }
  // dpkg keeps epochs in an int: at most INT_MAX (2147483647).
  if (compare_decimal(parts.epoch_digits, "2147483647") > 0) return "epoch is too big";
  return std::nullopt;
}

}  // namespace

int compare_dpkg(std::string_view a, std::string_view b) {
  const std::string_view a_trimmed = trim_blanks(a);
  const std::string_view b_trimmed = trim_blanks(b);
  if (a_trimmed.empty() || b_trimmed.empty()) {
    return static_cast<int>(!a_trimmed.empty()) - static_cast<int>(!b_trimmed.empty());
  }
  const DpkgParts a_parts = split_dpkg(a_trimmed);
  const DpkgParts b_parts = split_dpkg(b_trimmed);
  if (const int by_epoch = compare_decimal(a_parts.epoch_digits, b_parts.epoch_digits)) {
    return by_epoch;
  }
  if (const int by_upstream = compare_part(a_parts.upstream, b_parts.upstream)) {
    return by_upstream;
  }
  return compare_part(a_parts.revision, b_parts.revision);
}

namespace detail {

// parseversion's errors and warnings, in its order. Offsets count from the start of `text`.
std::optional<std::string> dpkg_invalid_reason(std::string_view text) {
  std::size_t leading_blanks = 0;
  while (leading_blanks < text.size() && is_blank(text[leading_blanks])) ++leading_blanks;
  const std::string_view trimmed = trim_blanks(text);
  if (trimmed.empty()) return "empty version";
  for (std::size_t index = 0; index < trimmed.size(); ++index) {
    if (is_blank(trimmed[index])) {
      return "embedded space at " + std::to_string(leading_blanks + index);
    }
  }
  const DpkgParts parts = split_dpkg(trimmed);
  if (auto problem = epoch_problem(parts)) return problem;
  if (parts.has_colon && parts.upstream_offset == trimmed.size()) {
    return "nothing after the epoch's ':'";
  }
  if (parts.has_hyphen && parts.revision.empty()) return "revision is empty";
  if (parts.upstream.empty()) return "upstream version is empty";
  if (!is_digit(parts.upstream.front())) return "upstream version does not start with a digit";
  if (const std::size_t bad = find_disallowed(parts.upstream, ".-+~:"); bad != npos) {
    return invalid_character(parts.upstream[bad], leading_blanks + parts.upstream_offset + bad);
  }
  if (const std::size_t bad = find_disallowed(parts.revision, ".+~"); bad != npos) {
    return invalid_character(parts.revision[bad], leading_blanks + parts.revision_offset + bad);
  }
  return std::nullopt;
}

}  // namespace detail
}  // namespace cascade::version
