// Time zone conversions for cron schedules: find an IANA zone in the system tz database,
// map instants to wall-clock times and back (with the DST gap and overlap rules of
// cron.hpp), the stretches of constant UTC offset, and format_local.
#include <cstdio>
#include <exception>

#include "internal.hpp"

namespace cascade::cron {

namespace detail {

Expected<const date::time_zone*, std::string> find_zone(std::string_view name) {
  if (name.empty()) name = "UTC";
  try {
    const date::time_zone* zone = date::locate_zone(name);
    // The rules load on first use; loading them here lets later conversions not throw.
    (void)zone->get_info(Time{});
    return zone;
  } catch (const std::exception&) {
    return unexpected("unknown time zone \"" + std::string(name) + "\"");
  }
}

LocalTime to_local(const date::time_zone* zone, Time time) {
  return LocalTime{(time + zone->get_info(time).offset).time_since_epoch()};
}

Time fire_instant(const date::time_zone* zone, LocalTime local) {
  date::local_info info = zone->get_info(local);
  // In a gap, `first` is the offset before it and ends at the transition: the first
  // instant after the gap. In an overlap, `first` is the earlier of the two occurrences.
  if (info.result == date::local_info::nonexistent) return info.first.end;
  return Time{local.time_since_epoch() - info.first.offset};
}

Segment segment_at(const date::time_zone* zone, Time time) {
  date::sys_info info = zone->get_info(time);
  return {info.begin, info.end, info.offset};
}

}  // namespace detail

std::string format_local(Time time, std::string_view zone) {
  auto found = detail::find_zone(zone);
  std::chrono::seconds utc_offset = found ? (*found)->get_info(time).offset : std::chrono::seconds{0};
  std::string text = date::format("%FT%T", date::local_seconds{(time + utc_offset).time_since_epoch()});
  long long offset = utc_offset.count();
  char sign = offset < 0 ? '-' : '+';
  if (offset < 0) offset = -offset;
  char buffer[32];
  if (offset % 60 == 0)
    std::snprintf(buffer, sizeof buffer, "%c%02lld:%02lld", sign, offset / 3600, offset / 60 % 60);
  else  // local mean time offsets of the distant past carry seconds
    std::snprintf(buffer, sizeof buffer, "%c%02lld:%02lld:%02lld", sign, offset / 3600, offset / 60 % 60, offset % 60);
  return text + buffer;
}

}  // namespace cascade::cron
