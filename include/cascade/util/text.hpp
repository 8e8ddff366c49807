// Text helpers shared by every module: ASCII case mapping and case-insensitive comparison
// (byte-wise, locale-independent: protocol tokens, header names, hosts, Dockerfile keywords),
// and RFC 3986 percent-encoding of a URL component.
#pragma once

#include <string>
#include <string_view>

namespace cascade::util {

/// `c` with 'A'..'Z' mapped to 'a'..'z'; every other byte (including UTF-8) unchanged.
constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
/// `c` with 'a'..'z' mapped to 'A'..'Z'; every other byte unchanged.
constexpr char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

/// `text` with ASCII letters lowercased, byte by byte; other bytes unchanged.
std::string lowercase(std::string_view text);
/// `text` with ASCII letters uppercased, byte by byte; other bytes unchanged.
std::string uppercase(std::string_view text);

/// Whether `a` and `b` are equal ignoring ASCII letter case.
bool iequals(std::string_view a, std::string_view b);

/// `text` as one URL component (a path segment, a query name or value, a form field):
/// every byte but RFC 3986's unreserved set (ALPHA DIGIT - . _ ~) as %XX, uppercase hex.
/// Also right for application/x-www-form-urlencoded values (a space becomes %20).
std::string percent_encode(std::string_view text);

}  // namespace cascade::util
