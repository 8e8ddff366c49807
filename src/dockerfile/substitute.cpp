// BuildKit's shell lexer (frontend/dockerfile/shell/lex.go): variable expansion with
// the ${VAR...} operators of DOCKERFILE.md section 8.4, quote removal and escapes.
// The same lexer, run with raw quotes, raw escapes and unset variables left as
// written, splits a logical line into the words in which heredoc markers are found.
// Unlike BuildKit (whose Go stack grows), the nesting of ${...} operands is bounded by
// kMaxSubstitutionDepth, and an expansion by kMaxExpandedLength: a hostile line fails
// with an error instead of overflowing the stack or memory.
#include <utility>

#include "internal.hpp"

namespace cascade::dockerfile::detail {
namespace {

constexpr int kNoStop = -1;  // read to the end of the input

struct LexerMode {
  char escape = kDefaultEscape;
  bool raw_quotes = false;   // keep quote characters in the result
  bool raw_escapes = false;  // keep escape characters (top level; operators override it)
  bool skip_unset = false;   // leave references to unset variables as written
  bool split_words = false;  // collect words and keep `<<` with the blanks after it
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_special_parameter(char c) {
  return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' || c == '0';
}
bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// `text` for an error message, as BuildKit writes it (bare or quoted); a long text is
// cut (a hostile line may be 1 MiB), saying how long it was.
constexpr std::size_t kShownInErrors = 120;
std::string excerpt(std::string_view text, std::string_view quote = "") {
  std::string out = std::string(quote) + std::string(text.substr(0, kShownInErrors)) + std::string(quote);
  if (text.size() > kShownInErrors) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}
std::string quoted(std::string_view text) { return excerpt(text, "\""); }

// ProcessWords' word builder: expanded variable text splits on blanks, quoted and
// escaped text does not.
class WordCollector {
 public:
  void add_char(char c) {
    if (!is_blank(c)) {
      add_raw_char(c);
    } else if (in_word_ && !current_.empty()) {
      words_.push_back(std::move(current_));
      current_.clear();
      in_word_ = false;
    }
  }
  void add_raw_char(char c) {
    current_.push_back(c);
    in_word_ = true;
  }
  void add_string(std::string_view text) {
    for (char c : text) add_char(c);
  }
  void add_raw_string(std::string_view text) {
    current_.append(text);
    in_word_ = true;
  }
  std::vector<std::string> finish() {
    if (!current_.empty()) words_.push_back(std::move(current_));
    return std::move(words_);
  }

 private:
  std::string current_;
  bool in_word_ = false;
  std::vector<std::string> words_;
};

class ShellWord {
 public:
  ShellWord(std::string_view input, const Variables& variables, LexerMode mode)
      : input_(input), variables_(variables), mode_(mode), raw_escapes_(mode.raw_escapes) {
    if (input_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // text/scanner skips a leading BOM
  }

  /// The expansion of the whole input; false with error() set on failure.
  bool process(std::string& out, WordCollector* words) {
    if (!process_until(kNoStop, mode_.raw_escapes, out, words)) return false;
    return out.size() <= kMaxExpandedLength || too_long();  // literal text after the last piece
  }
  const std::string& error() const { return error_; }
  /// True when the failure was a resource bound, not a syntax error.
  bool over_limit() const { return over_limit_; }

 private:
  bool at_end() const { return pos_ >= input_.size(); }
  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }
  bool fail_limit(std::string message) {
    over_limit_ = true;
    return fail(std::move(message));
  }
  // Every expanded piece passes here: an expansion never grows past kMaxExpandedLength.
  bool too_long() {
    return fail_limit("expansion longer than the limit of " + std::to_string(kMaxExpandedLength) + " bytes");
  }
  bool append(std::string& out, std::string_view piece) {
    if (out.size() + piece.size() > kMaxExpandedLength) return too_long();
    out += piece;
    return true;
  }

  // processStopOn: reads until `stop` (consumed) or the end of the input.
  bool process_until(int stop, bool raw_escapes, std::string& out, WordCollector* words) {
    const bool saved_raw_escapes = std::exchange(raw_escapes_, raw_escapes);
    const bool ok = read_until(stop, out, words);
    raw_escapes_ = saved_raw_escapes;
    return ok;
  }

