// ISO 8601 UTC time stamps, the two forms cascade writes: with milliseconds
// ("2026-11-28T05:22:36.123Z": the log, the API, run reports) and to the second
// ("2026-11-28T05:22:36Z": the schedule's stored firing times and event keys).
#pragma once

#include <chrono>
#include <string>

namespace cascade::util {

/// "2026-11-28T05:22:36.123Z". Times before 1970 round down (floor) like later ones.
std::string iso_utc_ms(std::chrono::sys_time<std::chrono::milliseconds> time);

/// "2026-11-28T05:22:36Z".
std::string iso_utc(std::chrono::sys_seconds time);

/// iso_utc_ms of the system clock now.
std::string iso_now_ms();

}  // namespace cascade::util
