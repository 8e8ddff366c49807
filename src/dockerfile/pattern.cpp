// Shell patterns of the ${VAR#pat}, ${VAR%pat} and ${VAR/pat/rep} operators. BuildKit
// turns a pattern into a Go regular expression (`*` -> `.*` or `.*?`, `?` -> `.`) and
// takes the leftmost-first match; this file reproduces that result with a small
// backtracking matcher over UTF-8 characters, trying runs in the same preference order.
// Bounded where Go's linear-time regexp needs no bound: the pattern's length (the
// matcher recurses once per token), its memo table and its steps.
#include <algorithm>
#include <cctype>

#include "internal.hpp"

namespace cascade::dockerfile::detail {
namespace {

constexpr std::size_t kMaxPatternTokens = 4096;       // recursion depth of Matcher::match
constexpr std::size_t kMaxMatchStates = std::size_t{1} << 26;  // memo entries, and steps

enum class TokenKind { literal, any_one, any_run };

struct Token {
  TokenKind kind = TokenKind::literal;
  std::string_view text;  // the character a Literal matches
};

using Characters = std::vector<std::string_view>;

// Splits `text` into UTF-8 characters; an invalid byte is a character of its own.
Characters characters(std::string_view text) {
  Characters out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto lead = static_cast<unsigned char>(text[pos]);
    std::size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 1;
    if (pos + length > text.size()) length = 1;
    for (std::size_t i = 1; i < length; ++i) {
      if ((static_cast<unsigned char>(text[pos + i]) & 0xC0) != 0x80) length = 1;
    }
    out.push_back(text.substr(pos, length));
    pos += length;
  }
  return out;
}

// convertShellPatternToRegex: `\` escapes `*`, `?` and `\`; before `}` or `/` it is
// dropped; any other escape is an error.
Expected<std::vector<Token>, std::string> compile(std::string_view pattern) {
  const Characters chars = characters(pattern);
  std::vector<Token> tokens;
  for (std::size_t i = 0; i < chars.size(); ++i) {
    const std::string_view c = chars[i];
    if (c == "*") {
      tokens.push_back({TokenKind::any_run, {}});
    } else if (c == "?") {
      tokens.push_back({TokenKind::any_one, {}});
    } else if (c != "\\") {
      tokens.push_back({TokenKind::literal, c});
    } else if (i + 1 < chars.size() && (chars[i + 1] == "}" || chars[i + 1] == "/")) {
      continue;
    } else if (i + 1 < chars.size() && (chars[i + 1] == "*" || chars[i + 1] == "?" || chars[i + 1] == "\\")) {
      tokens.push_back({TokenKind::literal, chars[++i]});
    } else {
      const std::string escaped = i + 1 < chars.size() ? std::string(chars[i + 1]) : std::string();
      return unexpected("invalid escape '\\" + escaped + "'");
    }
  }
  if (tokens.size() > kMaxPatternTokens) {
    return unexpected("pattern longer than the limit of " + std::to_string(kMaxPatternTokens) + " characters");
  }
  return tokens;
}

// Leftmost-first matching of a token sequence at a given start, as a backtracking
// regexp engine would find it. Failures are remembered per (token, character), so the
// work stays polynomial however many runs the pattern has.
class Matcher {
 public:
  Matcher(const std::vector<Token>& tokens, const Characters& chars, bool longest_runs)
      : tokens_(tokens), chars_(chars), longest_runs_(longest_runs),
        failed_((tokens.size() + 1) * (chars.size() + 1), false) {}

  /// Whether pattern and value are small enough to be matched within the bounds.
  static bool fits(std::size_t tokens, std::size_t chars) {
    return (chars + 1) <= kMaxMatchStates / (tokens + 1);
  }
  /// The character index where a match starting at `start` ends, nullopt when none.
  std::optional<std::size_t> match_at(std::size_t start) { return match(0, start); }
  /// True when the step budget ran out (the results since are "no match").
  bool exhausted() const { return steps_ > kMaxMatchStates; }

 private:
  // `.` in Go's regexp does not match a newline.
  bool matches_any(std::size_t ci) const { return ci < chars_.size() && chars_[ci] != "\n"; }

  std::optional<std::size_t> match(std::size_t ti, std::size_t ci) {
    if (ti == tokens_.size()) return ci;
    if (++steps_ > kMaxMatchStates) return std::nullopt;
    const std::size_t key = ti * (chars_.size() + 1) + ci;
    if (failed_[key]) return std::nullopt;
    std::optional<std::size_t> end;
    const Token& token = tokens_[ti];
    if (token.kind == TokenKind::literal) {
      if (ci < chars_.size() && chars_[ci] == token.text) end = match(ti + 1, ci + 1);
    } else if (token.kind == TokenKind::any_one) {
      if (matches_any(ci)) end = match(ti + 1, ci + 1);
    } else {
      end = match_run(ti, ci);
    }
    if (!end) failed_[key] = true;
    return end;
  }

  std::optional<std::size_t> match_run(std::size_t ti, std::size_t ci) {
    std::size_t limit = ci;
    while (matches_any(limit)) ++limit;
    if (longest_runs_) {
      for (std::size_t stop = limit + 1; stop-- > ci;) {
        if (auto end = match(ti + 1, stop)) return end;
      }
    } else {
      for (std::size_t stop = ci; stop <= limit; ++stop) {
        if (auto end = match(ti + 1, stop)) return end;
      }
    }
    return std::nullopt;
  }

