// Prometheus metrics: families of counters, gauges and histograms, each holding its series
// (one per label-value set) under its own mutex, rendered in the text exposition format
// 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Locking: mutex_ guards the family list and the name index only (families are never removed,
// so a Family* stays valid); each family's mutex guards its series. An update takes the index
// lock for the lookup, then the family lock for the change; render() does the same per family,
// so a scrape never blocks updates of other families for long.
#include "metrics.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace cascade::daemon {

namespace {

enum class Kind { counter, gauge, histogram };

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::counter: return "counter";
    case Kind::gauge: return "gauge";
    case Kind::histogram: return "histogram";
  }
  return "untyped";
}

/// One time series: a counter or gauge value, or a histogram's per-bucket (not cumulative)
/// counts, the last one being +Inf, with the sum and count of the observations.
struct Series {
  double value = 0;
  std::vector<std::uint64_t> bucket_counts;
  double sum = 0;
  std::uint64_t count = 0;
};

bool valid_metric_name(const std::string& name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_label_name(const std::string& name) {
  if (name.empty() || name.rfind("__", 0) == 0) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

/// A sample value: "+Inf", "-Inf", "NaN"; integers below 2^53 without exponent or decimals
/// ("3", "1000000"); anything else in the shortest form that reads back to the same double,
/// fixed down to 1e-4 and scientific below or from 2^53 on, as Go's strconv 'g' ("0.25",
/// "0.0005", "1.5e-07", "1e+300").
void append_value(std::string& out, double value) {
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else if (value == std::trunc(value) && std::fabs(value) < kExactIntegers) {
    out += std::to_string(static_cast<std::int64_t>(value));
  } else {
    double magnitude = std::fabs(value);
    auto format = magnitude < 1e-4 || magnitude >= kExactIntegers ? std::chars_format::scientific
                                                                  : std::chars_format::fixed;
    char buffer[400];  // fixed notation of the smallest magnitude allowed here is short; 400 is ample
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value, format);
    out.append(buffer, ec == std::errc() ? end : buffer);
  }
}

/// HELP text: backslash and newline escaped.
void append_help(std::string& out, const std::string& text) {
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

/// A label value: backslash, double quote and newline escaped.
void append_label_value(std::string& out, const std::string& text) {
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

}  // namespace

struct Metrics::Family {
  std::string name;
  std::string help;
  Kind kind = Kind::counter;
  std::vector<std::string> label_names;
  std::vector<double> buckets;  // histograms: finite upper bounds, increasing (+Inf implied)
  mutable std::mutex mutex;
  std::map<Labels, Series> series;  // by label values: rendered sorted, so output is stable

  /// The series of `labels`, created on first use (the only allocation of an update).
  Series& at(const Labels& labels) {
    auto found = series.find(labels);
    if (found != series.end()) return found->second;
    Series fresh;
    if (kind == Kind::histogram) fresh.bucket_counts.assign(buckets.size() + 1, 0);
    return series.emplace(labels, std::move(fresh)).first->second;
  }

  /// `{l1="v1",l2="v2"}` plus an optional extra label (le for buckets); nothing when empty.
  void append_labels(std::string& out, const Labels& values, const char* extra_name = nullptr,
                     double extra_value = 0) const {
    if (values.empty() && !extra_name) return;
    out += '{';
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      out += label_names[i];
      out += "=\"";
      append_label_value(out, values[i]);
      out += '"';
    }
    if (extra_name) {
      if (!values.empty()) out += ',';
      out += extra_name;
      out += "=\"";
      append_value(out, extra_value);
      out += '"';
    }
    out += '}';
  }

  void append_sample(std::string& out, const char* suffix, const Labels& values, double value,
                     const char* extra_name = nullptr, double extra_value = 0) const {
    out += name;
    out += suffix;
    append_labels(out, values, extra_name, extra_value);
    out += ' ';
    append_value(out, value);
    out += '\n';
  }

  void render(std::string& out) const {
    out += "# HELP " + name + ' ';
    append_help(out, help);
    out += "\n# TYPE " + name + ' ' + kind_name(kind) + '\n';
    std::lock_guard lock(mutex);
    for (const auto& [values, one] : series) {
      if (kind != Kind::histogram) {
        append_sample(out, "", values, one.value);
        continue;
      }
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < one.bucket_counts.size(); ++i) {
        cumulative += one.bucket_counts[i];
        double bound = i < buckets.size() ? buckets[i] : HUGE_VAL;
        append_sample(out, "_bucket", values, static_cast<double>(cumulative), "le", bound);
      }
      append_sample(out, "_sum", values, one.sum);
      append_sample(out, "_count", values, static_cast<double>(one.count));
    }
  }
};

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

