// The cron module: parsing (fields, names, steps, macros, errors with their offsets) and
// next()/previous() in UTC and in zones with DST changes and 30-minute offsets. Every
// expected instant is worked out by hand in the comment beside it.
#include <doctest/doctest.h>

#include <date/date.h>

#include <string>
#include <vector>

#include "cascade/cron.hpp"

using cascade::cron::format_local;
using cascade::cron::Schedule;
using cascade::cron::Time;
using namespace std::chrono;

namespace {

/// An instant given in UTC.
Time utc(int year, unsigned month, unsigned day, int hour = 0, int minute = 0, int second = 0) {
  return date::sys_days{date::year{year} / month / day} + hours{hour} + minutes{minute} + seconds{second};
}

Schedule schedule(std::string_view expression, std::string_view zone = "UTC") {
  auto parsed = Schedule::parse(expression, zone);
  std::string problem = std::string(expression) + ": " + (parsed ? std::string() : parsed.error().message);
  REQUIRE_MESSAGE(parsed.has_value(), problem);
  return *parsed;
}

/// The first `count` runs after `after`.
std::vector<Time> runs(const Schedule& schedule, Time after, std::size_t count) {
  std::vector<Time> times;
  while (times.size() < count) {
    auto next = schedule.next(after);
    if (!next) break;
    times.push_back(*next);
    after = *next;
  }
  return times;
}

/// The runs in (after, until].
std::vector<Time> runs_until(const Schedule& schedule, Time after, Time until) {
  std::vector<Time> times;
  for (auto next = schedule.next(after); next && *next <= until; next = schedule.next(*next)) times.push_back(*next);
  return times;
}

/// The runs in [since, at], newest first, through previous().
std::vector<Time> runs_back(const Schedule& schedule, Time at, Time since) {
  std::vector<Time> times;
  for (auto last = schedule.previous(at); last && *last >= since; last = schedule.previous(*last - seconds{1}))
    times.push_back(*last);
  return times;
}

std::string text(const std::vector<Time>& times, std::string_view zone = "UTC") {
  std::string out;
  for (Time time : times) out += format_local(time, zone) + " ";
  return out;
}

void check_error(std::string_view expression, std::size_t offset, const std::string& message) {
  auto parsed = Schedule::parse(expression);
  INFO(expression);
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().message == message);
  CHECK(parsed.error().offset == offset);
}

}  // namespace

TEST_CASE("cron::parse errors name the field and the offset") {
  check_error("0 24 * * *", 2, "hour: 24 is out of range 0-23");
  check_error("60 * * * *", 0, "minute: 60 is out of range 0-59");
  check_error("0 0 0 * *", 4, "day of month: 0 is out of range 1-31");
  check_error("0 0 32 * *", 4, "day of month: 32 is out of range 1-31");
  check_error("0 0 * 13 *", 6, "month: 13 is out of range 1-12");
  check_error("0 0 * * 8", 8, "day of week: 8 is out of range 0-7");
  check_error("0 0 * * 123456789", 8, "day of week: 123456789 is out of range 0-7");
  check_error("0 0 * * FOO", 8, "day of week: unknown name \"FOO\"");
  check_error("0 0 * JANUARY *", 6, "month: unknown name \"JANUARY\"");
  check_error("abc * * * *", 0, "minute: \"abc\" is not a number");
  check_error("0 0 * * mon-FOO", 12, "day of week: unknown name \"FOO\"");
  check_error("*/0 * * * *", 2, "minute: step must be >= 1");
  check_error("0 0 1-10/x * *", 9, "day of month: step \"x\" is not a number");
  check_error("0 */24 * * *", 4, "hour: step 24 is out of range 1-23");
  check_error("0 0 1 1/ *", 8, "month: missing step after '/'");
  check_error("1,,2 * * * *", 2, "minute: empty list element");
  check_error("0 1- * * *", 4, "hour: missing value");
  check_error("0 22-2 * * *", 2, "hour: range 22-2 goes backwards; write it as a list, e.g. 22-23,0-2");
  check_error("0 0 * *", 7, "expected 5 fields, got 4");
  check_error("0 0 * * * extra", 10, "expected 5 fields, got 6");
  check_error("", 0, "expected 5 fields, got 0");
  check_error("@reboot", 0,
              "unknown macro \"@reboot\"; known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly");
  check_error("@daily 5", 7, "unexpected text after @daily");

  auto zone = Schedule::parse("0 3 * * *", "Mars/Base");
  REQUIRE_FALSE(zone.has_value());
  CHECK(zone.error().message == "unknown time zone \"Mars/Base\"");
}

