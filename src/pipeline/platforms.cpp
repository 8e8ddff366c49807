// `platforms:` lists (top level, sources, image recipes, discover entries). Each entry is
// normalized the way containerd's platforms.Normalize does, so that the names compared later
// are the ones registries put in an index and build engines take for --platform:
// "linux/aarch64" and "linux/arm64/v8" are "linux/arm64", "linux/arm" is "linux/arm/v7".
// Normalizing here also catches two spellings of one platform while the file's line is known.
#include <algorithm>
#include <array>
#include <map>

#include "cascade/util/text.hpp"
#include "sections.hpp"

namespace cascade::pipeline::detail {

namespace {

constexpr std::string_view kPlatformShape = "write os/arch like linux/amd64 or linux/arm64";

// An architecture cascade builds for and the variants that mean something on it. `implied`
// is the variant an entry without one gets (containerd: "linux/arm" is arm/v7); `baseline` is
// the variant every CPU of the architecture has, so it is dropped ("linux/arm64/v8").
struct PlatformArchitecture {
  std::string_view name;
  std::string_view implied;
  std::string_view baseline;
  std::vector<std::string_view> variants;  // kept as written; any other is an error
};

const std::array<PlatformArchitecture, 8> kPlatformArchitectures{{
    {"amd64", "", "v1", {"v2", "v3", "v4"}},
    {"arm64", "", "v8", {}},
    {"arm", "v7", "", {"v5", "v6", "v7", "v8"}},
    {"386", "", "", {}},
    {"ppc64le", "", "", {}},
    {"s390x", "", "", {}},
    {"riscv64", "", "", {}},
    {"mips64le", "", "", {}},
}};

// Other spellings of an architecture (uname -m, Debian's port names); the arm ports also fix
// the variant: armhf is the v7 hard-float port, armel the v6 soft-float one (as containerd).
struct PlatformAlias {
  std::string_view alias;
  std::string_view architecture;
  std::string_view variant;
};

const std::array<PlatformAlias, 6> kPlatformAliases{{
    {"x86_64", "amd64", ""},
    {"x86-64", "amd64", ""},
    {"aarch64", "arm64", ""},
    {"armhf", "arm", "v7"},
    {"armel", "arm", "v6"},
    {"i386", "386", ""},
}};

std::string architecture_names() {
  std::string names;
  for (const PlatformArchitecture& architecture : kPlatformArchitectures) {
    if (!names.empty()) names += ", ";
    names += architecture.name;
  }
  return names;
}

std::vector<std::string> split_platform(std::string_view text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t slash = text.find('/'); slash != std::string_view::npos; slash = text.find('/', start)) {
    parts.emplace_back(text.substr(start, slash - start));
    start = slash + 1;
  }
  parts.emplace_back(text.substr(start));
  return parts;
}

/// "v7" for "7": containerd accepts a variant's bare number.
std::string variant_with_v(std::string variant) {
  bool digits = !variant.empty() && std::all_of(variant.begin(), variant.end(),
                                                [](char ch) { return ch >= '0' && ch <= '9'; });
  return digits ? "v" + variant : variant;
}

/// "v2, v3 or v4".
std::string variant_names(const std::vector<std::string_view>& variants) {
  std::string names;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    if (i > 0) names += i + 1 == variants.size() ? " or " : ", ";
    names += variants[i];
  }
  return names;
}

/// The variant kept for `variant` on `architecture` ("" when none), or why it is refused.
Expected<std::string, std::string> platform_variant(const std::string& written,
                                                    const PlatformArchitecture& architecture,
                                                    const std::string& variant) {
  if (variant.empty()) return std::string(architecture.implied);
  if (variant == architecture.baseline) return std::string();
  if (std::find(architecture.variants.begin(), architecture.variants.end(), variant) != architecture.variants.end())
    return variant;
  std::string plain = "linux/" + std::string(architecture.name);
  if (architecture.variants.empty())
    return unexpected(quote(written) + ": " + std::string(architecture.name) + " has no variant " + quote(variant) +
                      "; write " + plain);
  return unexpected(quote(written) + ": " + std::string(architecture.name) + " has no variant " + quote(variant) +
                    "; write " + plain + ", or " + plain + "/" + variant_names(architecture.variants));
}

