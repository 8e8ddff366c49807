// WWW-Authenticate challenges (RFC 7235 quoted strings), Link headers and scope lists.
#include <cctype>

#include "internal.hpp"
#include "cascade/util/text.hpp"

namespace cascade::registry {

namespace {

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A cursor over a header value.
struct Scanner {
  std::string_view text;
  std::size_t at = 0;

  bool done() const { return at >= text.size(); }
  char peek() const { return done() ? '\0' : text[at]; }
  void skip_spaces() {
    while (!done() && (text[at] == ' ' || text[at] == '\t')) ++at;
  }
  void skip_separators() {
    while (!done() && (text[at] == ' ' || text[at] == '\t' || text[at] == ',')) ++at;
  }
  std::string token() {
    std::size_t start = at;
    while (!done() && is_token_char(text[at])) ++at;
    return std::string(text.substr(start, at - start));
  }
  // A quoted-string with backslash escapes; the cursor is on the opening quote.
  std::string quoted() {
    std::string value;
    for (++at; !done() && text[at] != '"'; ++at) {
      if (text[at] == '\\' && at + 1 < text.size()) ++at;
      value += text[at];
    }
    if (!done()) ++at;  // the closing quote
    return value;
  }
};

// Reads `name=value` pairs after a scheme, stopping before the next challenge's scheme.
void read_params(Scanner& scan, Challenge& challenge) {
  for (;;) {
    scan.skip_separators();
    std::size_t start = scan.at;
    std::string name = scan.token();
    scan.skip_spaces();
    if (name.empty() || scan.peek() != '=') {
      scan.at = start;  // a new scheme (or junk, skipped by the caller)
      return;
    }
    ++scan.at;
    while (scan.peek() == '=') ++scan.at;  // token68 padding, not a parameter value
    scan.skip_spaces();
    std::string value = scan.peek() == '"' ? scan.quoted() : scan.token();
    challenge.params[util::lowercase(name)] = value;
  }
}

}  // namespace

std::vector<Challenge> parse_challenges(std::string_view header) {
  std::vector<Challenge> challenges;
  Scanner scan{header};
  while (true) {
    scan.skip_separators();
    if (scan.done()) break;
    std::string scheme = scan.token();
    if (scheme.empty()) {
      ++scan.at;  // junk: skip one character
      continue;
    }
    Challenge challenge{util::lowercase(scheme), {}};
    read_params(scan, challenge);
    challenges.push_back(std::move(challenge));
  }
  return challenges;
}

namespace detail {

std::vector<std::string> split_scopes(std::string_view scopes) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start < scopes.size()) {
    std::size_t end = scopes.find(' ', start);
    if (end == std::string_view::npos) end = scopes.size();
    if (end > start) parts.emplace_back(scopes.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

namespace {

// Whether the parameters after a Link URL ("; rel=\"next\"; title=x") include rel "next".
bool is_next(std::string_view params) {
  std::string lower = util::lowercase(params);
  for (std::size_t at = lower.find("rel"); at != std::string::npos; at = lower.find("rel", at + 3)) {
    Scanner scan{params, at + 3};
    scan.skip_spaces();
    if (scan.peek() != '=') continue;
    ++scan.at;
    scan.skip_spaces();
    std::string value = scan.peek() == '"' ? scan.quoted() : scan.token();
    for (const auto& rel : split_scopes(util::lowercase(value)))
      if (rel == "next") return true;
  }
  return false;
}

}  // namespace

std::string next_link(const http::Headers& headers) {
  for (const auto& value : headers.get_all("Link")) {
    std::size_t open = value.find('<');
    while (open != std::string::npos) {
      std::size_t close = value.find('>', open);
      if (close == std::string::npos) break;
      std::size_t following = value.find('<', close);
      std::string_view params = std::string_view(value).substr(close + 1, following == std::string::npos ? std::string::npos : following - close - 1);
      if (is_next(params)) return value.substr(open + 1, close - open - 1);
      open = following;
    }
  }
  return {};
}

}  // namespace detail
}  // namespace cascade::registry