TEST_CASE("cron::parse keeps the expression and the zone") {
  Schedule berlin = schedule("0 3 * * *", "Europe/Berlin");
  CHECK(berlin.expression() == "0 3 * * *");
  CHECK(berlin.zone() == "Europe/Berlin");
  CHECK(schedule("@daily", "").zone() == "UTC");  // empty: UTC
}

TEST_CASE("cron::Schedule::next in UTC") {
  const Time start = utc(2026, 1, 1, 10, 7);  // Thursday 2026-01-01 10:07Z

  SUBCASE("steps") {
    // every 15 minutes: the next quarter hours after 10:07
    CHECK(runs(schedule("*/15 * * * *"), start, 4) ==
          std::vector<Time>{utc(2026, 1, 1, 10, 15), utc(2026, 1, 1, 10, 30), utc(2026, 1, 1, 10, 45),
                            utc(2026, 1, 1, 11, 0)});
    // 1-10/3 is 1, 4, 7, 10: after 10:07 come 10:10, then 11:01, 11:04
    CHECK(runs(schedule("1-10/3 * * * *"), start, 3) ==
          std::vector<Time>{utc(2026, 1, 1, 10, 10), utc(2026, 1, 1, 11, 1), utc(2026, 1, 1, 11, 4)});
    // 5/20 is 5, 25, 45 (5 to 59, every 20)
    CHECK(runs(schedule("5/20 * * * *"), start, 4) ==
          std::vector<Time>{utc(2026, 1, 1, 10, 25), utc(2026, 1, 1, 10, 45), utc(2026, 1, 1, 11, 5),
                            utc(2026, 1, 1, 11, 25)});
    // hours 0, 6, 12, 18 at minute 0: after 10:07 comes 12:00
    CHECK(schedule("0 */6 * * *").next(start) == utc(2026, 1, 1, 12));
  }

  SUBCASE("ranges and lists") {
    // hours 8, 12, 18: after 10:07 come 12:00 and 18:00, then 08:00 the next day
    CHECK(runs(schedule("0 8,12,18 * * *"), start, 3) ==
          std::vector<Time>{utc(2026, 1, 1, 12), utc(2026, 1, 1, 18), utc(2026, 1, 2, 8)});
    // minutes 0-2 and 30 of hours 9-10: 10:30, then 09:00, 09:01, 09:02 the next day
    CHECK(runs(schedule("0-2,30 9-10 * * *"), start, 4) ==
          std::vector<Time>{utc(2026, 1, 1, 10, 30), utc(2026, 1, 2, 9, 0), utc(2026, 1, 2, 9, 1),
                            utc(2026, 1, 2, 9, 2)});
  }

  SUBCASE("month and weekday names, any case") {
    // January weekdays at 09:00. 2026-01-02 is a Friday, so after it comes Monday the 5th.
    Schedule weekdays = schedule("0 9 * jan Mon-FRI");
    CHECK(weekdays.next(utc(2026, 1, 2, 10)) == utc(2026, 1, 5, 9));
    // After Friday 2026-01-30 only Saturday the 31st is left in January; the next January
    // weekday is Friday 2027-01-01 (2026 has 365 days: Thursday + 1).
    CHECK(weekdays.next(utc(2026, 1, 30, 10)) == utc(2027, 1, 1, 9));
    CHECK(schedule("0 0 1 JUN,dec *").next(start) == utc(2026, 6, 1));
  }

  SUBCASE("0 and 7 are Sunday") {
    // 2026-01-01 is a Thursday: the next Sunday is the 4th
    CHECK(schedule("0 0 * * 0").next(start) == utc(2026, 1, 4));
    CHECK(schedule("0 0 * * 7").next(start) == utc(2026, 1, 4));
    CHECK(schedule("0 0 * * sun").next(start) == utc(2026, 1, 4));
    // 5-7: Friday 2nd, Saturday 3rd, Sunday 4th, then Friday 9th
    CHECK(runs(schedule("0 0 * * 5-7"), start, 4) ==
          std::vector<Time>{utc(2026, 1, 2), utc(2026, 1, 3), utc(2026, 1, 4), utc(2026, 1, 9)});
  }

  SUBCASE("day of month OR day of week when both are restricted") {
    // the 13th or any Friday: Fridays 2nd and 9th, Tuesday 13th, Friday 16th
    CHECK(runs(schedule("0 0 13 * 5"), start, 4) ==
          std::vector<Time>{utc(2026, 1, 2), utc(2026, 1, 9), utc(2026, 1, 13), utc(2026, 1, 16)});
  }

  SUBCASE("AND when one of them starts with '*'") {
    CHECK(runs(schedule("0 0 13 * *"), start, 2) == std::vector<Time>{utc(2026, 1, 13), utc(2026, 2, 13)});
    // Fridays only: 2nd, 9th
    CHECK(runs(schedule("0 0 * * 5"), start, 2) == std::vector<Time>{utc(2026, 1, 2), utc(2026, 1, 9)});
    // "*/2" starts with '*': odd days AND Fridays. January Fridays 2, 9, 16, 23, 30 -> 9, 23;
    // February Fridays 6, 13, 20, 27 -> 13
    CHECK(runs(schedule("0 0 */2 * 5"), start, 3) ==
          std::vector<Time>{utc(2026, 1, 9), utc(2026, 1, 23), utc(2026, 2, 13)});
  }

  SUBCASE("macros") {
    const Time march = utc(2026, 3, 1);  // a Sunday, midnight
    CHECK(schedule("@yearly").next(march) == utc(2027, 1, 1));
    CHECK(schedule("@annually").next(march) == utc(2027, 1, 1));
    CHECK(schedule("@monthly").next(march) == utc(2026, 4, 1));
    CHECK(schedule("@weekly").next(march) == utc(2026, 3, 8));  // strictly after Sunday the 1st
    CHECK(schedule("@daily").next(march) == utc(2026, 3, 2));
    CHECK(schedule("@MIDNIGHT").next(march) == utc(2026, 3, 2));
    CHECK(schedule("  @hourly ").next(utc(2026, 3, 1, 10, 30)) == utc(2026, 3, 1, 11));
  }

  SUBCASE("February 29th waits for the next leap year") {
    // 2026 and 2027 are not leap years; 2028 is
    CHECK(schedule("0 0 29 2 *").next(start) == utc(2028, 2, 29));
    // and looking back from mid-2026, the last one was 2024-02-29
    CHECK(schedule("0 0 29 2 *").previous(start) == utc(2024, 2, 29));
  }

  SUBCASE("a day that never comes") {
    CHECK_FALSE(schedule("0 0 30 2 *").next(start).has_value());
    CHECK_FALSE(schedule("0 0 30 2 *").previous(start).has_value());
    CHECK_FALSE(schedule("0 0 31 4,6,9,11 *").next(start).has_value());
  }

  SUBCASE("month and year rollover") {
    // the 31st skips February (and April): Jan 31, Mar 31, May 31
    CHECK(runs(schedule("0 0 31 * *"), utc(2026, 1, 30), 3) ==
          std::vector<Time>{utc(2026, 1, 31), utc(2026, 3, 31), utc(2026, 5, 31)});
    CHECK(schedule("59 23 31 12 *").next(utc(2026, 12, 31, 23, 59)) == utc(2027, 12, 31, 23, 59));
    CHECK(schedule("0 0 1 1 *").next(utc(2026, 12, 31, 23, 59, 59)) == utc(2027, 1, 1));
    CHECK(schedule("* * * * *").next(utc(2026, 12, 31, 23, 59, 30)) == utc(2027, 1, 1));
  }

  SUBCASE("strictly after, at or before, seconds") {
    Schedule hourly = schedule("0 * * * *");
    CHECK(hourly.next(utc(2026, 1, 1, 11)) == utc(2026, 1, 1, 12));
    CHECK(hourly.previous(utc(2026, 1, 1, 11)) == utc(2026, 1, 1, 11));
    CHECK(hourly.previous(utc(2026, 1, 1, 10, 59, 59)) == utc(2026, 1, 1, 10));
    Schedule minutely = schedule("* * * * *");
    CHECK(minutely.next(utc(2026, 1, 1, 10, 0, 30)) == utc(2026, 1, 1, 10, 1));
    CHECK(minutely.previous(utc(2026, 1, 1, 10, 0, 30)) == utc(2026, 1, 1, 10, 0));
    // previous across a year: the last 03:00 before 2026-01-01 00:30 is 2025-12-31 03:00
    CHECK(schedule("0 3 * * *").previous(utc(2026, 1, 1, 0, 30)) == utc(2025, 12, 31, 3));
  }

  SUBCASE("instants far outside the calendar find nothing") {
    CHECK_FALSE(schedule("* * * * *").next(Time::max()).has_value());
    CHECK_FALSE(schedule("* * * * *", "Europe/Berlin").previous(Time::min()).has_value());
  }
}

