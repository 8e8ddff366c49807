// BuildKit's Dockerfile parser (frontend/dockerfile/parser): physical lines, parser
// directives, logical lines with continuation, comments, heredoc bodies, and the split
// of a logical line into keyword, flags and arguments (DOCKERFILE.md sections 2-6).
#include <array>

#include "internal.hpp"

namespace cascade::dockerfile::detail {
namespace {

// kMaxLineLength (a physical line) is BuildKit's bound; kMaxLogicalLineLength and
// kMaxOnbuildNesting are cascade's, where BuildKit has none (see dockerfile.hpp).
constexpr int kMaxOnbuildNesting = 8;  // deeper ONBUILDs are not split: chaining fails anyway
constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

struct KeywordName {
  std::string_view name;
  Keyword keyword;
};
constexpr std::array<KeywordName, 18> kKeywords{{
    {"add", Keyword::add},           {"arg", Keyword::arg},
    {"cmd", Keyword::cmd},           {"copy", Keyword::copy},
    {"entrypoint", Keyword::entrypoint}, {"env", Keyword::env},
    {"expose", Keyword::expose},     {"from", Keyword::from},
    {"healthcheck", Keyword::healthcheck}, {"label", Keyword::label},
    {"maintainer", Keyword::maintainer}, {"onbuild", Keyword::onbuild},
    {"run", Keyword::run},           {"shell", Keyword::shell},
    {"stopsignal", Keyword::stopsignal}, {"user", Keyword::user},
    {"volume", Keyword::volume},     {"workdir", Keyword::workdir},
}};

Keyword keyword_of(std::string_view word) {
  for (const KeywordName& entry : kKeywords) {
    if (util::iequals(entry.name, word)) return entry.keyword;
  }
  return Keyword::unknown;
}

// unicode.IsSpace(rune(b)) on a single byte, as extractBuilderFlags and
// parseHealthConfig test it (so 0x85 and 0xA0 count, even inside UTF-8 sequences).
bool is_byte_space(char c) {
  const auto b = static_cast<unsigned char>(c);
  return b == ' ' || (b >= '\t' && b <= '\r') || b == 0x85 || b == 0xA0;
}

// bytes.TrimRight(line, "\r\n")
std::string_view trim_newline(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  return line;
}

bool is_comment(std::string_view line) {
  line = trim_left_space(line);
  return !line.empty() && line[0] == '#';
}

// ---- parser directives ---------------------------------------------------------------

struct Directive {
  std::string key;  // lowercase
  std::string_view value;
};

// `#` then blanks, then ^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$ as BuildKit matches it.
std::optional<Directive> parse_directive(std::string_view line) {
  if (line.empty() || line[0] != '#') return std::nullopt;
  const std::string_view body = trim_left_space(line.substr(1));
  std::size_t pos = 0;
  const auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (body.empty() || !is_alpha(body[0])) return std::nullopt;
  while (pos < body.size() && (is_alpha(body[pos]) || (body[pos] >= '0' && body[pos] <= '9'))) ++pos;
  const std::string_view key = body.substr(0, pos);
  while (pos < body.size() && is_regex_space(body[pos])) ++pos;
  if (pos >= body.size() || body[pos] != '=') return std::nullopt;
  std::string_view value = body.substr(pos + 1);
  if (value.empty()) return std::nullopt;
  std::size_t first = 0, last = value.size();
  while (first < last && is_regex_space(value[first])) ++first;
  while (last > first && is_regex_space(value[last - 1])) --last;
  // An all-blank value still matches `.+?`: the greedy `\s*` leaves it the last blank.
  value = first == last ? value.substr(value.size() - 1) : value.substr(first, last - first);
  return Directive{util::lowercase(key), value};
}

int directive_index(std::string_view key) {
  if (key == "syntax") return 0;
  if (key == "escape") return 1;
  if (key == "check") return 2;
  return -1;
}

// The leading block of `# key=value` lines (section 3); the first other line ends it.
class DirectiveParser {
 public:
  Expected<void, std::string> feed(std::string_view line, char& escape) {
    if (done_) return {};
    const auto directive = parse_directive(line);
    const int index = directive ? directive_index(directive->key) : -1;
    if (index < 0) {
      done_ = true;
      return {};
    }
    if (seen_[index]) return unexpected("only one " + directive->key + " parser directive can be used");
    seen_[index] = true;
    if (directive->key == "escape") {
      if (directive->value != "`" && directive->value != "\\") {
        return unexpected("invalid escape token '" + std::string(directive->value) +
                          "' does not match ` or \\");
      }
      escape = directive->value[0];
    }
    return {};
  }

