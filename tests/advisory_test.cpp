// OSV advisories: documents read with JSON-path errors, ecosystem strings mapped to
// distributions, NAME<VERSION constraints, and verdicts per the OSV evaluation, including the
// example and the pitfalls of shared/reference/PACKAGES.md sections 9 and 10.
#include "cascade/advisory.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "support.hpp"

namespace adv = cascade::advisory;
namespace pkg = cascade::packages;
using cascade::version::Scheme;

namespace {

std::string fixture(const std::string& name) {
  return cascade::test::read_file(cascade::test::source_dir() / "tests/data/advisories" / name);
}

std::vector<adv::Advisory> parsed(const std::string& text) {
  auto result = adv::parse_osv(text);
  INFO("error: ", result ? std::string() : result.error().str());
  REQUIRE(result);
  return *result;
}

adv::Advisory one(const std::string& text) {
  auto all = parsed(text);
  REQUIRE(all.size() == 1);
  return all.front();
}

adv::Error failure(const std::string& text) {
  auto result = adv::parse_osv(text);
  REQUIRE_FALSE(result);
  return result.error();
}

// A record with the given affected[] text.
std::string record(const std::string& affected) { return R"({"id": "x_T-1", "affected": [)" + affected + "]}"; }

// One affected[] entry with the given events (of one ECOSYSTEM range).
std::string entry(const std::string& ecosystem, const std::string& name, const std::string& events,
                  const std::string& extra = "") {
  return R"({"package": {"ecosystem": ")" + ecosystem + R"(", "name": ")" + name +
         R"("}, "ranges": [{"type": "ECOSYSTEM", "events": [)" + events + "]}]" + extra + "}";
}

pkg::OsRelease os(const std::string& id, const std::string& version_id, const std::string& version = "") {
  pkg::OsRelease release;
  release.id = id;
  release.version_id = version_id;
  release.version = version;
  return release;
}

pkg::Package package(const std::string& name, const std::string& version, const std::string& source_name = "",
                     const std::string& source_version = "") {
  return {name, version, source_name.empty() ? name : source_name, source_version.empty() ? version : source_version,
          ""};
}

const pkg::OsRelease kDebian12 = os("debian", "12", "12 (bookworm)");
const pkg::OsRelease kAlpine320 = os("alpine", "3.20.3");

// The verdict of `text` (one record) for a package; "none" when there is none, else
// "vulnerable|clean <ecosystem> <compared version> fixed=<version or ->".
std::string verdict(const std::string& text, const pkg::OsRelease& release, pkg::Format format,
                    const pkg::Package& installed) {
  const auto result = adv::evaluate(one(text), release, format, installed);
  if (!result) return "none";
  return std::string(result->vulnerable ? "vulnerable " : "clean ") + result->ecosystem + " " +
         result->compared_version + " fixed=" + result->fixed.value_or("-");
}

}  // namespace