TEST_CASE("cron in Europe/Berlin across DST") {
  // 2026-03-29 (last Sunday of March): at 01:00Z clocks go from 02:00 CET (+1) to 03:00 CEST (+2).
  SUBCASE("spring forward: a skipped time runs at the end of the gap") {
    Schedule skipped = schedule("30 2 * * *", "Europe/Berlin");
    // 03-28 02:30 CET = 01:30Z; 03-29 02:30 does not exist -> 03:00 CEST = 01:00Z;
    // 03-30 02:30 CEST = 00:30Z
    CHECK(runs(skipped, utc(2026, 3, 28), 3) ==
          std::vector<Time>{utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)});
    CHECK(format_local(utc(2026, 3, 29, 1), "Europe/Berlin") == "2026-03-29T03:00:00+02:00");
    // previous() mirrors: at 01:00Z the run of that instant; a second earlier, the day before
    CHECK(skipped.previous(utc(2026, 3, 29, 1)) == utc(2026, 3, 29, 1));
    CHECK(skipped.previous(utc(2026, 3, 29, 0, 59, 59)) == utc(2026, 3, 28, 1, 30));

    // a normal time: 03:00 CET = 02:00Z on the 28th, 03:00 CEST = 01:00Z afterwards
    CHECK(runs(schedule("0 3 * * *", "Europe/Berlin"), utc(2026, 3, 28), 3) ==
          std::vector<Time>{utc(2026, 3, 28, 2), utc(2026, 3, 29, 1), utc(2026, 3, 30, 1)});
    // two times in the gap run once, at 01:00Z; the next day 02:00 and 02:30 CEST
    CHECK(runs(schedule("0,30 2 * * *", "Europe/Berlin"), utc(2026, 3, 29), 3) ==
          std::vector<Time>{utc(2026, 3, 29, 1), utc(2026, 3, 30, 0), utc(2026, 3, 30, 0, 30)});
  }

  SUBCASE("spring forward: real-time jobs run each real half hour") {
    // 00:30Z = 01:30 CET, 01:00Z = 03:00 CEST, 01:30Z = 03:30 CEST
    CHECK(runs(schedule("*/30 * * * *", "Europe/Berlin"), utc(2026, 3, 29, 0, 0), 3) ==
          std::vector<Time>{utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1), utc(2026, 3, 29, 1, 30)});
    // minute 30 of every hour: 01:30 CET = 00:30Z, then 03:30 CEST = 01:30Z (02:30 never is)
    CHECK(runs(schedule("30 * * * *", "Europe/Berlin"), utc(2026, 3, 29, 0, 0), 2) ==
          std::vector<Time>{utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30)});
  }

  // 2026-10-25 (last Sunday of October): at 01:00Z clocks go from 03:00 CEST back to 02:00 CET;
  // 02:00-02:59 local is 00:00-00:59Z (CEST) and again 01:00-01:59Z (CET).
  SUBCASE("fall back: a repeated time runs once, at its first occurrence") {
    Schedule repeated = schedule("30 2 * * *", "Europe/Berlin");
    // 10-24 02:30 CEST = 00:30Z; 10-25 first 02:30 (CEST) = 00:30Z; 10-26 02:30 CET = 01:30Z
    CHECK(runs(repeated, utc(2026, 10, 24), 3) ==
          std::vector<Time>{utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)});
    CHECK(format_local(utc(2026, 10, 25, 0, 30), "Europe/Berlin") == "2026-10-25T02:30:00+02:00");
    // from inside the second 02:xx (01:45Z = 02:45 CET) the last run is still the first 02:30
    CHECK(repeated.previous(utc(2026, 10, 25, 1, 45)) == utc(2026, 10, 25, 0, 30));
    CHECK(repeated.next(utc(2026, 10, 25, 1, 15)) == utc(2026, 10, 26, 1, 30));
    // 03:00 exists once: 03:00 CET = 02:00Z
    CHECK(schedule("0 3 * * *", "Europe/Berlin").next(utc(2026, 10, 25)) == utc(2026, 10, 25, 2));
  }

  SUBCASE("fall back: real-time jobs run in both passes of the repeated hour") {
    Schedule half_hourly = schedule("*/30 * * * *", "Europe/Berlin");
    // 00:00Z 02:00 CEST, 00:30Z 02:30 CEST, 01:00Z 02:00 CET, 01:30Z 02:30 CET: 4 runs
    auto times = runs_until(half_hourly, utc(2026, 10, 24, 23, 59), utc(2026, 10, 25, 1, 59));
    CHECK(times == std::vector<Time>{utc(2026, 10, 25, 0), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1),
                                     utc(2026, 10, 25, 1, 30)});
    CHECK(text(times, "Europe/Berlin") ==
          "2026-10-25T02:00:00+02:00 2026-10-25T02:30:00+02:00 2026-10-25T02:00:00+01:00 2026-10-25T02:30:00+01:00 ");
    // previous() walks the same instants backwards
    CHECK(runs_back(half_hourly, utc(2026, 10, 25, 1, 59), utc(2026, 10, 25, 0)) ==
          std::vector<Time>{utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 1), utc(2026, 10, 25, 0, 30),
                            utc(2026, 10, 25, 0)});
    // hourly: 02:00 CEST = 00:00Z, 02:00 CET = 01:00Z, 03:00 CET = 02:00Z
    CHECK(runs(schedule("0 * * * *", "Europe/Berlin"), utc(2026, 10, 24, 23, 30), 3) ==
          std::vector<Time>{utc(2026, 10, 25, 0), utc(2026, 10, 25, 1), utc(2026, 10, 25, 2)});
  }
}

