// Version ordering per scheme: every row of PACKAGES.md sections 4, 6 and 8, the published
// vectors of each tool (dpkg scripts/t/Dpkg_Version.t and lib/dpkg/t/t-version.c, apk-tools
// test/unit/version.data, rpm tests/rpmvercmp.at with its commented oddities) and of
// knqyf263/go-deb-version and go-rpm-version, each checked both ways round (antisymmetry) and
// against itself; then invalid_reason on good and bad input. Tables are whitespace-separated
// rows `a op b` with op one of < = >; apk is apk-tools 3.x (version.data from master).
#include "cascade/version.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace v = cascade::version;
using v::Scheme;

namespace {

int sign(int value) { return (value > 0) - (value < 0); }

// Checks every row of `table` (a op b) both ways round and each side against itself;
// returns how many rows it checked.
std::size_t check_table(Scheme scheme, std::string_view table) {
  std::vector<std::string> words;
  std::size_t position = 0;
  while (position < table.size()) {
    const std::size_t start = table.find_first_not_of(" \n", position);
    if (start == std::string_view::npos) break;
    const std::size_t end = std::min(table.find_first_of(" \n", start), table.size());
    words.emplace_back(table.substr(start, end - start));
    position = end;
  }
  REQUIRE(words.size() % 3 == 0);
  for (std::size_t row = 0; row < words.size(); row += 3) {
    const std::string& a = words[row];
    const std::string& op = words[row + 1];
    const std::string& b = words[row + 2];
    INFO(v::to_string(scheme), ": ", a, " ", op, " ", b);
    REQUIRE((op == "<" || op == "=" || op == ">"));
    const int expected = op == "<" ? -1 : op == ">" ? 1 : 0;
    CHECK(sign(v::compare(scheme, a, b)) == expected);
    CHECK(sign(v::compare(scheme, b, a)) == -expected);
    CHECK(v::compare(scheme, a, a) == 0);
    CHECK(v::compare(scheme, b, b) == 0);
  }
  return words.size() / 3;
}

// Every version of `ascending` is older than every later one.
void check_ascending(Scheme scheme, const std::vector<std::string_view>& ascending) {
  for (std::size_t i = 0; i < ascending.size(); ++i) {
    for (std::size_t j = i + 1; j < ascending.size(); ++j) {
      INFO(v::to_string(scheme), ": ", ascending[i], " < ", ascending[j]);
      CHECK(v::compare(scheme, ascending[i], ascending[j]) < 0);
      CHECK(v::compare(scheme, ascending[j], ascending[i]) > 0);
    }
  }
}

void check_valid(Scheme scheme, const std::vector<std::string_view>& versions) {
  for (const std::string_view version : versions) {
    INFO(v::to_string(scheme), ": '", version, "'");
    CHECK(v::invalid_reason(scheme, version) == std::nullopt);
  }
}

void check_invalid(Scheme scheme, const std::vector<std::string_view>& versions) {
  for (const std::string_view version : versions) {
    INFO(v::to_string(scheme), ": '", version, "'");
    CHECK(v::invalid_reason(scheme, version).has_value());
  }
}

// The reason given for `version`, or "valid".
std::string reason(Scheme scheme, std::string_view version) {
  return v::invalid_reason(scheme, version).value_or("valid");
}

// PACKAGES.md section 4 (checked there with dpkg --compare-versions 1.21.22).
constexpr std::string_view kDpkgReference = R"(
1.0 = 1.0-0   1.0-1 > 1.0   1.0~rc1 < 1.0   1.0~rc1-1 < 1.0-1   1.0~~ < 1.0~   1.0 < 1.0a   1.0a < 1.0+
1.0+ < 1.0.   1.0.1 > 1.0a   1.0A < 1.0a   1.9 < 1.10   1.09 = 1.9   10.0.0 > 9.99999999999999999999999
1:1.0 > 2.0   0:1.0 = 1.0   2:1.0 < 10:0.1   5.2.15-2 < 5.2.15-2+b8   5.2.15-2+b8 < 5.2.15-2+deb12u1
2.36-9+deb12u14 > 2.36-9+deb12u9   1.6.20~ds1-1+deb12u3 < 1.6.20-1   2.4.71-1~deb12u1 < 2.4.71-1
1.0-1~bpo12+1 < 1.0-1   1:1.35.0-4+deb12u1+b1 > 1:1.35.0-4+deb12u1   1:2.38.1-5+deb12u3 > 2.38.1-5+deb12u4
1.2-3-4 > 1.2-3.4   1.2.3-1ubuntu0.1 > 1.2.3-1build1
1.1.1-1ubuntu2.1~18.04.23+esm9 > 1.1.1-1ubuntu2.1~18.04.23   3.0.2-0ubuntu1.15 > 3.0.2-0ubuntu1.5
)";

// dpkg scripts/t/Dpkg_Version.t __DATA__, all 43 lines (`a b -1|0|1` written `a op b`).
constexpr std::string_view kDpkgUpstream = R"(
1.0-1 < 2.0-2   2.2~rc-4 < 2.2-1   2.2-1 > 2.2~rc-4   1.0000-1 = 1.0-1   1 = 0:1   0 = 0:0-0   2:2.5 > 1:7.5
1:0foo > 0foo   0:0foo = 0foo   0foo = 0foo   0foo-0 = 0foo   0foo = 0foo-0   0foo > 0fo   0foo-0 < 0foo+
0foo~1 < 0foo   0foo~foo+Bar < 0foo~foo+bar   0foo~~ < 0foo~   1~ < 1
12345+that-really-is-some-ver-0 < 12345+that-really-is-some-ver-10   0foo-0 < 0foo-01   0foo.bar > 0foobar
0foo.bar > 0foo1bar   0foo.bar > 0foo0bar   0foo1bar-1 < 0foobar-1   0foo2.0 > 0foo2
0foo2.0.0 < 0foo2.10.0   0foo2.0 < 0foo2.0.0   0foo2.0 < 0foo2.10   0foo2.1 < 0foo2.10   1.09 = 1.9
1.0.8+nmu1 > 1.0.8   3.11 > 3.10+nmu1   0.9j-20080306-4 > 0.9i-20070324-2   1.2.0~b7-1 > 1.2.0~b6-1
1.011-1 > 1.06-2   0.0.9+dfsg1-1 > 0.0.8+dfsg1-3   4.6.99+svn6582-1 > 4.6.99+svn6496-1   53 > 52
0.9.9~pre122-1 > 0.9.9~pre111-1   2:2.3.2-2+lenny2 > 2:2.3.2-2   1:3.8.1-1 > 3.8.GA-1
1.0.1+gpl-1 > 1.0.1-2   1a < 1000a
)";

// dpkg lib/dpkg/t/t-version.c: its comparisons written as version strings, then versions that
// its parse cases split as epoch, upstream (up to the last '-') and revision.
constexpr std::string_view kDpkgLibrary = R"(
0-0 = 0-0   0-00 = 00-0   1:2-3 = 1:2-3   0-0 < 1:0-0   a-0 < b-0   0-a < 0-b   1-1 < 2-1
1-1 < 1-2   0 = 0:0   0:0-0 = 0-0   0:0.0-0.0 = 0.0-0.0   1:0 > 0   5:1 > 4:9   0:0-0-0 > 0:0-0
0:0-0-0-0 > 0:0-0-0   0:0:0-0 > 0:0-0   0:0-0:0-0 > 0:0-0-0   0:09azAZ.-+~:-0 > 0:09azAZ.-+~-0
)";

// knqyf263/go-deb-version version_test.go: TestVersion (v1 < v2 true or false; none equal).
constexpr std::string_view kDpkgGoDebVersion = R"(
7.4.629-3 < 7.4.629-5   7.4.622-1 < 7.4.629-1   6.0-4.el6.x86_64 < 6.0-5.el6.x86_64
6.0-4.el6.x86_64 < 6.1-3.el6.x86_64   7.0-4.el6.x86_64 > 6.1-3.el6.x86_64
2:7.4.052-1ubuntu3 < 2:7.4.052-1ubuntu3.1   2:7.4.052-1ubuntu2 < 2:7.4.052-1ubuntu3
2:7.4.052-1 < 2:7.4.052-1ubuntu3   2:7.4.052 < 2:7.4.052-1   1:7.4.052 < 2:7.4.052
1:7.4.052 > 7.4.052   2:7.4.052-1ubuntu3.2 > 2:7.4.052-1ubuntu3.1
)";

