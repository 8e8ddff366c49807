// Cron expressions in a time zone: parse "m h dom mon dow" (the five Vixie-cron fields with
// ranges, steps, lists, month and weekday names, and the @daily family of macros) and find
// the next time after a given instant, in an IANA time zone, across DST changes. Pure:
// values in, values out (the zone rules come from the system tz database).
//
// Semantics (as Vixie cron / cronie):
// - minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 0-7
//   (0 and 7 are Sunday) or SUN-SAT; names are case-insensitive.
// - "*", "a", "a-b", "*/n", "a-b/n", "a/n" (a to the field's maximum, every n), lists "x,y,z".
// - When both day of month and day of week are restricted (neither starts with '*'), a day
//   matches when either matches; otherwise both must.
// - @yearly/@annually, @monthly, @weekly, @daily/@midnight, @hourly.
// - DST: a local time skipped by a spring-forward gap runs once at the first instant after
//   the gap (e.g. 02:30 on a day 02:00-03:00 does not exist runs at 03:00); a local time
//   that occurs twice in a fall-back overlap runs once, at its first occurrence. Jobs that
//   run every hour or more often ("*" or a step in the hour field) follow real time: they
//   fire at each real instant whose local time matches, so every real hour has its runs
//   (both passes through a repeated hour, none for local times a gap skips).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cascade/util/expected.hpp"

namespace cascade::cron {

using Time = std::chrono::sys_seconds;

struct Error {
  std::size_t offset = 0;  // 0-based position in the expression
  std::string message;     // "hour: 24 is out of range 0-23"
};

/// A parsed expression bound to a time zone.
class Schedule {
 public:
  /// Parses `expression` for `zone` ("UTC", "Europe/Berlin"; empty: UTC). Fails naming the
  /// field and offset, or "unknown time zone \"X\"".
  static Expected<Schedule, Error> parse(std::string_view expression, std::string_view zone = "UTC");

  /// The first time strictly after `after` that the schedule fires; nullopt when it never does
  /// (e.g. "0 0 30 2 *") within the next 5 years.
  std::optional<Time> next(Time after) const;
  /// The last time at or before `at` that the schedule fired; nullopt when none in the last 5 years.
  std::optional<Time> previous(Time at) const;

  const std::string& expression() const;
  const std::string& zone() const;

  struct Impl;
  Schedule(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<const Impl> impl_;
};

/// "2026-03-29T03:00:00+02:00" (local time with its UTC offset in `zone`; UTC for an unknown zone).
std::string format_local(Time time, std::string_view zone);

}  // namespace cascade::cron
