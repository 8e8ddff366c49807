// The scheme-independent face of cascade::version: scheme names, and compare and
// invalid_reason dispatched to the scheme's own file (dpkg.cpp, apk.cpp, rpm.cpp).
#include "cascade/version.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace cascade::version {

// Defined next to each scheme's ordering; offsets in their messages count from 0.
namespace detail {
std::optional<std::string> dpkg_invalid_reason(std::string_view text);
std::optional<std::string> apk_invalid_reason(std::string_view text);
std::optional<std::string> rpm_invalid_reason(std::string_view text);
}  // namespace detail

std::string_view to_string(Scheme scheme) {
  switch (scheme) {
    case Scheme::dpkg: return "dpkg";
    case Scheme::apk: return "apk";
    case Scheme::rpm: return "rpm";
  }
  return "unknown";
}

int compare(Scheme scheme, std::string_view a, std::string_view b) {
  switch (scheme) {
    case Scheme::dpkg: return compare_dpkg(a, b);
    case Scheme::apk: return compare_apk(a, b);
    case Scheme::rpm: return compare_rpm(a, b);
  }
  return 0;
}

std::optional<std::string> invalid_reason(Scheme scheme, std::string_view text) {
  switch (scheme) {
    case Scheme::dpkg: return detail::dpkg_invalid_reason(text);
    case Scheme::apk: return detail::apk_invalid_reason(text);
    case Scheme::rpm: return detail::rpm_invalid_reason(text);
  }
  return "unknown version scheme";
}

}  // namespace cascade::version