// Digit runs of any length (never parsed into a fixed-width integer); epochs above INT_MAX,
// which dpkg refuses, still order by value.
constexpr std::string_view kDpkgLongNumbers = R"(
1.100000000000000000000000000000 > 1.99999999999999999999999999999
1.00000000000000000000000000001 = 1.1   1.0-100000000000000000000000 > 1.0-99999999999999999999999
99999999999999999999:1.0 > 9999999999999999999:2.0   0000000000000000000001:1.0 = 1:1.0
)";

// Versions dpkg refuses (an error, not a warning) still order by the same split: an empty
// revision is revision "", an empty upstream is "", a malformed epoch counts as 0. The first
// two rows were in Dpkg_Version.t before dpkg made them errors. The last, an epoch with a
// '+', dpkg's strtol accepts (invalid_reason does not, as Dpkg::Version does not).
constexpr std::string_view kDpkgMalformed = R"(
0foo- = 0foo   -0.6.5 < 0.9.1   1.0- = 1.0-0   a:1.0 = 1.0   :1.0 = 0:1.0   0:- = 0   +5:1 > 4:9
)";

}  // namespace

TEST_CASE("version::to_string") {
  CHECK(v::to_string(Scheme::dpkg) == "dpkg");
  CHECK(v::to_string(Scheme::apk) == "apk");
  CHECK(v::to_string(Scheme::rpm) == "rpm");
}

TEST_CASE("version::dpkg") {
  SUBCASE("every row of PACKAGES.md section 4") { CHECK(check_table(Scheme::dpkg, kDpkgReference) == 28); }
  SUBCASE("dpkg's own vectors: Dpkg_Version.t") { CHECK(check_table(Scheme::dpkg, kDpkgUpstream) == 43); }
  SUBCASE("dpkg's own vectors: t-version.c") { CHECK(check_table(Scheme::dpkg, kDpkgLibrary) == 18); }
  SUBCASE("go-deb-version's vectors") { CHECK(check_table(Scheme::dpkg, kDpkgGoDebVersion) == 12); }
  SUBCASE("digit runs of any length") { CHECK(check_table(Scheme::dpkg, kDpkgLongNumbers) == 5); }
  SUBCASE("versions dpkg refuses still order") { CHECK(check_table(Scheme::dpkg, kDpkgMalformed) == 7); }
  SUBCASE("~ before the end, the end before letters, letters before other characters") {
    check_ascending(Scheme::dpkg, {"1.0~~", "1.0~~a", "1.0~", "1.0", "1.0A", "1.0Z", "1.0a", "1.0z",
                                   "1.0+", "1.0.", "1.0.1", "1.1"});
  }
  SUBCASE("an empty version ranks below every other, as dpkg --compare-versions does") {
    CHECK(v::compare_dpkg("", "") == 0);
    CHECK(v::compare_dpkg("", "0") < 0);
    CHECK(v::compare_dpkg("0", "") > 0);
    CHECK(v::compare_dpkg("", "0~") < 0);
    CHECK(v::compare_dpkg(" \t", "") == 0);
  }
  SUBCASE("blanks around a version are trimmed (t-version.c)") {
    CHECK(v::compare_dpkg("  \t0:0-1", "0:0-1") == 0);
    CHECK(v::compare_dpkg("0:0-1\t  ", "0-1") == 0);
    CHECK(v::compare_dpkg("\t  0:0-1  \t", "0:0-1") == 0);
  }
  SUBCASE("compare() dispatches to compare_dpkg") {
    CHECK(v::compare(Scheme::dpkg, "1.0~rc1", "1.0") < 0);
    CHECK(v::compare(Scheme::dpkg, "1:1.0", "2.0") > 0);
  }
}

TEST_CASE("version::dpkg invalid_reason") {
  SUBCASE("well-formed versions") {
    check_valid(Scheme::dpkg, {"0", "0:0", "0:0-0", "0:0.0-0.0", "1:0", "5:1", "0:0-0-0", "0:0:0-0",
                               "0:0-0:0-0", "0:09azAZ.-+~:-0", "0:0-azAZ09.+~", "  \t0:0-1", "0:0-1\t  ",
                               "1.2.3", "1:1.2.3", "6.0-9ubuntu1.5",
                               "2:7.4.052-1ubuntu3.1", "2147483647:1.0", "1.1.1-1ubuntu2.1~18.04.23+esm9",
                               "1:2.38.1-5+deb12u3"});
  }
  SUBCASE("dpkg's rejects: t-version.c, Dpkg_Version.t and go-deb-version") {
    check_invalid(Scheme::dpkg, {"", "  ", "0:", ":1.0", "1.0-", "0:0 0-1", "-1:0-1",
                                 "999999999999999999999999:0-1", "a:0-0", "A:0-0", "-0", "0:-0", "0:abc3-0",
                                 "0:0-0:0", "10a:5.2", "5.2@3-2", "foo5.2", "0:foo5.2", "A:1.2.3", "-1:1.2.3",
                                 "2:-1ubuntu3.1", "2:A7.4.052-1ubuntu3.1", "2:7.4.!052-1ubuntu3.1",
                                 "7.4.052-!1ubuntu3.1", "2147483648:1.0"});
    // go-deb-version accepts this one; dpkg warns of the '_' in its revision.
    CHECK(reason(Scheme::dpkg, "6.0-4.el6.x86_64") == "invalid character '_' at 13");
    for (const char c : std::string_view("!#@$%&/|\\<>()[]{};,_=*^'")) {
      check_invalid(Scheme::dpkg, {std::string("0:0") + c + "-0"});
    }
    for (const char c : std::string_view("!#@$%&/|\\<>()[]{}:;,_=*^'")) {
      check_invalid(Scheme::dpkg, {std::string("0:0-") + c});
    }
  }
  SUBCASE("the reason says what and where") {
    CHECK(reason(Scheme::dpkg, "") == "empty version");
    CHECK(reason(Scheme::dpkg, "10a:5.2") == "epoch is not a number");
    CHECK(reason(Scheme::dpkg, "+5:1") == "epoch is not a number");
    CHECK(reason(Scheme::dpkg, "-1:0-1") == "epoch is negative");
    CHECK(reason(Scheme::dpkg, "999999999999999999999999:0-1") == "epoch is too big");
    CHECK(reason(Scheme::dpkg, ":1.0") == "epoch is empty");
    CHECK(reason(Scheme::dpkg, "0:") == "nothing after the epoch's ':'");
    CHECK(reason(Scheme::dpkg, "1.0-") == "revision is empty");
    CHECK(reason(Scheme::dpkg, "0:-0") == "upstream version is empty");
    CHECK(reason(Scheme::dpkg, "foo5.2") == "upstream version does not start with a digit");
    CHECK(reason(Scheme::dpkg, "0:0 0-1") == "embedded space at 3");
    CHECK(reason(Scheme::dpkg, "5.2@3-2") == "invalid character '@' at 3");
    CHECK(reason(Scheme::dpkg, "  1.0!") == "invalid character '!' at 5");
    CHECK(reason(Scheme::dpkg, "0:0-0:0") == "invalid character ':' at 5");
    CHECK(reason(Scheme::dpkg, "1.0\x01") == "invalid character byte 0x01 at 3");
    CHECK(reason(Scheme::dpkg, "bash<5.2.15-2+b7") == "upstream version does not start with a digit");
  }
}

