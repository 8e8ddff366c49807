// Image references: distribution/reference's ParseNormalizedNamed + TagNameOnly and
// go-digest's Validate, written out as one left-to-right scan over the input (no
// std::regex: parse() runs in hot loops). Every position is an offset into the input;
// the "docker.io" domain and "library/" prefix that normalization adds are virtual.
#include "cascade/reference.hpp"

#include <array>
#include <optional>
#include <string>

namespace cascade::reference {
namespace {

constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr std::string_view kLocalhost = "localhost";
constexpr std::string_view kOfficialPrefix = "library/";
constexpr std::string_view kDefaultTag = "latest";
constexpr std::size_t kPathMax = 255;
constexpr std::size_t kTagMax = 128;
constexpr std::size_t kDigestHexMin = 32;
constexpr std::size_t kImageIdLength = 64;
constexpr std::size_t npos = std::string_view::npos;

// The error texts of distribution/reference and go-digest; every message starts with one.
constexpr std::string_view kInvalidFormat = "invalid reference format";
constexpr std::string_view kMustBeLowercase = "repository name must be lowercase";
constexpr std::string_view kNameTooLong = "repository name must not be more than 255 characters";
constexpr std::string_view kImageId = "invalid repository name";
constexpr std::string_view kDigestLength = "invalid checksum digest length";
constexpr std::string_view kDigestFormat = "invalid checksum digest format";
constexpr std::string_view kDigestUnsupported = "unsupported digest algorithm";

struct Algorithm {
  std::string_view name;
  std::size_t hex_length;
};
// go-digest's registered algorithms (crypto/sha256 and crypto/sha512 are linked in Docker).
constexpr std::array<Algorithm, 3> kAlgorithms{{{"sha256", 64}, {"sha384", 96}, {"sha512", 128}}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_alpha(char c) { return is_lower(c) || is_upper(c); }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }
bool is_hex(char c) { return is_lower_hex(c) || (c >= 'A' && c <= 'F'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_tag_char(char c) { return is_word(c) || c == '.' || c == '-'; }
bool is_path_separator_char(char c) { return c == '.' || c == '_' || c == '-'; }
bool is_algorithm_separator(char c) { return c == '-' || c == '_' || c == '+' || c == '.'; }
// A path character; `fold` reads uppercase as lowercase (distribution's second try).
bool is_path_alnum(char c, bool fold) { return is_lower(c) || is_digit(c) || (fold && is_upper(c)); }

// "'x'" for a printable character, "byte 0xNN" for anything else.
std::string quoted(char c) {
  if (c >= 0x20 && c < 0x7f) return std::string{'\'', c, '\''};
  constexpr std::string_view kHexDigits = "0123456789abcdef";
  const auto byte = static_cast<unsigned char>(c);
  return std::string("byte 0x") + kHexDigits[byte >> 4] + kHexDigits[byte & 0xf];
}

ParseError error_at(std::string_view kind, std::string_view hint, std::size_t position) {
  std::string message;
  message.reserve(kind.size() + hint.size() + 24);
  message.append(kind).append(": ").append(hint);
  message.append(" (at offset ").append(std::to_string(position)).append(")");
  return {std::move(message), position};
}

// A grammar failure, kept allocation-free until it becomes the reported error.
struct Failure {
  std::string_view kind;
  std::string_view hint;
  std::size_t position;
  bool quote_char = false;  // append the character at `position` to the hint
};

Failure invalid(std::string_view hint, std::size_t position, bool quote_char = false) {
  return {kInvalidFormat, hint, position, quote_char};
}

ParseError to_error(std::string_view text, const Failure& failure) {
  if (!failure.quote_char || failure.position >= text.size()) {
    return error_at(failure.kind, failure.hint, failure.position);
  }
  const std::string hint = std::string(failure.hint) + " " + quoted(text[failure.position]);
  return error_at(failure.kind, hint, failure.position);
}

// ---- normalization: where the domain ends (distribution's splitDockerDomain) ----

// Where the domain ends and the repository path starts.
struct Split {
  std::string_view domain;     // the normalized domain: "docker.io" for Hub, else as written
  std::size_t domain_end = 0;  // the input's [0, domain_end) is the written domain; 0 if implied
  std::size_t rest = 0;        // offset where the repository path starts
  bool official = false;       // "library/" goes in front of the path
};

bool looks_like_domain(std::string_view first) {
  if (first == kLocalhost) return true;
  for (char c : first) {
    if (c == '.' || c == ':' || is_upper(c)) return true;
  }
  return false;
}

Split split_domain(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == npos) return {kDefaultDomain, 0, 0, true};
  const std::string_view first = text.substr(0, slash);
  if (!looks_like_domain(first)) return {kDefaultDomain, 0, 0, false};
  Split split{first == kLegacyDefaultDomain ? kDefaultDomain : first, slash, slash + 1, false};
  split.official = split.domain == kDefaultDomain && text.find('/', split.rest) == npos;
  return split;
}

bool looks_like_image_id(std::string_view text) {
  if (text.size() != kImageIdLength) return false;
  for (char c : text) {
    if (!is_lower_hex(c)) return false;
  }
  return true;
}

/// The first uppercase letter in text[from, to), or npos.
std::size_t find_uppercase(std::string_view text, std::size_t from, std::size_t to) {
  for (std::size_t pos = from; pos < to && pos < text.size(); ++pos) {
    if (is_upper(text[pos])) return pos;
  }
  return npos;
}

// ---- the domain: host [":" port] ----

/// Scans `label ("." label)*` from `pos` up to ':' or `end`; fails at the first misfit.
std::optional<Failure> scan_dns_name(std::string_view text, std::size_t end, std::size_t& pos) {
  for (;;) {
    if (pos == end || text[pos] == '.' || text[pos] == ':') {
      return invalid("registry host has an empty component", pos);
    }
    if (text[pos] == '-') return invalid("registry host components must start with a letter or digit", pos);
    if (!is_alnum(text[pos])) return invalid("registry host contains invalid character", pos, true);
    while (pos < end && (is_alnum(text[pos]) || text[pos] == '-')) ++pos;
    if (text[pos - 1] == '-') {
      return invalid("registry host components must end with a letter or digit", pos - 1);
    }
    if (pos == end || text[pos] == ':') return std::nullopt;
    if (text[pos] != '.') return invalid("registry host contains invalid character", pos, true);
    ++pos;
  }
}

/// Scans "[" [A-Fa-f0-9:]+ "]" from `pos`; fails on zones, dotted tails or a missing ']'.
std::optional<Failure> scan_ipv6(std::string_view text, std::size_t end, std::size_t& pos) {
  const std::size_t open = pos++;
  while (pos < end && (is_hex(text[pos]) || text[pos] == ':')) ++pos;
  if (pos == end) return invalid("IPv6 address must end with ']'", open);
  if (text[pos] != ']') return invalid("IPv6 address contains invalid character", pos, true);
  if (pos == open + 1) return invalid("IPv6 address is empty", pos);
  ++pos;
  if (pos < end && text[pos] != ':') return invalid("unexpected character after IPv6 address", pos, true);
  return std::nullopt;
}

/// Checks text[colon + 1, end) is a non-empty decimal port.
std::optional<Failure> check_port(std::string_view text, std::size_t colon, std::size_t end) {
  if (colon + 1 == end) return invalid("port is empty", colon + 1);
  for (std::size_t pos = colon + 1; pos < end; ++pos) {
    if (text[pos] == ':') return invalid("port must be numeric (IPv6 addresses need brackets)", pos);
    if (!is_digit(text[pos])) return invalid("port must be numeric, found", pos, true);
  }
  return std::nullopt;
}

/// Checks text[0, end) is `host [":" port]`; fails at the first character that does not fit.
std::optional<Failure> check_domain(std::string_view text, std::size_t end) {
  std::size_t pos = 0;
  auto failure = text[0] == '[' ? scan_ipv6(text, end, pos) : scan_dns_name(text, end, pos);
  if (failure) return failure;
  if (pos == end) return std::nullopt;
  return check_port(text, pos, end);
}

// ---- the path: component ("/" component)* ----

bool ends_component(std::string_view text, std::size_t pos) {
  return pos == text.size() || text[pos] == '/' || text[pos] == ':' || text[pos] == '@';
}

/// Skips one separator ("." | "_" | "__" | "-"+) at `pos`; false if there is none.
bool skip_separator(std::string_view text, std::size_t& pos) {
  const char first = text[pos];
  if (!is_path_separator_char(first)) return false;
  ++pos;
  if (first == '_' && pos < text.size() && text[pos] == '_') ++pos;
  if (first == '-') {
    while (pos < text.size() && text[pos] == '-') ++pos;
  }
  return true;
}

/// Scans `alnum (separator alnum)*` from `pos` and leaves `pos` just past it.
std::optional<Failure> scan_component(std::string_view text, std::size_t& pos, bool fold) {
  if (ends_component(text, pos)) return invalid("path component is empty", pos);
  if (is_path_separator_char(text[pos])) {
    return invalid("path component must start with a lowercase letter or digit", pos);
  }
  for (;;) {
    if (!is_path_alnum(text[pos], fold)) {
      return invalid("path component contains invalid character", pos, true);
    }
    while (pos < text.size() && is_path_alnum(text[pos], fold)) ++pos;
    if (ends_component(text, pos)) return std::nullopt;
    const std::size_t separator = pos;
    if (!skip_separator(text, pos)) return invalid("path component contains invalid character", pos, true);
    if (ends_component(text, pos)) {
      return invalid("path component must end with a lowercase letter or digit", separator);
    }
    if (is_path_separator_char(text[pos])) {
      return invalid("separator must be one '.', one or two '_', or dashes", pos);
    }
  }
}

/// Scans `component ("/" component)*` from `pos` up to ':', '@' or the end.
std::optional<Failure> scan_path(std::string_view text, std::size_t& pos, bool fold) {
  for (;;) {
    if (auto failure = scan_component(text, pos, fold)) return failure;
    if (pos == text.size() || text[pos] != '/') return std::nullopt;
    ++pos;
  }
}

// ---- tag and digest ----

/// Scans `[\w][\w.-]{0,127}` from `pos`, which must then be at '@' or the end.
std::optional<Failure> scan_tag(std::string_view text, std::size_t& pos) {
  const std::size_t begin = pos;
  if (pos == text.size() || text[pos] == '@') return invalid("tag is empty", pos);
  if (!is_word(text[pos])) return invalid("tag must start with a letter, digit or '_'", pos);
  while (pos < text.size() && is_tag_char(text[pos])) ++pos;
  if (pos - begin > kTagMax) return invalid("tag must be at most 128 characters", begin + kTagMax);
  if (pos == text.size() || text[pos] == '@') return std::nullopt;
  if (text[pos] == ':') return invalid("a reference has at most one tag", pos);
  return invalid("tag contains invalid character", pos, true);
}

/// Scans distribution's digest pattern `algorithm ":" [[:xdigit:]]{32,}` from `pos` to the end.
std::optional<Failure> scan_digest(std::string_view text, std::size_t& pos) {
  for (;;) {
    if (pos == text.size()) return invalid("digest must be algorithm:hex", pos);
    if (!is_alpha(text[pos])) {
      return invalid("digest algorithm parts must start with a letter, found", pos, true);
    }
    while (pos < text.size() && is_alnum(text[pos])) ++pos;
    if (pos == text.size() || !is_algorithm_separator(text[pos])) break;
    ++pos;
  }
  if (pos == text.size()) return invalid("digest must be algorithm:hex", pos);
  if (text[pos] != ':') return invalid("digest algorithm contains invalid character", pos, true);
  const std::size_t hex = ++pos;
  while (pos < text.size() && is_hex(text[pos])) ++pos;
  if (pos < text.size()) return invalid("digest contains non-hex character", pos, true);
  if (pos - hex < kDigestHexMin) return invalid("digest hex must be at least 32 characters", hex);
  return std::nullopt;
}

/// Where `digest` stops matching go-digest's DigestRegexp
/// `[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`, or npos when it matches.
std::size_t go_digest_mismatch(std::string_view digest) {
  auto lower_alnum = [](char c) { return is_lower(c) || is_digit(c); };
  std::size_t pos = 0;
  for (;;) {
    if (pos == digest.size() || !lower_alnum(digest[pos])) return pos;
    while (pos < digest.size() && lower_alnum(digest[pos])) ++pos;
    if (pos == digest.size() || !is_algorithm_separator(digest[pos])) break;
    ++pos;
  }
  if (pos == digest.size() || digest[pos] != ':') return pos;
  if (++pos == digest.size()) return pos;
  for (; pos < digest.size(); ++pos) {
    const char c = digest[pos];
    if (!is_alnum(c) && c != '=' && c != '_' && c != '-') return pos;
  }
  return npos;
}

/// go-digest's Digest.Validate on `digest`, which starts at `offset` in the caller's text;
/// fails with go-digest's error (format, unsupported algorithm, length).
std::optional<ParseError> check_digest(std::string_view digest, std::size_t offset) {
  const std::size_t colon = digest.find(':');
  if (colon == npos || colon == 0 || colon + 1 == digest.size()) {
    return error_at(kDigestFormat, "expected algorithm:hex", offset + (colon == npos ? 0 : colon));
  }
  const std::string_view algorithm = digest.substr(0, colon);
  const std::string_view hex = digest.substr(colon + 1);
  const Algorithm* known = nullptr;
  for (const Algorithm& candidate : kAlgorithms) {
    if (candidate.name == algorithm) known = &candidate;
  }
  if (known == nullptr) {
    if (const std::size_t bad = go_digest_mismatch(digest); bad != npos) {
      if (bad == digest.size()) return error_at(kDigestFormat, "digest ends early", offset + bad);
      const char* hint = bad < colon && is_upper(digest[bad]) ? "algorithm must be lowercase, found "
                                                              : "unexpected character ";
      return error_at(kDigestFormat, hint + quoted(digest[bad]), offset + bad);
    }
    const std::string hint = "'" + std::string(algorithm) + "' is not sha256, sha384 or sha512";
    return error_at(kDigestUnsupported, hint, offset);
  }
  if (hex.size() != known->hex_length) {
    const std::string hint = std::string(known->name) + " needs " + std::to_string(known->hex_length) +
                             " hex characters, found " + std::to_string(hex.size());
    return error_at(kDigestLength, hint, offset + colon + 1);
  }
  for (std::size_t pos = 0; pos < hex.size(); ++pos) {
    if (is_lower_hex(hex[pos])) continue;
    const char* hint = is_hex(hex[pos]) ? "hex must be lowercase, found " : "not a hex digit: ";
    return error_at(kDigestFormat, hint + quoted(hex[pos]), offset + colon + 1 + pos);
  }
  return std::nullopt;
}

// ---- the whole reference ----

// What the grammar found.
struct Parts {
  bool domain_is_path = false;  // the written domain is not a host but a path component ("my_reg.io")
  std::size_t path_end = 0;     // offset just past the repository path
  std::string_view tag;         // empty when there is none
  std::string_view digest;      // "algorithm:hex", empty when there is none
  std::size_t digest_at = 0;    // offset of `digest`
};

bool is_url_scheme(std::string_view text, std::size_t domain_end) {
  return text[domain_end - 1] == ':' && text.substr(domain_end).starts_with("//");
}

/// Checks the written domain as a host, or else, as distribution's regexp does, as the
/// first path component; fails with the host's problem when it is neither.
std::optional<Failure> check_written_domain(std::string_view text, const Split& split, bool fold,
                                            Parts& parts) {
  if (split.domain_end == 0) return std::nullopt;
  auto host_failure = check_domain(text, split.domain_end);
  if (!host_failure) return std::nullopt;
  std::size_t pos = 0;
  if (!scan_component(text, pos, fold) && pos == split.domain_end) {
    parts.domain_is_path = true;
    return std::nullopt;
  }
  if (is_url_scheme(text, split.domain_end)) return invalid("a reference has no URL scheme", 0);
  return host_failure;
}

/// Matches the whole input against distribution's ReferenceRegexp (with `fold`, as if
/// lowercased) and fills `parts`; fails at the leftmost character that does not fit.
std::optional<Failure> check_grammar(std::string_view text, const Split& split, bool fold, Parts& parts) {
  if (auto failure = check_written_domain(text, split, fold, parts)) return failure;
  std::size_t pos = split.rest;
  if (auto failure = scan_path(text, pos, fold)) return failure;
  parts.path_end = pos;
  if (pos < text.size() && text[pos] == ':') {
    const std::size_t tag = ++pos;
    if (auto failure = scan_tag(text, pos)) return failure;
    parts.tag = text.substr(tag, pos - tag);
  }
  if (pos < text.size() && text[pos] == '@') {
    parts.digest_at = ++pos;
    if (auto failure = scan_digest(text, pos)) return failure;
    parts.digest = text.substr(parts.digest_at);
  }
  return std::nullopt;
}

/// The grammar failure to report: distribution says "must be lowercase" when the
/// lowercased input would have matched (an uppercase first component that is not a host).
ParseError grammar_error(std::string_view text, const Split& split, const Failure& failure) {
  Parts folded;
  if (check_grammar(text, split, true, folded)) return to_error(text, failure);
  const std::size_t upper = find_uppercase(text, 0, split.domain_end);
  if (upper == npos) return to_error(text, failure);
  return to_error(text,
                  {kMustBeLowercase, "the first component is not a valid host, so it is part of the path, found",
                   upper, true});
}

std::size_t path_begin(const Split& split, const Parts& parts) {
  return parts.domain_is_path ? 0 : split.rest;
}

/// Fails when the path (with the virtual "library/", without the domain) exceeds 255 characters.
std::optional<ParseError> check_path_length(const Split& split, const Parts& parts) {
  const std::size_t prefix = split.official ? kOfficialPrefix.size() : 0;
  const std::size_t length = prefix + parts.path_end - path_begin(split, parts);
  if (length <= kPathMax) return std::nullopt;
  const std::string hint = "the path has " + std::to_string(length);
  return error_at(kNameTooLong, hint, path_begin(split, parts) + kPathMax - prefix);
}

Reference build(std::string_view text, const Split& split, const Parts& parts) {
  Reference reference;
  if (!parts.domain_is_path) reference.domain = split.domain;
  const std::string_view written_path =
      text.substr(path_begin(split, parts), parts.path_end - path_begin(split, parts));
  reference.path.reserve((split.official ? kOfficialPrefix.size() : 0) + written_path.size());
  if (split.official) reference.path.append(kOfficialPrefix);
  reference.path.append(written_path);
  reference.tag = parts.tag;
  reference.digest = parts.digest;
  if (reference.tag.empty() && reference.digest.empty()) {
    reference.tag = kDefaultTag;
    reference.tag_implied = true;
  }
  return reference;
}

void append_tag_and_digest(const Reference& reference, std::string& out) {
  if (!reference.tag.empty()) out.append(":").append(reference.tag);
  if (!reference.digest.empty()) out.append("@").append(reference.digest);
}

}  // namespace

std::string Reference::repository() const {
  if (domain.empty()) return path;
  std::string out;
  out.reserve(domain.size() + 1 + path.size());
  out.append(domain).append("/").append(path);
  return out;
}

std::string Reference::str() const {
  std::string out = repository();
  append_tag_and_digest(*this, out);
  return out;
}

std::string Reference::familiar() const {
  if (domain != kDefaultDomain) return str();
  std::string_view short_path = path;
  if (short_path.starts_with(kOfficialPrefix) && short_path.find('/', kOfficialPrefix.size()) == npos) {
    short_path.remove_prefix(kOfficialPrefix.size());
  }
  std::string out(short_path);
  append_tag_and_digest(*this, out);
  return out;
}

Reference Reference::without_digest() const {
  Reference copy = *this;
  copy.digest.clear();
  if (copy.tag.empty()) {
    copy.tag = kDefaultTag;
    copy.tag_implied = true;
  }
  return copy;
}

Expected<Reference, ParseError> parse(std::string_view text) {
  if (text.empty()) return unexpected(error_at(kInvalidFormat, "the reference is empty", 0));
  if (looks_like_image_id(text)) {
    return unexpected(error_at(kImageId, "cannot specify 64-byte hexadecimal strings (an image ID)", 0));
  }
  const Split split = split_domain(text);
  if (const std::size_t upper = find_uppercase(text, split.rest, text.find(':', split.rest)); upper != npos) {
    return unexpected(to_error(text, {kMustBeLowercase, "found uppercase", upper, true}));
  }
  Parts parts;
  if (auto failure = check_grammar(text, split, false, parts)) {
    return unexpected(grammar_error(text, split, *failure));
  }
  if (auto too_long = check_path_length(split, parts)) return unexpected(std::move(*too_long));
  if (!parts.digest.empty()) {
    if (auto bad_digest = check_digest(parts.digest, parts.digest_at)) {
      return unexpected(std::move(*bad_digest));
    }
  }
  return build(text, split, parts);
}

Expected<void, ParseError> validate_digest(std::string_view digest) {
  if (auto failure = check_digest(digest, 0)) return unexpected(std::move(*failure));
  return {};
}

}  // namespace cascade::reference
