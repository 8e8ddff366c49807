// Character classes and small comparisons the dpkg, apk and rpm version orders share.
// Internal to the version module.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cascade::version::detail {

inline constexpr std::size_t npos = std::string_view::npos;

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr int sign(int value) { return (value > 0) - (value < 0); }

/// The character at `index`, or '\0' past the end (dpkg and rpm walk NUL-terminated strings).
constexpr char char_at(std::string_view text, std::size_t index) { return index < text.size() ? text[index] : '\0'; }

/// Two unsigned decimal digit strings (possibly empty, meaning 0) compared by value.
inline int compare_decimal(std::string_view a, std::string_view b) {
  while (!a.empty() && a.front() == '0') a.remove_prefix(1);
  while (!b.empty() && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return sign(a.compare(b));
}

/// A character for an error message: 'x' when printable, else "byte 0xNN".
inline std::string quoted(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f) return std::string("'") + c + "'";
  constexpr std::string_view kHex = "0123456789abcdef";
  return std::string("byte 0x") + kHex[byte >> 4] + kHex[byte & 0x0f];
}

}  // namespace cascade::version::detail