namespace {

// PACKAGES.md section 6, the table of version.data lines (3.x where the two differ).
constexpr std::string_view kApkReference = R"(
1.0.4-r3 < 1.0.4-r4   20040401 > 2.0.0_rc3-r1   1.1 > 1.1_alpha1   0.10.0 < 0.10.1_rc1
1.3_alpha < 1.3_alpha2   1.0_p10-r0 > 1.0_p9-r0   0.8_beta1 < 0.8_beta2   0.1.0_alpha_pre2 < 0.1.0_alpha
2.3.0b-r1 < 2.3.0b-r2   6.0_pre1 < 6.0   0.12.3 > 0.12   6.0_p1 > 6.0   3.1_p16 < 3.1_p17
1.2.9.1-r1 > 1.2.9.1   2.5.1-r8 < 2.5.1a-r1   1.0 < 1.0bc   4.2.52_p2-r1 < 4.2.52_p4-r2   8.2.0 < 8.2.001
1.3_pre1-r1 < 1.3.2   1.0~1234-r1 > 1.0~1234-r0
)";

// apk-tools test/unit/version.data (master, 3.x): every `a < b`, `a > b` and `a = b` line;
// the fuzzy `~` lines and validity lines are left out (validity is tested below).
constexpr std::string_view kApkUpstream = R"(
2.34 > 0.1.0_alpha   23_foo > 4_beta   1.0 < 1.0bc   0.1.0_alpha = 0.1.0_alpha   0.1.0_alpha < 0.1.3_alpha
0.1.3_alpha > 0.1.0_alpha   0.1.0_alpha2 > 0.1.0_alpha   0.1.0_alpha < 2.2.39-r1   2.2.39-r1 > 1.0.4-r3
1.0.4-r3 < 1.0.4-r4   1.0.4-r4 < 1.6   1.6 > 1.0.2   1.0.2 > 0.7-r1   0.7-r1 < 1.0.0   1.0.0 < 1.0.1
1.0.1 < 1.1   1.1 > 1.1_alpha1   1.1_alpha1 < 1.2.1   1.2.1 > 1.2   1.2 < 1.3_alpha   1.3_alpha < 1.3_alpha2
1.3_alpha2 < 1.3_alpha3   1.3_alpha8 > 0.6.0   0.6.0 < 0.6.1   0.6.1 < 0.7.0   0.7.0 < 0.8_beta1
0.8_beta1 < 0.8_beta2   0.8_beta4 < 4.8-r1   4.8-r1 > 3.10.18-r1   3.10.18-r1 > 2.3.0b-r1
2.3.0b-r1 < 2.3.0b-r2   2.3.0b-r2 < 2.3.0b-r3   2.3.0b-r3 < 2.3.0b-r4   2.3.0b-r4 > 0.12.1   0.12.1 < 0.12.2
0.12.2 < 0.12.3   0.12.3 > 0.12   0.12 < 0.13_beta1   0.13_beta1 < 0.13_beta2   0.13_beta2 < 0.13_beta3
0.13_beta3 < 0.13_beta4   0.13_beta4 < 0.13_beta5   0.13_beta5 > 0.9.12   0.9.12 < 0.9.13   0.9.13 > 0.9.12
0.9.12 < 0.9.13   0.9.13 > 0.0.16   0.0.16 < 0.6   0.6 < 2.1.13-r3   2.1.13-r3 < 2.1.15-r2
2.1.15-r2 < 2.1.15-r3   2.1.15-r3 > 1.2.11   1.2.11 < 1.2.12.1   1.2.12.1 < 1.2.13   1.2.13 < 1.2.14-r1
1.2.14-r1 > 0.7.1   0.7.1 > 0.5.4   0.5.4 < 0.7.0   0.7.0 < 1.2.13   1.2.13 > 1.0.8   1.0.8 < 1.2.1
1.2.1 > 0.7-r1   0.7-r1 < 2.4.32   2.4.32 < 2.8-r4   2.8-r4 > 0.9.6   0.9.6 > 0.2.0-r1   0.2.0-r1 = 0.2.0-r1
0.2.0-r1 < 3.1_p16   3.1_p16 < 3.1_p17   3.1_p17 > 1.06-r6   1.06-r6 < 006   006 > 1.0.0   1.0.0 < 1.2.2-r1
1.2.2-r1 > 1.2.2   1.2.2 > 0.3-r1   0.3-r1 < 9.3.2-r4   9.3.2-r4 < 9.3.4-r2   9.3.4-r2 > 9.3.4
9.3.4 > 9.3.2   9.3.2 < 9.3.4   9.3.4 > 1.1.3   1.1.3 < 2.16.1-r3   2.16.1-r3 = 2.16.1-r3
2.16.1-r3 > 2.1.0-r2   2.1.0-r2 < 2.9.3-r1   2.9.3-r1 > 0.9-r1   0.9-r1 > 0.8-r1   0.8-r1 < 1.0.6-r3
1.0.6-r3 > 0.11   0.11 < 0.12   0.12 < 1.2.1-r1   1.2.1-r1 < 1.2.2.1   1.2.2.1 < 1.4.1-r1
1.4.1-r1 < 1.4.1-r2   1.4.1-r2 > 1.2.2   1.2.2 < 1.3   1.3 > 1.0.3-r6   1.0.3-r6 < 1.0.4   1.0.4 < 2.59
2.59 < 20050718-r1   20050718-r1 < 20050718-r2   20050718-r2 > 3.9.8-r5   3.9.8-r5 > 2.01.01_alpha10
2.01.01_alpha10 > 0.94   0.94 < 1.0   1.0 > 0.99.3.20040818   0.99.3.20040818 > 0.7   0.7 < 1.21-r1
1.21-r1 > 0.13   0.13 < 0.90.1-r1   0.90.1-r1 > 0.10.2   0.10.2 < 0.10.3   0.10.3 < 1.6   1.6 < 1.39
1.39 > 1.00_beta2   1.00_beta2 > 0.9.2   0.9.2 < 5.94-r1   5.94-r1 < 6.4   6.4 > 2.6-r5   2.6-r5 > 1.4
1.4 < 2.8.9-r1   2.8.9-r1 > 2.8.9   2.8.9 > 1.1   1.1 > 1.0.3-r2   1.0.3-r2 < 1.3.4-r3   1.3.4-r3 < 2.2
2.2 > 1.2.6   1.2.6 < 7.15.1-r1   7.15.1-r1 > 1.02   1.02 < 1.03-r1   1.03-r1 < 1.12.12-r2
1.12.12-r2 < 2.8.0.6-r1   2.8.0.6-r1 > 0.5.2.7   0.5.2.7 < 4.2.52_p2-r1   4.2.52_p2-r1 < 4.2.52_p4-r2
4.2.52_p4-r2 > 1.02.07   1.02.07 < 1.02.10-r1   1.02.10-r1 < 3.0.3-r9   3.0.3-r9 > 2.0.5-r1   2.0.5-r1 < 4.5
4.5 > 2.8.7-r1   2.8.7-r1 > 1.0.5   1.0.5 < 8   8 < 9   9 > 2.18.3-r10   2.18.3-r10 > 1.05-r18
1.05-r18 < 1.05-r19   1.05-r19 < 2.2.5   2.2.5 < 2.8   2.8 < 2.20.1   2.20.1 < 2.20.3   2.20.3 < 2.31
2.31 < 2.34   2.34 < 2.38   2.38 < 20050405   20050405 > 1.8   1.8 < 2.11-r1   2.11-r1 > 2.11
2.11 > 0.1.6-r3   0.1.6-r3 < 0.47-r1   0.47-r1 < 0.49   0.49 < 3.6.8-r2   3.6.8-r2 > 1.39   1.39 < 2.43
2.43 > 2.0.6-r1   2.0.6-r1 > 0.2-r6   0.2-r6 < 0.4   0.4 < 1.0.0   1.0.0 < 10-r1   10-r1 > 4   4 > 0.7.3-r2
0.7.3-r2 > 0.7.3   0.7.3 < 1.95.8   1.95.8 > 1.1.19   1.1.19 > 1.1.5   1.1.5 < 6.3.2-r1   6.3.2-r1 < 6.3.3
6.3.3 > 4.17-r1   4.17-r1 < 4.18   4.18 < 4.19   4.19 > 4.3.0   4.3.0 < 4.3.2-r1   4.3.2-r1 > 4.3.2
4.3.2 > 0.68-r3   0.68-r3 < 1.0.0   1.0.0 < 1.0.1   1.0.1 > 1.0.0   1.0.0 = 1.0.0   1.0.0 < 1.0.1
1.0.1 < 2.3.2-r1   2.3.2-r1 < 2.4.2   2.4.2 < 20060720   20060720 > 3.0.20060720   3.0.20060720 < 20060720
20060720 > 1.1   1.1 = 1.1   1.1 < 1.1.1-r1   1.1.1-r1 < 1.1.3-r1   1.1.3-r1 < 1.1.3-r2
1.1.3-r2 < 2.1.10-r2   2.1.10-r2 > 0.7.18-r2   0.7.18-r2 < 0.17-r6   0.17-r6 < 2.6.1   2.6.1 < 2.6.3
2.6.3 < 3.1.5-r2   3.1.5-r2 < 3.4.6-r1   3.4.6-r1 < 3.4.6-r2   3.4.6-r2 = 3.4.6-r2   3.4.6-r2 > 2.0.33
2.0.33 < 2.0.34   2.0.34 > 1.8.3-r2   1.8.3-r2 < 1.8.3-r3   1.8.3-r3 < 4.1   4.1 < 8.54   8.54 > 4.1.4
4.1.4 > 1.2.10-r5   1.2.10-r5 < 4.1.4-r3   4.1.4-r3 = 4.1.4-r3   4.1.4-r3 < 4.2.1   4.2.1 > 4.1.0
4.1.0 < 8.11   8.11 > 1.4.4-r1   1.4.4-r1 < 2.1.9.200602141850   2.1.9.200602141850 > 1.6   1.6 < 2.5.1-r8
2.5.1-r8 < 2.5.1a-r1   2.5.1a-r1 > 1.19.2-r1   1.19.2-r1 > 0.97-r2   0.97-r2 < 0.97-r3   0.97-r3 < 1.3.5-r10
1.3.5-r10 > 1.3.5-r8   1.3.5-r8 < 1.3.5-r9   1.3.5-r9 > 1.0   1.0 < 1.1   1.1 > 0.9.11   0.9.11 < 0.9.12
0.9.12 < 0.9.13   0.9.13 < 0.9.14   0.9.14 < 0.9.15   0.9.15 < 0.9.16   0.9.16 > 0.3-r2   0.3-r2 < 6.3
6.3 < 6.6   6.6 < 6.9   6.9 > 0.7.2-r3   0.7.2-r3 < 1.2.10   1.2.10 < 20040923-r2   20040923-r2 > 20040401
20040401 > 2.0.0_rc3-r1   2.0.0_rc3-r1 > 1.5   1.5 < 4.4   4.4 > 1.0.1   1.0.1 < 2.2.0   2.2.0 > 1.1.0-r2
1.1.0-r2 > 0.3   0.3 < 20020207-r2   20020207-r2 > 1.31-r2   1.31-r2 < 3.7   3.7 > 2.0.1   2.0.1 < 2.0.2
2.0.2 > 0.99.163   0.99.163 < 2.6.15.20060110   2.6.15.20060110 < 2.6.16.20060323
2.6.16.20060323 < 2.6.19.20061214   2.6.19.20061214 > 0.6.2-r1   0.6.2-r1 < 0.6.3   0.6.3 < 0.6.5
0.6.5 < 1.3.5-r1   1.3.5-r1 < 1.3.5-r4   1.3.5-r4 < 3.0.0-r2   3.0.0-r2 < 021109-r3   021109-r3 < 20060512
20060512 > 1.24   1.24 > 0.9.16-r1   0.9.16-r1 < 3.9_pre20060124   3.9_pre20060124 > 0.01   0.01 < 0.06
0.06 < 1.1.7   1.1.7 < 6b-r7   6b-r7 > 1.12-r7   1.12-r7 < 1.12-r8   1.12-r8 > 1.1.12   1.1.12 < 1.1.13
1.1.13 > 0.3   0.3 < 0.5   0.5 < 3.96.1   3.96.1 < 3.97   3.97 > 0.10.0-r1   0.10.0-r1 > 0.10.0
0.10.0 < 0.10.1_rc1   0.10.1_rc1 > 0.9.11   0.9.11 < 394   394 > 2.31   2.31 > 1.0.1   1.0.1 = 1.0.1
1.0.1 < 1.0.3   1.0.3 > 1.0.2   1.0.2 = 1.0.2   1.0.2 > 1.0.1   1.0.1 = 1.0.1   1.0.1 < 1.2.2
1.2.2 < 2.1.10   2.1.10 > 1.0.1   1.0.1 < 1.0.2   1.0.2 < 3.5.5   3.5.5 > 1.1.1   1.1.1 > 0.9.1
0.9.1 < 1.0.2   1.0.2 > 1.0.1   1.0.1 < 1.0.2   1.0.2 > 1.0.1   1.0.1 = 1.0.1   1.0.1 < 1.0.5
1.0.5 > 0.8.5   0.8.5 < 0.8.6-r3   0.8.6-r3 < 2.3.17   2.3.17 > 1.10-r5   1.10-r5 < 1.10-r9
1.10-r9 < 2.0.2   2.0.2 > 1.1a   1.1a < 1.3a   1.3a > 1.0.2   1.0.2 < 1.2.2-r1   1.2.2-r1 > 1.0-r1
1.0-r1 > 0.15.1b   0.15.1b < 1.0.1   1.0.1 < 1.06-r1   1.06-r1 < 1.06-r2   1.06-r2 > 0.15.1b-r2
0.15.1b-r2 > 0.15.1b   0.15.1b < 2.5.7   2.5.7 > 1.1.2.1-r1   1.1.2.1-r1 > 0.0.31   0.0.31 < 0.0.50
0.0.50 > 0.0.16   0.0.16 < 0.0.25   0.0.25 < 0.17   0.17 > 0.5.0   0.5.0 < 1.1.2   1.1.2 < 1.1.3
1.1.3 < 1.1.20   1.1.20 > 0.9.4   0.9.4 < 0.9.5   0.9.5 < 6.3   6.3 < 6.6   6.6 > 6.3   6.3 < 6.6
6.6 > 1.2.12-r1   1.2.12-r1 < 1.2.13   1.2.13 < 1.2.14   1.2.14 < 1.2.15   1.2.15 < 8.0.12   8.0.12 > 8.0.9
8.0.9 > 1.2.3-r1   1.2.3-r1 < 1.2.4-r1   1.2.4-r1 > 0.1   0.1 < 0.3.5   0.3.5 < 1.5.22   1.5.22 > 0.1.11
0.1.11 < 0.1.12   0.1.12 < 1.1.4.1   1.1.4.1 > 1.1.0   1.1.0 < 1.1.2   1.1.2 > 1.0.3   1.0.3 > 1.0.2
1.0.2 < 2.6.26   2.6.26 < 2.6.27   2.6.27 > 1.1.17   1.1.17 < 1.4.11   1.4.11 < 22.7-r1
22.7-r1 < 22.7.3-r1   22.7.3-r1 > 22.7   22.7 > 2.1_pre20   2.1_pre20 < 2.1_pre26   2.1_pre26 > 0.2.3-r2
0.2.3-r2 > 0.2.2   0.2.2 < 2.10.0   2.10.0 < 2.10.1   2.10.1 > 02.08.01b   02.08.01b < 4.77   4.77 > 0.17
0.17 < 5.1.1-r1   5.1.1-r1 < 5.1.1-r2   5.1.1-r2 > 5.1.1   5.1.1 > 1.2   1.2 < 5.1   5.1 > 2.02.06
2.02.06 < 2.02.10   2.02.10 < 2.8.5-r3   2.8.5-r3 < 2.8.6-r1   2.8.6-r1 < 2.8.6-r2   2.8.6-r2 > 2.02-r1
2.02-r1 > 1.5.0-r1   1.5.0-r1 > 1.5.0   1.5.0 > 0.9.2   0.9.2 < 8.1.2.20040524-r1
8.1.2.20040524-r1 < 8.1.2.20050715-r1   8.1.2.20050715-r1 < 20030215   20030215 > 3.80-r4   3.80-r4 < 3.81
3.81 > 1.6d   1.6d > 1.2.07.8   1.2.07.8 < 1.2.12.04   1.2.12.04 < 1.2.12.05   1.2.12.05 < 1.3.3
1.3.3 < 2.6.4   2.6.4 > 2.5.2   2.5.2 < 2.6.1   2.6.1 > 2.6   2.6 < 6.5.1-r1   6.5.1-r1 > 1.1.35-r1
1.1.35-r1 < 1.1.35-r2   1.1.35-r2 > 0.9.2   0.9.2 < 1.07-r1   1.07-r1 < 1.07.5   1.07.5 > 1.07   1.07 < 1.19
1.19 < 2.1-r2   2.1-r2 < 2.2   2.2 > 1.0.4   1.0.4 < 20060811   20060811 < 20061003
20061003 > 0.1_pre20060810   0.1_pre20060810 < 0.1_pre20060817   0.1_pre20060817 < 1.0.3   1.0.3 > 1.0.2
1.0.2 > 1.0.1   1.0.1 < 3.2.2-r1   3.2.2-r1 < 3.2.2-r2   3.2.2-r2 < 3.3.17   3.3.17 > 0.59s-r11
0.59s-r11 < 0.65   0.65 > 0.2.10-r2   0.2.10-r2 < 2.01   2.01 < 3.9.10   3.9.10 > 1.2.18
1.2.18 < 1.5.11-r2   1.5.11-r2 < 1.5.13-r1   1.5.13-r1 > 1.3.12-r1   1.3.12-r1 < 2.0.1   2.0.1 < 2.0.2
2.0.2 < 2.0.3   2.0.3 > 0.2.0   0.2.0 < 5.5-r2   5.5-r2 < 5.5-r3   5.5-r3 > 0.25.3   0.25.3 < 0.26.1-r1
0.26.1-r1 < 5.2.1.2-r1   5.2.1.2-r1 < 5.4   5.4 > 1.60-r11   1.60-r11 < 1.60-r12   1.60-r12 < 110-r8
110-r8 > 0.17-r2   0.17-r2 < 1.05-r4   1.05-r4 < 5.28.0   5.28.0 > 0.51.6-r1   0.51.6-r1 < 1.0.6-r6
1.0.6-r6 > 0.8.3   0.8.3 < 1.42   1.42 < 20030719   20030719 > 4.01   4.01 < 4.20   4.20 > 0.20070118
0.20070118 < 0.20070207_rc1   0.20070207_rc1 < 1.0   1.0 < 1.13.0   1.13.0 < 1.13.1   1.13.1 > 0.21
0.21 > 0.3.7-r3   0.3.7-r3 < 0.4.10   0.4.10 < 0.5.0   0.5.0 < 0.5.5   0.5.5 < 0.5.7   0.5.7 < 0.6.11-r1
0.6.11-r1 < 2.3.30-r2   2.3.30-r2 < 3.7_p1   3.7_p1 > 1.3   1.3 > 0.10.1   0.10.1 < 4.3_p2-r1
4.3_p2-r1 < 4.3_p2-r5   4.3_p2-r5 < 4.4_p1-r6   4.4_p1-r6 < 4.5_p1-r1   4.5_p1-r1 > 4.5_p1
4.5_p1 < 4.5_p1-r1   4.5_p1-r1 > 4.5_p1   4.5_p1 > 0.9.8c-r1   0.9.8c-r1 < 0.9.8d   0.9.8d < 2.4.4
2.4.4 < 2.4.7   2.4.7 > 2.0.6   2.0.6 = 2.0.6   2.0.6 > 0.78-r3   0.78-r3 > 0.3.2   0.3.2 < 1.7.1-r1
1.7.1-r1 < 2.5.9   2.5.9 > 0.1.13   0.1.13 < 0.1.15   0.1.15 < 0.4   0.4 < 0.9.6   0.9.6 < 2.2.0-r1
2.2.0-r1 < 2.2.3-r2   2.2.3-r2 < 013   013 < 014-r1   014-r1 > 1.3.1-r1   1.3.1-r1 < 5.8.8-r2
5.8.8-r2 > 5.1.6-r4   5.1.6-r4 < 5.1.6-r6   5.1.6-r6 < 5.2.1-r3   5.2.1-r3 > 0.11.3   0.11.3 = 0.11.3
0.11.3 < 1.10.7   1.10.7 > 1.7-r1   1.7-r1 > 0.1.20   0.1.20 < 0.1.23   0.1.23 < 5b-r9   5b-r9 > 2.2.10
2.2.10 < 2.3.6   2.3.6 < 8.0.12   8.0.12 > 2.4.3-r16   2.4.3-r16 < 2.4.4-r4   2.4.4-r4 < 3.0.3-r5
3.0.3-r5 < 3.0.6   3.0.6 < 3.2.6   3.2.6 < 3.2.7   3.2.7 > 0.3.1_rc8   0.3.1_rc8 < 22.2   22.2 < 22.3
22.3 > 1.2.2   1.2.2 < 2.04   2.04 < 2.4.3-r1   2.4.3-r1 < 2.4.3-r4   2.4.3-r4 > 0.98.6-r1
0.98.6-r1 < 5.7-r2   5.7-r2 < 5.7-r3   5.7-r3 > 5.1_p4   5.1_p4 > 1.0.5   1.0.5 < 3.6.19-r1
3.6.19-r1 > 3.6.19   3.6.19 > 1.0.1   1.0.1 < 3.8   3.8 > 0.2.3   0.2.3 < 1.2.15-r3   1.2.15-r3 > 1.2.6-r1
1.2.6-r1 < 2.6.8-r2   2.6.8-r2 < 2.6.9-r1   2.6.9-r1 > 1.7   1.7 < 1.7b   1.7b < 1.8.4-r3   1.8.4-r3 < 1.8.5
1.8.5 < 1.8.5_p2   1.8.5_p2 > 1.1.3   1.1.3 < 3.0.22-r3   3.0.22-r3 < 3.0.24   3.0.24 = 3.0.24
3.0.24 = 3.0.24   3.0.24 < 4.0.2-r5   4.0.2-r5 < 4.0.3   4.0.3 > 0.98   0.98 < 1.00   1.00 < 4.1.4-r1
4.1.4-r1 < 4.1.5   4.1.5 > 2.3   2.3 < 2.17-r3   2.17-r3 > 0.1.7   0.1.7 < 1.11   1.11 < 4.2.1-r11
4.2.1-r11 > 3.2.3   3.2.3 < 3.2.4   3.2.4 < 3.2.8   3.2.8 < 3.2.9   3.2.9 > 3.2.3   3.2.3 < 3.2.4
3.2.4 < 3.2.8   3.2.8 < 3.2.9   3.2.9 > 1.4.9-r2   1.4.9-r2 < 2.9.11_pre20051101-r2
2.9.11_pre20051101-r2 < 2.9.11_pre20051101-r3   2.9.11_pre20051101-r3 > 2.9.11_pre20051101
2.9.11_pre20051101 < 2.9.11_pre20061021-r1   2.9.11_pre20061021-r1 < 2.9.11_pre20061021-r2
2.9.11_pre20061021-r2 < 5.36-r1   5.36-r1 > 1.0.1   1.0.1 < 7.0-r2   7.0-r2 > 2.4.5   2.4.5 < 2.6.1.2
2.6.1.2 < 2.6.1.3-r1   2.6.1.3-r1 > 2.6.1.3   2.6.1.3 < 2.6.1.3-r1   2.6.1.3-r1 < 12.17.9   12.17.9 > 1.1.12
1.1.12 > 1.1.7   1.1.7 < 2.5.14   2.5.14 < 2.6.6-r1   2.6.6-r1 < 2.6.7   2.6.7 < 2.6.9-r1   2.6.9-r1 > 2.6.9
2.6.9 > 1.39   1.39 > 0.9   0.9 < 2.61-r2   2.61-r2 < 4.5.14   4.5.14 > 4.09-r1   4.09-r1 > 1.3.1
1.3.1 < 1.3.2-r3   1.3.2-r3 < 1.6.8_p12-r1   1.6.8_p12-r1 > 1.6.8_p9-r2   1.6.8_p9-r2 > 1.3.0-r1
1.3.0-r1 < 3.11   3.11 < 3.20   3.20 > 1.6.11-r1   1.6.11-r1 > 1.6.9   1.6.9 < 5.0.5-r2   5.0.5-r2 > 2.86-r5
2.86-r5 < 2.86-r6   2.86-r6 > 1.15.1-r1   1.15.1-r1 < 8.4.9   8.4.9 > 7.6-r8   7.6-r8 > 3.9.4-r2
3.9.4-r2 < 3.9.4-r3   3.9.4-r3 < 3.9.5-r2   3.9.5-r2 > 1.1.9   1.1.9 > 1.0.6   1.0.6 < 5.9   5.9 < 6.5
6.5 > 0.40-r1   0.40-r1 < 2.25b-r5   2.25b-r5 < 2.25b-r6   2.25b-r6 > 1.0.4   1.0.4 < 1.0.5
1.0.5 < 1.4_p12-r2   1.4_p12-r2 < 1.4_p12-r5   1.4_p12-r5 > 1.1   1.1 > 0.2.0-r1   0.2.0-r1 < 0.2.1
0.2.1 < 0.9.28-r1   0.9.28-r1 < 0.9.28-r2   0.9.28-r2 < 0.9.28.1   0.9.28.1 > 0.9.28   0.9.28 < 0.9.28.1
0.9.28.1 < 087-r1   087-r1 < 103   103 < 104-r11   104-r11 > 104-r9   104-r9 > 1.23-r1   1.23-r1 > 1.23
1.23 < 1.23-r1   1.23-r1 > 1.0.2   1.0.2 < 5.52-r1   5.52-r1 > 1.2.5_rc2   1.2.5_rc2 > 0.1   0.1 < 0.71-r1
0.71-r1 < 20040406-r1   20040406-r1 > 2.12r-r4   2.12r-r4 < 2.12r-r5   2.12r-r5 > 0.0.7   0.0.7 < 1.0.3
1.0.3 < 1.8   1.8 < 7.0.17   7.0.17 < 7.0.174   7.0.174 > 7.0.17   7.0.17 < 7.0.174   7.0.174 > 1.0.1
1.0.1 < 1.1.1-r3   1.1.1-r3 > 0.3.4_pre20061029   0.3.4_pre20061029 < 0.4.0   0.4.0 > 0.1.2   0.1.2 < 1.10.2
1.10.2 < 2.16   2.16 < 28   28 > 0.99.4   0.99.4 < 1.13   1.13 > 1.0.1   1.0.1 < 1.1.2-r2   1.1.2-r2 > 1.1.0
1.1.0 < 1.1.1   1.1.1 = 1.1.1   1.1.1 > 0.6.0   0.6.0 < 6.6.3   6.6.3 > 1.1.1   1.1.1 > 1.1.0
1.1.0 = 1.1.0   1.1.0 > 0.2.0   0.2.0 < 0.3.0   0.3.0 < 1.1.1   1.1.1 < 1.2.0   1.2.0 > 1.1.0
1.1.0 < 1.6.5   1.6.5 > 1.1.0   1.1.0 < 1.4.2   1.4.2 > 1.1.1   1.1.1 < 2.8.1   2.8.1 > 1.2.0
1.2.0 < 4.1.0   4.1.0 > 0.4.1   0.4.1 < 1.9.1   1.9.1 < 2.1.1   2.1.1 > 1.4.1   1.4.1 > 0.9.1-r1
0.9.1-r1 > 0.8.1   0.8.1 < 1.2.1-r1   1.2.1-r1 > 1.1.0   1.1.0 < 1.2.1   1.2.1 > 1.1.0   1.1.0 > 0.1.1
0.1.1 < 1.2.1   1.2.1 < 4.1.0   4.1.0 > 0.2.1-r1   0.2.1-r1 < 1.1.0   1.1.0 < 2.7.11   2.7.11 > 1.0.2-r6
1.0.2-r6 > 1.0.2   1.0.2 > 0.8   0.8 < 1.1.1-r4   1.1.1-r4 < 222   222 > 1.0.1   1.0.1 < 1.2.12-r1
1.2.12-r1 > 1.2.8   1.2.8 < 1.2.9.1-r1   1.2.9.1-r1 > 1.2.9.1   1.2.9.1 < 2.31-r1   2.31-r1 > 2.31
2.31 > 1.2.3-r1   1.2.3-r1 > 1.2.3   1.2.3 < 4.2.5   4.2.5 < 4.3.2-r2   1.3-r0 < 1.3.1-r0
1.3_pre1-r1 < 1.3.2   1.0_p10-r0 > 1.0_p9-r0   0.1.0_alpha_pre2 < 0.1.0_alpha
1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0   6.0_pre1 < 6.0   6.1_pre1 < 6.1   6.0_p1 > 6.0
6.1_p1 > 6.1   8.2.0 < 8.2.001   8.2.0015 < 8.2.002   1.0~1234 < 1.0~2345   1.0~1234-r1 < 1.0~2345-r0
1.0~1234-r1 > 1.0~1234-r0
)";

