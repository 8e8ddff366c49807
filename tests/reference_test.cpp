// Image references: every example of DOCKERFILE.md section 11.3, the extra rules of 11.1
// and 11.2, the display forms, and where errors point.
#include "cascade/reference.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace ref = cascade::reference;

namespace {

// The <H> of section 11.3.
const std::string H = "9c1e4b7a2d5f8c0e3a6b9d2f5c8e1a4b7d0f3c6e9a2b5d8f1c4e7a0b3d6f9c2e";

std::string upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

// The normalized form, or "error: <message>".
std::string normalized(const std::string& text) {
  auto parsed = ref::parse(text);
  return parsed ? parsed->str() : "error: " + parsed.error().message;
}

ref::Reference parsed(const std::string& text) {
  auto result = ref::parse(text);
  INFO("parse error: ", result ? std::string() : result.error().message);
  REQUIRE(result);
  return *result;
}

ref::ParseError failure(const std::string& text) {
  auto result = ref::parse(text);
  INFO("parsed as: ", result ? result->str() : std::string());
  REQUIRE_FALSE(result);
  return result.error();
}

struct Valid {
  std::string input;
  std::string expected;
};

struct Invalid {
  std::string input;
  std::string kind;  // distribution's wording that starts the message
  std::size_t position;
};

void check_valid(const std::vector<Valid>& rows) {
  for (const auto& row : rows) {
    CAPTURE(row.input);
    CHECK(normalized(row.input) == row.expected);
  }
}

void check_invalid(const std::vector<Invalid>& rows) {
  for (const auto& row : rows) {
    CAPTURE(row.input);
    const ref::ParseError error = failure(row.input);
    CHECK(error.message.starts_with(row.kind + ": "));
    CHECK(error.message.ends_with("(at offset " + std::to_string(row.position) + ")"));
    CHECK(error.position == row.position);
    CHECK(error.position <= row.input.size());
  }
}

constexpr const char* kFormat = "invalid reference format";
constexpr const char* kLowercase = "repository name must be lowercase";
constexpr const char* kTooLong = "repository name must not be more than 255 characters";
constexpr const char* kDigestLength = "invalid checksum digest length";
constexpr const char* kDigestFormat = "invalid checksum digest format";
constexpr const char* kUnsupported = "unsupported digest algorithm";

}  // namespace

