// Pieces of the cron module shared between its files: the time zone conversions of
// zone.cpp (IANA zones through Howard Hinnant's date/tz), used by the matcher in cron.cpp.
#pragma once

#include <date/tz.h>

#include <chrono>
#include <string>
#include <string_view>

#include "cascade/cron.hpp"

namespace cascade::cron::detail {

/// A wall-clock time in some zone, in seconds (not tied to an instant).
using LocalTime = date::local_seconds;

/// The zone named `name` ("" means UTC), with its rules loaded, so that later conversions
/// cannot fail; fails with "unknown time zone \"X\"".
Expected<const date::time_zone*, std::string> find_zone(std::string_view name);

/// The wall-clock time of `time` in `zone`.
LocalTime to_local(const date::time_zone* zone, Time time);

/// The instant a job due at the wall-clock time `local` runs: its only occurrence; the
/// first instant after a spring-forward gap for a time the gap skips; the first of the
/// two occurrences for a time a fall-back overlap repeats. Non-decreasing in `local`.
Time fire_instant(const date::time_zone* zone, LocalTime local);

/// A stretch of real time over which the zone's UTC offset stays the same.
struct Segment {
  Time begin;                   // first instant with `offset`
  Time end;                     // first instant after it with another offset
  std::chrono::seconds offset;  // local = UTC + offset
};

/// The segment that holds `time`.
Segment segment_at(const date::time_zone* zone, Time time);

}  // namespace cascade::cron::detail
