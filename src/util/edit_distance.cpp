// Edit distance (cascade/util/edit_distance.hpp): optimal string alignment, case ignored.
#include "cascade/util/edit_distance.hpp"

#include <algorithm>
#include <vector>

#include "cascade/util/text.hpp"

namespace cascade::util {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rolling rows of the table: the row two back serves the transpositions.
  std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    const char x = ascii_lower(a[i - 1]);
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const char y = ascii_lower(b[j - 1]);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x == y ? 0 : 1)});
      if (i > 1 && j > 1 && x == ascii_lower(b[j - 2]) && ascii_lower(a[i - 2]) == y)
        current[j] = std::min(current[j], before[j - 2] + 1);
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

}  // namespace cascade::util
