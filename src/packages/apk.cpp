// apk's database, lib/apk/db/installed: one block of "X:value" lines per package, blocks
// separated by an empty line (PACKAGES.md section 5). P name, V version, A architecture,
// o origin (the source package); every other key (checksums, files, dependencies) is skipped.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cascade/packages.hpp"

namespace cascade::packages {
namespace {

struct Block {
  std::string name, version, arch, origin;
  bool has_name = false, has_version = false;
};

void finish(Block& block, std::vector<Package>& out) {
  if (block.has_name && block.has_version && !block.name.empty() && !block.version.empty()) {
    Package package;
    package.name = std::move(block.name);
    package.version = std::move(block.version);
    package.source_name = block.origin.empty() ? package.name : std::move(block.origin);
    package.source_version = package.version;
    package.architecture = std::move(block.arch);
    out.push_back(std::move(package));
  }
  block = Block{};
}

bool blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

}  // namespace

Expected<std::vector<Package>, ParseError> parse_apk_installed(std::string_view text) {
  std::vector<Package> packages;
  Block block;
  std::size_t number = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (blank(line)) {
      finish(block, packages);
      continue;
    }
    if (line.size() < 2 || line[1] != ':') {
      return unexpected(ParseError{number, "line " + std::to_string(number) + ": not a \"X:value\" line"});
    }
    const std::string_view value = line.substr(2);
    switch (line[0]) {
      case 'P': block.name = value; block.has_name = true; break;
      case 'V': block.version = value; block.has_version = true; break;
      case 'A': block.arch = value; break;
      case 'o': block.origin = value; break;
      default: break;
    }
  }
  finish(block, packages);
  return packages;
}

}  // namespace cascade::packages
