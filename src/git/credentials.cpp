// Credentials for https remotes: the pure decision (which credential for which URL) and
// `git credential fill` as a source; see credentials.hpp.
#include "credentials.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "cascade/process.hpp"
#include "cascade/util/text.hpp"

namespace cascade::git::detail {

namespace {

constexpr std::string_view kTokenPrefix = "CASCADE_GIT_TOKEN_";
constexpr std::string_view kUnscopedToken = "CASCADE_GIT_TOKEN";
constexpr std::string_view kDefaultUser = "x-access-token";

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

/// Splits "host[:port]" (IPv6 in brackets); false when malformed.
bool split_host_port(std::string_view hostport, HttpUrl& out) {
  std::size_t host_end = 0;
  if (hostport.starts_with('[')) {
    host_end = hostport.find(']');
    if (host_end == std::string_view::npos) return false;
    ++host_end;
  } else {
    host_end = std::min(hostport.find(':'), hostport.size());
  }
  out.host = util::lowercase(hostport.substr(0, host_end));
  if (host_end < hostport.size()) {
    if (hostport[host_end] != ':') return false;
    out.port = std::string(hostport.substr(host_end + 1));
    bool digits = std::all_of(out.port.begin(), out.port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) return false;
  }
  return !out.host.empty();
}

std::string host_port(const HttpUrl& url) { return url.port.empty() ? url.host : url.host + ":" + url.port; }

Decision refuse(std::string message) { return {Offer::refuse, "", "", std::move(message)}; }

/// Why nothing (more) is offered to an https host.
Decision nothing_left(const HttpUrl& url, std::string variable, const Attempts& tried, const Lookup& env) {
  if (variable.empty()) variable = "(no variable: the host is not a name or IPv4 address)";
  if (tried.offered)
    return refuse(host_port(url) + " rejected the credentials cascade offered (from " + variable +
                  " or the git credential helper); check that they are valid for this repository");
  std::string message = host_port(url) + " asks for credentials: set " + variable +
                        " to a token for this host, or configure a git credential helper (git config credential.helper)";
  auto unscoped = env(std::string(kUnscopedToken));
  if (unscoped && !unscoped->empty())
    message += "; " + std::string(kUnscopedToken) + " is set but no longer offered to every host: name the host, as " +
               variable;
  return refuse(message);
}

}  // namespace

std::optional<HttpUrl> parse_http_url(std::string_view url) {
  std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  HttpUrl out;
  out.scheme = util::lowercase(url.substr(0, scheme_end));
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(scheme_end + 3);
  std::size_t authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, authority_end);
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    std::size_t colon = userinfo.find(':');
    out.username = std::string(userinfo.substr(0, colon));
    out.has_password = colon != std::string_view::npos;
    authority.remove_prefix(at + 1);
  }
  if (!split_host_port(authority, out)) return std::nullopt;
  std::string_view path = rest.substr(authority_end);
  path = path.substr(0, std::min(path.find_first_of("?#"), path.size()));
  while (path.starts_with('/')) path.remove_prefix(1);
  out.path = std::string(path);
  return out;
}

std::string token_variable(std::string_view host, std::string_view port) {
  std::string name(kTokenPrefix);
  for (unsigned char c : host) {
    if (std::isalnum(c)) name += util::ascii_upper(static_cast<char>(c));
    else if (c == '.') name += '_';
    else if (c == '-') name += "__";
    else return "";
  }
  bool digits = std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (host.empty() || !digits) return "";
  if (!port.empty() && port != "443") name += "_" + std::string(port);
  return name;
}

Decision decide(std::string_view url, std::string_view username_from_url, const Attempts& tried, const Lookup& env,
                bool helper_available) {
  auto parsed = parse_http_url(url);
  if (!parsed) return refuse("cascade offers a user and password only to https:// remotes");
  if (parsed->scheme == "http")
    return refuse(host_port(*parsed) + " asks for credentials over plain http; cascade never sends git " +
                  "credentials unencrypted: use an https:// URL");
  std::string variable = token_variable(parsed->host, parsed->port);
  if (!tried.token && !variable.empty()) {
    auto token = env(variable);
    if (token && !token->empty()) {
      std::string user = username_from_url.empty() ? std::string(kDefaultUser) : std::string(username_from_url);
      return {Offer::token, variable, user, ""};
    }
  }
  if (!tried.helper && helper_available) return {Offer::helper, "", "", ""};
  return nothing_left(*parsed, variable, tried, env);
}

std::optional<UserPassword> credential_from_helper(std::string_view url, std::string_view username_from_url) {
  auto parsed = parse_http_url(url);
  if (!parsed || parsed->scheme != "https") return std::nullopt;
  std::string user(username_from_url.empty() ? parsed->username : username_from_url);
  // A newline in any field would let the URL write its own lines into the request.
  if (has_control(parsed->host) || has_control(parsed->path) || has_control(user)) return std::nullopt;
  std::string request = "protocol=https\nhost=" + host_port(*parsed) + "\npath=" + parsed->path + "\n";
  if (!user.empty()) request += "username=" + user + "\n";
  request += "\n";
  process::Options options;
  options.input = request;
  options.timeout = std::chrono::seconds(30);
  options.env = {{"GIT_TERMINAL_PROMPT", "0"}, {"GCM_INTERACTIVE", "never"}};
  // core.askPass= (empty) keeps git from running an askpass program instead of a helper.
  auto result = process::run({"git", "-c", "core.askPass=", "credential", "fill"}, options);
  if (!result || result->exit_code != 0) return std::nullopt;
  UserPassword found;
  std::size_t start = 0;
  while (start < result->out.size()) {
    std::size_t end = std::min(result->out.find('\n', start), result->out.size());
    std::string_view line(result->out.data() + start, end - start);
    if (line.starts_with("username=")) found.username = std::string(line.substr(9));
    if (line.starts_with("password=")) found.password = std::string(line.substr(9));
    start = end + 1;
  }
  if (found.password.empty()) return std::nullopt;
  if (found.username.empty()) found.username = std::string(kDefaultUser);
  return found;
}

}  // namespace cascade::git::detail