namespace {

/// Makes and declares a family unless the name is invalid or taken (a programming error: asserted).
template <typename Family, typename Families, typename Index>
void declare(Families& families, Index& by_name, const std::string& name, const std::string& help, Kind kind,
             std::vector<std::string> label_names, std::vector<double> buckets = {}) {
  auto family = std::make_unique<Family>();
  family->name = name;
  family->help = help;
  family->kind = kind;
  family->label_names = std::move(label_names);
  family->buckets = std::move(buckets);
  bool labels_ok = std::all_of(family->label_names.begin(), family->label_names.end(), valid_label_name);
  bool le_free = family->kind != Kind::histogram ||
                 std::find(family->label_names.begin(), family->label_names.end(), "le") ==
                     family->label_names.end();
  bool ok = valid_metric_name(family->name) && labels_ok && le_free && !by_name.count(family->name);
  assert(ok && "invalid or duplicate metric family");
  if (!ok) return;
  // A family without labels has exactly one series: expose it (as 0) from the start.
  if (family->label_names.empty()) family->at({});
  by_name.emplace(family->name, family.get());
  families.push_back(std::move(family));
}

}  // namespace

void Metrics::counter(const std::string& name, const std::string& help, std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  declare<Family>(families_, by_name_, name, help, Kind::counter, std::move(label_names));
}

void Metrics::gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  declare<Family>(families_, by_name_, name, help, Kind::gauge, std::move(label_names));
}

void Metrics::histogram(const std::string& name, const std::string& help, std::vector<double> buckets,
                        std::vector<std::string> label_names) {
  assert(std::is_sorted(buckets.begin(), buckets.end()) && "histogram buckets must increase");
  // Tolerated in release: unordered or repeated bounds are sorted and merged, +Inf and NaN dropped.
  std::erase_if(buckets, [](double bound) { return std::isnan(bound) || std::isinf(bound); });
  std::sort(buckets.begin(), buckets.end());
  buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
  std::lock_guard lock(mutex_);
  declare<Family>(families_, by_name_, name, help, Kind::histogram, std::move(label_names), std::move(buckets));
}

namespace {

/// The family named `name` of one of `kinds` whose label count matches; nullptr (asserted) otherwise.
template <typename Index>
auto find_family(const Index& by_name, std::mutex& mutex, const std::string& name, const Labels& labels,
                 std::initializer_list<Kind> kinds) -> typename Index::mapped_type {
  std::lock_guard lock(mutex);
  auto found = by_name.find(name);
  if (found == by_name.end()) {
    assert(!"unknown metric family");
    return nullptr;
  }
  auto* family = found->second;
  bool ok = std::find(kinds.begin(), kinds.end(), family->kind) != kinds.end() &&
            family->label_names.size() == labels.size();
  assert(ok && "wrong metric kind or label count");
  return ok ? family : nullptr;
}

}  // namespace

void Metrics::add(const std::string& name, const Labels& labels, double by) {
  Family* family = find_family(by_name_, mutex_, name, labels, {Kind::counter, Kind::gauge});
  if (!family) return;
  if (family->kind == Kind::counter && !(by >= 0)) {
    assert(!"a counter never decreases");
    return;
  }
  std::lock_guard lock(family->mutex);
  family->at(labels).value += by;
}

void Metrics::set(const std::string& name, const Labels& labels, double value) {
  Family* family = find_family(by_name_, mutex_, name, labels, {Kind::gauge});
  if (!family) return;
  std::lock_guard lock(family->mutex);
  family->at(labels).value = value;
}

void Metrics::observe(const std::string& name, const Labels& labels, double value) {
  Family* family = find_family(by_name_, mutex_, name, labels, {Kind::histogram});
  if (!family) return;
  // The first bucket whose upper bound holds the value (le is inclusive); past the last: +Inf.
  auto bucket = std::lower_bound(family->buckets.begin(), family->buckets.end(), value) - family->buckets.begin();
  if (std::isnan(value)) bucket = static_cast<std::ptrdiff_t>(family->buckets.size());
  std::lock_guard lock(family->mutex);
  Series& series = family->at(labels);
  series.bucket_counts[static_cast<std::size_t>(bucket)] += 1;
  series.sum += value;
  series.count += 1;
}

double Metrics::value(const std::string& name, const Labels& labels) const {
  const Family* family = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto found = by_name_.find(name);
    if (found == by_name_.end()) return 0;
    family = found->second;
  }
  std::lock_guard lock(family->mutex);
  auto found = family->series.find(labels);
  if (found == family->series.end()) return 0;
  return family->kind == Kind::histogram ? static_cast<double>(found->second.count) : found->second.value;
}

std::string Metrics::render() const {
  std::vector<const Family*> families;
  {
    std::lock_guard lock(mutex_);
    for (const auto& family : families_) families.push_back(family.get());
  }
  std::string out;
  for (const Family* family : families) family->render(out);
  return out;
}

}  // namespace cascade::daemon
