// Headless Chromium for the dashboard tests: loads a URL in a fresh profile, lets the page run
// for a virtual-time budget (timers advance, network fetches are waited for), and returns the
// DOM as it is then, with what the page logged to its console. Runs Debian's `chromium`
// through cascade::process (argument vector, timeout), never a shell.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/process.hpp"
#include "support.hpp"

namespace cascade::test {

/// The Chromium program on PATH ("chromium", as Debian names it, or "chromium-browser" or
/// "google-chrome"); empty when none is installed.
inline std::string chromium_program() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::string path = process::find_executable(name);
    if (!path.empty()) return path;
  }
  return {};
}

/// True when a test can load pages in Chromium; tests skip (with a message) otherwise.
inline bool chromium_available() { return !chromium_program().empty(); }

/// Chromium's argv for a headless run in a fresh profile at `profile`: the program and the
/// flags every test run takes (no sandbox, GPU, QUIC, first-run, background or sync traffic);
/// the caller appends its own.
inline std::vector<std::string> chromium_argv(const std::string& profile) {
  std::string program = chromium_program();
  if (program.empty()) throw std::runtime_error("chromium is not installed");
  return {program,
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--user-data-dir=" + profile,
          "--window-size=1280,1024"};
}

struct ChromiumPage {
  std::string dom;                   // document.documentElement.outerHTML once the budget ran out
  std::vector<std::string> console;  // console messages and uncaught errors, in order ("Uncaught TypeError: ...")
};

/// Loads `url` headless with a fresh --user-data-dir and HOME (removed afterwards) and dumps
/// the DOM after `virtual_time_budget` of page time. Throws std::runtime_error (with the end
/// of Chromium's stderr) when Chromium is missing, cannot start, fails or hangs past `timeout`.
inline ChromiumPage chromium_load(const std::string& url,
                                  std::chrono::milliseconds virtual_time_budget = std::chrono::milliseconds(3000),
                                  std::chrono::milliseconds timeout = std::chrono::seconds(90)) {
  TempDir profile;
  std::vector<std::string> argv = chromium_argv((profile / "profile").string());
  argv.insert(argv.end(), {"--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=" + std::to_string(virtual_time_budget.count()), "--dump-dom", url});
  process::Options options;
  options.timeout = timeout;
  options.env = {{"HOME", profile.str()}, {"XDG_CONFIG_HOME", (profile / "config").string()},
                 {"XDG_CACHE_HOME", (profile / "cache").string()}};
  auto result = test::run(argv, options);
  if (result.exit_code != 0 || result.timed_out) {
    std::string tail = result.err.size() > 2000 ? result.err.substr(result.err.size() - 2000) : result.err;
    throw std::runtime_error("chromium " + url + (result.timed_out ? " timed out" : " exited " + std::to_string(result.exit_code)) +
                             ":\n" + tail);
  }
  ChromiumPage page;
  page.dom = std::move(result.out);
  // Console lines look like: [pid:tid:date:INFO:CONSOLE(12)] "message", source: http://... (12)
  std::size_t start = 0;
  while (start < result.err.size()) {
    std::size_t end = result.err.find('\n', start);
    if (end == std::string::npos) end = result.err.size();
    std::string_view line(result.err.data() + start, end - start);
    start = end + 1;
    if (line.find(":CONSOLE") == std::string_view::npos) continue;
    auto open = line.find("] \"");
    auto close = line.rfind("\", source: ");
    if (open == std::string_view::npos || close == std::string_view::npos || close < open + 3) {
      page.console.emplace_back(line);
    } else {
      page.console.emplace_back(line.substr(open + 3, close - open - 3));
    }
  }
  return page;
}

/// The DOM of `url` after `virtual_time_budget` of page time (see chromium_load).
inline std::string chromium_dump_dom(const std::string& url,
                                     std::chrono::milliseconds virtual_time_budget = std::chrono::milliseconds(3000)) {
  return chromium_load(url, virtual_time_budget).dom;
}

}  // namespace cascade::test
