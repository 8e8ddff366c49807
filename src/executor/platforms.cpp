// The platforms of a multi-platform build step: each platform's labels, naming the bases'
// manifests for that very platform. The Dockerfile stays pinned to the bases' index digests
// (each platform's build takes that platform's child of the same immutable index, and a stage
// `FROM --platform=$BUILDPLATFORM` takes the build platform's), so only the labels differ.
#include <nlohmann/json.hpp>

#include "step.hpp"

namespace cascade::executor::detail {

Expected<std::vector<builder::PlatformBuild>, std::string> platform_builds(
    const Services& services, const StepInput& input, const std::optional<std::string>& final_base) {
  const std::vector<std::string>& platforms = input.step->platforms;
  // base image -> platform -> that platform's manifest digest
  std::map<std::string, std::map<std::string, std::string>> children;
  for (const auto& [base, digest] : input.base_digests) {
    auto parsed = reference::parse(base);
    if (!parsed) return unexpected(base + " is not an image reference: " + parsed.error().message);
    std::string pinned = parsed->repository() + "@" + digest;
    if (!services.platforms_of) {
      for (const auto& platform : platforms) children[base][platform] = digest;  // no registry: the pin itself
      continue;
    }
    auto found = services.platforms_of(pinned);
    if (!found) return unexpected("cannot read the platforms of the base " + pinned + ": " + found.error());
    for (const auto& manifest : *found) children[base][manifest.platform] = manifest.digest;
  }
  std::vector<builder::PlatformBuild> builds;
  for (const auto& platform : platforms) {
    builder::PlatformBuild build;
    build.platform = platform;
    nlohmann::json bases = nlohmann::json::object();
    for (const auto& [base, by_platform] : children) {
      auto child = by_platform.find(platform);
      if (child == by_platform.end()) {
        std::string has;
        for (const auto& [name, digest] : by_platform) has += (has.empty() ? "" : ", ") + name;
        return unexpected("the base " + base + "@" + input.base_digests.at(base) + " has no " + platform +
                          " image (it has " + (has.empty() ? "none" : has) + "): build it for " + platform +
                          " first, or leave " + platform + " out of " + input.step->image + "'s platforms");
      }
      bases[base] = child->second;
      if (final_base && *final_base == base) build.labels[kLabelBaseDigest] = child->second;
    }
    build.labels[kLabelBases] = bases.dump();
    builds.push_back(std::move(build));
  }
  return builds;
}

}  // namespace cascade::executor::detail
