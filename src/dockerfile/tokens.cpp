// Small text readers shared by the lexer and the instruction checks: Go's notion of
// white space, JSON arrays (exec form), BuildKit's quote-aware word split, CSV records.
#include <algorithm>
#include <cstdint>

#include "internal.hpp"

namespace cascade::dockerfile::detail {
namespace {

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

unsigned char byte_at(std::string_view text, std::size_t pos) {
  return static_cast<unsigned char>(text[pos]);
}

// Length of the UTF-8 encoded non-ASCII space at `pos` (U+0085, U+00A0, U+1680,
// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000), 0 when none.
std::size_t wide_space_length(std::string_view text, std::size_t pos) {
  const std::size_t left = text.size() - pos;
  const unsigned char b0 = byte_at(text, pos);
  if (b0 == 0xC2 && left >= 2) {
    const unsigned char b1 = byte_at(text, pos + 1);
    return (b1 == 0x85 || b1 == 0xA0) ? 2 : 0;
  }
  if (left < 3) return 0;
  const unsigned char b1 = byte_at(text, pos + 1), b2 = byte_at(text, pos + 2);
  if (b0 == 0xE1) return (b1 == 0x9A && b2 == 0x80) ? 3 : 0;
  if (b0 == 0xE3) return (b1 == 0x80 && b2 == 0x80) ? 3 : 0;
  if (b0 != 0xE2) return 0;
  if (b1 == 0x80) return ((b2 >= 0x80 && b2 <= 0x8A) || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF) ? 3 : 0;
  return (b1 == 0x81 && b2 == 0x9F) ? 3 : 0;
}

// The byte length of the UTF-8 sequence starting at `pos` (1 for an invalid byte).
std::size_t rune_length(std::string_view text, std::size_t pos) {
  const unsigned char lead = byte_at(text, pos);
  std::size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 1;
  if (pos + length > text.size()) return 1;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte_at(text, pos + i) & 0xC0) != 0x80) return 1;
  }
  return length;
}

// ---- JSON, as Go's encoding/json reads it ----------------------------------------------

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  std::optional<JsonArray> read_array() {
    JsonArray array;
    if (!consume('[')) return std::nullopt;
    skip_blanks();
    if (consume(']')) return array;
    while (true) {
      skip_blanks();
      if (peek() == '"') {
        std::string value;
        if (!read_string(&value)) return std::nullopt;
        array.strings.push_back(std::move(value));
      } else {
        if (!skip_value()) return std::nullopt;
        array.only_strings = false;
      }
      skip_blanks();
      if (consume(']')) break;
      if (!consume(',')) return std::nullopt;
    }
    if (!array.only_strings) array.strings.clear();
    return array;
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool consume(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void skip_blanks() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool consume_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool skip_value() {
    switch (peek()) {
      case '"': return read_string(nullptr);
      case '[': return skip_container(']');
      case '{': return skip_container('}');
      case 't': return consume_word("true");
      case 'f': return consume_word("false");
      case 'n': return consume_word("null");
      default: return skip_number();
    }
  }
  // An array or object: values (and "key": value pairs) separated by commas.
  bool skip_container(char close) {
    ++pos_;
    skip_blanks();
    if (consume(close)) return true;
    while (true) {
      skip_blanks();
      if (close == '}') {
        if (peek() != '"' || !read_string(nullptr)) return false;
        skip_blanks();
        if (!consume(':')) return false;
        skip_blanks();
      }
      if (!skip_value()) return false;
      skip_blanks();
      if (consume(close)) return true;
      if (!consume(',')) return false;
    }
  }
  bool skip_digits() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }
  bool skip_number() {
    consume('-');
    if (consume('0')) {
      // no further integer digits after a leading zero
    } else if (peek() < '1' || peek() > '9' || !skip_digits()) {
      return false;
    }
    if (consume('.') && !skip_digits()) return false;
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (!consume('+')) consume('-');
      if (!skip_digits()) return false;
    }
    return true;
  }
  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool read_hex4(std::uint32_t* code) {
    if (pos_ + 4 > text_.size()) return false;
    *code = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = hex_value(text_[pos_++]);
      if (digit < 0) return false;
      *code = *code * 16 + static_cast<std::uint32_t>(digit);
    }
    return true;
  }
  static void append_utf8(std::string* out, std::uint32_t code) {
    if (code < 0x80) {
      out->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (code >> 6)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (code >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (code >> 18)));
      out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }
  // \uXXXX, joining a surrogate pair; a lone surrogate becomes U+FFFD like Go.
  bool read_unicode_escape(std::string* out) {
    std::uint32_t code = 0;
    if (!read_hex4(&code)) return false;
    if (code >= 0xD800 && code < 0xDC00 && text_.substr(pos_, 2) == "\\u") {
      const std::size_t mark = pos_;
      pos_ += 2;
      std::uint32_t low = 0;
      if (!read_hex4(&low)) return false;
      if (low >= 0xDC00 && low < 0xE000) {
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
      } else {
        pos_ = mark;
        code = 0xFFFD;
      }
    } else if (code >= 0xD800 && code < 0xE000) {
      code = 0xFFFD;
    }
    if (out) append_utf8(out, code);
    return true;
  }
  bool read_escape(std::string* out) {
    if (pos_ >= text_.size()) return false;
    const char c = text_[pos_++];
    char decoded = 0;
    switch (c) {
      case '"': case '\\': case '/': decoded = c; break;
      case 'b': decoded = '\b'; break;
      case 'f': decoded = '\f'; break;
      case 'n': decoded = '\n'; break;
      case 'r': decoded = '\r'; break;
      case 't': decoded = '\t'; break;
      case 'u': return read_unicode_escape(out);
      default: return false;
    }
    if (out) out->push_back(decoded);
    return true;
  }
  bool read_string(std::string* out) {
    ++pos_;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (!read_escape(out)) return false;
      } else if (out) {
        out->push_back(c);
      }
    }
    return false;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// A CSV field in quotes starting at `pos` ("" is a quote); it must end the record or