TEST_CASE("advisory::osv") {
  SUBCASE("the example advisory of PACKAGES.md section 9") {
    const adv::Advisory advisory = one(fixture("x_EXAMPLE-2026-0001.json"));
    CHECK(advisory.id == "x_EXAMPLE-2026-0001");
    CHECK(advisory.aliases == std::vector<std::string>{"CVE-2026-99999"});
    CHECK(advisory.summary == "bash: example flaw (fictional)");
    CHECK_FALSE(advisory.withdrawn);
    REQUIRE(advisory.affected.size() == 2);
    CHECK(advisory.affected[0].ecosystem == "Debian:12");
    CHECK(advisory.affected[1].ecosystem == "Alpine:v3.20");
    REQUIRE(advisory.affected[0].ranges.size() == 1);
    const adv::Range& range = advisory.affected[0].ranges[0];
    CHECK(range.type == "ECOSYSTEM");
    REQUIRE(range.events.size() == 2);
    CHECK(range.events[0].kind == adv::Event::Kind::introduced);
    CHECK(range.events[0].version == "0");
    CHECK(range.events[1].kind == adv::Event::Kind::fixed);
    CHECK(range.events[1].version == "5.2.15-2+deb12u1");
  }
  SUBCASE("a Debian security advisory record: versions[] and several releases") {
    const adv::Advisory advisory = one(fixture("DSA-3032-1.json"));
    CHECK(advisory.id == "DSA-3032-1");
    CHECK(advisory.aliases == std::vector<std::string>{"CVE-2014-6271"});
    REQUIRE(advisory.affected.size() == 2);
    CHECK(advisory.affected[0].ecosystem == "Debian:7");
    CHECK(advisory.affected[1].versions == std::vector<std::string>{"5.2.15-1", "5.2.15-2"});
  }
  SUBCASE("an array of records, and {\"vulns\": [...]}") {
    const std::string a = R"({"id": "A-1", "affected": []})";
    const std::string b = R"({"id": "B-1", "affected": [], "aliases": ["CVE-1"], "upstream": ["CVE-1", "CVE-2"]})";
    auto list = parsed("[" + a + ", " + b + "]");
    REQUIRE(list.size() == 2);
    CHECK(list[1].aliases == std::vector<std::string>{"CVE-1", "CVE-2"});
    CHECK(parsed(R"({"vulns": [)" + a + "]}").size() == 1);
    CHECK(parsed("[]").empty());
    CHECK(failure("[" + a + R"(, {"affected": []}])").str().starts_with("[1].id: missing; "));
    CHECK(failure(R"({"vulns": [{"id": "A-1"}]})").path == "vulns[0].affected");
    CHECK(failure(R"({"vulns": {}})").str() == "vulns: expected an array of OSV records, found object");
  }
  SUBCASE("unknown fields are ignored; null optional fields count as absent") {
    const adv::Advisory advisory =
        one(R"({"id": "x_T-1", "modified": "2026-01-01T00:00:00Z", "severity": [{"type": "CVSS_V3", "score": "x"}],
      "database_specific": {"a": [1, {"b": null}]}, "aliases": null, "summary": null,
      "affected": [{"package": {"ecosystem": "Wolfi", "name": "curl", "purl": "pkg:apk/wolfi/curl"},
                    "ranges": null, "versions": null, "ecosystem_specific": {"x": 1}}]})");
    CHECK(advisory.aliases.empty());
    REQUIRE(advisory.affected.size() == 1);
    CHECK(advisory.affected[0].ranges.empty());
  }
  SUBCASE("withdrawn") {
    CHECK(one(R"({"id": "x_T-1", "withdrawn": "2026-02-01T00:00:00Z", "affected": []})").withdrawn);
    CHECK(one(R"({"id": "x_T-1", "withdrawn": "2026-02-01T00:00:00Z"})").withdrawn);  // may drop affected
    CHECK(failure(R"({"id": "x_T-1", "withdrawn": true, "affected": []})").str() ==
          "withdrawn: expected a string (the RFC 3339 time of withdrawal), found boolean");
  }
  SUBCASE("limit, last_affected, several ranges, SEMVER and GIT ranges") {
    const adv::Advisory advisory =
        one(record(entry("Debian:12", "a", R"({"introduced": "0"}, {"limit": "*"}, {"limit": "2.0"})") + "," +
                   entry("Alpine:v3.20", "b", R"({"introduced": "0"}, {"last_affected": "1.2-r3"})") + "," +
                   R"({"package": {"ecosystem": "Red Hat:enterprise_linux:9::baseos", "name": "c"}, "ranges": [
             {"type": "ECOSYSTEM", "events": [{"introduced": "1:1.0-1.el9"}, {"fixed": "1:1.0-2.el9"}]},
             {"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "not a version"}]},
             {"type": "GIT", "repo": "https://example.invalid/c.git", "events": [{"introduced": "abc123"}]}]})"));
    REQUIRE(advisory.affected.size() == 3);
    CHECK(advisory.affected[0].ranges[0].events[1].kind == adv::Event::Kind::limit);
    CHECK(advisory.affected[0].ranges[0].events[1].version == "*");
    CHECK(advisory.affected[1].ranges[0].events[1].kind == adv::Event::Kind::last_affected);
    CHECK(advisory.affected[2].ranges.size() == 3);
    CHECK(advisory.affected[2].ranges[1].type == "SEMVER");
  }
  SUBCASE("invalid JSON and bounds") {
    const adv::Error error = failure(R"({"id": "x", )");
    CHECK(error.path.empty());
    CHECK(error.message.starts_with("not valid JSON at byte "));
    CHECK(error.str() == error.message);
    CHECK(failure("{\"id\": \"\xff\"}").message.find("\\xff") != std::string::npos);  // never raw bytes
    CHECK(failure("").message.starts_with("not valid JSON at byte "));
    const auto nest = [](int levels) { return std::string(levels, '[') + std::string(levels, ']'); };
    CHECK(one(R"({"id": "x_T-1", "affected": [], "x": )" + nest(63) + "}").id == "x_T-1");  // 64 levels
    CHECK(failure(R"({"id": "x_T-1", "affected": [], "x": )" + nest(64) + "}")
              .message.starts_with("arrays and objects nested deeper than 64 levels at byte "));
    CHECK(failure(nest(100000)).message.starts_with("arrays and objects nested deeper than 64"));
    CHECK(one(R"({"id": "x_T-1", "affected": [], "x": ")" + std::string(200, '[') + "\"}").id == "x_T-1");
    CHECK(failure("42").str() ==
          "expected an OSV record (an object), an array of records or {\"vulns\": [...]}, found number");
  }
  SUBCASE("every error names the JSON path and what to write") {
    struct Row {
      std::string text;
      std::string path;
      std::string message;  // the start of the message
    };
    const std::string ok = R"({"introduced": "0"}, {"fixed": "1.0-1"})";
    const std::vector<Row> rows = {
        {R"({"affected": []})", "id", "missing; give the record's identifier, e.g. \"id\": \"DSA-3032-1\""},
        {R"({"id": 7, "affected": []})", "id", "expected a string, found number"},
        {R"({"id": "", "affected": []})", "id", "empty; give the record's identifier"},
        {R"({"id": "x"})", "affected", "missing; list the affected packages: \"affected\": [{\"package\""},
        {R"({"id": "x", "affected": {}})", "affected", "expected an array of affected packages, found object"},
        {R"({"id": "x", "summary": 1, "affected": []})", "summary", "expected a string, found number"},
        {R"({"id": "x", "aliases": "CVE-1", "affected": []})", "aliases", "expected an array of strings, found string"},
        {R"({"id": "x", "upstream": ["CVE-1", 2], "affected": []})", "upstream[1]", "expected a string, found number"},
        {record(R"("bash")"), "affected[0]", "expected an object {\"package\": ..., \"ranges\": [...]}, found string"},
        {record("{}"), "affected[0].package",
         "missing; add \"package\": {\"ecosystem\": \"Debian:12\", \"name\": \"bash\"}"},
        {record(R"({"package": []})"), "affected[0].package",
         "expected an object {\"ecosystem\": ..., \"name\": ...}, found array"},
        {record(R"({"package": {"name": "bash"}})"), "affected[0].package.ecosystem",
         "missing; name the release, e.g. \"Debian:12\" or \"Alpine:v3.20\""},
        {record(R"({"package": {"ecosystem": 12, "name": "bash"}})"), "affected[0].package.ecosystem",
         "expected a string, found number"},
        {record(entry("Debain:12", "bash", ok)), "affected[0].package.ecosystem",
         "unknown ecosystem 'Debain:12' (cascade reads Debian, Ubuntu, Alpine, Wolfi, Chainguard, Red Hat, AlmaLinux, "
         "Rocky Linux)"},
        {record(entry("PyPI", "bash", ok)), "affected[0].package.ecosystem", "unknown ecosystem 'PyPI' (cascade reads"},
        {record(entry("debian:12", "bash", ok)), "affected[0].package.ecosystem",
         "unknown ecosystem 'debian:12' (cascade reads Debian, Ubuntu, Alpine, Wolfi, Chainguard, Red Hat, AlmaLinux, "
         "Rocky "
         "Linux); ecosystem names are case-sensitive: write 'Debian:12'"},
        {record(entry("Alpine:3.20", "bash", ok)), "affected[0].package.ecosystem",
         "ecosystem 'Alpine:3.20' needs the release branch with a v: write e.g. 'Alpine:v3.20'"},
        {record(entry("Alpine", "bash", ok)), "affected[0].package.ecosystem",
         "ecosystem 'Alpine' needs the release branch"},
        {record(entry("Ubuntu", "bash", ok)), "affected[0].package.ecosystem",
         "ecosystem 'Ubuntu' needs a release: write e.g. 'Ubuntu:24.04:LTS'"},
        {record(entry("Red Hat", "bash", ok)), "affected[0].package.ecosystem",
         "ecosystem 'Red Hat' needs a product stream"},
        {record(entry("Wolfi:2024", "bash", ok)), "affected[0].package.ecosystem",
         "ecosystem 'Wolfi:2024' takes no release: write 'Wolfi'"},
        {record(R"({"package": {"ecosystem": "Debian:12"}})"), "affected[0].package.name",
         "missing; give the package name"},
        {record(R"({"package": {"ecosystem": "Debian:12", "name": ""}})"), "affected[0].package.name",
         "empty; give the package name"},
        {record(R"({"package": {"ecosystem": "Debian:12", "name": "a"}, "versions": [1]})"), "affected[0].versions[0]",
         "expected a string, found number"},
        {record(R"({"package": {"ecosystem": "Debian:12", "name": "a"}, "ranges": {}})"), "affected[0].ranges",
         "expected an array of ranges, found object"},
        {record(R"({"package": {"ecosystem": "Debian:12", "name": "a"}, "ranges": [[]]})"), "affected[0].ranges[0]",
         "expected a range object"},
        {record(R"({"package": {"ecosystem": "Debian:12", "name": "a"}, "ranges": [{"events": []}]})"),
         "affected[0].ranges[0].type", "missing; write \"type\": \"ECOSYSTEM\""},
        {record(R"({"package": {"ecosystem": "Debian:12", "name": "a"}, "ranges": [{"type": "DPKG", "events": []}]})"),
         "affected[0].ranges[0].type", "unknown range type 'DPKG'; use \"ECOSYSTEM\""},
        {record(R"({"package": {"ecosystem": "Debian:12", "name": "a"}, "ranges": [{"type": "ECOSYSTEM"}]})"),
         "affected[0].ranges[0].events", "missing; add e.g. \"events\": [{\"introduced\": \"0\"}"},
        {record(
             R"({"package": {"ecosystem": "Debian:12", "name": "a"}, "ranges": [{"type": "ECOSYSTEM", "events": {}}]})"),
         "affected[0].ranges[0].events", "expected an array of events, found object"},
        {record(entry("Debian:12", "a", "")), "affected[0].ranges[0].events",
         "no 'introduced' event; add {\"introduced\": \"0\"}"},
        {record(entry("Debian:12", "a", R"({"fixed": "1.0-1"})")), "affected[0].ranges[0].events",
         "no 'introduced' event"},
        {record(entry("Debian:12", "a", R"({"introduced": "0"}, "1.0")")), "affected[0].ranges[0].events[1]",
         "expected an object such as {\"fixed\": \"1.2-3\"}, found string"},
        {record(entry("Debian:12", "a", R"({"introduced": "0"}, {})")), "affected[0].ranges[0].events[1]",
         "empty event; an event has exactly one of {\"introduced\": V}, {\"fixed\": V}, {\"last_affected\": V} or "
         "{\"limit\": V}"},
        {record(entry("Debian:12", "a", R"({"introduced": "0", "fixed": "1.0-1"})")), "affected[0].ranges[0].events[0]",
         "keys fixed, introduced in one event; an event has exactly one of"},
        {record(entry("Debian:12", "a", R"({"introduced": "0"}, {"fixes": "1.0-1"})")),
         "affected[0].ranges[0].events[1]", "unknown key 'fixes'; an event has exactly one of"},
        {record(entry("Debian:12", "a", R"({"introduced": "0"}, {"fixed": 1})")),
         "affected[0].ranges[0].events[1].fixed", "expected a version string, found number"},
        {record(entry("Debian:12", "a", R"({"introduced": ""})")), "affected[0].ranges[0].events[0].introduced",
         "empty version"},
        {record(entry("Debian:12", "a", R"({"introduced": "0"}, {"fixed": "1.0-1"}, {"last_affected": "1.0-2"})")),
         "affected[0].ranges[0].events[2]", "'fixed' and 'last_affected' in one range; keep one of them"},
        {record(entry("Debian:12", "a", R"({"introduced": "0"}, {"fixed": "5.2 15"})")),
         "affected[0].ranges[0].events[1].fixed",
         "'5.2 15' is not a valid dpkg version (embedded space at 3); write it as the package manager shows it"},
        {record(entry("Alpine:v3.20", "a", R"({"introduced": "0"}, {"limit": "1.0-x"})")),
         "affected[0].ranges[0].events[1].limit", "'1.0-x' is not a valid apk version ("},
        {record(entry("AlmaLinux:9", "a", R"({"introduced": "x:1.0"})")), "affected[0].ranges[0].events[0].introduced",
         "'x:1.0' is not a valid rpm version (epoch is not a number)"},
        {record(entry("Debian:12", "a", ok) + "," + entry("Debian:12", "b", R"({"introduced": "0"}, {"fixed": "v1"})")),
         "affected[1].ranges[0].events[1].fixed", "'v1' is not a valid dpkg version"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.text);
      const adv::Error error = failure(row.text);
      CHECK(error.path == row.path);
      CHECK(error.message.starts_with(row.message));
      CHECK(error.str() == row.path + ": " + error.message);
    }
    // "0" and "*" are valid in every ordering, and ECOSYSTEM versions in their own one.
    CHECK(one(record(entry("Alpine:v3.20", "a", R"({"introduced": "0"}, {"limit": "*"})"))).id == "x_T-1");
    CHECK(one(record(entry("AlmaLinux:9", "a", R"({"introduced": "0"}, {"fixed": "1:11.0.16.0.8-1.el9_0"})"))).id ==
          "x_T-1");
  }
}

