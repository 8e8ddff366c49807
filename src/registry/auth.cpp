// The credentials side of the Transport: docker credentials per registry, challenges,
// Basic, Bearer tokens by GET or OAuth POST, and the token cache. No secret leaves here
// except in an Authorization header or a token request to the realm the registry named.
#include <boost/url.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "internal.hpp"
#include "cascade/util/text.hpp"

namespace cascade::registry::detail {

using nlohmann::json;

namespace {

constexpr auto kRefreshEarly = std::chrono::seconds(10);
constexpr long kMinimumLifetime = 60;

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : separator) + part;
  return out;
}

std::vector<std::string> merge_scopes(std::vector<std::string> scopes, const std::string& challenged) {
  for (auto& scope : split_scopes(challenged)) scopes.push_back(scope);
  std::sort(scopes.begin(), scopes.end());
  scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
  return scopes;
}

std::string who(const Credentials& creds) {
  if (!creds.username.empty()) return "user '" + creds.username + "'";
  if (!creds.identity_token.empty()) return "an identity token";
  if (!creds.registry_token.empty()) return "a registry token";
  return "anonymous";
}

std::string realm_host(const std::string& realm) {
  auto parsed = boost::urls::parse_absolute_uri(realm);
  return parsed ? std::string(parsed->encoded_host_and_port()) : "the token server";
}

const Challenge* find_scheme(const std::vector<Challenge>& challenges, const char* scheme) {
  for (const auto& challenge : challenges)
    if (challenge.scheme == scheme) return &challenge;
  return nullptr;
}

std::string param(const Challenge& challenge, const char* name) {
  auto found = challenge.params.find(name);
  return found == challenge.params.end() ? std::string() : found->second;
}

}  // namespace

Expected<Credentials, Error> Transport::credentials(const std::string& registry) {
  {
    std::lock_guard lock(mutex_);
    if (auto found = credentials_.find(registry); found != credentials_.end()) return found->second;
  }
  CASCADE_TRY_ASSIGN(auto found, find_credentials(registry, {options_.docker_config, options_.read_auth_config_env,
                                                             options_.helper_timeout}));
  std::lock_guard lock(mutex_);
  credentials_[registry] = found;
  return found;
}

std::string Transport::token_key(const HostAuth& auth, const std::vector<std::string>& scopes,
                                 const Credentials& creds) const {
  std::vector<std::string> sorted = scopes;
  std::sort(sorted.begin(), sorted.end());
  std::string identity = creds.username.empty() ? (creds.identity_token.empty() ? "" : "<token>") : creds.username;
  return auth.realm + "|" + auth.service + "|" + join(sorted, " ") + "|" + identity;
}

Expected<std::string, Error> Transport::authorization(const Call& call) {
  HostAuth auth;
  {
    std::lock_guard lock(mutex_);
    auto found = hosts_.find(call.registry);
    if (found == hosts_.end()) return std::string();
    auth = found->second;
  }
  CASCADE_TRY_ASSIGN(auto creds, credentials(call.registry));
  if (auth.scheme == "basic") return "Basic " + base64_encode(creds.username + ":" + creds.password);
  if (!creds.registry_token.empty()) return "Bearer " + creds.registry_token;
  std::string key = token_key(auth, call.scopes, creds);
  {
    std::lock_guard lock(mutex_);
    auto cached = tokens_.find(key);
    if (cached != tokens_.end() && Clock::now() + kRefreshEarly < cached->second.expires)
      return "Bearer " + cached->second.value;
  }
  CASCADE_TRY_ASSIGN(auto token, fetch_token(call, auth, call.scopes, creds));
  std::lock_guard lock(mutex_);
  tokens_[key] = token;
  return "Bearer " + token.value;
}

Expected<void, Error> Transport::answer_challenge(const Call& call, const http::Response& response) {
  std::vector<Challenge> challenges;
  for (const auto& value : response.headers.get_all("WWW-Authenticate"))
    for (auto& challenge : parse_challenges(value)) challenges.push_back(std::move(challenge));
  CASCADE_TRY_ASSIGN(auto creds, credentials(call.registry));
  if (const Challenge* bearer = find_scheme(challenges, "bearer")) {
    HostAuth auth{"bearer", param(*bearer, "realm"), param(*bearer, "service")};
    if (auth.realm.empty()) return unexpected(Error{ErrorKind::invalid, call.registry, "Bearer challenge without a realm", "", 401});
    if (creds.registry_token.empty()) {
      auto scopes = merge_scopes(call.scopes, param(*bearer, "scope"));
      CASCADE_TRY_ASSIGN(auto token, fetch_token(call, auth, scopes, creds));
      std::lock_guard lock(mutex_);
      tokens_[token_key(auth, call.scopes, creds)] = token;
    }
    std::lock_guard lock(mutex_);
    hosts_[call.registry] = auth;
    return {};
  }
  if (find_scheme(challenges, "basic")) {
    if (creds.username.empty() || creds.password.empty())
      return unexpected(Error{ErrorKind::unauthorized, call.registry,
                              "the registry wants Basic credentials and the docker config has none under \"" +
                                  credential_key(call.registry) + "\"", "", 401});
    std::lock_guard lock(mutex_);
    hosts_[call.registry] = HostAuth{"basic", "", ""};
    return {};
  }
  return unexpected(Error{ErrorKind::unauthorized, call.registry, "401 without a Bearer or Basic challenge", "", 401});
}