/// `written` as "os/arch[/variant]" in containerd's normal form, or why it is not a platform
/// cascade builds, saying what to write instead.
Expected<std::string, std::string> normalize_platform(const std::string& written) {
  std::vector<std::string> parts = split_platform(util::lowercase(written));
  bool shaped = (parts.size() == 2 || parts.size() == 3) &&
                std::none_of(parts.begin(), parts.end(), [](const std::string& part) { return part.empty(); });
  if (!shaped)
    return unexpected(quote(written) + " is not a platform: " + std::string(kPlatformShape) +
                      ", or os/arch/variant like linux/arm/v7");
  std::string architecture_name = parts[1];
  std::string variant = parts.size() == 3 ? variant_with_v(parts[2]) : std::string();
  auto alias = std::find_if(kPlatformAliases.begin(), kPlatformAliases.end(),
                            [&](const PlatformAlias& entry) { return entry.alias == architecture_name; });
  if (alias != kPlatformAliases.end()) {
    architecture_name = alias->architecture;
    if (!alias->variant.empty() && !variant.empty() && variant != alias->variant)
      return unexpected(quote(written) + ": " + std::string(alias->alias) + " is linux/arm/" +
                        std::string(alias->variant) + "; write linux/arm/" + variant + " for that variant");
    if (variant.empty()) variant = alias->variant;
  }
  auto architecture = std::find_if(kPlatformArchitectures.begin(), kPlatformArchitectures.end(),
                                   [&](const PlatformArchitecture& entry) { return entry.name == architecture_name; });
  if (parts[0] != "linux") {
    std::string instead = architecture != kPlatformArchitectures.end() ? "write linux/" + architecture_name
                                                                       : std::string(kPlatformShape);
    return unexpected(quote(written) + " is not a platform cascade builds: the os must be linux; " + instead);
  }
  if (architecture == kPlatformArchitectures.end())
    return unexpected(quote(written) + " is not a platform: " + std::string(kPlatformShape) +
                      " (unknown architecture " + quote(parts[1]) + "; known: " + architecture_names() + ")");
  CASCADE_TRY_ASSIGN(variant, platform_variant(written, *architecture, variant));
  std::string platform = "linux/" + architecture_name;
  if (!variant.empty()) platform += "/" + variant;
  return platform;
}

struct ListedPlatform {
  std::string written;
  Mark mark;
};

}  // namespace

Expected<std::vector<std::string>, Error> read_platforms(const Context& context, const YAML::Node& node) {
  if (node.IsScalar())  // `platforms: linux/amd64`: the likely slip, worth its own hint
    return unexpected(context.report.at(node, "'platforms' must be a list, not a string: write [" + node.Scalar() +
                                                  "]"));
  CASCADE_TRY(expect_list(context.report, node, "platforms"));
  if (node.size() == 0)
    return unexpected(context.report.at(node, "'platforms' is empty: list at least one platform, e.g. "
                                              "[linux/amd64, linux/arm64], or remove the key"));
  std::vector<std::string> platforms;
  std::map<std::string, ListedPlatform> listed;  // normalized -> its first entry
  for (const YAML::Node& entry : node) {
    if (entry.IsNull())  // yaml-cpp marks an empty entry where the next token starts: point at the list
      return unexpected(context.report.at(node, "'platforms' has an empty entry; give each '-' a platform like "
                                                "linux/amd64, or remove it"));
    if (!entry.IsScalar())
      return unexpected(context.report.at(entry, "each entry of 'platforms' must be a string like linux/amd64, not " +
                                                     std::string(kind_of(entry))));
    const std::string written = entry.Scalar();
    auto platform = normalize_platform(written);
    if (!platform) return unexpected(context.report.at(entry, platform.error()));
    Mark mark = mark_of(entry);
    auto [first, inserted] = listed.emplace(*platform, ListedPlatform{written, mark});
    if (!inserted) {
      const ListedPlatform& earlier = first->second;
      std::string where = "line " + std::to_string(earlier.mark.line) + ", column " +
                          std::to_string(earlier.mark.column);
      std::string message = earlier.written == written
                                ? quote(written) + " is already listed at " + where
                                : quote(written) + " is the same platform as " + quote(earlier.written) + " at " +
                                      where + " (both are " + *platform + ")";
      return unexpected(context.report.at(entry, message + "; keep only one"));
    }
    platforms.push_back(std::move(*platform));
  }
  return platforms;
}

}  // namespace cascade::pipeline::detail