TEST_CASE("advisory::ecosystem") {
  SUBCASE("the version ordering of each ecosystem") {
    CHECK(adv::scheme_of_ecosystem("Debian:12") == Scheme::dpkg);
    CHECK(adv::scheme_of_ecosystem("Debian:sid") == Scheme::dpkg);
    CHECK(adv::scheme_of_ecosystem("Debian") == Scheme::dpkg);
    CHECK(adv::scheme_of_ecosystem("Ubuntu:24.04:LTS") == Scheme::dpkg);
    CHECK(adv::scheme_of_ecosystem("Ubuntu:Pro:FIPS:22.04:LTS") == Scheme::dpkg);
    CHECK(adv::scheme_of_ecosystem("Alpine:v3.20") == Scheme::apk);
    CHECK(adv::scheme_of_ecosystem("Wolfi") == Scheme::apk);
    CHECK(adv::scheme_of_ecosystem("Chainguard") == Scheme::apk);
    CHECK(adv::scheme_of_ecosystem("Red Hat:enterprise_linux:9::baseos") == Scheme::rpm);
    CHECK(adv::scheme_of_ecosystem("AlmaLinux:9") == Scheme::rpm);
    CHECK(adv::scheme_of_ecosystem("Rocky Linux:9") == Scheme::rpm);
    for (const char* unknown :
         {"", "PyPI", "Alpine", "Alpine:3.20", "Alpine:v", "Ubuntu", "Ubuntu:", "Debian:", "Wolfi:1", "Red Hat",
          "debian:12", "Fedora:42", "Amazon Linux:2023", "SUSE:Linux Enterprise Server 15"}) {
      CAPTURE(unknown);
      CHECK_FALSE(adv::scheme_of_ecosystem(unknown).has_value());
    }
  }
  SUBCASE("which ecosystems name which systems") {
    struct Row {
      std::string ecosystem;
      pkg::OsRelease release;
      bool matches;
    };
    const std::vector<Row> rows = {
        {"Debian:12", kDebian12, true},
        {"Debian:11", kDebian12, false},
        {"Debian", kDebian12, true},  // the schema: no release means every release
        {"Debian:sid", os("debian", ""), false},
        {"Debian", os("debian", ""), false},  // testing/sid: unsupported, not clean
        {"Debian:12", os("ubuntu", "24.04"), false},
        {"Ubuntu:24.04", os("ubuntu", "24.04", "24.04.3 LTS (Noble Numbat)"), true},
        {"Ubuntu:24.04:LTS", os("ubuntu", "24.04"), true},
        {"Ubuntu:Pro:24.04:LTS", os("ubuntu", "24.04"), true},
        {"Ubuntu:Pro:24.04", os("ubuntu", "24.04"), true},
        {"Ubuntu:22.04:LTS", os("ubuntu", "24.04"), false},
        {"Ubuntu:Pro:FIPS:24.04:LTS", os("ubuntu", "24.04"), false},
        {"Alpine:v3.20", kAlpine320, true},
        {"Alpine:v3.20", os("alpine", "3.20"), true},
        {"Alpine:v3.2", kAlpine320, false},
        {"Alpine:v3.20", os("alpine", ""), false},
        {"AlmaLinux:9", os("almalinux", "9.4"), true},
        {"AlmaLinux:8", os("almalinux", "9.4"), false},
        {"AlmaLinux", os("almalinux", "9.4"), true},
        {"AlmaLinux:9", os("rocky", "9.4"), false},
        {"Rocky Linux:9", os("rocky", "9.3"), true},
        {"Red Hat:enterprise_linux:9::baseos", os("rhel", "9.4"), true},
        {"Red Hat:enterprise_linux:9::appstream", os("rhel", "9.4"), true},
        {"Red Hat:enterprise_linux:9", os("rhel", "9.4"), true},
        {"Red Hat:enterprise_linux:8::appstream", os("rhel", "9.4"), false},
        {"Red Hat:enterprise_linux:90::baseos", os("rhel", "9.4"), false},
        {"Red Hat:rhel_eus:9.4::baseos", os("rhel", "9.4"), false},
        {"Wolfi", os("wolfi", "20230201"), true},
        {"Chainguard", os("chainguard", ""), true},
        {"Wolfi", os("chainguard", ""), false},
        {"Chainguard", os("wolfi", "20230201"), false},
        {"PyPI", kDebian12, false},
    };
    for (const Row& row : rows) {
      CAPTURE(row.ecosystem);
      INFO(row.release.id, " ", row.release.version_id);
      CHECK(adv::ecosystem_matches(row.ecosystem, row.release) == row.matches);
    }
  }
  SUBCASE("the ecosystem of a system, which it matches") {
    const std::vector<std::pair<pkg::OsRelease, std::string>> rows = {
        {kDebian12, "Debian:12"},
        {os("debian", ""), ""},
        {os("ubuntu", "24.04", "24.04.3 LTS (Noble Numbat)"), "Ubuntu:24.04:LTS"},
        {os("ubuntu", "24.10", "24.10 (Oracular Oriole)"), "Ubuntu:24.10"},
        {os("alpine", "3.15.4"), "Alpine:v3.15"},
        {os("alpine", "3.21.0_alpha20240807"), "Alpine:v3.21"},
        {os("alpine", "edge"), ""},
        {os("rhel", "9.4"), "Red Hat:enterprise_linux:9"},
        {os("almalinux", "9.4"), "AlmaLinux:9"},
        {os("rocky", "9.3"), "Rocky Linux:9"},
        {os("wolfi", "20230201"), "Wolfi"},
        {os("chainguard", ""), "Chainguard"},
        {os("fedora", "42"), ""},
        {os("linux", ""), ""}};
    for (const auto& [release, expected] : rows) {
      INFO(release.id, " ", release.version_id);
      CHECK(adv::ecosystem_of(release) == expected);
      if (!expected.empty()) CHECK(adv::ecosystem_matches(expected, release));
    }
  }
}