TEST_CASE("cron in America/New_York across DST") {
  // 2026-03-08 (second Sunday of March): at 07:00Z 02:00 EST (-5) becomes 03:00 EDT (-4).
  Schedule skipped = schedule("30 2 * * *", "America/New_York");
  // 03-07 02:30 EST = 07:30Z (before noon UTC); 03-08 02:30 is skipped -> 03:00 EDT = 07:00Z;
  // 03-09 02:30 EDT = 06:30Z
  CHECK(runs(skipped, utc(2026, 3, 7, 12), 2) == std::vector<Time>{utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)});
  CHECK(format_local(utc(2026, 3, 8, 7), "America/New_York") == "2026-03-08T03:00:00-04:00");
  CHECK(skipped.previous(utc(2026, 3, 8, 12)) == utc(2026, 3, 8, 7));

  // 2026-11-01 (first Sunday of November): at 06:00Z 02:00 EDT becomes 01:00 EST; 01:xx local
  // is 05:xx Z (EDT) and again 06:xx Z (EST).
  Schedule repeated = schedule("30 1 * * *", "America/New_York");
  // first 01:30 = 05:30Z; 11-02 01:30 EST = 06:30Z
  CHECK(runs(repeated, utc(2026, 10, 31, 12), 2) == std::vector<Time>{utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)});
  CHECK(format_local(utc(2026, 11, 1, 5, 30), "America/New_York") == "2026-11-01T01:30:00-04:00");
  CHECK(repeated.previous(utc(2026, 11, 1, 6, 45)) == utc(2026, 11, 1, 5, 30));
  // real time, minute 15 of each hour: 01:15 EDT = 05:15Z, 01:15 EST = 06:15Z, 02:15 EST = 07:15Z
  CHECK(runs(schedule("15 * * * *", "America/New_York"), utc(2026, 11, 1, 4, 30), 3) ==
        std::vector<Time>{utc(2026, 11, 1, 5, 15), utc(2026, 11, 1, 6, 15), utc(2026, 11, 1, 7, 15)});
}

