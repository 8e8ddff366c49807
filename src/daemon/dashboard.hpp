// The dashboard page of `cascade serve` (GET /): src/daemon/dashboard.html, compiled into the
// binary by CMake (dashboard_page.cpp.in), with the exposure view of dashboard_exposure.cpp
// spliced in. One self-contained HTML document that polls the
// JSON API of the same origin; see the comment at the top of dashboard.html for what it shows
// and the element ids tests rely on.
#pragma once

#include <string_view>

namespace cascade::daemon {

/// The page, as text/html; charset=utf-8. Never empty; valid for the program's lifetime.
std::string_view dashboard_html();

}  // namespace cascade::daemon