TEST_CASE("reference::parse section 11.3 examples") {
  SUBCASE("Docker Hub names get docker.io, library/ and latest (rows 1-4, 7, 8, 12)") {
    check_valid({
        {"debian", "docker.io/library/debian:latest"},
        {"debian:12-slim", "docker.io/library/debian:12-slim"},
        {"library/debian", "docker.io/library/debian:latest"},
        {"docker.io/debian", "docker.io/library/debian:latest"},
        {"grafana/grafana", "docker.io/grafana/grafana:latest"},
        {"org/team/sub/app:2", "docker.io/org/team/sub/app:2"},
        {"nexus/app", "docker.io/nexus/app:latest"},
    });
  }
  SUBCASE("legacy Hub domain is rewritten, registry-1 is not (rows 5, 6)") {
    check_valid({
        {"index.docker.io/grafana/grafana:11.0.0", "docker.io/grafana/grafana:11.0.0"},
        {"registry-1.docker.io/library/debian", "registry-1.docker.io/library/debian:latest"},
    });
  }
  SUBCASE("a first component with '.', ':' or localhost is a registry (rows 9-11, 13, 14, 18, 19)") {
    check_valid({
        {"quay.io/coreos/etcd:v3.5.14", "quay.io/coreos/etcd:v3.5.14"},
        {"gitlab.example.com:4567/grp/app", "gitlab.example.com:4567/grp/app:latest"},
        {"nexus:8082/app", "nexus:8082/app:latest"},
        {"localhost/app", "localhost/app:latest"},
        {"localhost:5000/app:dev", "localhost:5000/app:dev"},
        {"10.0.0.7:5000/app", "10.0.0.7:5000/app:latest"},
        {"[fd00::7]:5000/app", "[fd00::7]:5000/app:latest"},
    });
  }
  SUBCASE("a single component is always a Hub repository (rows 15-17)") {
    check_valid({
        {"localhost", "docker.io/library/localhost:latest"},
        {"localhost:5000", "docker.io/library/localhost:5000"},
        {"registry.local", "docker.io/library/registry.local:latest"},
    });
  }
  SUBCASE("domains keep their case; uppercase makes a domain (rows 20-22)") {
    check_valid({
        {"Nexus.Example.COM/app", "Nexus.Example.COM/app:latest"},
        {"Nexus/app", "Nexus/app:latest"},
        {"DOCKER.IO/debian", "DOCKER.IO/debian:latest"},
    });
  }
  SUBCASE("tags and digests (rows 23-26)") {
    check_valid({
        {"debian:Bookworm_Slim-1.0", "docker.io/library/debian:Bookworm_Slim-1.0"},
        {"debian@sha256:" + H, "docker.io/library/debian@sha256:" + H},
        {"debian:12@sha256:" + H, "docker.io/library/debian:12@sha256:" + H},
        {"sha256:" + H, "docker.io/library/sha256:" + H},
    });
  }
  SUBCASE("rejected: image IDs and uppercase paths (rows 27-29)") {
    check_invalid({
        {H, "invalid repository name", 0},
        {"Debian", kLowercase, 0},
        {"docker.io/Grafana/grafana", kLowercase, 10},
    });
  }
  SUBCASE("rejected: bad tags (rows 30-33)") {
    check_invalid({
        {"debian:", kFormat, 7},
        {"debian:12:slim", kFormat, 9},
        {"debian:-12", kFormat, 7},
        {"debian:" + std::string(129, 'x'), kFormat, 7 + 128},
    });
  }
  SUBCASE("rejected: bad digests (rows 34-37)") {
    check_invalid({
        {"debian@sha256:abc", kFormat, 14},
        {"debian@sha256:" + H.substr(0, 40), kDigestLength, 14},
        {"debian@sha256:" + upper(H), kDigestFormat, 15},
        {"debian@sha1:" + H.substr(0, 40), kUnsupported, 7},
    });
  }
  SUBCASE("rejected: bad path components (rows 38-42)") {
    check_invalid({
        {"my..app", kFormat, 3},
        {"my___app", kFormat, 4},
        {"app-", kFormat, 3},
        {"_app", kFormat, 0},
        {"grafana//grafana", kFormat, 8},
    });
  }
  SUBCASE("rejected: bad domains and schemes (rows 43-45)") {
    check_invalid({
        {"host:abc/app", kFormat, 5},
        {"-bad.example.com/app", kFormat, 0},
        {"https://quay.io/app", kFormat, 0},
    });
  }
  SUBCASE("rejected: a path over 255 characters (row 46)") {
    check_invalid({{std::string(248, 'a'), kTooLong, 247}});
  }
}

TEST_CASE("reference::parse fields") {
  SUBCASE("domain, path, tag, digest are split out") {
    const ref::Reference reference = parsed("localhost:5000/team/app:dev@sha256:" + H);
    CHECK(reference.domain == "localhost:5000");
    CHECK(reference.path == "team/app");
    CHECK(reference.tag == "dev");
    CHECK(reference.digest == "sha256:" + H);
    CHECK_FALSE(reference.tag_implied);
    CHECK(reference.repository() == "localhost:5000/team/app");
  }
  SUBCASE("latest is marked as implied") {
    const ref::Reference implied = parsed("debian");
    CHECK(implied.tag == "latest");
    CHECK(implied.tag_implied);
    CHECK_FALSE(parsed("debian:latest").tag_implied);
  }
  SUBCASE("a digest alone gets no tag") {
    const ref::Reference pinned = parsed("debian@sha256:" + H);
    CHECK(pinned.tag.empty());
    CHECK_FALSE(pinned.tag_implied);
  }
  SUBCASE("normalized output parses to itself") {
    for (const std::string& input :
         std::vector<std::string>{"debian", "grafana/grafana:1", "my_reg.io/app", "[::1]:5000/a@sha256:" + H,
                                  "Nexus/app", "localhost:5000", "sha256:" + H}) {
      CAPTURE(input);
      const ref::Reference once = parsed(input);
      CHECK(parsed(once.str()).str() == once.str());
      CHECK(parsed(once.familiar()).str() == once.str());
    }
  }
}

