// The daemon's structured log: one JSON object or one text line per entry, control characters
// escaped in both (JSON escapes them itself).
#include <chrono>
#include <cstdio>
#include <ctime>

#include "api_guard.hpp"
#include "internal.hpp"

namespace cascade::daemon {

std::string iso_now() {
  return iso_time(std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
}

std::string iso_time(std::chrono::sys_time<std::chrono::milliseconds> time) {
  auto ms = time.time_since_epoch().count();
  std::time_t seconds = ms / 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[96];  // room for any int fields, so the compiler sees nothing truncated
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(ms % 1000));
  return text;
}

void Logger::write(std::string_view level, std::string_view message, Fields fields) {
  std::string line;
  if (format_ == Format::json) {
    nlohmann::json entry = {{"ts", iso_now()}, {"level", level}, {"msg", message}};
    for (const auto& [key, value] : fields) entry[std::string(key)] = value;
    line = entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    // Everything a request can put in a field is escaped: no control character reaches the
    // terminal or starts a forged line.
    line = iso_now() + " " + std::string(level) + " " + escape_controls(message);
    for (const auto& [key, value] : fields) {
      std::string text = escape_controls(value.is_string() ? value.get<std::string>()
                                                           : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      bool quote = text.empty() || text.find_first_of(" \"=") != std::string::npos;
      if (quote) {
        std::string quoted = "\"";
        for (char ch : text) quoted += ch == '"' ? std::string("\\\"") : std::string(1, ch);
        text = quoted + "\"";
      }
      line += " " + escape_controls(key) + "=" + text;
    }
  }
  line += "\n";
  std::lock_guard lock(mutex_);
  out_ << line << std::flush;
}

}  // namespace cascade::daemon
