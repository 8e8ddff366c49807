// The dashboard page, from the string CMake generates out of dashboard.html, with the
// exposure view (dashboard_exposure.cpp) spliced in at its marker.
#include <string>

#include "dashboard.hpp"

namespace cascade::daemon {

extern const char* const kDashboardHtml;  // generated dashboard_page.cpp
extern const char* const kExposureView;   // dashboard_exposure.cpp

std::string_view dashboard_html() {
  static const std::string page = [] {
    std::string text(kDashboardHtml);
    const std::string marker = "<!-- exposure view -->";
    if (auto at = text.find(marker); at != std::string::npos) text.replace(at, marker.size(), kExposureView);
    return text;
  }();
  return page;
}

}  // namespace cascade::daemon
