// Whether one installed package is affected by one OSV advisory: the schema's evaluation
// pseudocode (versions[], then ECOSYSTEM ranges with introduced / fixed / last_affected /
// limit) in the distribution's own version ordering, on the name and version an advisory of
// that distribution uses (source for Debian, Ubuntu and Alpine; binary, then source, for rpm).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/advisory.hpp"

namespace cascade::advisory {
namespace {

version::Scheme scheme_of_format(packages::Format format) {
  switch (format) {
    case packages::Format::dpkg:
      return version::Scheme::dpkg;
    case packages::Format::apk:
      return version::Scheme::apk;
    case packages::Format::rpm:
      return version::Scheme::rpm;
  }
  return version::Scheme::dpkg;
}

// The version to compare when `entry` names this package: the source version when it names
// the source package, the binary version when it names the binary one (rpm advisories name
// binaries first, the others sources); nullopt when it names neither.
std::optional<std::string> compared_version(const Affected& entry, packages::Format format,
                                            const packages::Package& package) {
  const std::string& source_name = package.source_name.empty() ? package.name : package.source_name;
  const std::string& source_version = package.source_version.empty() ? package.version : package.source_version;
  if (format == packages::Format::rpm) {
    if (entry.package == package.name) return package.version;
    if (entry.package == source_name) return source_version;
    return std::nullopt;
  }
  if (entry.package == source_name) return source_version;
  if (entry.package == package.name) return package.version;
  return std::nullopt;
}

bool is_zero(const Event& event) { return event.kind == Event::Kind::introduced && event.version == "0"; }

// "If limit events exist and v is below none of them, skip the range" ("*" is infinity).
bool before_limits(version::Scheme scheme, const Range& range, std::string_view installed) {
  bool limited = false;
  for (const Event& event : range.events) {
    if (event.kind != Event::Kind::limit) continue;
    limited = true;
    if (event.version == "*" || version::compare(scheme, installed, event.version) < 0) return true;
  }
  return !limited;
}

struct Evaluation {
  bool vulnerable = false;
  std::optional<std::string> fixed;  // the lowest fixed event above the installed version
};

// Keeps the lower of two fixed versions in `fixed`.
void keep_lowest(version::Scheme scheme, std::optional<std::string>& fixed,
                 const std::optional<std::string>& candidate) {
  if (candidate && (!fixed || version::compare(scheme, *candidate, *fixed) < 0)) fixed = candidate;
}

Evaluation evaluate_range(version::Scheme scheme, const Range& range, std::string_view installed) {
  if (range.type != "ECOSYSTEM" || !before_limits(scheme, range, installed)) return {};
  std::vector<const Event*> events;
  for (const Event& event : range.events) {
    if (event.kind != Event::Kind::limit) events.push_back(&event);
  }
  std::stable_sort(events.begin(), events.end(), [&](const Event* a, const Event* b) {
    if (is_zero(*a) || is_zero(*b)) return is_zero(*a) && !is_zero(*b);
    return version::compare(scheme, a->version, b->version) < 0;
  });
  bool vulnerable = false;
  for (const Event* event : events) {
    const int order = is_zero(*event) ? 1 : version::compare(scheme, installed, event->version);
    if (event->kind == Event::Kind::introduced && order >= 0) {
      vulnerable = true;
    } else if (event->kind == Event::Kind::fixed && order >= 0) {
      vulnerable = false;
    } else if (event->kind == Event::Kind::last_affected && order > 0) {
      vulnerable = false;
    }
  }
  Evaluation outcome{vulnerable, std::nullopt};
  if (!vulnerable) return outcome;
  for (const Event* event : events) {
    if (event->kind == Event::Kind::fixed && version::compare(scheme, installed, event->version) < 0) {
      keep_lowest(scheme, outcome.fixed, event->version);
    }
  }
  return outcome;
}

Evaluation evaluate_entry(version::Scheme scheme, const Affected& entry, std::string_view installed) {
  Evaluation outcome;
  for (const std::string& listed : entry.versions) {
    if (version::compare(scheme, installed, listed) == 0) outcome.vulnerable = true;
  }
  for (const Range& range : entry.ranges) {
    const Evaluation one = evaluate_range(scheme, range, installed);
    if (!one.vulnerable) continue;
    outcome.vulnerable = true;
    keep_lowest(scheme, outcome.fixed, one.fixed);
  }
  return outcome;
}

// Folds the outcome of one more matching entry into the verdict: vulnerable when any entry
// says so (OSV's "any affected[] entry"); the lowest fix wins and names its ecosystem (the
// fix channel, e.g. "Ubuntu:Pro:18.04:LTS").
void merge(version::Scheme scheme, std::optional<Verdict>& verdict, const Affected& entry, std::string compared,
           const Evaluation& outcome) {
  Verdict next{outcome.vulnerable, entry.ecosystem, std::move(compared), outcome.fixed};
  if (!verdict || (next.vulnerable && !verdict->vulnerable)) {
    verdict = std::move(next);
    return;
  }
  if (!next.vulnerable || !next.fixed) return;
  if (!verdict->fixed || version::compare(scheme, *next.fixed, *verdict->fixed) < 0) verdict = std::move(next);
}

}  // namespace

std::optional<Verdict> evaluate(const Advisory& advisory, const packages::OsRelease& os, packages::Format format,
                                const packages::Package& package) {
  if (advisory.withdrawn) return std::nullopt;
  const version::Scheme scheme = scheme_of_format(format);
  std::optional<Verdict> verdict;
  for (const Affected& entry : advisory.affected) {
    // An entry of another distribution, or whose ordering is not this database's, is not ours.
    if (!ecosystem_matches(entry.ecosystem, os) || scheme_of_ecosystem(entry.ecosystem) != scheme) continue;
    auto compared = compared_version(entry, format, package);
    if (!compared) continue;
    const Evaluation outcome = evaluate_entry(scheme, entry, *compared);
    merge(scheme, verdict, entry, std::move(*compared), outcome);
  }
  return verdict;
}

}  // namespace cascade::advisory
