// What the exposure, scan and fix files of the app module share: judging an image's
// packages against a question, and folding a stored image.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cascade/exposure.hpp"

namespace cascade::app::detail {

/// One package of an image that matches the question.
struct Finding {
  std::size_t package = 0;           // index into ImageContents::packages
  std::string matched_by;            // advisory id or constraint text
  std::optional<std::string> fixed;  // lowest fixed version above the installed one
};

/// Every package name the question can match (constraint name, advisories' package names).
std::set<std::string> package_names(const PackageQuestion& question);
/// The packages of `contents` the question matches (advisories need contents.os).
std::vector<Finding> judge(const packages::ImageContents& contents, const PackageQuestion& question);
/// The fold of a stored image digest; fails saying what was never indexed.
Expected<packages::ImageContents, std::string> contents_of(const std::string& digest,
                                                           const std::map<std::string, store::ImageLayers>& images,
                                                           const std::map<std::string, packages::LayerIndex>& layers);

}  // namespace cascade::app::detail
