// Discover globs and image/context templates. glob_match runs once per file of every
// source at every scan, so it neither allocates nor recurses: segments are walked in
// place, with one backtracking point for '**' and one for '*' inside a segment.
#include <string>
#include <string_view>

#include "cascade/pipeline.hpp"

namespace cascade::pipeline {

namespace {

constexpr std::size_t npos = std::string_view::npos;

/// A '[...]' set starting at `open`; `end` is the offset just past its ']', or npos
/// when it is not closed. A ']' right after '[' or '[!' is a member, as in fnmatch.
struct CharSet {
  std::size_t end = npos;
  bool matched = false;
};

CharSet match_set(std::string_view pattern, std::size_t open, char ch) {
  std::size_t i = open + 1;
  bool negated = i < pattern.size() && pattern[i] == '!';
  if (negated) ++i;
  bool in_set = false;
  bool first = true;
  while (i < pattern.size()) {
    char low = pattern[i];
    if (low == ']' && !first) return {i + 1, in_set != negated};
    first = false;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      char high = pattern[i + 2];
      if (low <= ch && ch <= high) in_set = true;
      i += 3;
    } else {
      if (low == ch) in_set = true;
      ++i;
    }
  }
  return {npos, false};
}

/// Matches one path segment against one glob segment ('*', '?', sets, literals).
bool match_segment(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star_pattern = npos;  // just past the last '*' seen
  std::size_t star_text = 0;        // where that '*' currently stops absorbing text
  while (t < text.size()) {
    if (p < pattern.size()) {
      char token = pattern[p];
      if (token == '*') {
        star_pattern = ++p;
        star_text = t;
        continue;
      }
      if (token == '?') {
        ++p, ++t;
        continue;
      }
      if (token == '[') {
        CharSet set = match_set(pattern, p, text[t]);
        if (set.end != npos && set.matched) {
          p = set.end, ++t;
          continue;
        }
        if (set.end == npos && text[t] == '[') {  // unclosed: a literal '['
          ++p, ++t;
          continue;
        }
      } else if (token == text[t]) {
        ++p, ++t;
        continue;
      }
    }
    if (star_pattern == npos) return false;
    p = star_pattern;
    t = ++star_text;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

/// The segment of `text` starting at `pos` (up to the next '/').
std::string_view segment_at(std::string_view text, std::size_t pos) {
  std::size_t slash = text.find('/', pos);
  return text.substr(pos, slash == npos ? npos : slash - pos);
}

/// Offset of the segment after the one at `pos`; past the end (size + 1) after the last.
std::size_t next_segment(std::string_view text, std::size_t pos) {
  std::size_t slash = text.find('/', pos);
  return slash == npos ? text.size() + 1 : slash + 1;
}

using GlobError = std::pair<std::string, std::size_t>;

Expected<void, GlobError> validate_set(std::string_view glob, std::size_t open) {
  std::size_t end = match_set(glob, open, '\0').end;
  std::size_t slash = glob.find('/', open);
  if (end == npos || (slash != npos && end > slash))
    return unexpected(GlobError{"unclosed '[': close the set with ']'", open});
  std::size_t i = open + 1;
  if (glob[i] == '!') ++i;
  for (bool first = true; first || glob[i] != ']'; first = false) {
    if (glob[i + 1] == '-' && glob[i + 2] != ']') {
      if (glob[i] > glob[i + 2])
        return unexpected(GlobError{"empty range '" + std::string(glob.substr(i, 3)) + "' in set: write the low end first", i});
      i += 3;
    } else {
      ++i;
    }
  }
  return {};
}

Expected<void, GlobError> validate_segment(std::string_view glob, std::size_t start, std::string_view segment) {
  if (segment.empty()) return unexpected(GlobError{"empty path segment ('//' or a trailing '/'): remove the extra '/'", start});
  if (segment == "..") return unexpected(GlobError{"'..' would leave the repository: globs match paths inside it", start});
  if (segment == ".") return unexpected(GlobError{"'.' segment never matches (paths are written without './'): remove it", start});
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '[') continue;
    CASCADE_TRY(validate_set(glob, start + i));
    i = match_set(glob, start + i, '\0').end - start - 1;
  }
  return {};
}

std::string_view folder_of(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == npos ? std::string_view(".") : path.substr(0, slash);
}

std::string_view name_of(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == npos ? path : path.substr(slash + 1);
}

}  // namespace

Expected<void, std::pair<std::string, std::size_t>> validate_glob(std::string_view glob) {
  if (glob.empty()) return unexpected(GlobError{"empty pattern: write a glob such as 'services/*/Dockerfile'", 0});
  if (glob.front() == '/')
    return unexpected(GlobError{"absolute pattern: globs are relative to the repository root; remove the leading '/'", 0});
  for (std::size_t pos = 0; pos <= glob.size(); pos = next_segment(glob, pos)) {
    CASCADE_TRY(validate_segment(glob, pos, segment_at(glob, pos)));
  }
  return {};
}

bool glob_match(std::string_view glob, std::string_view path) {
  std::size_t g = 0;                 // current glob segment
  std::size_t p = 0;                 // current path segment
  std::size_t star_glob = npos;      // glob segment after the last '**'
  std::size_t star_path = 0;         // first path segment that '**' has not absorbed
  const std::size_t glob_end = glob.size() + 1;
  const std::size_t path_end = path.size() + 1;
  while (p < path_end) {
    if (g < glob_end) {
      std::string_view pattern = segment_at(glob, g);
      if (pattern == "**") {
        g = next_segment(glob, g);
        star_glob = g;
        star_path = p;
        continue;
      }
      if (match_segment(pattern, segment_at(path, p))) {
        g = next_segment(glob, g);
        p = next_segment(path, p);
        continue;
      }
    }
    if (star_glob == npos) return false;
    star_path = next_segment(path, star_path);
    p = star_path;
    g = star_glob;
  }
  while (g < glob_end && segment_at(glob, g) == "**") g = next_segment(glob, g);
  return g >= glob_end;
}

Expected<std::string, std::string> expand_template(std::string_view tmpl, std::string_view dockerfile_path,
                                                   std::string_view source_name) {
  std::string out;
  out.reserve(tmpl.size() + dockerfile_path.size());
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    char ch = tmpl[i];
    if (ch == '}') return unexpected("unmatched '}' at character " + std::to_string(i + 1) + ": remove it");
    if (ch != '{') {
      out += ch;
      continue;
    }
    std::size_t close = tmpl.find_first_of("{}", i + 1);
    if (close == npos || tmpl[close] != '}')
      return unexpected("unclosed '{' at character " + std::to_string(i + 1) + ": close the placeholder with '}'");
    std::string_view name = tmpl.substr(i + 1, close - i - 1);
    if (name == "dir") {
      out += name_of(folder_of(dockerfile_path));
    } else if (name == "path") {
      out += folder_of(dockerfile_path);
    } else if (name == "file") {
      out += name_of(dockerfile_path);
    } else if (name == "source") {
      out += source_name;
    } else {
      return unexpected("unknown placeholder '{" + std::string(name) + "}': use {dir}, {path}, {source} or {file}");
    }
    i = close;
  }
  return out;
}

}  // namespace cascade::pipeline