TEST_CASE("advisory::constraint") {
  SUBCASE("valid constraints and their written form") {
    const std::vector<std::pair<std::string, std::string>> rows = {
        {"bash", "bash"},
        {"  bash\t", "bash"},
        {"bash<5.2.15-2+deb12u1", "bash<5.2.15-2+deb12u1"},
        {"bash <= 5.2", "bash<=5.2"},
        {"openssl >= 3.0.2", "openssl>=3.0.2"},
        {"a=1:2.3-4", "a=1:2.3-4"},
        {"libstdc++6>12", "libstdc++6>12"},
        {"python3.11_x-y < 3.11.2-6+deb12u1", "python3.11_x-y<3.11.2-6+deb12u1"},
        {"NetworkManager<1:1.46.0-1.el9", "NetworkManager<1:1.46.0-1.el9"}};
    for (const auto& [text, written] : rows) {
      CAPTURE(text);
      auto constraint = adv::parse_constraint(text);
      REQUIRE(constraint);
      CHECK(adv::to_string(*constraint) == written);
      auto again = adv::parse_constraint(adv::to_string(*constraint));
      REQUIRE(again);
      CHECK(again->name == constraint->name);
      CHECK(again->op == constraint->op);
      CHECK(again->version == constraint->version);
    }
    // A version starting with an operator character would print as another operator
    // ("o= >" as "o=>"): refused (fuzz/crashes/advisory_constraint).
    for (const char* text : {"o= >", "ossl >= >", "bash< =1", "bash= !1", "bash > <2"}) {
      CAPTURE(text);
      auto refused = adv::parse_constraint(text);
      REQUIRE_FALSE(refused);
      CHECK(refused.error().find("starts with an operator character") != std::string::npos);
    }
    auto le = adv::parse_constraint("bash <= 5.2");
    REQUIRE(le);
    CHECK(le->name == "bash");
    CHECK(le->op == adv::Constraint::Op::le);
    CHECK(le->version == "5.2");
    CHECK((adv::parse_constraint("bash")->op == adv::Constraint::Op::any &&
           adv::parse_constraint("bash")->version.empty()));
  }
  SUBCASE("bad constraints say what to write") {
    const std::string ops = "use NAME<VERSION, NAME<=VERSION, NAME=VERSION, NAME>=VERSION or NAME>VERSION";
    const std::vector<std::pair<std::string, std::string>> rows = {
        {"", "empty constraint; write a package name (bash) or NAME<VERSION (bash<5.2.15-2+deb12u1)"},
        {"   ", "empty constraint; write a package name"},
        {"<5.2", "missing package name before '<'; write e.g. bash<5.2.15-2+deb12u1"},
        {"-bash", "'-' cannot start a package name: names start with a letter or a digit"},
        {"bash==5.2", "'==' is not an operator: write NAME=VERSION for one exact version"},
        {"bash!=5.2", "'!=' (not equal) is not supported; " + ops},
        {"bash<>5.2", "'<>' (not equal) is not supported; " + ops},
        {"bash=<5.2", "'=<' is not an operator: write '<=' (NAME<=VERSION)"},
        {"bash=>5.2", "'=>' is not an operator: write '>=' (NAME>=VERSION)"},
        {"bash<<5.2", "'<<' is dpkg's strictly-older: write '<' (NAME<VERSION)"},
        {"bash>>5.2", "'>>' is dpkg's strictly-newer: write '>' (NAME>VERSION)"},
        {"bash~=5.2", "unknown operator '~='; " + ops},
        {"bash<", "missing version after '<'; write e.g. bash<1.2.3-1"},
        {"bash <=  ", "missing version after '<='; write e.g. bash<=1.2.3-1"},
        {"bash 5.2", "missing operator between 'bash' and '5.2'; " + ops},
        {"bash@5.2",
         "character '@' after 'bash' is not allowed in a package name (letters, digits and + . _ - only); " + ops},
        {"libc6:amd64<2.36", "drop the architecture ':amd64' from 'libc6': a constraint names the package alone"},
        {"bash<5.2 extra", "unexpected text after the version in 'bash<5.2 extra': a version has no spaces"},
        {"bash<5.2\x01", "control character in the version '5.2?'"},
    };
    for (const auto& [text, message] : rows) {
      CAPTURE(text);
      auto constraint = adv::parse_constraint(text);
      REQUIRE_FALSE(constraint);
      CHECK(constraint.error().starts_with(message));
    }
  }
  SUBCASE("satisfies, in each ordering") {
    const auto check = [](const std::string& text, Scheme scheme, const std::string& installed) {
      auto constraint = adv::parse_constraint(text);
      REQUIRE(constraint);
      return adv::satisfies(*constraint, scheme, installed);
    };
    CHECK(check("bash", Scheme::dpkg, "anything"));
    CHECK(check("bash<5.2.15-2+deb12u1", Scheme::dpkg, "5.2.15-2"));
    CHECK(check("bash<5.2.15-2+deb12u1", Scheme::dpkg, "5.2.15-2+b8"));
    CHECK_FALSE(check("bash<5.2.15-2+deb12u1", Scheme::dpkg, "5.2.15-2+deb12u1"));
    CHECK(check("bash<=5.2.15-2+deb12u1", Scheme::dpkg, "5.2.15-2+deb12u1"));
    CHECK(check("bash=1.0-1", Scheme::dpkg, "0:1.0-1"));
    CHECK_FALSE(check("bash=1.0-1", Scheme::dpkg, "1.0-1+b1"));
    CHECK(check("bsdutils>=2.38.1-5+deb12u4", Scheme::dpkg, "1:2.38.1-5+deb12u3"));  // the epoch wins
    CHECK(check("x<1.0~rc1", Scheme::dpkg, "1.0~beta1"));
    CHECK_FALSE(check("x>1.0", Scheme::dpkg, "1.0~rc1"));
    CHECK(check("bash<5.2.26-r1", Scheme::apk, "5.2.26-r0"));
    CHECK(check("x<1.0", Scheme::apk, "1.0_rc1"));
    CHECK(check("x>1.0-1", Scheme::rpm, "1:0.5-1"));
    CHECK(check("x>1.0", Scheme::rpm, "1.0.rc1"));
  }
}

