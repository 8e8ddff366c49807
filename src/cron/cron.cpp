// Cron expressions: the parser of the five fields and @macros, the calendar matcher that
// walks wall-clock minutes skipping whole months, days and hours that cannot match, and
// next()/previous() in a zone: fixed-time jobs by wall-clock time (with the DST rules of
// fire_instant), jobs with '*' or a step in the hour field by real time.
#include <algorithm>
#include <array>
#include <bitset>
#include <cctype>
#include <vector>

#include "internal.hpp"
#include "cascade/util/text.hpp"

namespace cascade::cron {

namespace {

using std::chrono::hours;
using std::chrono::minutes;
using detail::LocalTime;

/// How far next() and previous() look.
constexpr auto kHorizon = std::chrono::duration_cast<std::chrono::seconds>(date::years{5});
/// Wider than any jump of a zone's offset (Samoa skipped a whole day in 2011): a fixed-time
/// search starts this far before the wall-clock time of its instant.
constexpr auto kOffsetMargin = date::days{2};

struct FieldSpec {
  std::string_view name;
  int min;
  int max;
  std::array<std::string_view, 12> names;  // names[i] is the value min + i; empty when none
};

const std::array<FieldSpec, 5> kFields{{
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day of month", 1, 31, {}},
    {"month", 1, 12, {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
    {"day of week", 0, 7, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
}};

struct Macro {
  std::string_view name;
  std::string_view fields;
};

const std::array<Macro, 7> kMacros{{{"@yearly", "0 0 1 1 *"},
                                    {"@annually", "0 0 1 1 *"},
                                    {"@monthly", "0 0 1 * *"},
                                    {"@weekly", "0 0 * * 0"},
                                    {"@daily", "0 0 * * *"},
                                    {"@midnight", "0 0 * * *"},
                                    {"@hourly", "0 * * * *"}}};

using Bits = std::bitset<64>;  // bit v set: value v matches

/// What a parsed expression matches, field by field.
struct Pattern {
  std::array<Bits, 5> fields;  // minute, hour, day of month, month, day of week (Sunday 0)
  bool day_star = false;       // the day of month field starts with '*'
  bool weekday_star = false;   // the day of week field starts with '*'
  bool real_time = false;      // '*' or a step in the hour field: follow real time
};

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

/// A 0-based token of the expression: its text and where it starts.
struct Token {
  std::string_view text;
  std::size_t offset;
};

std::vector<Token> split_fields(std::string_view text, std::size_t base) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    std::size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    tokens.push_back({text.substr(start, i - start), base + start});
  }
  return tokens;
}

class FieldParser {
 public:
  explicit FieldParser(const FieldSpec& spec) : spec_(spec) {}

  Expected<Bits, Error> parse(Token field) const {
    Bits bits;
    std::size_t start = 0;
    while (true) {
      std::size_t comma = field.text.find(',', start);
      std::size_t end = comma == std::string_view::npos ? field.text.size() : comma;
      Token element{field.text.substr(start, end - start), field.offset + start};
      if (element.text.empty()) return fail(element.offset, "empty list element");
      auto added = add_element(element, bits);
      if (!added) return unexpected(added.error());
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (spec_.max == 7 && bits[7]) bits.set(0).reset(7);  // 7 is Sunday too
    return bits;
  }

 private:
  Unexpected<Error> fail(std::size_t offset, const std::string& message) const {
    return unexpected(Error{offset, std::string(spec_.name) + ": " + message});
  }

  std::string range_text() const { return std::to_string(spec_.min) + "-" + std::to_string(spec_.max); }

  Expected<int, Error> value(Token token) const {
    if (token.text.empty()) return fail(token.offset, "missing value");
    if (all_digits(token.text)) {
      int number = token.text.size() > 4 ? 99999 : std::stoi(std::string(token.text));
      if (number < spec_.min || number > spec_.max)
        return fail(token.offset, std::string(token.text) + " is out of range " + range_text());
      return number;
    }
    bool alphabetic = std::all_of(token.text.begin(), token.text.end(),
                                  [](char ch) { return std::isalpha(static_cast<unsigned char>(ch)); });
    if (!alphabetic || spec_.names.front().empty())
      return fail(token.offset, "\"" + std::string(token.text) + "\" is not a number");
    for (std::size_t i = 0; i < spec_.names.size(); ++i)
      if (!spec_.names[i].empty() && util::iequals(spec_.names[i], token.text)) return spec_.min + static_cast<int>(i);
    return fail(token.offset, "unknown name \"" + std::string(token.text) + "\"");
  }

  Expected<int, Error> step(Token token) const {
    if (token.text.empty()) return fail(token.offset, "missing step after '/'");
    if (!all_digits(token.text)) return fail(token.offset, "step \"" + std::string(token.text) + "\" is not a number");
    int number = token.text.size() > 4 ? 99999 : std::stoi(std::string(token.text));
    if (number < 1) return fail(token.offset, "step must be >= 1");
    if (number > spec_.max)
      return fail(token.offset, "step " + std::string(token.text) + " is out of range 1-" + std::to_string(spec_.max));
    return number;
  }

  /// One list element: "*", "a", "a-b", each optionally "/step".
  Expected<void, Error> add_element(Token element, Bits& bits) const {
    std::size_t slash = element.text.find('/');
    Token range{element.text.substr(0, slash), element.offset};
    int every = 1;
    if (slash != std::string_view::npos) {
      auto parsed = step({element.text.substr(slash + 1), element.offset + slash + 1});
      if (!parsed) return unexpected(parsed.error());
      every = *parsed;
    }
    int low = spec_.min;
    int high = spec_.max == 7 ? 6 : spec_.max;  // '*' in day of week: Sunday once
    if (range.text != "*") {
      std::size_t dash = range.text.find('-');
      auto first = value({range.text.substr(0, dash), range.offset});
      if (!first) return unexpected(first.error());
      low = *first;
      if (dash != std::string_view::npos) {
        Token last_token{range.text.substr(dash + 1), range.offset + dash + 1};
        auto last = value(last_token);
        if (!last) return unexpected(last.error());
        high = *last;
        if (high < low)
          return fail(range.offset, "range " + std::string(range.text) + " goes backwards; write it as a list, e.g. " +
                                        std::to_string(low) + "-" + std::to_string(spec_.max) + "," +
                                        std::to_string(spec_.min) + "-" + std::to_string(high));
      } else {
        high = slash == std::string_view::npos ? low : spec_.max;  // "a/n": a to the maximum
      }
    }
    for (int v = low; v <= high; v += every) bits.set(static_cast<std::size_t>(v));
    return {};
  }

  const FieldSpec& spec_;
};

/// The five fields of `text` (starting at `base` in the expression).
Expected<Pattern, Error> parse_fields(std::string_view text, std::size_t base, std::size_t end_offset) {
  std::vector<Token> tokens = split_fields(text, base);
  if (tokens.size() != 5) {
    std::size_t offset = tokens.size() > 5 ? tokens[5].offset : end_offset;
    return unexpected(Error{offset, "expected 5 fields, got " + std::to_string(tokens.size())});
  }
  Pattern pattern;
  for (std::size_t i = 0; i < 5; ++i) {
    auto bits = FieldParser(kFields[i]).parse(tokens[i]);
    if (!bits) return unexpected(bits.error());
    pattern.fields[i] = *bits;
  }
  pattern.day_star = tokens[2].text.front() == '*';
  pattern.weekday_star = tokens[4].text.front() == '*';
  pattern.real_time = tokens[1].text.front() == '*' || tokens[1].text.find('/') != std::string_view::npos;
  return pattern;
}

Expected<Pattern, Error> parse_expression(std::string_view expression) {
  std::size_t first = 0;
  while (first < expression.size() && std::isspace(static_cast<unsigned char>(expression[first]))) ++first;
  if (first == expression.size() || expression[first] != '@')
    return parse_fields(expression, 0, expression.size());
  std::vector<Token> tokens = split_fields(expression, 0);
  if (tokens.size() > 1) return unexpected(Error{tokens[1].offset, "unexpected text after " + std::string(tokens[0].text)});
  for (const Macro& macro : kMacros)
    if (util::iequals(macro.name, tokens[0].text)) return parse_fields(macro.fields, 0, 0);
  return unexpected(Error{tokens[0].offset, "unknown macro \"" + std::string(tokens[0].text) +
                                                "\"; known: @yearly, @annually, @monthly, @weekly, @daily, "
                                                "@midnight, @hourly"});
}

/// Walks wall-clock minutes for a pattern, skipping what cannot match.
class Matcher {
 public:
  explicit Matcher(const Pattern& pattern) : pattern_(pattern) {}

  /// The first matching minute in [from, limit), `from` on a minute boundary.
  std::optional<LocalTime> first_from(LocalTime from, LocalTime limit) const {
    LocalTime at = from;
    while (at < limit) {
      date::local_days day = date::floor<date::days>(at);
      date::year_month_day date{day};
      if (!month_matches(date)) {
        at = date::local_days{date::year_month_day{(date.year() / date.month() + date::months{1}) / 1}};
        continue;
      }
      if (!day_matches(date, date::weekday{day})) {
        at = day + date::days{1};
        continue;
      }
      auto hour = date::floor<hours>(at - day);
      auto hour_found = next_bit(pattern_.fields[1], static_cast<int>(hour.count()), 23);
      if (hour_found < 0) {
        at = day + date::days{1};
        continue;
      }
      if (hour_found != hour.count()) {
        at = day + hours{hour_found};
        continue;
      }
      auto minute = date::floor<minutes>(at - day - hour);
      auto minute_found = next_bit(pattern_.fields[0], static_cast<int>(minute.count()), 59);
      if (minute_found < 0) {
        at = day + hour + hours{1};
        continue;
      }
      LocalTime found = day + hour + minutes{minute_found};
      if (found < limit) return found;
      break;
    }
    return std::nullopt;
  }

  /// The last matching minute in [limit, from], `from` on a minute boundary.
  std::optional<LocalTime> last_from(LocalTime from, LocalTime limit) const {
    LocalTime at = from;
    while (at >= limit) {
      date::local_days day = date::floor<date::days>(at);
      date::year_month_day date{day};
      if (!month_matches(date)) {
        at = date::local_days{date.year() / date.month() / 1} - minutes{1};
        continue;
      }
      if (!day_matches(date, date::weekday{day})) {
        at = day - minutes{1};
        continue;
      }
      auto hour = date::floor<hours>(at - day);
      auto hour_found = previous_bit(pattern_.fields[1], static_cast<int>(hour.count()));
      if (hour_found < 0) {
        at = day - minutes{1};
        continue;
      }
      if (hour_found != hour.count()) {
        at = day + hours{hour_found} + minutes{59};
        continue;
      }
      auto minute = date::floor<minutes>(at - day - hour);
      auto minute_found = previous_bit(pattern_.fields[0], static_cast<int>(minute.count()));
      if (minute_found < 0) {
        at = day + hour - minutes{1};
        continue;
      }
      LocalTime found = day + hour + minutes{minute_found};
      if (found >= limit) return found;
      break;
    }
    return std::nullopt;
  }

 private:
  static int next_bit(const Bits& bits, int from, int max) {
    for (int v = from; v <= max; ++v)
      if (bits[static_cast<std::size_t>(v)]) return v;
    return -1;
  }
  static int previous_bit(const Bits& bits, int from) {
    for (int v = from; v >= 0; --v)
      if (bits[static_cast<std::size_t>(v)]) return v;
    return -1;
  }

  bool month_matches(const date::year_month_day& date) const {
    return pattern_.fields[3][static_cast<unsigned>(date.month())];
  }
  bool day_matches(const date::year_month_day& date, date::weekday weekday) const {
    bool by_day = pattern_.fields[2][static_cast<unsigned>(date.day())];
    bool by_weekday = pattern_.fields[4][weekday.c_encoding()];
    if (pattern_.day_star || pattern_.weekday_star) return by_day && by_weekday;
    return by_day || by_weekday;
  }

  const Pattern& pattern_;
};

/// Years 1000 to 9000: far enough from the calendar's limits that the horizon and the
/// offsets cannot overflow (Time::max() and the like find nothing).
bool in_supported_range(Time time) {
  static const Time earliest = date::sys_days{date::year{1000} / 1 / 1};
  static const Time latest = date::sys_days{date::year{9000} / 1 / 1};
  return time >= earliest && time <= latest;
}

LocalTime ceil_minute(LocalTime time) { return date::ceil<minutes>(time); }
LocalTime floor_minute(LocalTime time) { return date::floor<minutes>(time); }

}  // namespace

struct Schedule::Impl {
  std::string expression;
  std::string zone_name;
  const date::time_zone* zone = nullptr;
  Pattern pattern;

  /// Real time: each instant whose wall-clock time matches, segment by segment of one offset.
  std::optional<Time> next_real(Time after) const {
    Matcher matcher(pattern);
    const Time horizon = after + kHorizon;
    for (Time from = after + std::chrono::seconds{1}; from < horizon;) {
      detail::Segment segment = detail::segment_at(zone, from);
      Time end = std::min(segment.end, horizon);
      LocalTime local_from{(from + segment.offset).time_since_epoch()};
      LocalTime local_end{(end + segment.offset).time_since_epoch()};
      if (auto found = matcher.first_from(ceil_minute(local_from), local_end))
        return Time{found->time_since_epoch() - segment.offset};
      from = end;
    }
    return std::nullopt;
  }

  std::optional<Time> previous_real(Time at) const {
    Matcher matcher(pattern);
    const Time horizon = at - kHorizon;
    for (Time to = at; to >= horizon;) {
      detail::Segment segment = detail::segment_at(zone, to);
      Time begin = std::max(segment.begin, horizon);
      LocalTime local_to{(to + segment.offset).time_since_epoch()};
      LocalTime local_begin{(begin + segment.offset).time_since_epoch()};
      if (auto found = matcher.last_from(floor_minute(local_to), local_begin))
        return Time{found->time_since_epoch() - segment.offset};
      to = begin - std::chrono::seconds{1};
    }
    return std::nullopt;
  }

  /// Wall-clock time: candidates in local order; fire_instant is non-decreasing, so the
  /// first candidate whose instant is after `after` is the answer.
  std::optional<Time> next_fixed(Time after) const {
    Matcher matcher(pattern);
    LocalTime local_after = detail::to_local(zone, after);
    LocalTime limit = local_after + kHorizon;
    for (LocalTime from = ceil_minute(local_after - kOffsetMargin);;) {
      auto found = matcher.first_from(from, limit);
      if (!found) return std::nullopt;
      Time instant = detail::fire_instant(zone, *found);
      if (instant > after) return instant;
      from = *found + minutes{1};
    }
  }

  std::optional<Time> previous_fixed(Time at) const {
    Matcher matcher(pattern);
    LocalTime local_at = detail::to_local(zone, at);
    LocalTime limit = local_at - kHorizon;
    for (LocalTime from = floor_minute(local_at + kOffsetMargin);;) {
      auto found = matcher.last_from(from, limit);
      if (!found) return std::nullopt;
      Time instant = detail::fire_instant(zone, *found);
      if (instant <= at) return instant;
      from = *found - minutes{1};
    }
  }
};

Expected<Schedule, Error> Schedule::parse(std::string_view expression, std::string_view zone) {
  auto pattern = parse_expression(expression);
  if (!pattern) return unexpected(pattern.error());
  auto found = detail::find_zone(zone);
  if (!found) return unexpected(Error{0, found.error()});
  auto impl = std::make_shared<Impl>();
  impl->expression = std::string(expression);
  impl->zone_name = zone.empty() ? "UTC" : std::string(zone);
  impl->zone = *found;
  impl->pattern = *pattern;
  return Schedule(std::move(impl));
}

std::optional<Time> Schedule::next(Time after) const {
  if (!in_supported_range(after)) return std::nullopt;
  return impl_->pattern.real_time ? impl_->next_real(after) : impl_->next_fixed(after);
}

std::optional<Time> Schedule::previous(Time at) const {
  if (!in_supported_range(at)) return std::nullopt;
  return impl_->pattern.real_time ? impl_->previous_real(at) : impl_->previous_fixed(at);
}

const std::string& Schedule::expression() const { return impl_->expression; }
const std::string& Schedule::zone() const { return impl_->zone_name; }

}  // namespace cascade::cron