// be followed by a comma.
std::optional<std::string> read_quoted_csv_field(std::string_view text, std::size_t& pos, std::string& error) {
  std::string field;
  ++pos;
  while (true) {
    const std::size_t quote = text.find('"', pos);
    if (quote == std::string_view::npos) break;
    field.append(text.substr(pos, quote - pos));
    pos = quote + 1;
    if (pos < text.size() && text[pos] == '"') {
      field.push_back('"');
      ++pos;
    } else if (pos == text.size() || text[pos] == ',') {
      return field;
    } else {
      break;
    }
  }
  error = "extraneous or missing \" in quoted-field";
  return std::nullopt;
}

// A CSV field without quotes, up to the next comma; a quote inside it is an error.
std::optional<std::string> read_plain_csv_field(std::string_view text, std::size_t& pos, std::string& error) {
  const std::size_t comma = std::min(text.find(',', pos), text.size());
  std::string field(text.substr(pos, comma - pos));
  pos = comma;
  if (field.find('"') == std::string::npos) return field;
  error = "bare \" in non-quoted-field";
  return std::nullopt;
}

}  // namespace

std::size_t space_length_at(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return 0;
  if (is_ascii_space(text[pos])) return 1;
  return byte_at(text, pos) < 0x80 ? 0 : wide_space_length(text, pos);
}

std::string_view trim_left_space(std::string_view text) {
  std::size_t pos = 0;
  while (std::size_t length = space_length_at(text, pos)) pos += length;
  return text.substr(pos);
}

std::string_view trim_space(std::string_view text) {
  text = trim_left_space(text);
  while (!text.empty()) {
    if (is_ascii_space(text.back())) {
      text.remove_suffix(1);
    } else if (text.size() >= 2 && wide_space_length(text, text.size() - 2) == 2) {
      text.remove_suffix(2);
    } else if (text.size() >= 3 && wide_space_length(text, text.size() - 3) == 3) {
      text.remove_suffix(3);
    } else {
      break;
    }
  }
  return text;
}

bool is_regex_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

bool is_token_space(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

std::vector<std::string_view> split_on_token_space(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t pos = 0; pos <= text.size(); ++pos) {
    if (pos < text.size() && !is_token_space(text[pos])) continue;
    parts.push_back(text.substr(start, pos - start));
    while (pos + 1 < text.size() && is_token_space(text[pos + 1])) ++pos;
    start = pos + 1;
  }
  return parts;
}

std::optional<JsonArray> parse_json_array(std::string_view text) {
  return JsonReader(text).read_array();
}

std::vector<std::string_view> parse_words(std::string_view text, char escape) {
  std::vector<std::string_view> words;
  std::size_t start = 0, end = 0;  // the current word is text[start, end)
  bool in_word = false, blank_ok = false;
  char quote = 0;
  const auto finish_word = [&] {
    if (blank_ok || end > start) words.push_back(text.substr(start, end - start));
    in_word = false;
    blank_ok = false;
    quote = 0;
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t space = space_length_at(text, pos);
    if (!in_word) {
      if (space) {
        pos += space;
        continue;
      }
      in_word = true;
      start = end = pos;
    }
    if (quote == 0 && space) {
      finish_word();
      pos += space;
      continue;
    }
    const char c = text[pos];
    if (quote == 0 && (c == '\'' || c == '"')) {
      quote = c;
      blank_ok = true;
    } else if (quote != 0 && c == quote) {
      quote = 0;
    } else if (c == escape && (quote == 0 || quote == '"')) {
      if (pos + 1 == text.size()) break;  // an escape at the very end is dropped
      pos += 1;
    }
    pos += rune_length(text, pos);
    end = pos;
  }
  if (in_word) finish_word();
  return words;
}

std::optional<std::vector<std::string>> parse_csv_record(std::string_view text, std::string& error) {
  if (text.empty()) {
    error = "EOF";
    return std::nullopt;
  }
  std::vector<std::string> fields;
  std::size_t pos = 0;
  while (true) {
    auto field = pos < text.size() && text[pos] == '"' ? read_quoted_csv_field(text, pos, error)
                                                       : read_plain_csv_field(text, pos, error);
    if (!field) return std::nullopt;
    fields.push_back(std::move(*field));
    if (pos >= text.size()) return fields;
    ++pos;  // the comma
  }
}

}  // namespace cascade::dockerfile::detail
