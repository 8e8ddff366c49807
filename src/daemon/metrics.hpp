// Prometheus metrics of the daemon: counters, gauges and histograms with labels, rendered in
// the Prometheus text exposition format 0.0.4. Thread-safe; updates are cheap (a mutex per
// family, no allocation once a label set exists).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cascade::daemon {

/// Label values in the order of the family's label names.
using Labels = std::vector<std::string>;

class Metrics {
 public:
  Metrics();
  ~Metrics();

  /// Declare a family once (before use); names follow Prometheus rules ("cascade_triggers_total").
  void counter(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
  void gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
  /// Buckets are upper bounds in the unit of the observations (seconds), increasing; +Inf is added.
  void histogram(const std::string& name, const std::string& help, std::vector<double> buckets,
                 std::vector<std::string> label_names = {});

  /// Counter or gauge += by (a counter never decreases: a negative by is refused). Unknown family,
  /// wrong kind or wrong label count: ignored in release builds, asserts in debug builds.
  void add(const std::string& name, const Labels& labels = {}, double by = 1);
  /// Gauge := value.
  void set(const std::string& name, const Labels& labels, double value);
  void set(const std::string& name, double value) { set(name, {}, value); }
  /// Histogram observation.
  void observe(const std::string& name, const Labels& labels, double value);
  void observe(const std::string& name, double value) { observe(name, {}, value); }

  /// The value of a counter or gauge sample, a histogram's observation count (0 when never set), for tests.
  double value(const std::string& name, const Labels& labels = {}) const;

  /// Every family in declaration order: "# HELP", "# TYPE", samples; label values escaped
  /// (backslash, double quote, newline); histograms as _bucket{le=...} (cumulative), _sum, _count.
  std::string render() const;

 private:
  struct Family;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Family>> families_;
  std::map<std::string, Family*> by_name_;
};

}  // namespace cascade::daemon