// PACKAGES.md section 6's extra pairs and the orderings its text states.
constexpr std::string_view kApkReferenceExtra = R"(
1.36.1-r29 > 1.36.1-r3   1.0_rc1-r5 < 1.0-r0   1.01 < 1.1   1.001 < 1.01
6.4_p20240330-r0 > 6.4_p20231125-r1   5.2.26-r0 < 5.2.26-r1   1.0 < 1.0.1   1.0 < 1.0a
1.0a < 1.0.1   1.0 < 1.0-r0   1.0 < 1.0_p1
)";

// Digit runs of any length, where apk itself reads numbers into uint64_t (3.x) or refuses
// runs of 18+ digits (2.14): 3.x orders the first row as here.
constexpr std::string_view kApkLongNumbers = R"(
1.0.123456789012345678 > 1.0.123456789012345677
100000000000000000000000000000 > 99999999999999999999999999999
1.0-r100000000000000000000000 > 1.0-r99999999999999999999999   1.0_p00000000000000000000000001 = 1.0_p1
)";

// Text apk does not accept, ordered as apk-tools 3.x orders it: tokens compare up to the first
// invalid one; then, equal so far, a side still holding valid tokens is newer than one that
// ended, and one that ended is newer than one that turned invalid right there.
constexpr std::string_view kApkMalformed = R"(
1.0 < 1.0bc   1.0 > 1.0_foo   1.0 > 1.0-x   1.0_foo = 1.0_bar   1.0.a < 1.0   1.0.a = 1.0.b
2_foo < 10_bar   x = y   x < 0   1.0~ < 1.0   1.0~ab > 1.0~aa
)";

}  // namespace

