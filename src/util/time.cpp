// ISO 8601 UTC time stamps (cascade/util/time.hpp).
#include "cascade/util/time.hpp"

#include <cstdio>
#include <ctime>

namespace cascade::util {

namespace {

// "YYYY-MM-DDTHH:MM:SS" of `time` in UTC into `text`.
void date_time(std::chrono::sys_seconds time, char (&text)[96]) {
  std::time_t seconds = static_cast<std::time_t>(time.time_since_epoch().count());
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  // 96: room for any int fields, so the compiler sees nothing truncated
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                utc.tm_hour, utc.tm_min, utc.tm_sec);
}

}  // namespace

std::string iso_utc_ms(std::chrono::sys_time<std::chrono::milliseconds> time) {
  auto seconds = std::chrono::floor<std::chrono::seconds>(time);
  char text[96];
  date_time(seconds, text);
  const auto millis = static_cast<int>((time - seconds).count());  // 0..999
  return std::string(text) + '.' + static_cast<char>('0' + millis / 100) + static_cast<char>('0' + millis / 10 % 10) +
         static_cast<char>('0' + millis % 10) + 'Z';
}

std::string iso_utc(std::chrono::sys_seconds time) {
  char text[96];
  date_time(time, text);
  return std::string(text) + "Z";
}

std::string iso_now_ms() {
  return iso_utc_ms(std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()));
}

}  // namespace cascade::util