TEST_CASE("advisory::evaluate") {
  const pkg::Format dpkg = pkg::Format::dpkg;
  const pkg::Format apk = pkg::Format::apk;
  const pkg::Format rpm = pkg::Format::rpm;
  SUBCASE("the example of PACKAGES.md section 9") {
    const std::string example = fixture("x_EXAMPLE-2026-0001.json");
    CHECK(verdict(example, kDebian12, dpkg, package("bash", "5.2.15-2+b8", "bash", "5.2.15-2")) ==
          "vulnerable Debian:12 5.2.15-2 fixed=5.2.15-2+deb12u1");
    CHECK(verdict(example, kDebian12, dpkg, package("bash", "5.2.15-2+deb12u1")) ==
          "clean Debian:12 5.2.15-2+deb12u1 fixed=-");
    CHECK(verdict(example, kAlpine320, apk, package("bash", "5.2.26-r0", "bash")) ==
          "vulnerable Alpine:v3.20 5.2.26-r0 fixed=5.2.26-r1");
    CHECK(verdict(example, kAlpine320, apk, package("bash", "5.2.26-r1", "bash")) ==
          "clean Alpine:v3.20 5.2.26-r1 fixed=-");
    CHECK(verdict(example, os("alpine", "3.19.1"), apk, package("bash", "5.2.21-r0")) == "none");
    CHECK(verdict(example, os("debian", "11"), dpkg, package("bash", "5.1-2")) == "none");
    CHECK(verdict(example, os("debian", ""), dpkg, package("bash", "5.2.37-1")) == "none");  // sid: unsupported
    CHECK(verdict(example, kDebian12, dpkg, package("zsh", "5.9-4")) == "none");
    CHECK(verdict(example, kDebian12, apk, package("bash", "5.2.15-2")) == "none");  // an apk database on Debian
    pkg::OsRelease distroless = kDebian12;
    distroless.pretty_name = "Distroless";
    CHECK(verdict(example, distroless, dpkg, package("bash", "5.2.15-2")) ==
          "vulnerable Debian:12 5.2.15-2 fixed=5.2.15-2+deb12u1");
  }
  SUBCASE("the DSA-shaped record: versions[] and releases") {
    const std::string dsa = fixture("DSA-3032-1.json");
    CHECK(verdict(dsa, os("debian", "7"), dpkg, package("bash", "4.2+dfsg-0.1")) ==
          "vulnerable Debian:7 4.2+dfsg-0.1 fixed=4.2+dfsg-0.1+deb7u1");
    CHECK(verdict(dsa, os("debian", "7"), dpkg, package("bash", "4.2+dfsg-0.1+deb7u3")) ==
          "clean Debian:7 4.2+dfsg-0.1+deb7u3 fixed=-");
    CHECK(verdict(dsa, kDebian12, dpkg, package("bash", "5.2.15-2+b2", "bash", "5.2.15-2")) ==
          "vulnerable Debian:12 5.2.15-2 fixed=5.2.15-2+deb12u1");
  }
  SUBCASE("pitfall: a binNMU (+bN) is compared by its source version") {
    // An advisory listing the affected source versions; the binNMU binary version is not among them.
    const std::string listed =
        record(R"({"package": {"ecosystem": "Debian:12", "name": "bash"}, "versions": ["5.2.15-2"]})");
    CHECK(verdict(listed, kDebian12, dpkg, package("bash", "5.2.15-2+b8", "bash", "5.2.15-2")) ==
          "vulnerable Debian:12 5.2.15-2 fixed=-");
    const std::string last =
        record(entry("Debian:12", "bash", R"({"introduced": "0"}, {"last_affected": "5.2.15-2"})"));
    CHECK(verdict(last, kDebian12, dpkg, package("bash", "5.2.15-2+b8", "bash", "5.2.15-2")) ==
          "vulnerable Debian:12 5.2.15-2 fixed=-");
  }
  SUBCASE("pitfall: an epoch only on the binary (bsdutils from util-linux)") {
    const std::string text =
        record(entry("Debian:12", "util-linux", R"({"introduced": "0"}, {"fixed": "2.38.1-5+deb12u4"})"));
    const pkg::Package bsdutils = package("bsdutils", "1:2.38.1-5+deb12u3", "util-linux", "2.38.1-5+deb12u3");
    CHECK(verdict(text, kDebian12, dpkg, bsdutils) == "vulnerable Debian:12 2.38.1-5+deb12u3 fixed=2.38.1-5+deb12u4");
    const pkg::Package fixed = package("bsdutils", "1:2.38.1-5+deb12u4", "util-linux", "2.38.1-5+deb12u4");
    CHECK(verdict(text, kDebian12, dpkg, fixed) == "clean Debian:12 2.38.1-5+deb12u4 fixed=-");
  }
  SUBCASE("pitfall: libc6 is found through its source glibc") {
    const std::string text = record(entry("Debian:12", "glibc", R"({"introduced": "0"}, {"fixed": "2.36-9+deb12u8"})"));
    CHECK(verdict(text, kDebian12, dpkg, package("libc6", "2.36-9+deb12u7", "glibc")) ==
          "vulnerable Debian:12 2.36-9+deb12u7 fixed=2.36-9+deb12u8");
    CHECK(verdict(text, kDebian12, dpkg, package("libc6", "2.36-9+deb12u7")) == "none");  // without its source
  }
  SUBCASE("pitfall: apk P (libcrypto3) vs o (openssl)") {
    const std::string text = record(entry("Alpine:v3.20", "openssl", R"({"introduced": "0"}, {"fixed": "3.3.2-r1"})"));
    CHECK(verdict(text, kAlpine320, apk, package("libcrypto3", "3.3.2-r0", "openssl")) ==
          "vulnerable Alpine:v3.20 3.3.2-r0 fixed=3.3.2-r1");
    const std::string by_binary =
        record(entry("Alpine:v3.20", "libcrypto3", R"({"introduced": "0"}, {"fixed": "3.3.2-r1"})"));
    CHECK(verdict(by_binary, kAlpine320, apk, package("libcrypto3", "3.3.2-r0", "openssl")) ==
          "vulnerable Alpine:v3.20 3.3.2-r0 fixed=3.3.2-r1");  // falls back to P
  }
  SUBCASE("rpm: binary names first, then the source RPM's") {
    const std::string alsa = record(
        entry("AlmaLinux:9", "java-11-openjdk-headless", R"({"introduced": "0"}, {"fixed": "1:11.0.16.0.8-1.el9_0"})"));
    const pkg::OsRelease alma = os("almalinux", "9.0");
    CHECK(verdict(
              alsa, alma, rpm,
              package("java-11-openjdk-headless", "1:11.0.15.0.10-2.el9", "java-11-openjdk", "1:11.0.15.0.10-2.el9")) ==
          "vulnerable AlmaLinux:9 1:11.0.15.0.10-2.el9 fixed=1:11.0.16.0.8-1.el9_0");
    CHECK(verdict(alsa, alma, rpm, package("java-11-openjdk-headless", "1:11.0.16.0.8-1.el9_0")) ==
          "clean AlmaLinux:9 1:11.0.16.0.8-1.el9_0 fixed=-");
    const std::string rhsa = record(
        entry("Red Hat:enterprise_linux:9::baseos", "openssl", R"({"introduced": "0"}, {"fixed": "1:3.0.7-27.el9"})"));
    CHECK(
        verdict(rhsa, os("rhel", "9.4"), rpm, package("openssl-libs", "1:3.0.7-25.el9", "openssl", "1:3.0.7-25.el9")) ==
        "vulnerable Red Hat:enterprise_linux:9::baseos 1:3.0.7-25.el9 fixed=1:3.0.7-27.el9");
    CHECK(verdict(rhsa, os("rocky", "9.4"), rpm, package("openssl", "1:3.0.7-25.el9")) == "none");
  }
  SUBCASE("withdrawn records never match") {
    const std::string text = R"({"id": "x_T-1", "withdrawn": "2026-02-01T00:00:00Z", "affected": [)" +
                             entry("Debian:12", "bash", R"({"introduced": "0"})") + "]}";
    CHECK(verdict(text, kDebian12, dpkg, package("bash", "5.2.15-2")) == "none");
  }
  SUBCASE("limit events") {
    const std::string limited = record(entry("Debian:12", "a", R"({"introduced": "0"}, {"limit": "2.0-1"})"));
    CHECK(verdict(limited, kDebian12, dpkg, package("a", "1.5-1")) == "vulnerable Debian:12 1.5-1 fixed=-");
    CHECK(verdict(limited, kDebian12, dpkg, package("a", "2.0-1")) == "clean Debian:12 2.0-1 fixed=-");
    const std::string star =
        record(entry("Debian:12", "a", R"({"introduced": "1.0-1"}, {"limit": "2.0-1"}, {"limit": "*"})"));
    CHECK(verdict(star, kDebian12, dpkg, package("a", "3.0-1")) == "vulnerable Debian:12 3.0-1 fixed=-");
    CHECK(verdict(star, kDebian12, dpkg, package("a", "0.9-1")) == "clean Debian:12 0.9-1 fixed=-");
  }
  SUBCASE("last_affected") {
    const std::string text =
        record(entry("Alpine:v3.20", "a", R"({"introduced": "1.2-r0"}, {"last_affected": "1.2-r3"})"));
    CHECK(verdict(text, kAlpine320, apk, package("a", "1.2-r3")) == "vulnerable Alpine:v3.20 1.2-r3 fixed=-");
    CHECK(verdict(text, kAlpine320, apk, package("a", "1.2-r4")) == "clean Alpine:v3.20 1.2-r4 fixed=-");
    CHECK(verdict(text, kAlpine320, apk, package("a", "1.1-r9")) == "clean Alpine:v3.20 1.1-r9 fixed=-");
  }
  SUBCASE("introduced 0 alone: every version; versions[] alone: those versions") {
    const std::string all = record(entry("Wolfi", "curl", R"({"introduced": "0"})"));
    CHECK(verdict(all, os("wolfi", "20230201"), apk, package("curl", "8.11.1-r0")) ==
          "vulnerable Wolfi 8.11.1-r0 fixed=-");
    const std::string listed =
        record(R"({"package": {"ecosystem": "Debian:12", "name": "a"}, "versions": ["1.0-1", "1.0-2"]})");
    CHECK(verdict(listed, kDebian12, dpkg, package("a", "1.0-2")) == "vulnerable Debian:12 1.0-2 fixed=-");
    CHECK(verdict(listed, kDebian12, dpkg, package("a", "0:1.0-2")) ==
          "vulnerable Debian:12 0:1.0-2 fixed=-");  // by ordering
    CHECK(verdict(listed, kDebian12, dpkg, package("a", "1.0-3")) == "clean Debian:12 1.0-3 fixed=-");
  }
  SUBCASE("several ranges and unsorted events; the lowest fix above the version") {
    const std::string text = record(entry(
        "Debian:12", "a", R"({"fixed": "2.3-1"}, {"introduced": "2.0-1"}, {"introduced": "1.0-1"}, {"fixed": "1.5-1"})",
        R"(, "versions": [])"));
    CHECK(verdict(text, kDebian12, dpkg, package("a", "0.9-1")) == "clean Debian:12 0.9-1 fixed=-");
    CHECK(verdict(text, kDebian12, dpkg, package("a", "1.2-1")) == "vulnerable Debian:12 1.2-1 fixed=1.5-1");
    CHECK(verdict(text, kDebian12, dpkg, package("a", "1.7-1")) == "clean Debian:12 1.7-1 fixed=-");
    CHECK(verdict(text, kDebian12, dpkg, package("a", "2.1-1")) == "vulnerable Debian:12 2.1-1 fixed=2.3-1");
    CHECK(verdict(text, kDebian12, dpkg, package("a", "2.3-1")) == "clean Debian:12 2.3-1 fixed=-");
    const std::string two =
        R"({"id": "x_T-1", "affected": [{"package": {"ecosystem": "Debian:12", "name": "a"}, "ranges": [
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0-1"}]},
        {"type": "ECOSYSTEM", "events": [{"introduced": "1.0-1"}, {"fixed": "2.0-1"}]},
        {"type": "SEMVER", "events": [{"introduced": "0"}]}]}]})";
    CHECK(verdict(two, kDebian12, dpkg, package("a", "1.5-1")) == "vulnerable Debian:12 1.5-1 fixed=2.0-1");
    CHECK(verdict(two, kDebian12, dpkg, package("a", "2.5-1")) == "vulnerable Debian:12 2.5-1 fixed=3.0-1");
    CHECK(verdict(two, kDebian12, dpkg, package("a", "3.0-1")) ==
          "clean Debian:12 3.0-1 fixed=-");  // SEMVER is not evaluated
  }
  SUBCASE("Ubuntu: the base and the Pro ecosystem; the fix channel is reported") {
    const std::string text =
        record(entry("Ubuntu:18.04:LTS", "a", R"({"introduced": "0"})") + "," +
               entry("Ubuntu:Pro:18.04:LTS", "a", R"({"introduced": "0"}, {"fixed": "1.0-1ubuntu0.1+esm1"})") + "," +
               entry("Ubuntu:24.04:LTS", "a", R"({"introduced": "0"}, {"fixed": "1.2-1"})"));
    CHECK(verdict(text, os("ubuntu", "18.04", "18.04.6 LTS (Bionic Beaver)"), dpkg, package("a-bin", "1.0-1", "a")) ==
          "vulnerable Ubuntu:Pro:18.04:LTS 1.0-1 fixed=1.0-1ubuntu0.1+esm1");
    CHECK(verdict(text, os("ubuntu", "24.04"), dpkg, package("a", "1.2-1")) == "clean Ubuntu:24.04:LTS 1.2-1 fixed=-");
  }
  SUBCASE("an entry naming the package without ranges or versions: named, not affected") {
    const std::string text = record(R"({"package": {"ecosystem": "Debian:12", "name": "a"}})");
    CHECK(verdict(text, kDebian12, dpkg, package("a", "1.0-1")) == "clean Debian:12 1.0-1 fixed=-");
  }
}