TEST_CASE("version::apk") {
  SUBCASE("every row of PACKAGES.md section 6") {
    CHECK(check_table(Scheme::apk, kApkReference) == 20);
    CHECK(check_table(Scheme::apk, kApkReferenceExtra) == 11);
  }
  SUBCASE("apk-tools' own vectors: test/unit/version.data") {
    CHECK(check_table(Scheme::apk, kApkUpstream) == 738);
  }
  SUBCASE("suffixes: alpha beta pre rc, none, cvs svn git hg p") {
    check_ascending(Scheme::apk, {"1.0_alpha", "1.0_beta", "1.0_pre", "1.0_rc", "1.0", "1.0_cvs",
                                  "1.0_svn", "1.0_git", "1.0_hg", "1.0_p"});
  }
  SUBCASE("grammar order once the shared tokens are equal") {
    check_ascending(Scheme::apk, {"1_rc1", "1", "1-r0", "1~00", "1~ff-r0", "1_p", "1_p0", "1z", "1.0"});
  }
  SUBCASE("3.x: a later number with a leading zero compares as a string") {
    CHECK(v::compare_apk("8.2.0", "8.2.001") < 0);
    CHECK(v::compare_apk("1.01", "1.1") < 0);
    CHECK(v::compare_apk("1.010", "1.09") < 0);
    CHECK(v::compare_apk("01.0", "1.0") == 0);  // the first number is always numeric
  }
  SUBCASE("3.x: a ~hash is a token") { CHECK(v::compare_apk("1.0~1234-r1", "1.0~1234-r0") > 0); }
  SUBCASE("digit runs of any length") { CHECK(check_table(Scheme::apk, kApkLongNumbers) == 4); }
  SUBCASE("text apk does not accept still orders as apk-tools 3.x does") {
    CHECK(check_table(Scheme::apk, kApkMalformed) == 11);
    CHECK(v::compare_apk("", "") == 0);
    CHECK(v::compare_apk("", "0") < 0);
  }
  SUBCASE("compare() dispatches to compare_apk") {
    CHECK(v::compare(Scheme::apk, "1.0_rc1", "1.0") < 0);
    CHECK(v::compare(Scheme::apk, "1.0-r1", "1.0") > 0);
  }
}