 private:
  bool done_ = false;
  std::array<bool, 3> seen_{};
};

// ---- logical lines -------------------------------------------------------------------

struct Continued {
  std::string_view text;  // the line without the escape character and blanks after it
  bool continues = false;
};

// `([^E])E[ \t]*$|^E[ \t]*$`: an escape at the end not preceded by another escape.
Continued trim_continuation(std::string_view line, char escape) {
  std::size_t end = line.size();
  while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  if (end == 0 || line[end - 1] != escape) return {line, false};
  if (end == 1) return {std::string_view(), true};
  if (line[end - 2] == escape) return {line, false};
  return {line.substr(0, end - 1), true};
}

// extractBuilderFlags: the leading `--` words (quotes and backslash escapes removed) and
// the text after them. A lone `--` ends the flags.
std::string_view extract_flags(std::string_view line, std::vector<std::string>& flags) {
  enum class Phase { spaces, word, quote } phase = Phase::spaces;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  for (std::size_t pos = 0; pos <= line.size(); ++pos) {
    const bool end = pos == line.size();
    char c = end ? '\0' : line[pos];
    if (phase == Phase::spaces) {
      if (end) break;
      if (is_byte_space(c)) continue;
      if (c != '-' || pos + 1 == line.size() || line[pos + 1] != '-') return line.substr(pos);
      phase = Phase::word;
    }
    if (end) {
      if (word != "--" && (blank_ok || !word.empty())) flags.push_back(word);
      break;
    }
    if (phase == Phase::word) {
      if (is_byte_space(c)) {
        phase = Phase::spaces;
        if (word == "--") return line.substr(pos);
        if (blank_ok || !word.empty()) flags.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (c == '\'' || c == '"') {
        quote = c;
        blank_ok = true;
        phase = Phase::quote;
        continue;
      }
    } else if (c == quote) {
      phase = Phase::word;
      continue;
    }
    if (c == '\\') {
      if (pos + 1 == line.size()) {
        phase = Phase::word;
        continue;
      }
      c = line[++pos];
    }
    word += c;
  }
  return std::string_view();
}

// The exec form check of parseMaybeJSON / parseMaybeJSONToList.
Expected<void, std::string> read_json_form(std::string_view text, Instruction& instruction) {
  auto array = parse_json_array(text);
  if (!array) return {};
  if (!array->only_strings) {
    return unexpected(std::string("when using JSON array syntax, arrays must be comprised of strings only"));
  }
  instruction.json = true;
  instruction.json_values = std::move(array->strings);
  return {};
}

// parseNameVal (ENV, LABEL): `KEY value` or `KEY=value ...`.
Expected<void, std::string> check_name_value(std::string_view rest, char escape, std::string_view what) {
  const std::vector<std::string_view> words = parse_words(rest, escape);
  if (words.empty()) return {};
  if (words[0].find('=') == std::string_view::npos) {
    if (split_on_token_space(rest).size() < 2) return unexpected(std::string(what) + " must have two arguments");
    return {};
  }
  for (std::string_view word : words) {
    if (word.find('=') == std::string_view::npos) {
      return unexpected("Syntax error - can't find = in \"" + std::string(word) +
                        "\". Must be of the form: name=value");
    }
  }
  return {};
}

// newNodeFromLine: keyword, flags, arguments and the per-keyword argument parse.
// `nesting` counts the ONBUILDs around the line (each recurses once).
Expected<void, std::string> split_instruction(std::string_view line, char escape, Instruction& instruction,
                                              int nesting = 0) {
  const std::string_view trimmed = trim_space(line);
  std::size_t word_end = 0;
  while (word_end < trimmed.size() && !is_token_space(trimmed[word_end])) ++word_end;
  instruction.word = trimmed.substr(0, word_end);
  instruction.keyword = keyword_of(instruction.word);
  instruction.original = line;
  std::string_view args;
  if (word_end < trimmed.size()) {
    std::size_t rest_start = word_end;
    while (rest_start < trimmed.size() && is_token_space(trimmed[rest_start])) ++rest_start;
    args = extract_flags(trimmed.substr(rest_start), instruction.flags);
  }
  instruction.rest = trim_space(args);
  const std::string_view rest = instruction.rest;
  switch (instruction.keyword) {
    case Keyword::add: case Keyword::copy: case Keyword::volume:
      return read_json_form(rest, instruction);
    case Keyword::cmd: case Keyword::entrypoint: case Keyword::run: case Keyword::shell:
      return rest.empty() ? Expected<void, std::string>() : read_json_form(rest, instruction);
    case Keyword::healthcheck: {
      const std::string_view command = split_healthcheck(rest).second;
      return command.empty() ? Expected<void, std::string>() : read_json_form(command, instruction);
    }
    case Keyword::env: return check_name_value(rest, escape, "ENV");
    case Keyword::label: return check_name_value(rest, escape, "LABEL");
    case Keyword::onbuild:
      if (rest.empty() || nesting >= kMaxOnbuildNesting) return {};
      instruction.trigger = std::make_unique<Instruction>();
      return split_instruction(rest, escape, *instruction.trigger, nesting + 1);
    default: return {};
  }
}

bool can_contain_heredoc(const Instruction& instruction) {
  const Instruction& node =
      instruction.keyword == Keyword::onbuild && instruction.trigger ? *instruction.trigger : instruction;
  const bool carrier = node.keyword == Keyword::run || node.keyword == Keyword::copy || node.keyword == Keyword::add;
  return carrier && !node.json;
}

// ---- the file ------------------------------------------------------------------------

class Lexer {
 public:
  Lexer(std::string_view text, LexOptions options) : text_(text), options_(options) {}

  Expected<LexedFile, Error> run() {
    std::string_view raw;
    while (next_line(raw)) {
      if (line_number_ == 1 && raw.substr(0, 3) == kByteOrderMark) raw.remove_prefix(3);
      const std::string_view token = trim_left_space(trim_newline(raw));
      if (auto fed = directives_.feed(token, file_.escape); !fed) return fail(line_number_, fed.error());
      const int start = line_number_;
      const Continued first = trim_continuation(is_comment(token) ? std::string_view() : token, file_.escape);
      if (!first.continues && first.text.empty()) continue;
      const std::string_view line = join_continuation(first);
      if (line.size() > kMaxLogicalLineLength) {
        return fail(start, "dockerfile instruction greater than max allowed size of " +
                               std::to_string(kMaxLogicalLineLength) + " bytes with its continuation lines joined");
      }
      if (auto added = add_instruction(line, start); !added) return unexpected(std::move(added).error());
    }
    if (too_long_line_ > 0) {
      return fail(too_long_line_, "dockerfile line greater than max allowed size of " +
                                      std::to_string(kMaxLineLength));
    }
    if (file_.instructions.empty()) return fail(0, "file with no instructions");
    return std::move(file_);
  }

 private:
  static Unexpected<Error> fail(int line, std::string message) { return unexpected(Error{line, std::move(message)}); }

  // The next physical line without its "\n"; false at the end or at an over-long line.
  bool next_line(std::string_view& raw) {
    if (pos_ >= text_.size() || too_long_line_ > 0) return false;
    const std::size_t newline = text_.find('\n', pos_);
    const std::size_t end = newline == std::string_view::npos ? text_.size() : newline;
    ++line_number_;
    if (end - pos_ > kMaxLineLength) {
      too_long_line_ = line_number_;
      return false;
    }
    raw = text_.substr(pos_, end - pos_);
    pos_ = end == text_.size() ? end : end + 1;
    return true;
  }

  // Appends continuation lines, skipping comment and blank lines, until a line does not
  // end with the escape character. Returns a view of the source when nothing was joined.
  // Stops once the text is longer than kMaxLogicalLineLength (the caller refuses it).
  std::string_view join_continuation(Continued current) {
    const std::string_view first = current.text;
    std::string* joined = nullptr;
    std::string_view raw;
    while (current.continues && (!joined || joined->size() <= kMaxLogicalLineLength) && next_line(raw)) {
      const std::string_view line = trim_newline(raw);
      if (is_comment(raw) || trim_left_space(line).empty()) continue;
      current = trim_continuation(line, file_.escape);
      if (!joined) joined = &file_.joined_lines.emplace_back(first);
      joined->append(current.text);
    }
    return joined ? std::string_view(*joined) : first;
  }

  Expected<void, Error> add_instruction(std::string_view line, int start) {
    Instruction instruction;
    if (auto split = split_instruction(line, file_.escape, instruction); !split) return fail(start, split.error());
    instruction.line = start;
    instruction.end_line = line_number_;
    if (can_contain_heredoc(instruction) && line.find("<<") != std::string_view::npos) {
      auto markers = heredoc_markers(line);
      if (!markers) return fail(start, markers.error());
      if (options_.read_heredoc_bodies) {
        for (const HeredocMarker& marker : *markers) {
          if (!skip_heredoc_body(marker)) return fail(start, "unterminated heredoc");
        }
      }
    }
    file_.instructions.push_back(std::move(instruction));
    return {};
  }

  // Reads body lines verbatim up to the terminator line; false at the end of the file.
  bool skip_heredoc_body(const HeredocMarker& marker) {
    std::string_view raw;
    while (next_line(raw)) {
      std::string_view candidate = trim_newline(raw);
      if (marker.chomp) {
        while (!candidate.empty() && candidate.front() == '\t') candidate.remove_prefix(1);
      }
      if (candidate == marker.name) return true;
    }
    return false;
  }

  std::string_view text_;
  LexOptions options_;
  std::size_t pos_ = 0;
  int line_number_ = 0;
  int too_long_line_ = 0;
  DirectiveParser directives_;
  LexedFile file_;
};

}  // namespace

std::pair<std::string_view, std::string_view> split_healthcheck(std::string_view rest) {
  std::size_t type_end = 0;
  while (type_end < rest.size() && !is_byte_space(rest[type_end])) ++type_end;
  std::size_t command = type_end;
  while (command < rest.size() && is_byte_space(rest[command])) ++command;
  return {rest.substr(0, type_end), rest.substr(command)};
}

Expected<LexedFile, Error> lex(std::string_view text, LexOptions options) {
  return Lexer(text, options).run();
}

std::optional<SyntaxDirective> find_syntax_directive(std::string_view text) {
  if (text.substr(0, 3) == kByteOrderMark) text.remove_prefix(3);
  int line_number = 0;
  if (text.substr(0, 2) == "#!") {
    const std::size_t newline = text.find('\n');
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    line_number = 1;
  }
  std::array<bool, 3> seen{};
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_number;
    const auto directive = parse_directive(line);
    const int index = directive ? directive_index(directive->key) : -1;
    if (index < 0 || seen[index]) return std::nullopt;
    seen[index] = true;
    if (index == 0) return SyntaxDirective{directive->value, line_number};
  }
  return std::nullopt;
}

}  // namespace cascade::dockerfile::detail
