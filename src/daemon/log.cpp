// The daemon's structured log: one JSON object or one text line per entry, control characters
// escaped in both (JSON escapes them itself).
#include "api_guard.hpp"
#include "internal.hpp"

namespace cascade::daemon {

void Logger::write(std::string_view level, std::string_view message, Fields fields) {
  std::string line;
  if (format_ == Format::json) {
    nlohmann::json entry = {{"ts", util::iso_now_ms()}, {"level", level}, {"msg", message}};
    for (const auto& [key, value] : fields) entry[std::string(key)] = value;
    line = entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    // Everything a request can put in a field is escaped: no control character reaches the
    // terminal or starts a forged line.
    line = util::iso_now_ms() + " " + std::string(level) + " " + escape_controls(message);
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