TEST_CASE("version::apk invalid_reason") {
  SUBCASE("apk-tools' own validity vectors (version.data)") {
    check_valid(Scheme::apk, {"1.2", "0.1_pre2", "0.1_pre2~1234abcd", "0.1_p1_pre2", "0.1_alpha1_pre2",
                              "0.1_git20240101_pre1"});
    check_invalid(Scheme::apk, {"", "0.1bc", "0.1bc1", "0.1a1", "0.1a.1", "0.1_pre2~", "0.1_pre2~1234xbcd",
                                "0.1_pre2~1234abcd_pre1", "0.1_pre2-r1~1234xbcd", "0.1_foobar",
                                "0.1_foobar1", "0.1-pre1.1", "0.1-r", "0.1-r2_pre1", "0.1-r2_p3_pre1",
                                "0.1-r2-r3", "0.1-r2.1", ".1", "a", "_pre1", "-r1", "0.1_", "0.1_-r0",
                                "0.1__alpha", "0.1_1_alpha"});
  }
  SUBCASE("real Alpine versions") {
    check_valid(Scheme::apk, {"3.3.0-r3", "1.36.1-r29", "6.4_p20240330-r0", "2.40.1-r0", "0.3.2_pre4-r4",
                              "1.0.123456789012345678901234567890-r1"});
    check_invalid(Scheme::apk, {"1.0-1", "1.0 ", "v1.0", "1.0_RC1", "1.0~ABC", "1.0-r1-r2", "1.0.0.",
                                "1:1.0"});
  }
  SUBCASE("the reason says what and where") {
    CHECK(reason(Scheme::apk, "") == "empty version");
    CHECK(reason(Scheme::apk, "a") == "version does not start with a digit");
    CHECK(reason(Scheme::apk, "0.1bc") == "letter 'c' out of place at 4");
    CHECK(reason(Scheme::apk, "0.1a.1") == "'.' out of place at 4");
    CHECK(reason(Scheme::apk, "0.1a1") == "digit '1' out of place at 4");
    CHECK(reason(Scheme::apk, "0.1_foobar") == "unknown suffix '_foobar' at 3");
    CHECK(reason(Scheme::apk, "0.1-r2_pre1") == "suffix out of place at 6");
    CHECK(reason(Scheme::apk, "0.1_pre2~") == "'~' without a lowercase hex hash at 8");
    CHECK(reason(Scheme::apk, "0.1_pre2-r1~1234") == "'~' out of place at 11");
    CHECK(reason(Scheme::apk, "0.1-r") == "number expected at 5");
    CHECK(reason(Scheme::apk, "0.1-r2-r3") == "'-' out of place at 6");
    CHECK(reason(Scheme::apk, "0.1-pre1.1") == "'-' not followed by 'r' at 3");
    CHECK(reason(Scheme::apk, "1.0!") == "invalid character '!' at 3");
    CHECK(reason(Scheme::apk, "1.0\xc3\xa9") == "invalid character byte 0xc3 at 3");
  }
}

