// apk version ordering and validation, behaving as apk-tools 3.x src/version.c
// (apk_version_compare, apk_version_validate); cascade picks 3.x, the apk of Alpine 3.23+.
// Grammar: number{.number}...{letter}{_suffix{number}}...{~hash}{-rN}. Where 3.x differs
// from 2.14: a later `.number` with a leading zero on either side compares as a string
// (8.2.0 < 8.2.001), `~hash` is a token (1.0~1234-r1 > 1.0~1234-r0), and long digit runs
// are valid. Unlike apk (which reads numbers into uint64_t) digit runs compare as digit
// strings, so runs of 20+ digits still order by value.
#include "cascade/version.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "chars.hpp"

namespace cascade::version {
using namespace detail;
namespace {

constexpr bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
constexpr bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

// Token kinds in grammar order; the order decides a comparison whose kinds differ.
enum class Kind {
  initial_number, number, letter, suffix, suffix_number, hash, revision, end, invalid
};

// Suffix ranks: the pre-release ones sort below `none` (no suffix), the others above.
constexpr int kSuffixUnknown = 0;
constexpr int kSuffixNone = 5;
struct SuffixRank {
  std::string_view name;
  int rank;
};
constexpr std::array<SuffixRank, 9> kSuffixes{{{"alpha", 1}, {"beta", 2}, {"pre", 3},
                                               {"rc", 4}, {"cvs", 6}, {"svn", 7},
                                               {"git", 8}, {"hg", 9}, {"p", 10}}};

int suffix_rank(std::string_view name) {
  for (const SuffixRank& suffix : kSuffixes) {
    if (suffix.name == name) return suffix.rank;
  }
  return kSuffixUnknown;
}

// Byte-wise, then the shorter first (apk_blob_sort).
int compare_bytes(std::string_view a, std::string_view b) { return sign(a.compare(b)); }

// Why a walk turned `invalid`; only invalid_reason spells these out.
enum class Problem { none, no_leading_number, number_expected, letter_misplaced, dot_misplaced,
                     digit_misplaced, suffix_misplaced, unknown_suffix, hash_misplaced, hash_empty,
                     hyphen_misplaced, hyphen_without_r, invalid_character };

// Walks one version token by token as apk's token_first/token_next do. `problem` and
// `problem_offset` say why and where the walk turned `invalid`.
class Tokenizer {
 public:
  explicit Tokenizer(std::string_view text) : text_(text) { take_digits(Kind::initial_number); }

  Kind kind() const { return kind_; }
  int rank() const { return rank_; }
  std::string_view value() const { return value_; }
  Problem problem() const { return problem_; }
  std::size_t problem_offset() const { return problem_offset_; }

  void next() {
    if (position_ >= text_.size()) {
      kind_ = Kind::end;
      return;
    }
    const char c = text_[position_];
    if (is_lower(c)) return take_letter();
    if (c == '.' || is_digit(c)) return take_number(c == '.');
    if (c == '_') return take_suffix();
    if (c == '~') return take_hash();
    if (c == '-') return take_revision();
    fail(Problem::invalid_character, position_);
  }

 private:
  void fail(Problem why, std::size_t offset) {
    kind_ = Kind::invalid;
    problem_ = why;
    problem_offset_ = offset;
  }

  std::string_view take_run(bool (*belongs)(char)) {
    const std::size_t start = position_;
    while (position_ < text_.size() && belongs(text_[position_])) ++position_;
    return text_.substr(start, position_ - start);
  }

  void take_digits(Kind kind) {
    const std::size_t start = position_;
    value_ = take_run(is_digit);
    kind_ = kind;
    if (!value_.empty()) return;
    fail(kind == Kind::initial_number ? Problem::no_leading_number : Problem::number_expected, start);
  }

  void take_letter() {
    if (kind_ > Kind::number) return fail(Problem::letter_misplaced, position_);
    value_ = text_.substr(position_++, 1);
    kind_ = Kind::letter;
  }

  void take_number(bool after_dot) {
    if (after_dot && kind_ > Kind::number) return fail(Problem::dot_misplaced, position_);
    if (kind_ != Kind::initial_number && kind_ != Kind::number && kind_ != Kind::suffix) {
      return fail(Problem::digit_misplaced, position_);
    }
    if (after_dot) ++position_;
    take_digits(kind_ == Kind::suffix ? Kind::suffix_number : Kind::number);
  }

  void take_suffix() {
    const std::size_t start = position_;
    if (kind_ > Kind::suffix_number) return fail(Problem::suffix_misplaced, start);
    ++position_;
    value_ = take_run(is_lower);
    rank_ = suffix_rank(value_);
    if (rank_ == kSuffixUnknown) return fail(Problem::unknown_suffix, start);
    kind_ = Kind::suffix;
  }

