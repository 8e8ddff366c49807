// The API's guards, as pure functions of header values: the bearer token (scheme in any
// case, compared as digests in constant time), the content types a POST may carry (JSON, so
// a cross-site form cannot post), the Host names the daemon answers to (no DNS rebinding),
// and the text log's escaping of control characters (no forged log lines).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cascade::daemon {

/// The credentials of an Authorization value "Bearer T" (the scheme in any case, RFC 7235;
/// blanks around T skipped); nullopt for another scheme or an empty token.
std::optional<std::string_view> bearer_token(std::string_view authorization);

/// Whether `offered` is `expected`, in a time that depends on neither's length nor content
/// (their SHA-256 digests compared with CRYPTO_memcmp). An empty `expected` matches nothing.
bool token_matches(std::string_view offered, std::string_view expected);

/// Whether a Content-Type value names JSON: application/json or application/<x>+json, in any
/// case, parameters (charset) ignored.
bool is_json_type(std::string_view content_type);
/// Whether it is application/x-www-form-urlencoded (GitHub's form-encoded deliveries).
bool is_form_type(std::string_view content_type);

/// The names a request's Host header may carry: localhost, loopback addresses, the listen
/// address, the address the client connected to (a bind to 0.0.0.0 answers each of the
/// machine's addresses), and the configured names. Ports are not compared.
class HostCheck {
 public:
  explicit HostCheck(std::string listen_host = "127.0.0.1", std::vector<std::string> names = {});
  /// Whether `host` ("name", "name:port", "[v6]:port") names this server for a client that
  /// connected to `local` ("127.0.0.1", "::1").
  bool allows(std::string_view host, std::string_view local) const;

 private:
  std::vector<std::string> names_;  // lower case, IPv6 without brackets
};

/// `text` for one line of the text log: control characters (C0, DEL and C1) as \n, \r, \t
/// or \xHH (C1 as \u0080..\u009f), so nothing a client sends can start a line or move the
/// cursor; invalid UTF-8 bytes as \xHH; a backslash as \\.
std::string escape_controls(std::string_view text);

}  // namespace cascade::daemon