  bool read_until(int stop, std::string& out, WordCollector* words) {
    WordCollector ignored;
    if (!words) words = &ignored;
    while (!at_end()) {
      char c = input_[pos_];
      if (stop != kNoStop && c == stop) {
        ++pos_;
        return true;
      }
      if (c == '$' || c == '\'' || c == '"' || (c == '<' && mode_.split_words)) {
        std::string part;
        if (!read_special(c, part) || !append(out, part)) return false;
        c == '$' ? words->add_string(part) : words->add_raw_string(part);
        continue;
      }
      ++pos_;
      if (c == mode_.escape) {
        if (raw_escapes_) {
          words->add_raw_char(c);
          out += c;
        }
        if (at_end()) break;
        c = input_[pos_++];
        words->add_raw_char(c);
      } else {
        words->add_char(c);
      }
      out += c;
    }
    if (stop != kNoStop) {
      return fail(std::string("unexpected end of statement while looking for matching ") +
                  static_cast<char>(stop));
    }
    return true;
  }

  bool read_special(char c, std::string& out) {
    switch (c) {
      case '$': return process_dollar(out);
      case '\'': return process_single_quote(out);
      case '"': return process_double_quote(out);
      default: process_possible_heredoc(out); return true;
    }
  }

  bool process_single_quote(std::string& out) {
    ++pos_;
    if (mode_.raw_quotes) out += '\'';
    while (!at_end()) {
      const char c = input_[pos_++];
      if (c == '\'') {
        if (mode_.raw_quotes) out += c;
        return true;
      }
      out += c;
    }
    return fail("unexpected end of statement while looking for matching single-quote");
  }

  bool process_double_quote(std::string& out) {
    ++pos_;
    if (mode_.raw_quotes) out += '"';
    while (!at_end()) {
      char c = input_[pos_];
      if (c == '"') {
        ++pos_;
        if (mode_.raw_quotes) out += c;
        return true;
      }
      if (c == '$') {
        std::string value;
        if (!process_dollar(value) || !append(out, value)) return false;
        continue;
      }
      ++pos_;
      if (c == mode_.escape) {
        if (raw_escapes_) out += c;
        if (at_end()) continue;
        const char next = input_[pos_];
        if (next == '"' || next == '$' || next == mode_.escape) {
          c = next;
          ++pos_;
        }
      }
      out += c;
    }
    return fail("unexpected end of statement while looking for matching double-quote");
  }

  // `<<` keeps the blanks after it, so `<< EOF` stays one word (Dockerfile 1.16).
  void process_possible_heredoc(std::string& out) {
    ++pos_;
    out = "<";
    if (at_end() || input_[pos_] != '<') return;
    ++pos_;
    out += '<';
    while (!at_end() && (input_[pos_] == ' ' || input_[pos_] == '\t')) out += input_[pos_++];
  }

  // processName: a run of name characters, a run of digits, or one special parameter.
  std::string_view process_name() {
    const std::size_t start = pos_;
    if (!at_end() && is_digit(input_[pos_])) {
      while (!at_end() && is_digit(input_[pos_])) ++pos_;
    } else if (!at_end() && is_special_parameter(input_[pos_])) {
      ++pos_;
    } else {
      while (!at_end() && is_name_char(input_[pos_])) ++pos_;
    }
    return input_.substr(start, pos_ - start);
  }