  void take_hash() {
    const std::size_t start = position_;
    if (kind_ >= Kind::hash) return fail(Problem::hash_misplaced, start);
    ++position_;
    value_ = take_run(is_lower_hex);
    if (value_.empty()) return fail(Problem::hash_empty, start);
    kind_ = Kind::hash;
  }

  void take_revision() {
    const std::size_t start = position_;
    if (kind_ >= Kind::revision) return fail(Problem::hyphen_misplaced, start);
    if (text_.substr(position_, 2) != "-r") return fail(Problem::hyphen_without_r, start);
    position_ += 2;
    take_digits(Kind::revision);
  }

  std::string_view text_;
  std::size_t position_ = 0;
  Kind kind_ = Kind::initial_number;
  int rank_ = kSuffixUnknown;
  std::string_view value_;
  Problem problem_ = Problem::none;
  std::size_t problem_offset_ = 0;
};

// apk's token_cmp for two tokens of the same kind.
int compare_tokens(const Tokenizer& a, const Tokenizer& b) {
  switch (a.kind()) {
    case Kind::number:
      // A leading zero on either side: string order (Gentoo's rule, apk-tools 3.x).
      if (a.value().front() == '0' || b.value().front() == '0') {
        return compare_bytes(a.value(), b.value());
      }
      return compare_decimal(a.value(), b.value());
    case Kind::initial_number:
    case Kind::suffix_number:
    case Kind::revision:
      return compare_decimal(a.value(), b.value());
    case Kind::letter:
      return sign(a.value().front() - b.value().front());
    case Kind::suffix:
      return sign(a.rank() - b.rank());
    default:
      return compare_bytes(a.value(), b.value());
  }
}

}  // namespace

int compare_apk(std::string_view a, std::string_view b) {
  Tokenizer a_tokens(a);
  Tokenizer b_tokens(b);
  while (a_tokens.kind() == b_tokens.kind() && a_tokens.kind() < Kind::end) {
    if (const int result = compare_tokens(a_tokens, b_tokens)) return result;
    a_tokens.next();
    b_tokens.next();
  }
  if (a_tokens.kind() == b_tokens.kind()) return 0;
  // Equal so far: a side sitting on a pre-release suffix is older; otherwise the side whose
  // token comes later in the grammar (end, then invalid, come last) is older.
  if (a_tokens.kind() == Kind::suffix && a_tokens.rank() < kSuffixNone) return -1;
  if (b_tokens.kind() == Kind::suffix && b_tokens.rank() < kSuffixNone) return 1;
  return a_tokens.kind() > b_tokens.kind() ? -1 : 1;
}

namespace {

// The words for a problem found at `offset` of `text` (offsets count from 0).
std::string describe(Problem problem, std::string_view text, std::size_t offset) {
  const std::string at = " at " + std::to_string(offset);
  const char c = offset < text.size() ? text[offset] : '\0';
  switch (problem) {
    case Problem::no_leading_number: return "version does not start with a digit";
    case Problem::number_expected: return "number expected" + at;
    case Problem::letter_misplaced: return "letter " + quoted(c) + " out of place" + at;
    case Problem::dot_misplaced: return "'.' out of place" + at;
    case Problem::digit_misplaced: return "digit " + quoted(c) + " out of place" + at;
    case Problem::suffix_misplaced: return "suffix out of place" + at;
    case Problem::unknown_suffix: {
      std::size_t end = offset + 1;
      while (end < text.size() && is_lower(text[end])) ++end;
      return "unknown suffix '" + std::string(text.substr(offset, end - offset)) + "'" + at;
    }
    case Problem::hash_misplaced: return "'~' out of place" + at;
    case Problem::hash_empty: return "'~' without a lowercase hex hash" + at;
    case Problem::hyphen_misplaced: return "'-' out of place" + at;
    case Problem::hyphen_without_r: return "'-' not followed by 'r'" + at;
    default: return "invalid character " + quoted(c) + at;
  }
}

}  // namespace

namespace detail {

// apk_version_validate, with the reason and where the walk stopped.
std::optional<std::string> apk_invalid_reason(std::string_view text) {
  if (text.empty()) return "empty version";
  Tokenizer tokens(text);
  while (tokens.kind() < Kind::end) tokens.next();
  if (tokens.kind() == Kind::end) return std::nullopt;
  return describe(tokens.problem(), text, tokens.problem_offset());
}

}  // namespace detail
}  // namespace cascade::version
