// Cron expressions: Schedule::parse in one of a few zones (DST gaps, half-hour offsets),
// then next() and previous() around a fuzzed instant. First byte: zone; next 4: the instant.
#include <array>
#include <chrono>
#include <cstdint>

#include "cascade/cron.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade;
  static constexpr std::array<std::string_view, 6> zones = {
      "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", ""};
  FuzzedDataProvider in(data, size);
  std::string_view zone = zones[in.ConsumeIntegralInRange<std::size_t>(0, zones.size() - 1)];
  // 1970 .. about 2106
  auto seconds = static_cast<std::int64_t>(in.ConsumeIntegral<std::uint32_t>());
  std::string expression = in.ConsumeRemainingBytesAsString();
  auto schedule = cron::Schedule::parse(expression, zone);
  if (!schedule) {
    if (schedule.error().offset > expression.size()) fuzz::violated("error offset past the end of the expression");
    return 0;
  }
  cron::Time at{std::chrono::seconds(seconds)};
  auto next = schedule->next(at);
  if (next && *next <= at) fuzz::violated("next() is not after its argument");
  auto previous = schedule->previous(at);
  if (previous && *previous > at) fuzz::violated("previous() is after its argument");
  if (next) (void)cron::format_local(*next, zone);
  return 0;
}