  bool process_dollar(std::string& out) {
    ++pos_;
    if (at_end() || input_[pos_] != '{') {
      const std::string_view name = process_name();
      if (name.empty()) {
        out = "$";
        return true;
      }
      const std::string* value = variables_.find(name);
      if (!value && mode_.skip_unset) {
        out = "$" + std::string(name);
      } else {
        out = value ? *value : std::string();
      }
      return true;
    }
    ++pos_;
    if (at_end()) return fail("syntax error: missing '}'");
    if (input_[pos_] == '{' || input_[pos_] == '}' || input_[pos_] == ':') {
      return fail("syntax error: bad substitution");
    }
    const std::string_view name = process_name();
    if (at_end()) return fail("syntax error: missing '}'");
    const char op = input_[pos_++];
    if (op == '}') return plain_braced(name, out);
    if (op == '/') return process_replace(name, out);
    if (op == ':') {
      if (at_end()) return fail("syntax error: missing '}'");
      return process_modifier(name, input_[pos_++], true, out);
    }
    if (op == '+' || op == '-' || op == '?' || op == '#' || op == '%') {
      return process_modifier(name, op, false, out);
    }
    return fail(std::string("unsupported modifier (") + op + ") in substitution");
  }

  bool plain_braced(std::string_view name, std::string& out) {
    const std::string* value = variables_.find(name);
    if (!value && mode_.skip_unset) {
      out = "${" + std::string(name) + "}";
    } else {
      out = value ? *value : std::string();
    }
    return true;
  }

  // The operand after an operator, up to the closing brace. Operands are where ${...}
  // nest (quotes inside them nest through here too), so the depth is counted here.
  bool read_operand(char close, bool raw_escapes, std::string& operand, std::string_view missing) {
    if (depth_ >= kMaxSubstitutionDepth) {
      return fail_limit("substitutions nested deeper than the limit of " + std::to_string(kMaxSubstitutionDepth) +
                        " levels");
    }
    ++depth_;
    const bool ok = process_until(close, raw_escapes, operand, nullptr);
    --depth_;
    if (ok) return true;
    if (at_end() && !over_limit_) error_ = missing;
    return false;
  }

  // ${NAME<op>word} and ${NAME:<op>word}; `colon` makes an empty value count as unset.
  bool process_modifier(std::string_view name, char op, bool colon, std::string& out) {
    const std::string modifier = colon ? std::string(":") + op : std::string(1, op);
    const bool pattern = op == '#' || op == '%';
    if (colon && pattern) return fail("unsupported modifier (" + modifier + ") in substitution");
    std::string word;
    if (!read_operand('}', pattern, word, "syntax error: missing '}'")) return false;
    const std::string* value = variables_.find(name);
    if (!value && mode_.skip_unset) {
      out = "${" + std::string(name) + modifier + word + "}";
      return true;
    }
    const bool unset = !value || (colon && value->empty());
    switch (op) {
      case '-': out = unset ? word : *value; return true;
      case '+': out = unset ? std::string() : word; return true;
      case '?': return require_value(name, value, colon, word, out);
      case '#':
      case '%': return trim_pattern(op, value ? *value : std::string(), std::move(word), out);
      default: return fail("unsupported modifier (" + modifier + ") in substitution");
    }
  }

  bool require_value(std::string_view name, const std::string* value, bool colon, const std::string& word,
                     std::string& out) {
    if (!value) {
      return fail(std::string(name) + ": " + (word.empty() ? "is not allowed to be unset" : word));
    }
    if (colon && value->empty()) {
      return fail(std::string(name) + ": " + (word.empty() ? "is not allowed to be empty" : word));
    }
    out = *value;
    return true;
  }

  // ${NAME#pat} ${NAME##pat} ${NAME%pat} ${NAME%%pat}
  bool trim_pattern(char op, const std::string& value, std::string word, std::string& out) {
    const bool longest = !word.empty() && word[0] == op;
    if (longest) word.erase(0, 1);
    auto result = op == '%' ? trim_pattern_suffix(value, word, longest)
                            : trim_pattern_prefix(value, word, longest);
    if (!result) return fail("invalid pattern (" + excerpt(word) + ") in substitution: " + result.error());
    out = std::move(*result);
    return true;
  }

