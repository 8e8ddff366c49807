// OSV ecosystem strings and the distributions they name (PACKAGES.md sections 2, 9 and 10):
// which version ordering an ecosystem uses, whether it names the system an os-release
// describes, and the ecosystem string of a system.
#include <string>
#include <string_view>

#include "cascade/advisory.hpp"

namespace cascade::advisory {
namespace {

// An ecosystem string cut at its first colon: "Debian:12" -> "Debian" and "12".
struct Parts {
  std::string_view base;
  std::string_view release;
  bool has_release = false;
};

Parts split(std::string_view ecosystem) {
  const auto colon = ecosystem.find(':');
  if (colon == std::string_view::npos) return {ecosystem, {}, false};
  return {ecosystem.substr(0, colon), ecosystem.substr(colon + 1), true};
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The leading run of digits: "9.4" -> "9", "12" -> "12", "sid" -> "".
std::string_view major_of(std::string_view version_id) {
  std::size_t end = 0;
  while (end < version_id.size() && version_id[end] >= '0' && version_id[end] <= '9') ++end;
  return version_id.substr(0, end);
}

// "3.20.3" -> "3.20", "3.21.0_alpha20240807" -> "3.21"; empty without a "N.M" start.
std::string_view major_minor_of(std::string_view version_id) {
  const std::string_view major = major_of(version_id);
  if (major.empty() || major.size() >= version_id.size() || version_id[major.size()] != '.') return {};
  const std::string_view minor = major_of(version_id.substr(major.size() + 1));
  if (minor.empty()) return {};
  return version_id.substr(0, major.size() + 1 + minor.size());
}

// Ubuntu's release part: "24.04", "24.04:LTS", "Pro:24.04" or "Pro:24.04:LTS" (the FIPS
// and other streams carry their own builds and are never matched).
bool ubuntu_release_matches(std::string_view release, std::string_view version_id) {
  if (release.starts_with("Pro:")) release.remove_prefix(4);
  if (release.ends_with(":LTS")) release.remove_suffix(4);
  return !release.empty() && release == version_id;
}

// Red Hat's CPE part: "enterprise_linux:9" optionally followed by ":" and more
// ("enterprise_linux:9::baseos"); EUS/AUS streams (rhel_eus:9.4::...) are never matched.
bool red_hat_release_matches(std::string_view release, std::string_view major) {
  constexpr std::string_view product = "enterprise_linux:";
  if (major.empty() || !release.starts_with(product)) return false;
  release.remove_prefix(product.size());
  if (!release.starts_with(major)) return false;
  release.remove_prefix(major.size());
  return release.empty() || release.front() == ':';
}

// A release scoped to the major version ("AlmaLinux:9"), or none at all (the schema lets
// Debian, AlmaLinux and Rocky Linux leave the release out: every release of that system).
bool major_release_matches(const Parts& parts, std::string_view version_id) {
  if (!parts.has_release) return true;
  const std::string_view major = major_of(version_id);
  return all_digits(parts.release) && parts.release == major;
}

}  // namespace

std::optional<version::Scheme> scheme_of_ecosystem(std::string_view ecosystem) {
  const Parts parts = split(ecosystem);
  const bool named_release = parts.has_release && !parts.release.empty();
  if (parts.base == "Debian") {
    if (!parts.has_release || named_release) return version::Scheme::dpkg;
  } else if (parts.base == "Ubuntu") {
    if (named_release) return version::Scheme::dpkg;
  } else if (parts.base == "Alpine") {
    if (parts.release.size() > 1 && parts.release.front() == 'v') return version::Scheme::apk;
  } else if (parts.base == "Wolfi" || parts.base == "Chainguard") {
    if (!parts.has_release) return version::Scheme::apk;
  } else if (parts.base == "Red Hat") {
    if (named_release) return version::Scheme::rpm;
  } else if (parts.base == "AlmaLinux" || parts.base == "Rocky Linux") {
    if (!parts.has_release || named_release) return version::Scheme::rpm;
  }
  return std::nullopt;
}

bool ecosystem_matches(std::string_view ecosystem, const packages::OsRelease& os) {
  if (!scheme_of_ecosystem(ecosystem)) return false;
  const Parts parts = split(ecosystem);
  const std::string_view version_id = os.version_id;
  if (parts.base == "Debian") {
    // Without a numeric VERSION_ID (testing, sid) the release is unsupported: no match.
    return os.id == "debian" && all_digits(major_of(version_id)) && major_release_matches(parts, version_id);
  }
  if (parts.base == "Ubuntu") return os.id == "ubuntu" && ubuntu_release_matches(parts.release, version_id);
  if (parts.base == "Alpine") {
    const std::string_view major_minor = major_minor_of(version_id);
    return os.id == "alpine" && !major_minor.empty() && parts.release.substr(1) == major_minor;
  }
  if (parts.base == "Wolfi") return os.id == "wolfi";
  if (parts.base == "Chainguard") return os.id == "chainguard";
  if (parts.base == "Red Hat") return os.id == "rhel" && red_hat_release_matches(parts.release, major_of(version_id));
  if (parts.base == "AlmaLinux") {
    return os.id == "almalinux" && !major_of(version_id).empty() && major_release_matches(parts, version_id);
  }
  if (parts.base == "Rocky Linux") {
    return os.id == "rocky" && !major_of(version_id).empty() && major_release_matches(parts, version_id);
  }
  return false;
}

std::string ecosystem_of(const packages::OsRelease& os) {
  const std::string_view version_id = os.version_id;
  const std::string major(major_of(version_id));
  if (os.id == "debian") return all_digits(version_id) ? "Debian:" + std::string(version_id) : "";
  if (os.id == "ubuntu") {
    if (version_id.empty()) return "";
    const bool lts = os.version.find("LTS") != std::string::npos;
    return "Ubuntu:" + std::string(version_id) + (lts ? ":LTS" : "");
  }
  if (os.id == "alpine") {
    const std::string_view major_minor = major_minor_of(version_id);
    return major_minor.empty() ? "" : "Alpine:v" + std::string(major_minor);
  }
  if (os.id == "wolfi") return "Wolfi";
  if (os.id == "chainguard") return "Chainguard";
  if (major.empty()) return "";
  // Red Hat streams are CPEs ("Red Hat:enterprise_linux:9::baseos", "...::appstream"):
  // this is the part they share, which ecosystem_matches accepts for every stream.
  if (os.id == "rhel") return "Red Hat:enterprise_linux:" + major;
  if (os.id == "almalinux") return "AlmaLinux:" + major;
  if (os.id == "rocky") return "Rocky Linux:" + major;
  return "";
}

}  // namespace cascade::advisory
