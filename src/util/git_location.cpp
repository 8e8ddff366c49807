// Remote or local git locations (cascade/util/git_location.hpp).
#include "cascade/util/git_location.hpp"

namespace cascade::util {

namespace {

constexpr bool alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
constexpr bool digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string_view url_scheme(std::string_view location) {
  const std::size_t end = location.find("://");
  if (end == std::string_view::npos || end == 0 || !alpha(location[0])) return {};
  std::string_view scheme = location.substr(0, end);
  for (char c : scheme)
    if (!alpha(c) && !digit(c) && c != '+' && c != '-' && c != '.') return {};
  return scheme;
}

bool is_remote_git_location(std::string_view location) {
  if (!url_scheme(location).empty()) return true;
  // scp-like [user@]host:path, as git reads it: a ':' before any '/', not a drive letter.
  const std::size_t colon = location.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  if (colon == 1 && alpha(location[0])) return false;
  const std::size_t slash = location.find('/');
  return slash == std::string_view::npos || colon < slash;
}

}  // namespace cascade::util