TEST_CASE("reference::parse grammar details") {
  SUBCASE("the path may be 255 characters; the domain does not count") {
    check_valid({
        {std::string(247, 'a'), "docker.io/library/" + std::string(247, 'a') + ":latest"},
        {"quay.io/" + std::string(255, 'a'), "quay.io/" + std::string(255, 'a') + ":latest"},
        {"registry.example.com:5000/" + std::string(255, 'b') + ":1",
         "registry.example.com:5000/" + std::string(255, 'b') + ":1"},
    });
    check_invalid({{"quay.io/" + std::string(256, 'a'), kTooLong, 8 + 255}});
  }
  SUBCASE("the length check follows the grammar and precedes the digest check") {
    check_invalid({
        {std::string(300, 'a') + ":-x", kFormat, 301},
        {std::string(300, 'a') + "@sha1:" + H, kTooLong, 247},
    });
  }
  SUBCASE("tags are 1 to 128 characters") {
    const std::string tag128 = "_" + std::string(127, 'X');
    CHECK(normalized("debian:" + tag128) == "docker.io/library/debian:" + tag128);
    check_invalid({{"debian:" + tag128 + "x", kFormat, 7 + 128}});
    check_invalid({{"debian:1!", kFormat, 8}, {"debian:@sha256:" + H, kFormat, 7}});
  }
  SUBCASE("sha384 and sha512 digests need 96 and 128 hex characters") {
    const std::string hex96 = H + H.substr(0, 32);
    const std::string hex128 = H + H;
    check_valid({
        {"a@sha384:" + hex96, "docker.io/library/a@sha384:" + hex96},
        {"a@sha512:" + hex128, "docker.io/library/a@sha512:" + hex128},
    });
    check_invalid({
        {"a@sha384:" + H, kDigestLength, 9},
        {"a@sha512:" + hex96, kDigestLength, 9},
        {"a@sha256:" + hex96, kDigestLength, 9},
        {"a@md5:" + H.substr(0, 32), kUnsupported, 2},
        {"a@sha256+b64:" + H, kUnsupported, 2},
    });
  }
  SUBCASE("digest algorithm case: distribution's checks in order") {
    // Before the first ':' the digest is still part of the "repository name".
    check_invalid({{"debian@SHA256:" + H, kLowercase, 7}});
    // After a tag it reaches go-digest, which wants a lowercase algorithm.
    check_invalid({{"debian:1@SHA256:" + H, kDigestFormat, 9}});
  }
  SUBCASE("bad digest grammar") {
    check_invalid({
        {"debian@", kFormat, 7},
        {"debian@sha256", kFormat, 13},
        {"debian@256:" + H, kFormat, 7},
        {"debian@sha256:" + H + "z", kFormat, 14 + 64},
        {"debian@sha256:" + H + "@x", kFormat, 14 + 64},
    });
  }
  SUBCASE("IPv6 hosts must be bracketed, without zone or dotted tail") {
    check_valid({
        {"[::1]/app", "[::1]/app:latest"},
        {"[FD00::7]/app:1", "[FD00::7]/app:1"},
        {"[2001:db8::1]:443/team/app", "[2001:db8::1]:443/team/app:latest"},
    });
    check_invalid({
        {"[fd00::7%eth0]/app", kFormat, 8},
        {"[::ffff:1.2.3.4]/app", kFormat, 9},
        {"fd00::7/app", kFormat, 5},
        {"[]:5000/app", kFormat, 1},
        {"[fd00]/app", kFormat, 0},  // no '.', ':' or uppercase: a Hub path, and '[' is no path character
        {"[fd00::7]x/app", kFormat, 9},
        {"[fd00::7]:/app", kFormat, 10},
        {"[fd00::7/app", kFormat, 0},
    });
  }
  SUBCASE("my_reg.io: no valid host, but a valid path component") {
    const ref::Reference odd = parsed("my_reg.io/app");
    CHECK(odd.str() == "my_reg.io/app:latest");
    CHECK(odd.domain.empty());
    CHECK(odd.path == "my_reg.io/app");
    CHECK(odd.repository() == "my_reg.io/app");
    // The whole of it counts as path for the 255 limit, as in distribution.
    CHECK(normalized("my_reg.io/" + std::string(245, 'a')) ==
          "my_reg.io/" + std::string(245, 'a') + ":latest");
    check_invalid({{"my_reg.io/" + std::string(246, 'a'), kTooLong, 255}});
    check_invalid({{"my_reg.io/App", kLowercase, 10}, {"my__reg..io/app", kFormat, 2}});
  }
  SUBCASE("an uppercase first component that is not a host is an uppercase path") {
    check_invalid({{"Nexus_1/app", kLowercase, 0}, {"Nexus_1/app:-1", kFormat, 5}});
  }
  SUBCASE("separators: one dot, one or two underscores, any number of dashes") {
    check_valid({
        {"a---b/c--d", "docker.io/a---b/c--d:latest"},
        {"a__b", "docker.io/library/a__b:latest"},
        {"a_b.c-d", "docker.io/library/a_b.c-d:latest"},
        {"registry--1.example.com/x", "registry--1.example.com/x:latest"},
    });
    check_invalid({
        {"a-.b", kFormat, 2},
        {"a._b", kFormat, 2},
        {"a__.b", kFormat, 3},
        {"a/b_", kFormat, 3},
    });
  }
  SUBCASE("domain labels and ports") {
    check_invalid({
        {"bad-.example.com/app", kFormat, 3},
        {"a..b.com/app", kFormat, 2},
        {"host:/app", kFormat, 5},
        {"ex ample.com/app", kFormat, 2},
    });
  }
  SUBCASE("anything else is an invalid format, pointing at the culprit") {
    check_invalid({
        {"", kFormat, 0},
        {"/app", kFormat, 0},
        {"debian ", kFormat, 6},
        {"d\xc3\xa9"
         "bian",
         kFormat, 1},
        {"app/", kFormat, 4},
        {"a/b:1/c", kFormat, 5},
    });
  }
  SUBCASE("messages say what and where") {
    CHECK(failure("debian:-12").message ==
          "invalid reference format: tag must start with a letter, digit or '_' (at offset 7)");
    CHECK(failure("Debian").message ==
          "repository name must be lowercase: found uppercase 'D' (at offset 0)");
    CHECK(failure("debian@sha256:" + H.substr(0, 40)).message ==
          "invalid checksum digest length: sha256 needs 64 hex characters, found 40 (at offset 14)");
    CHECK(failure("debian@sha1:" + H.substr(0, 40)).message ==
          "unsupported digest algorithm: 'sha1' is not sha256, sha384 or sha512 (at offset 7)");
    CHECK(failure("a!b").message ==
          "invalid reference format: path component contains invalid character '!' (at offset 1)");
  }
}