namespace {

// PACKAGES.md section 8 (checked there with rpm.vercmp, rpm 4.18).
constexpr std::string_view kRpmReference = R"(
1.0 < 1.0.0   1.0~rc1 < 1.0   1.0a > 1.0   1.0~rc1 < 1.0~rc2   1.0a < 1.0.1   1.0~~ < 1.0~   1.9 < 1.10
1.0^ > 1.0   1.09 = 1.9   1.0^git1 < 1.0.1   1.0_1 = 1.0.1   1.0^git1 > 1.0~rc1   1+ = 1_
1.0~rc1^git1 > 1.0~rc1   1.0.0 > 1.0+   6.0.rc1 > 6.0   FC5 < fc4   1b.fc17 < 1.fc17   5.5p10 > 5.5p2
1.el8_9 < 1.el8_10   1:1.0-1 > 2.0-1   0:1.0-1 = 1.0-1   1.0-1 > 1.0   1.0 < 1.0-0
5.1.8-6.el9_1 > 5.1.8-6.el9   4.4.20-4.el8_6 < 4.4.20-5.el8   2.34-60.el9 < 2.34-100.el9
1.0-1.amzn2023.0.1 > 1.0-1.amzn2023
)";

// rpm tests/rpmvercmp.at: every RPMVERCMP line, then the commented-out oddities (1b.fc17
// and the non-ASCII letters that compare as separators), which rpm.vercmp gives as listed.
constexpr std::string_view kRpmUpstream = R"(
1.0 = 1.0   1.0 < 2.0   2.0 > 1.0   2.0.1 = 2.0.1   2.0 < 2.0.1   2.0.1 > 2.0   2.0.1a = 2.0.1a
2.0.1a > 2.0.1   2.0.1 < 2.0.1a   5.5p1 = 5.5p1   5.5p1 < 5.5p2   5.5p2 > 5.5p1   5.5p10 = 5.5p10
5.5p1 < 5.5p10   5.5p10 > 5.5p1   10xyz < 10.1xyz   10.1xyz > 10xyz   xyz10 = xyz10   xyz10 < xyz10.1
xyz10.1 > xyz10   xyz.4 = xyz.4   xyz.4 < 8   8 > xyz.4   xyz.4 < 2   2 > xyz.4   5.5p2 < 5.6p1
5.6p1 > 5.5p2   5.6p1 < 6.5p1   6.5p1 > 5.6p1   6.0.rc1 > 6.0   6.0 < 6.0.rc1   10b2 > 10a1   10a2 < 10b2
1.0aa = 1.0aa   1.0a < 1.0aa   1.0aa > 1.0a   10.0001 = 10.0001   10.0001 = 10.1   10.1 = 10.0001
10.0001 < 10.0039   10.0039 > 10.0001   4.999.9 < 5.0   5.0 > 4.999.9   20101121 = 20101121
20101121 < 20101122   20101122 > 20101121   2_0 = 2_0   2.0 = 2_0   2_0 = 2.0   a = a   a+ = a+   a+ = a_
a_ = a+   +a = +a   +a = _a   _a = +a   +_ = +_   _+ = +_   _+ = _+   + = _   _ = +   1.0~rc1 = 1.0~rc1
1.0~rc1 < 1.0   1.0 > 1.0~rc1   1.0~rc1 < 1.0~rc2   1.0~rc2 > 1.0~rc1   1.0~rc1~git123 = 1.0~rc1~git123
1.0~rc1~git123 < 1.0~rc1   1.0~rc1 > 1.0~rc1~git123   1.0^ = 1.0^   1.0^ > 1.0   1.0 < 1.0^
1.0^git1 = 1.0^git1   1.0^git1 > 1.0   1.0 < 1.0^git1   1.0^git1 < 1.0^git2   1.0^git2 > 1.0^git1
1.0^git1 < 1.01   1.01 > 1.0^git1   1.0^20160101 = 1.0^20160101   1.0^20160101 < 1.0.1
1.0.1 > 1.0^20160101   1.0^20160101^git1 = 1.0^20160101^git1   1.0^20160102 > 1.0^20160101^git1
1.0^20160101^git1 < 1.0^20160102   1.0~rc1^git1 = 1.0~rc1^git1   1.0~rc1^git1 > 1.0~rc1
1.0~rc1 < 1.0~rc1^git1   1.0^git1~pre = 1.0^git1~pre   1.0^git1 > 1.0^git1~pre   1.0^git1~pre < 1.0^git1
1b.fc17 = 1b.fc17   1b.fc17 < 1.fc17   1.fc17 > 1b.fc17   1g.fc17 = 1g.fc17   1g.fc17 > 1.fc17
1.fc17 < 1g.fc17   1.1.α = 1.1.α   1.1.α = 1.1.β   1.1.β = 1.1.α   1.1.αα = 1.1.α   1.1.α = 1.1.ββ
1.1.ββ = 1.1.αα
)";