  const std::vector<Token>& tokens_;
  const Characters& chars_;
  bool longest_runs_;
  std::vector<bool> failed_;
  std::size_t steps_ = 0;
};

// The error of a pattern the bounds of Matcher refuse.
std::string too_costly() {
  return "pattern and value too long to match within " + std::to_string(kMaxMatchStates) + " steps";
}

// Byte offset in `value` of character `index` of `chars` (a split of `value`).
std::size_t offset_of(std::string_view value, const Characters& chars, std::size_t index) {
  return index < chars.size() ? static_cast<std::size_t>(chars[index].data() - value.data()) : value.size();
}

// Go's regexp.Expand for a pattern without groups: `$0`/`${0}` is the match, `$$` is
// `$`, other names are empty, and a malformed `$` stays as written.
std::string expand_template(std::string_view replacement, std::string_view match) {
  std::string out;
  while (!replacement.empty()) {
    const std::size_t dollar = replacement.find('$');
    out.append(replacement.substr(0, dollar));
    if (dollar == std::string_view::npos) break;
    replacement.remove_prefix(dollar);
    if (replacement.size() > 1 && replacement[1] == '$') {
      out += '$';
      replacement.remove_prefix(2);
      continue;
    }
    const bool brace = replacement.size() > 1 && replacement[1] == '{';
    std::size_t end = brace ? 2 : 1;
    const std::size_t name_start = end;
    while (end < replacement.size() && (std::isalnum(static_cast<unsigned char>(replacement[end])) ||
                                        replacement[end] == '_')) {
      ++end;
    }
    const std::string_view name = replacement.substr(name_start, end - name_start);
    if (name.empty() || (brace && (end >= replacement.size() || replacement[end] != '}'))) {
      out += '$';
      replacement.remove_prefix(1);
      continue;
    }
    if (name == "0") out.append(match);
    replacement.remove_prefix(brace ? end + 1 : end);
  }
  return out;
}

// Go's Regexp.ReplaceAllString loop: an empty match right after a match is skipped and
// the search always advances by at least one character. nullopt when the result would
// pass kMaxExpandedLength.
std::optional<std::string> replace_all(std::string_view value, const Characters& chars, Matcher& matcher,
                        std::string_view replacement) {
  std::string out;
  std::size_t last_end = 0, search = 0;
  while (search <= chars.size()) {
    std::optional<std::size_t> start, end;
    for (std::size_t s = search; s <= chars.size() && !end; ++s) {
      if ((end = matcher.match_at(s))) start = s;
    }
    if (!end) break;
    out.append(value.substr(offset_of(value, chars, last_end),
                            offset_of(value, chars, *start) - offset_of(value, chars, last_end)));
    if (*end > last_end || *start == 0) {
      const std::size_t from = offset_of(value, chars, *start);
      out += expand_template(replacement, value.substr(from, offset_of(value, chars, *end) - from));
      if (out.size() > kMaxExpandedLength) return std::nullopt;
    }
    last_end = *end;
    search = search + 1 > *end ? search + 1 : *end;
  }
  out.append(value.substr(offset_of(value, chars, last_end)));
  return out;
}

}  // namespace

Expected<std::string, std::string> trim_pattern_prefix(std::string_view value, std::string_view pattern,
                                                       bool longest) {
  auto tokens = compile(pattern);
  if (!tokens) return unexpected(std::move(tokens).error());
  const Characters chars = characters(value);
  if (!Matcher::fits(tokens->size(), chars.size())) return unexpected(too_costly());
  Matcher matcher(*tokens, chars, longest);
  const auto end = matcher.match_at(0);
  if (matcher.exhausted()) return unexpected(too_costly());
  if (!end) return std::string(value);
  return std::string(value.substr(offset_of(value, chars, *end)));
}

Expected<std::string, std::string> trim_pattern_suffix(std::string_view value, std::string_view pattern,
                                                       bool longest) {
  auto tokens = compile(pattern);
  if (!tokens) return unexpected(std::move(tokens).error());
  // Like BuildKit: reverse pattern and value, and trim the shortest/longest prefix.
  std::reverse(tokens->begin(), tokens->end());
  Characters chars = characters(value);
  std::reverse(chars.begin(), chars.end());
  if (!Matcher::fits(tokens->size(), chars.size())) return unexpected(too_costly());
  Matcher matcher(*tokens, chars, longest);
  const auto matched = matcher.match_at(0);
  if (matcher.exhausted()) return unexpected(too_costly());
  if (!matched) return std::string(value);
  std::size_t cut = value.size();
  for (std::size_t i = 0; i < *matched; ++i) cut -= chars[i].size();
  return std::string(value.substr(0, cut));
}

Expected<std::string, std::string> replace_pattern(std::string_view value, std::string_view pattern,
                                                   std::string_view replacement, bool all) {
  auto tokens = compile(pattern);
  if (!tokens) return unexpected(std::move(tokens).error());
  const Characters chars = characters(value);
  if (!Matcher::fits(tokens->size(), chars.size())) return unexpected(too_costly());
  Matcher matcher(*tokens, chars, true);
  if (all) {
    auto out = replace_all(value, chars, matcher, replacement);
    if (matcher.exhausted()) return unexpected(too_costly());
    if (!out) return unexpected("result longer than the limit of " + std::to_string(kMaxExpandedLength) + " bytes");
    return std::move(*out);
  }
  for (std::size_t start = 0; start <= chars.size() && !matcher.exhausted(); ++start) {
    const auto end = matcher.match_at(start);
    if (!end) continue;
    const std::size_t from = offset_of(value, chars, start), to = offset_of(value, chars, *end);
    return std::string(value.substr(0, from)) + std::string(replacement) + std::string(value.substr(to));
  }
  if (matcher.exhausted()) return unexpected(too_costly());
  return std::string(value);
}

}  // namespace cascade::dockerfile::detail