  // ${NAME/pat/rep} and ${NAME//pat/rep}
  bool process_replace(std::string_view name, std::string& out) {
    const bool all = !at_end() && input_[pos_] == '/';
    if (all) ++pos_;
    std::string pattern, replacement;
    if (!read_operand('/', true, pattern, "syntax error: missing '/' in ${}")) return false;
    if (!read_operand('}', true, replacement, "syntax error: missing '}'")) return false;
    const std::string* value = variables_.find(name);
    if (!value && mode_.skip_unset) {
      out = "${" + std::string(name) + "/" + pattern + "/" + replacement + "}";
      return true;
    }
    auto result = replace_pattern(value ? *value : std::string(), pattern, replacement, all);
    if (!result) return fail("invalid pattern (" + excerpt(pattern) + ") in substitution: " + result.error());
    out = std::move(*result);
    return true;
  }

  std::string_view input_;
  const Variables& variables_;
  LexerMode mode_;
  bool raw_escapes_;
  std::size_t pos_ = 0;
  int depth_ = 0;  // operands being read
  std::string error_;
  bool over_limit_ = false;
};

// The words of `text` as BuildKit's ProcessWords returns them; nullopt when lexing fails
// (`over_limit`, when given, tells a resource bound from a syntax error).
std::optional<std::vector<std::string>> lex_words(std::string_view text, LexerMode mode, std::string* error,
                                                  bool* over_limit = nullptr) {
  ShellWord lexer(text, no_variables(), mode);
  WordCollector words;
  std::string ignored;
  if (!lexer.process(ignored, &words)) {
    if (error) *error = lexer.error();
    if (over_limit) *over_limit = lexer.over_limit();
    return std::nullopt;
  }
  return words.finish();
}

// reHeredoc `^(\d*)<<(-?)\s*([^<]*)$` followed by heredocFromMatch.
Expected<std::optional<HeredocMarker>, std::string> heredoc_marker(std::string_view word) {
  std::size_t pos = 0;
  while (pos < word.size() && is_digit(word[pos])) ++pos;
  if (word.substr(pos, 2) != "<<") return std::optional<HeredocMarker>();
  pos += 2;
  const bool chomp = pos < word.size() && word[pos] == '-';
  if (chomp) ++pos;
  while (pos < word.size() && is_regex_space(word[pos])) ++pos;
  const std::string_view rest = word.substr(pos);
  if (rest.empty() || rest.find('<') != std::string_view::npos) return std::optional<HeredocMarker>();
  LexerMode mode;
  mode.skip_unset = true;
  mode.split_words = true;
  std::string error;
  auto names = lex_words(rest, mode, &error);
  if (!names) return unexpected("failed to process " + quoted(rest) + ": " + error);
  if (names->size() != 1) return std::optional<HeredocMarker>();
  return std::optional<HeredocMarker>(HeredocMarker{std::move(names->front()), chomp});
}

}  // namespace

const std::string* Variables::find(std::string_view name) const {
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

void Variables::set(std::string_view name, std::string value) {
  const auto it = entries_.find(name);
  if (it != entries_.end()) {
    it->second = std::move(value);
  } else {
    entries_.emplace(std::string(name), std::move(value));
  }
}

Expected<std::string, std::string> expand_word(std::string_view word, const Variables& variables,
                                               char escape) {
  LexerMode mode;
  mode.escape = escape;
  ShellWord lexer(word, variables, mode);
  std::string out;
  if (!lexer.process(out, nullptr)) {
    return unexpected("failed to process " + quoted(word) + ": " + lexer.error());
  }
  return out;
}

Expected<std::vector<HeredocMarker>, std::string> heredoc_markers(std::string_view line) {
  LexerMode mode;
  mode.raw_quotes = true;
  mode.raw_escapes = true;
  mode.skip_unset = true;
  mode.split_words = true;
  std::vector<HeredocMarker> markers;
  std::string error;
  bool over_limit = false;
  auto words = lex_words(line, mode, &error, &over_limit);
  if (!words && over_limit) return unexpected("failed to process " + quoted(line) + ": " + error);
  if (!words) return markers;  // BuildKit ignores a line it cannot lex: no heredocs
  for (const std::string& word : *words) {
    auto marker = heredoc_marker(word);
    if (!marker) return unexpected(std::move(marker).error());
    if (*marker) markers.push_back(std::move(**marker));
  }
  return markers;
}

}  // namespace cascade::dockerfile::detail
