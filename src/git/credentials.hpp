// Which credential a remote that asks for one is offered, as a pure decision (tested on its
// own), and the git credential helper as a source: tokens are scoped to one host each
// (CASCADE_GIT_TOKEN_<HOST>), and nothing is ever offered over plain http.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cascade::git::detail {

/// The parts of an http(s) remote URL the decision needs.
struct HttpUrl {
  std::string scheme;    // "http" or "https", lower case
  std::string host;      // lower case; an IPv6 address keeps its brackets
  std::string port;      // empty when the URL names none
  std::string path;      // without the leading '/', query and fragment
  std::string username;  // from userinfo, percent-decoding not applied
  bool has_password = false;
};

/// Parses an http:// or https:// URL; nullopt for anything else (ssh, scp-like, file).
std::optional<HttpUrl> parse_http_url(std::string_view url);

/// The environment variable holding the token scoped to `host` (and `port` unless empty
/// or 443): "CASCADE_GIT_TOKEN_" + host (+ "_" + port), letters upper-cased, '.' as '_'
/// and '-' as "__" (so no two host names share a variable). github.com ->
/// CASCADE_GIT_TOKEN_GITHUB_COM; git.example.com:8443 -> CASCADE_GIT_TOKEN_GIT_EXAMPLE_COM_8443;
/// my-git.example.com -> CASCADE_GIT_TOKEN_MY__GIT_EXAMPLE_COM. Empty (no token) for a host
/// with other characters (an IPv6 address) or an empty one.
std::string token_variable(std::string_view host, std::string_view port);

/// What was offered already during one fetch: each source once, so a rejected credential
/// ends in an authentication error rather than a loop.
struct Attempts {
  bool token = false;    // the scoped token was considered
  bool helper = false;   // the helper was asked
  bool offered = false;  // something was sent (and, when asked again, evidently rejected)
};

enum class Offer {
  token,   // the scoped token: `variable` holds it, user `username`
  helper,  // ask `git credential fill` for the URL
  refuse,  // fail the fetch with `message`
};

struct Decision {
  Offer offer = Offer::refuse;
  std::string variable;  // token: the variable's name
  std::string username;  // token: the user to send with it
  std::string message;   // refuse: why, naming the host and what to set
};

/// Reads an environment variable: nullopt when unset.
using Lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The credential for the remote `url` (as libgit2 passes it: the URL the remote was made
/// with) that asked for a user and password. Over http: refuse, always. Over https, in
/// order and each once: the token in token_variable(host, port) when set and not empty
/// (user: `username_from_url` when given, else "x-access-token"); then the git credential
/// helper when `helper_available`; then refuse, naming the variable to set (and saying
/// that CASCADE_GIT_TOKEN is no longer offered to every host when that one is set).
/// Any other URL (ssh, scp-like, unparsable): refuse.
Decision decide(std::string_view url, std::string_view username_from_url, const Attempts& tried, const Lookup& env,
                bool helper_available);

struct UserPassword {
  std::string username;
  std::string password;
};

/// Asks `git credential fill` (argument vector, the request on stdin, no terminal prompt,
/// 30 s at most) for the credential of an https `url`; nullopt when git is missing, no
/// helper answers, or the URL is not https.
std::optional<UserPassword> credential_from_helper(std::string_view url, std::string_view username_from_url);

}  // namespace cascade::git::detail
