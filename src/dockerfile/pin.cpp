// Pinning: rewrite a Dockerfile so each external image it uses is named by an exact
// digest. The executor builds every image on the digest its parent got in the same run,
// whatever a tag points to by then (a concurrent push must not leak in).
#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

#include "internal.hpp"

namespace cascade::dockerfile {

namespace {

using detail::Build;
using detail::LexedFile;
using detail::SourceRef;

// Replaces the whole instruction on lines [line, end_line] (1-based).
struct InstructionEdit {
  int line = 0;
  int end_line = 0;
  std::string replacement;
};

// Replaces `value` after `key` ("--from=" or "from=") within lines [line, end_line].
struct ValueEdit {
  int line = 0;
  int end_line = 0;
  std::string key;
  std::string value;
  std::string replacement;
  bool operator<(const ValueEdit& other) const {
    return std::tie(line, key, value) < std::tie(other.line, other.key, other.value);
  }
};

struct Edits {
  std::vector<InstructionEdit> instructions;
  std::set<ValueEdit> values;
};

int end_line_of(const LexedFile& file, int line) {
  for (const auto& instruction : file.instructions)
    if (instruction.line == line) return instruction.end_line;
  return line;
}

std::string from_line(const detail::StageDecl& decl, const std::string& pinned) {
  std::string text = "FROM ";
  if (!decl.platform_word.empty()) text += "--platform=" + std::string(decl.platform_word) + " ";
  text += pinned;
  if (!decl.name.empty()) text += " AS " + decl.name;
  return text;
}

void collect_source_edits(const LexedFile& file, const std::vector<SourceRef>& sources,
                          const std::map<std::string, std::string>& pins, Edits& edits) {
  for (const SourceRef& source : sources) {
    if (source.kind != SourceRef::Kind::image || !source.image) continue;
    auto pin = pins.find(source.image->str());
    if (pin == pins.end()) continue;
    bool copy = source.use == UseKind::copy_from || source.use == UseKind::onbuild_copy_from;
    edits.values.insert(ValueEdit{source.line, end_line_of(file, source.line), copy ? "--from=" : "from=", source.text,
                                  pin->second});
  }
}

Edits collect_edits(const LexedFile& file, const Build& build, const std::map<std::string, std::string>& pins) {
  Edits edits;
  for (const auto& state : build.stages) {
    if (state.stage.base_image) {
      auto pin = pins.find(state.stage.base_image->str());
      if (pin != pins.end()) {
        const auto* from = state.decl->from;
        edits.instructions.push_back({from->line, from->end_line, from_line(*state.decl, pin->second)});
      }
    }
    collect_source_edits(file, state.sources, pins, edits);
    collect_source_edits(file, state.triggered, pins, edits);
  }
  return edits;
}

// Physical lines with their line endings kept, so unedited lines come back byte for byte.
std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t newline = text.find('\n', start);
    std::size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
    lines.emplace_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

std::string_view ending_of(const std::string& line) {
  if (line.size() >= 2 && line.compare(line.size() - 2, 2, "\r\n") == 0) return "\r\n";
  if (!line.empty() && line.back() == '\n') return "\n";
  return "";
}

bool is_reference_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == ':' || c == '/' ||
         c == '@' || c == '[' || c == ']';
}

// Replaces the value after its key, on the first line of the range that holds it.
bool apply_value_edit(std::vector<std::string>& lines, const ValueEdit& edit) {
  for (int line = edit.line; line <= edit.end_line && line <= static_cast<int>(lines.size()); ++line) {
    std::string& text = lines[line - 1];
    for (const std::string quote : {"", "\"", "'"}) {
      std::string needle = edit.key + quote + edit.value;
      for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        std::size_t after = at + needle.size();
        bool whole = after >= text.size() || !is_reference_char(text[after]);
        bool key_starts_word = edit.key[0] == '-' || at == 0 || !std::isalnum(static_cast<unsigned char>(text[at - 1]));
        if (!whole || !key_starts_word) continue;
        text.replace(at + edit.key.size() + quote.size(), edit.value.size(), edit.replacement);
        return true;
      }
    }
  }
  return false;
}

Expected<std::string, Error> apply_edits(std::string_view text, const Edits& edits) {
  std::vector<std::string> lines = split_lines(text);
  for (const auto& edit : edits.instructions) {
    if (edit.line < 1 || edit.end_line > static_cast<int>(lines.size()))
      return unexpected(Error{edit.line, "cannot pin the FROM instruction: its lines are out of range"});
    lines[edit.line - 1] = edit.replacement + std::string(ending_of(lines[edit.line - 1]));
    for (int line = edit.line + 1; line <= edit.end_line; ++line) lines[line - 1] = std::string(ending_of(lines[line - 1]));
  }
  for (const auto& edit : edits.values) {
    if (!apply_value_edit(lines, edit))
      return unexpected(Error{edit.line, "cannot pin " + edit.key + edit.value +
                                             ": write the value on the same line as its flag, without escapes"});
  }
  std::string out;
  out.reserve(text.size() + 256);
  for (const auto& line : lines) out += line;
  return out;
}

}  // namespace

Expected<std::string, Error> pin(std::string_view text, const Options& options,
                                 const std::map<std::string, std::string>& pins) {
  std::map<std::string, std::string> normalized_pins;  // base -> normalized pinned reference
  for (const auto& [base, pinned] : pins) {
    auto parsed = reference::parse(pinned);
    if (!parsed) return unexpected(Error{0, "invalid pin for " + base + ": " + parsed.error().message});
    normalized_pins[base] = parsed->str();
  }
  Edits edits;
  auto before = detail::analyze_with(text, options, [&](const LexedFile& file, const Build& build) {
    edits = collect_edits(file, build, pins);
  });
  if (!before) return unexpected(std::move(before).error());
  auto pinned = apply_edits(text, edits);
  if (!pinned) return pinned;

  // Prove it: the pinned file uses exactly the pinned images where the original used the bases.
  auto after = analyze(*pinned, options);
  if (!after) return unexpected(Error{after.error().line, "the pinned Dockerfile does not analyze: " + after.error().message});
  std::set<std::string> expected;
  for (const auto& base : before->bases) {
    auto pin = normalized_pins.find(base);
    expected.insert(pin == normalized_pins.end() ? base : pin->second);
  }
  std::set<std::string> got(after->bases.begin(), after->bases.end());
  if (got != expected) {
    std::string missing;
    for (const auto& image : expected)
      if (!got.count(image)) missing += (missing.empty() ? "" : ", ") + image;
    return unexpected(Error{0, "pinning did not take effect for: " + missing});
  }
  return pinned;
}

}  // namespace cascade::dockerfile