TEST_CASE("reference::familiar") {
  SUBCASE("docker.io and library/ are dropped") {
    CHECK(parsed("docker.io/library/debian:12").familiar() == "debian:12");
    CHECK(parsed("debian").familiar() == "debian:latest");
    CHECK(parsed("debian@sha256:" + H).familiar() == "debian@sha256:" + H);
    CHECK(parsed("docker.io/grafana/grafana:latest").familiar() == "grafana/grafana:latest");
  }
  SUBCASE("library/ stays when it has nested components") {
    CHECK(parsed("docker.io/library/a/b").familiar() == "library/a/b:latest");
  }
  SUBCASE("other registries are shown in full") {
    CHECK(parsed("quay.io/a/b:1").familiar() == "quay.io/a/b:1");
    CHECK(parsed("localhost/app").familiar() == "localhost/app:latest");
    CHECK(parsed("DOCKER.IO/debian").familiar() == "DOCKER.IO/debian:latest");
    CHECK(parsed("my_reg.io/app").familiar() == "my_reg.io/app:latest");
  }
}

TEST_CASE("reference::without_digest") {
  SUBCASE("the tag is kept") {
    const ref::Reference stripped = parsed("debian:12@sha256:" + H).without_digest();
    CHECK(stripped.str() == "docker.io/library/debian:12");
    CHECK_FALSE(stripped.tag_implied);
  }
  SUBCASE("latest is implied when no tag remains") {
    const ref::Reference stripped = parsed("debian@sha256:" + H).without_digest();
    CHECK(stripped.str() == "docker.io/library/debian:latest");
    CHECK(stripped.tag_implied);
    CHECK(stripped == parsed("debian"));
  }
  SUBCASE("a reference without digest is unchanged") {
    CHECK(parsed("quay.io/a/b:1").without_digest() == parsed("quay.io/a/b:1"));
  }
}

TEST_CASE("reference::validate_digest") {
  SUBCASE("sha256, sha384 and sha512 with exact lowercase hex") {
    CHECK(ref::validate_digest("sha256:" + H));
    CHECK(ref::validate_digest("sha512:" + H + H));
  }
  SUBCASE("go-digest's errors") {
    auto message_of = [](const std::string& digest) {
      auto result = ref::validate_digest(digest);
      return result ? std::string("ok") : result.error().message;
    };
    CHECK(message_of("sha256").starts_with(kDigestFormat));
    CHECK(message_of(":" + H).starts_with(kDigestFormat));
    CHECK(message_of("sha256:").starts_with(kDigestFormat));
    CHECK(message_of("SHA256:" + H).starts_with(kDigestFormat));
    CHECK(message_of("sha256:" + upper(H)).starts_with(kDigestFormat));
    CHECK(message_of("sha256:" + H.substr(0, 63) + "g").starts_with(kDigestFormat));
    CHECK(message_of("sha1:" + H.substr(0, 40)).starts_with(kUnsupported));
    CHECK(message_of("sha256:" + H.substr(0, 40)).starts_with(kDigestLength));
    CHECK(ref::validate_digest("sha256:" + H.substr(0, 40)).error().position == 7);
  }
}
