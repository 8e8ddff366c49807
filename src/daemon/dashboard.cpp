// The dashboard page, from the string CMake generates out of dashboard.html.
#include "dashboard.hpp"

namespace cascade::daemon {

extern const char* const kDashboardHtml;  // generated dashboard_page.cpp

std::string_view dashboard_html() {
  static const std::string_view page(kDashboardHtml);
  return page;
}

}  // namespace cascade::daemon