TEST_CASE("cron in zones with 30-minute offsets") {
  SUBCASE("Asia/Kolkata, +05:30 all year") {
    // 09:00 IST = 03:30Z
    CHECK(schedule("0 9 * * *", "Asia/Kolkata").next(utc(2026, 1, 1)) == utc(2026, 1, 1, 3, 30));
    CHECK(format_local(utc(2026, 1, 1, 3, 30), "Asia/Kolkata") == "2026-01-01T09:00:00+05:30");
    // local full hours are UTC half hours: 06:00 IST = 00:30Z, 07:00 IST = 01:30Z
    CHECK(runs(schedule("0 * * * *", "Asia/Kolkata"), utc(2026, 1, 1), 2) ==
          std::vector<Time>{utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 1, 30)});
    CHECK(schedule("0 * * * *", "Asia/Kolkata").previous(utc(2026, 1, 1, 1, 29)) == utc(2026, 1, 1, 0, 30));
    // midnight IST on the 1st of the month = 18:30Z the day before
    CHECK(schedule("@monthly", "Asia/Kolkata").next(utc(2026, 1, 1)) == utc(2026, 1, 31, 18, 30));
  }

  SUBCASE("Australia/Adelaide, +09:30 / +10:30") {
    Schedule adelaide = schedule("30 2 * * *", "Australia/Adelaide");
    // DST ends 2026-04-05 03:00 ACDT (+10:30) -> 02:00 ACST (+9:30), at 2026-04-04 16:30Z.
    // First 02:30 (ACDT) = 16:00Z on the 4th; 04-06 02:30 ACST = 17:00Z on the 5th.
    CHECK(runs(adelaide, utc(2026, 4, 4), 2) == std::vector<Time>{utc(2026, 4, 4, 16), utc(2026, 4, 5, 17)});
    CHECK(format_local(utc(2026, 4, 4, 16), "Australia/Adelaide") == "2026-04-05T02:30:00+10:30");
    // DST starts 2026-10-04 02:00 ACST -> 03:00 ACDT, at 2026-10-03 16:30Z: 02:30 is skipped
    // and runs at 03:00 ACDT = 16:30Z; 10-05 02:30 ACDT = 16:00Z on the 4th.
    CHECK(runs(adelaide, utc(2026, 10, 3), 2) == std::vector<Time>{utc(2026, 10, 3, 16, 30), utc(2026, 10, 4, 16)});
    CHECK(format_local(utc(2026, 10, 3, 16, 30), "Australia/Adelaide") == "2026-10-04T03:00:00+10:30");
  }
}

