// The API's guards: bearer tokens, content types, Host names, log escaping.
#include "api_guard.hpp"

#include <algorithm>
#include <cctype>

#include "cascade/webhook.hpp"
#include "cascade/util/text.hpp"

namespace cascade::daemon {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The media type of a Content-Type value, lower case, without parameters.
std::string media_type(std::string_view content_type) {
  return util::lowercase(trim(content_type.substr(0, content_type.find(';'))));
}

// "name:port" -> "name", "[::1]:port" -> "::1", "::1" (a bare IPv6 literal) stays.
std::string host_name(std::string_view host) {
  host = trim(host);
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    return util::lowercase(host.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  auto colon = host.find(':');
  if (colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) host = host.substr(0, colon);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // "localhost." is "localhost"
  return util::lowercase(host);
}

bool loopback(const std::string& name) {
  if (name == "localhost" || name == "::1") return true;
  if (name.size() > 10 && name.ends_with(".localhost")) return true;
  return name.rfind("127.", 0) == 0 && std::all_of(name.begin(), name.end(), [](char ch) {
           return std::isdigit(static_cast<unsigned char>(ch)) || ch == '.';
         });
}

}  // namespace

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  authorization = trim(authorization);
  constexpr std::string_view scheme = "bearer";
  if (authorization.size() <= scheme.size() || util::lowercase(authorization.substr(0, scheme.size())) != scheme)
    return std::nullopt;
  char separator = authorization[scheme.size()];
  if (separator != ' ' && separator != '\t') return std::nullopt;
  std::string_view token = trim(authorization.substr(scheme.size() + 1));
  if (token.empty()) return std::nullopt;
  return token;
}

bool token_matches(std::string_view offered, std::string_view expected) {
  // Keyed digests of both have one length, so the compare takes the same time whatever the
  // token's length; the key only separates these digests from any other use of SHA-256.
  constexpr std::string_view key = "cascade api token";
  bool equal = webhook::constant_time_equal(webhook::hmac_sha256_hex(key, offered), webhook::hmac_sha256_hex(key, expected));
  return equal && !expected.empty();
}

bool is_json_type(std::string_view content_type) {
  std::string type = media_type(content_type);
  if (type == "application/json") return true;
  return type.rfind("application/", 0) == 0 && type.size() > 17 && type.ends_with("+json") &&
         type.find_first_of(" \t/", 12) == std::string::npos;
}

bool is_form_type(std::string_view content_type) {
  return media_type(content_type) == "application/x-www-form-urlencoded";
}

HostCheck::HostCheck(std::string listen_host, std::vector<std::string> names) {
  names_.push_back(host_name(listen_host.find(':') != std::string::npos && listen_host.front() != '['
                                 ? "[" + listen_host + "]"
                                 : listen_host));
  for (const auto& name : names) names_.push_back(host_name(name));
}

bool HostCheck::allows(std::string_view host, std::string_view local) const {
  std::string name = host_name(host);
  if (name.empty()) return false;
  if (loopback(name) || name == util::lowercase(local)) return true;
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

std::string escape_controls(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  auto byte_escape = [&](unsigned char ch) {
    out += "\\x";
    out += hex[ch >> 4];
    out += hex[ch & 15];
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto ch = static_cast<unsigned char>(text[i]);
    if (ch == '\\') out += "\\\\";
    else if (ch == '\n') out += "\\n";
    else if (ch == '\r') out += "\\r";
    else if (ch == '\t') out += "\\t";
    else if (ch < 0x20 || ch == 0x7f) byte_escape(ch);
    else if (ch < 0x80) out += static_cast<char>(ch);
    else {
      // A UTF-8 sequence passes whole when it is valid and not a C1 control (U+0080..U+009F).
      std::size_t length = ch >= 0xf0 && ch <= 0xf4 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc2 && ch < 0xe0 ? 2 : 0;
      bool valid = length > 0 && i + length <= text.size();
      for (std::size_t k = 1; valid && k < length; ++k) valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
      if (valid && length == 3) {
        auto next = static_cast<unsigned char>(text[i + 1]);
        valid = !(ch == 0xe0 && next < 0xa0) && !(ch == 0xed && next >= 0xa0);  // overlong, surrogates
      }
      if (valid && length == 4) {
        auto next = static_cast<unsigned char>(text[i + 1]);
        valid = !(ch == 0xf0 && next < 0x90) && !(ch == 0xf4 && next >= 0x90);
      }
      if (!valid) {
        byte_escape(ch);
        continue;
      }
      if (length == 2 && ch == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0) {
        out += "\\u00";
        out += hex[static_cast<unsigned char>(text[i + 1]) >> 4];
        out += hex[static_cast<unsigned char>(text[i + 1]) & 15];
      } else {
        out.append(text.substr(i, length));
      }
      i += length - 1;
    }
  }
  return out;
}

}  // namespace cascade::daemon
