// Vulnerability advisories in the OSV format (ossf/osv-schema; shared/reference/PACKAGES.md
// section 9), package constraints a person types (`bash<5.2.15-2+deb12u1`), and the one
// question both answer: is this installed package, in this distribution, vulnerable, and
// which version fixes it? Pure: JSON text and values in, verdicts out.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/packages.hpp"
#include "cascade/util/expected.hpp"
#include "cascade/version.hpp"

namespace cascade::advisory {

/// One OSV range event: exactly one of the four is set.
struct Event {
  enum class Kind { introduced, fixed, last_affected, limit } kind = Kind::introduced;
  std::string version;  // "0" for introduced-at-the-beginning, "*" for an unbounded limit
};

struct Range {
  std::string type;  // "ECOSYSTEM", "SEMVER", "GIT" (only ECOSYSTEM is evaluated)
  std::vector<Event> events;
};

struct Affected {
  std::string ecosystem;              // "Debian:12", "Alpine:v3.20", "Ubuntu:24.04:LTS"
  std::string package;                // package.name
  std::vector<Range> ranges;
  std::vector<std::string> versions;  // explicitly affected versions
};

struct Advisory {
  std::string id;                      // "DSA-3032-1"
  std::vector<std::string> aliases;    // and `upstream` ids: "CVE-2014-6271"
  std::string summary;
  bool withdrawn = false;              // a retracted record: never matches
  std::vector<Affected> affected;
};

struct Error {
  std::string path;     // JSON path of the offending value: "affected[0].ranges[1].events[2]"
  std::string message;  // "expected a string", "unknown ecosystem 'Debain:12'"
  /// "affected[0].package.ecosystem: unknown ecosystem 'Debain:12'".
  std::string str() const;
};

/// One OSV document, or several (a JSON array of documents, or {"vulns": [...]}), from
/// text. Fails naming the JSON path on invalid JSON, a missing `id` or `affected`, a value
/// of the wrong type, a range event that is not exactly one of introduced / fixed /
/// last_affected / limit, fixed and last_affected in one range, an ECOSYSTEM version that is
/// not valid in its ecosystem's ordering, or an ecosystem cascade cannot map (see
/// scheme_of_ecosystem).
Expected<std::vector<Advisory>, Error> parse_osv(std::string_view json);

/// The version ordering of an OSV ecosystem ("Debian:12" -> dpkg, "Ubuntu:..." -> dpkg,
/// "Alpine:v3.20" -> apk, "Wolfi", "Chainguard" -> apk, "Red Hat:...", "AlmaLinux:9",
/// "Rocky Linux:9" -> rpm); nullopt for any other.
std::optional<version::Scheme> scheme_of_ecosystem(std::string_view ecosystem);

/// Whether an OSV ecosystem names the distribution of `os`: "Debian:12" <-> ID=debian
/// VERSION_ID=12; "Alpine:v3.20" <-> alpine 3.20.x; "Ubuntu:24.04" and "Ubuntu:24.04:LTS"
/// <-> ubuntu 24.04; "AlmaLinux:9" <-> almalinux 9.x; "Rocky Linux:9" <-> rocky 9.x;
/// "Wolfi" <-> wolfi; "Chainguard" <-> chainguard.
bool ecosystem_matches(std::string_view ecosystem, const packages::OsRelease& os);

/// The OSV ecosystem string for a distribution ("Debian:12", "Alpine:v3.20",
/// "Ubuntu:24.04:LTS"), empty when there is none.
std::string ecosystem_of(const packages::OsRelease& os);

/// A constraint a person types: NAME, or NAME OP VERSION with OP one of < <= = >= >.
struct Constraint {
  enum class Op { any, lt, le, eq, ge, gt } op = Op::any;
  std::string name;
  std::string version;  // empty for any
};

/// Parses "bash", "bash<5.2.15-2+deb12u1", "openssl >= 3.0.2" (spaces allowed around OP).
/// Fails with a message saying what to write instead on an empty name, a name with
/// characters no package name has, a missing version after OP, or an unknown operator.
Expected<Constraint, std::string> parse_constraint(std::string_view text);

/// "bash<5.2.15-2+deb12u1" (as parse_constraint reads it).
std::string to_string(const Constraint& constraint);

/// Whether `installed` satisfies the constraint's version part in `scheme` (any: always).
bool satisfies(const Constraint& constraint, version::Scheme scheme, std::string_view installed);

/// How one installed package stands against one advisory.
struct Verdict {
  bool vulnerable = false;
  std::string ecosystem;          // the affected[] entry that matched: "Debian:12"
  std::string compared_version;   // the version evaluated (source version for dpkg/apk/rpm source matches)
  std::optional<std::string> fixed;  // the lowest `fixed` event above the compared version, if any
};

/// The verdict for `package` installed in a system described by `os`, with versions
/// ordered by `format`, or nullopt when no affected[] entry names this package in this
/// distribution. Names match the binary name or the source name (Debian, Ubuntu and
/// Alpine advisories name source packages, rpm ones either); the version compared is the
/// source version for a source-name match, the binary version otherwise. Withdrawn
/// advisories give nullopt. Evaluation follows the OSV schema's pseudocode (versions[],
/// then ECOSYSTEM ranges with introduced / fixed / last_affected / limit).
std::optional<Verdict> evaluate(const Advisory& advisory, const packages::OsRelease& os, packages::Format format,
                                const packages::Package& package);

}  // namespace cascade::advisory