Expected<Transport::Token, Error> Transport::fetch_token(const Call& call, const HostAuth& auth,
                                                         const std::vector<std::string>& scopes, const Credentials& creds) {
  if (!creds.identity_token.empty()) return oauth_token(call, auth, scopes, creds);
  std::string url = auth.realm + (auth.realm.find('?') == std::string::npos ? "?" : "&");
  url += "service=" + util::percent_encode(auth.service);
  for (const auto& scope : scopes) url += "&scope=" + util::percent_encode(scope);
  if (!creds.username.empty()) url += "&account=" + util::percent_encode(creds.username);
  http::Request request{"GET", url, {}, {}};
  if (!creds.username.empty() && !creds.password.empty())
    request.headers.set("Authorization", "Basic " + base64_encode(creds.username + ":" + creds.password));
  CASCADE_TRY_ASSIGN(auto response, fetch(call.registry, std::move(request)));
  return token_from(call, auth, response, creds);
}

Expected<Transport::Token, Error> Transport::oauth_token(const Call& call, const HostAuth& auth,
                                                         const std::vector<std::string>& scopes, const Credentials& creds) {
  http::Request request{"POST", auth.realm, {}, {}};
  request.headers.set("Content-Type", "application/x-www-form-urlencoded");
  request.body = "grant_type=refresh_token&refresh_token=" + util::percent_encode(creds.identity_token) +
                 "&service=" + util::percent_encode(auth.service) + "&scope=" + util::percent_encode(join(scopes, " ")) +
                 "&client_id=" + util::percent_encode(options_.client_id);
  CASCADE_TRY_ASSIGN(auto response, fetch(call.registry, std::move(request)));
  if ((response.status == 404 || response.status == 405) && !creds.password.empty()) {
    Credentials password_only{creds.username, creds.password, "", ""};
    return fetch_token(call, auth, scopes, password_only);
  }
  return token_from(call, auth, response, creds);
}

Expected<Transport::Token, Error> Transport::token_from(const Call& call, const HostAuth& auth,
                                                        const http::Response& response, const Credentials& creds) {
  std::string scope_text = join(call.scopes, " ");
  if (response.status == 401 || response.status == 403) {
    forget_credentials(call.registry);
    Error error = from_status(call.registry, response, "token server " + realm_host(auth.realm) + " refused " +
                                                           who(creds) + " for " + scope_text);
    error.kind = ErrorKind::unauthorized;
    return unexpected(std::move(error));
  }
  if (response.status != 200)
    return unexpected(from_status(call.registry, response, "token server " + realm_host(auth.realm)));
  json reply = json::parse(response.body, nullptr, false);
  std::string token;
  if (reply.is_object()) {
    if (reply.contains("access_token") && reply["access_token"].is_string()) token = reply["access_token"];
    else if (reply.contains("token") && reply["token"].is_string()) token = reply["token"];
  }
  if (token.empty())
    return unexpected(Error{ErrorKind::invalid, call.registry, "token server " + realm_host(auth.realm) + " sent no token", "", 200});
  long lifetime = reply.contains("expires_in") && reply["expires_in"].is_number() ? reply["expires_in"].get<long>() : 0;
  return Token{token, Clock::now() + std::chrono::seconds(std::max(lifetime, kMinimumLifetime))};
}

void Transport::forget_credentials(const std::string& registry) {
  std::lock_guard lock(mutex_);
  credentials_.erase(registry);
}

Error Transport::rejected(const Call& call, const http::Response& response) {
  Credentials creds;
  {
    std::lock_guard lock(mutex_);
    if (auto found = credentials_.find(call.registry); found != credentials_.end()) creds = found->second;
  }
  forget_credentials(call.registry);
  Error error = from_status(call.registry, response, "the registry refused " + who(creds) + " for " +
                                                         join(call.scopes, " ") + " with fresh credentials");
  error.kind = ErrorKind::unauthorized;
  return error;
}

}  // namespace cascade::registry::detail
