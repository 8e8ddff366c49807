// Edit distance for "did you mean" suggestions (pipeline keys, image names).
#pragma once

#include <cstddef>
#include <string_view>

namespace cascade::util {

/// Optimal string alignment distance: the fewest insertions, deletions, substitutions and
/// swaps of two adjacent characters turning `a` into `b` (no substring edited twice), ASCII
/// letter case ignored. "tagret" -> "target" is 1, "Target" -> "target" is 0.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace cascade::util