TEST_CASE("cron::Schedule::previous mirrors next") {
  // For every instant t, with n = next(t): previous(n) is n, and nothing runs in (t, n), so
  // previous(n - 1s) is at or before t. Checked every 7 minutes across both Berlin and
  // New York DST changes, for fixed-time and real-time jobs.
  const std::vector<std::pair<std::string_view, std::string_view>> cases{
      {"30 2 * * *", "Europe/Berlin"},      {"0,30 2 * * *", "Europe/Berlin"}, {"*/30 * * * *", "Europe/Berlin"},
      {"15 1 * * *", "America/New_York"},   {"0 * * * *", "America/New_York"}, {"*/20 1-3 * * *", "Europe/Berlin"},
      {"0 9 * * 1-5", "Australia/Adelaide"}, {"*/45 */2 * * *", "Asia/Kolkata"}};
  const std::vector<Time> days{utc(2026, 3, 8), utc(2026, 3, 29), utc(2026, 10, 25), utc(2026, 11, 1)};
  for (auto [expression, zone] : cases) {
    Schedule subject = schedule(expression, zone);
    for (Time day : days) {
      for (Time t = day - hours{6}; t < day + hours{18}; t += minutes{7}) {
        auto next = subject.next(t);
        REQUIRE(next.has_value());
        INFO(expression << " in " << zone << " after " << format_local(t, "UTC"));
        CHECK(*next > t);
        CHECK(subject.previous(*next) == *next);
        auto before = subject.previous(*next - seconds{1});
        REQUIRE(before.has_value());
        CHECK(*before <= t);
      }
    }
  }
}

TEST_CASE("cron::format_local") {
  CHECK(format_local(utc(2026, 1, 1), "UTC") == "2026-01-01T00:00:00+00:00");
  CHECK(format_local(utc(2026, 1, 1, 12, 34, 56), "") == "2026-01-01T12:34:56+00:00");
  // 2026-01-15 17:00Z = 12:00 EST (-5); 2026-07-15 16:00Z = 12:00 EDT (-4)
  CHECK(format_local(utc(2026, 1, 15, 17), "America/New_York") == "2026-01-15T12:00:00-05:00");
  CHECK(format_local(utc(2026, 7, 15, 16), "America/New_York") == "2026-07-15T12:00:00-04:00");
  // an unknown zone formats in UTC
  CHECK(format_local(utc(2026, 1, 1), "Mars/Base") == "2026-01-01T00:00:00+00:00");
}
