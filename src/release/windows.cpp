// Change windows: open when some window's latest start (its cron's previous firing at or
// before the instant) is less than its duration ago; else closed until the earliest next
// firing. Overlapping windows join: the open one that ends last says when it closes.
#include <algorithm>

#include "cascade/cron.hpp"
#include "cascade/release.hpp"

namespace cascade::release {

Expected<WindowState, std::string> window_state(const std::vector<pipeline::Window>& windows, Time now) {
  WindowState state;
  if (windows.empty()) {
    state.open = true;
    return state;
  }
  auto now_seconds = std::chrono::floor<std::chrono::seconds>(now);
  for (std::size_t i = 0; i < windows.size(); ++i) {
    const pipeline::Window& window = windows[i];
    auto schedule = cron::Schedule::parse(window.cron, window.timezone);
    if (!schedule)
      return unexpected("window " + std::to_string(i + 1) + " (" + window.cron + " " + window.timezone +
                        "): " + schedule.error().message);
    if (auto started = schedule->previous(now_seconds)) {
      Time ends = std::chrono::time_point_cast<std::chrono::milliseconds>(*started) + window.duration;
      if (now < ends) {
        state.open = true;
        state.closes = state.closes ? std::max(*state.closes, ends) : ends;
      }
    }
    if (auto next = schedule->next(now_seconds)) {
      Time opens = std::chrono::time_point_cast<std::chrono::milliseconds>(*next);
      state.opens = state.opens ? std::min(*state.opens, opens) : opens;
    }
  }
  if (state.open) state.opens.reset();
  return state;
}

}  // namespace cascade::release