// knqyf263/go-rpm-version version_test.go TestParseAndCompare, the rows not copied from
// rpmvercmp.at: Oracle Linux releases, ~ against ^, ^ in releases and odd places, epochs.
constexpr std::string_view kRpmGoRpmVersion = R"(
2.9.1-6.0.1.el7_2.3 > 2.9.1-6.el7_2.3   3.10.0-327.28.3.el7 > 3.10.0-327.el7
3.14.3-23.3.el6_8 > 3.14.3-23.el6_7   2.23.2-22.el7_1 < 2.23.2-22.el7_1.1   1.0^ > 1.0~   1.0~ < 1.0^
1.0~rc1 < 1.0^git1   1.0^git1 > 1.0~rc1   1.0-1^ > 1.0-1   1.0-1^git1 < 1.0-1.1   1:1.0^git1 > 1:1.0
1.0^~ > 1.0   ^1.0 < 1.0   1.0^^1 < 1.0^1   1:1.0~rc1 > 0:1.0~rc1   1.0~rc1 < 2:1.0~rc1
3:1.0~rc1 = 3:1.0~rc1
)";

// Digit runs of any length, in epoch, version and release.
constexpr std::string_view kRpmLongNumbers = R"(
1.100000000000000000000000000000 > 1.99999999999999999999999999999
1.00000000000000000000000000001 = 1.1   1.0-100000000000000000000000 > 1.0-99999999999999999999999
99999999999999999999:1.0 > 9999999999999999999:2.0   0000000000000000000001:1.0 = 1:1.0
)";

// How rpm.vercmp splits an EVR: epoch only as leading digits before ':' (empty means 0),
// release after the last '-' (present even when empty, so newer than none); the version
// keeps any other '-' and ':', which then only separate segments.
constexpr std::string_view kRpmEvrSplit = R"(
:1.0 = 0:1.0   1.0- > 1.0   1.0- < 1.0-0   1:1.0-1-2 > 1:1.0-1   1.0-1-2 > 1.0-2   a:1.0 < 1.0
0:1.0 = 1.0   1:1.0 < 2:0.9-1
)";

}  // namespace

TEST_CASE("version::rpm") {
  SUBCASE("every row of PACKAGES.md section 8") { CHECK(check_table(Scheme::rpm, kRpmReference) == 28); }
  SUBCASE("rpm's own vectors: rpmvercmp.at, with its commented oddities") {
    CHECK(check_table(Scheme::rpm, kRpmUpstream) == 103);
  }
  SUBCASE("go-rpm-version's vectors") { CHECK(check_table(Scheme::rpm, kRpmGoRpmVersion) == 17); }
  SUBCASE("digit runs of any length") { CHECK(check_table(Scheme::rpm, kRpmLongNumbers) == 5); }
  SUBCASE("epoch, version and release as rpm.vercmp splits them") {
    CHECK(check_table(Scheme::rpm, kRpmEvrSplit) == 8);
  }
  SUBCASE("~ before the end, ^ after it, separators only split") {
    check_ascending(Scheme::rpm, {"1.0~~", "1.0~", "1.0~rc1", "1.0", "1.0^", "1.0^git1", "1.0.a", "1.0.0",
                                  "1.0.1", "1.1"});
    CHECK(v::compare_rpm("1.0", "1_0") == 0);
    CHECK(v::compare_rpm("1+0", "1..0") == 0);
  }
  SUBCASE("an empty EVR (rpm.vercmp refuses it) compares as the empty version") {
    CHECK(v::compare_rpm("", "") == 0);
    CHECK(v::compare_rpm("", "0") < 0);
    CHECK(v::compare_rpm("^", "") > 0);  // go-rpm-version
    CHECK(v::compare_rpm("~", "") < 0);
  }
  SUBCASE("a NUL ends the version, as in rpm's C strings (fuzz/crashes/version)") {
    using namespace std::string_view_literals;
    CHECK(v::compare_rpm("\0"sv, "\0\0"sv) == 0);
    CHECK(v::compare_rpm("\0\0"sv, "\0"sv) == 0);
    CHECK(v::compare_rpm("1.e\0x"sv, "1.e"sv) == 0);
    CHECK(v::compare_rpm("1\0-9"sv, "1"sv) == 0);
    CHECK(v::compare_rpm("1.0\0"sv, "1.1"sv) < 0);
  }
  SUBCASE("compare() dispatches to compare_rpm") {
    CHECK(v::compare(Scheme::rpm, "6.0.rc1", "6.0") > 0);
    CHECK(v::compare(Scheme::rpm, "1.0", "1.0-0") < 0);
  }
}

TEST_CASE("version::rpm invalid_reason") {
  SUBCASE("well-formed EVRs") {
    check_valid(Scheme::rpm, {"1.0", "0:1.0-1", "1:1.0-1.el9", "1.0~rc1^git1-1.fc40", "2.34-100.el9_4.2",
                              "5.1.8-6.el9_1", "1.0^", "1.0-1.amzn2023.0.1", "6.0-4.el6.x86_64",
                              "4.999.9-0.5.beta.20091007git.el6", "c105b9de-4e0fd3a3", "1+2_3"});
  }
  SUBCASE("rpmbuild's rejects, and empty parts") {
    check_invalid(Scheme::rpm, {"", "1.0%{?dist}", "1:2:3", "1.0-1-2", "a:1.0", "-1:1.0", ":1.0", "1:",
                                "-1", "1.0-", "1..0", "1.0 1", "1.0/1", "1.0@1", "A:1.2.3"});
  }
  SUBCASE("the reason says what and where") {
    CHECK(reason(Scheme::rpm, "") == "empty version");
    CHECK(reason(Scheme::rpm, "1.0%{?dist}") == "invalid character '%' at 3");
    CHECK(reason(Scheme::rpm, "1.0 1") == "invalid character ' ' at 3");
    CHECK(reason(Scheme::rpm, "1.0\xc3\xa9") == "invalid character byte 0xc3 at 3");
    CHECK(reason(Scheme::rpm, "1..0") == "'..' at 1");
    CHECK(reason(Scheme::rpm, "1:2:3") == "more than one ':'");
    CHECK(reason(Scheme::rpm, "1.0-1-2") == "more than one '-'");
    CHECK(reason(Scheme::rpm, "a:1.0") == "epoch is not a number");
    CHECK(reason(Scheme::rpm, ":1.0") == "epoch is empty");
    CHECK(reason(Scheme::rpm, "1:") == "version is empty");
    CHECK(reason(Scheme::rpm, "-1") == "version is empty");
    CHECK(reason(Scheme::rpm, "1.0-") == "release is empty");
  }
}

TEST_CASE("version::invalid_reason dispatch") {
  CHECK(v::invalid_reason(Scheme::dpkg, "1.0-1") == std::nullopt);
  CHECK(v::invalid_reason(Scheme::apk, "1.0-1") == "'-' not followed by 'r' at 3");
  CHECK(v::invalid_reason(Scheme::rpm, "1.0-1") == std::nullopt);
  CHECK(v::invalid_reason(Scheme::apk, "1.0-r1") == std::nullopt);
  CHECK(v::invalid_reason(Scheme::dpkg, "1.0-r1") == std::nullopt);
  CHECK(v::invalid_reason(Scheme::rpm, "1:1.0-1") == std::nullopt);
}
