// Credentials from docker's config.json (DOCKER_AUTH_CONFIG, $DOCKER_CONFIG, ~/.docker) and
// docker-credential-* helpers, in the docker CLI's lookup order. Nothing here is logged.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cascade/process.hpp"
#include "internal.hpp"

namespace cascade::registry {

namespace {

using nlohmann::json;
constexpr const char* kHubKey = "https://index.docker.io/v1/";

Error config_error(std::string_view host, std::string message) {
  return Error{ErrorKind::invalid, std::string(host), std::move(message), "", 0};
}

std::string config_path(const CredentialOptions& options) {
  if (!options.docker_config.empty()) return options.docker_config;
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir && *dir) return std::string(dir) + "/config.json";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.docker/config.json";
  return {};
}

// The parsed file; an empty object when it does not exist.
Expected<json, Error> load_config(std::string_view host, const std::string& path) {
  if (path.empty()) return json::object();
  std::ifstream in(path, std::ios::binary);
  if (!in) return json::object();
  json parsed = json::parse(in, nullptr, false);
  if (!parsed.is_object()) return unexpected(config_error(host, "docker config " + path + " is not a JSON object"));
  return parsed;
}

// "https://registry.example.com/v2/" -> "registry.example.com".
std::string hostname_of(std::string_view key) {
  for (std::string_view scheme : {"https://", "http://"})
    if (key.substr(0, scheme.size()) == scheme) key.remove_prefix(scheme.size());
  return std::string(key.substr(0, key.find('/')));
}

// auths[key], or the entry whose key names the same host.
const json* find_auth_entry(const json& config, const std::string& key) {
  if (!config.contains("auths") || !config["auths"].is_object()) return nullptr;
  const json& auths = config["auths"];
  if (auths.contains(key)) return &auths[key];
  std::string wanted = hostname_of(key);
  for (const auto& [name, entry] : auths.items())
    if (hostname_of(name) == wanted) return &entry;
  return nullptr;
}

std::string string_field(const json& entry, const char* name) {
  return entry.contains(name) && entry[name].is_string() ? entry[name].get<std::string>() : std::string();
}

Expected<Credentials, Error> decode_entry(std::string_view host, const json& entry, const std::string& where) {
  Credentials creds;
  if (!entry.is_object()) return creds;
  std::string auth = string_field(entry, "auth");
  if (!auth.empty()) {
    auto decoded = detail::base64_decode(auth);
    auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos)
      return unexpected(config_error(host, "the \"auth\" field for " + std::string(host) + " in " + where +
                                               " is not base64 of user:password"));
    creds.username = decoded->substr(0, colon);
    creds.password = decoded->substr(colon + 1);
  } else {
    creds.username = string_field(entry, "username");
    creds.password = string_field(entry, "password");
  }
  creds.identity_token = string_field(entry, "identitytoken");
  creds.registry_token = string_field(entry, "registrytoken");
  return creds;
}

std::string trim(std::string text) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

// Runs `docker-credential-<helper> get` with `key` on stdin; its output is never repeated.
Expected<Credentials, Error> run_helper(std::string_view host, const std::string& helper, const std::string& key,
                                        const CredentialOptions& options) {
  std::string program = "docker-credential-" + helper;
  process::Options run_options;
  run_options.input = key;
  run_options.timeout = options.helper_timeout;
  auto result = process::run({program, "get"}, run_options);
  if (!result) return unexpected(config_error(host, "credential helper " + program + " cannot run: not found on PATH"));
  if (result->timed_out)
    return unexpected(config_error(host, "credential helper " + program + " timed out after " +
                                             std::to_string(options.helper_timeout.count()) + " ms"));
  if (result->exit_code != 0) {
    if (trim(result->out) == "credentials not found in native keychain") return Credentials{};
    return unexpected(config_error(host, "credential helper " + program + " get failed with exit code " +
                                             std::to_string(result->exit_code)));
  }
  json reply = json::parse(result->out, nullptr, false);
  if (!reply.is_object()) return unexpected(config_error(host, "credential helper " + program + " gave no JSON object"));
  Credentials creds;
  std::string username = string_field(reply, "Username");
  std::string secret = string_field(reply, "Secret");
  if (username == "<token>") creds.identity_token = secret;
  else creds = Credentials{username, secret, "", ""};
  return creds;
}

std::string helper_for(const json& config, const std::string& key) {
  if (config.contains("credHelpers") && config["credHelpers"].is_object()) {
    std::string helper = string_field(config["credHelpers"], key.c_str());
    if (!helper.empty()) return helper;
  }
  return string_field(config, "credsStore");
}

// DOCKER_AUTH_CONFIG's auths entry for `key`, when there is one with something in it.
Expected<Credentials, Error> from_environment(std::string_view host, const std::string& key) {
  const char* text = std::getenv("DOCKER_AUTH_CONFIG");
  if (!text || !*text) return Credentials{};
  json config = json::parse(text, nullptr, false);
  if (!config.is_object()) return unexpected(config_error(host, "DOCKER_AUTH_CONFIG is not a JSON object"));
  const json* entry = find_auth_entry(config, key);
  if (!entry) return Credentials{};
  return decode_entry(host, *entry, "DOCKER_AUTH_CONFIG");
}

}  // namespace

std::string credential_key(std::string_view registry_host) {
  if (registry_host == "docker.io" || registry_host == "index.docker.io" || registry_host == "registry-1.docker.io")
    return kHubKey;
  return std::string(registry_host);
}

Expected<Credentials, Error> find_credentials(std::string_view registry_host, const CredentialOptions& options) {
  std::string key = credential_key(registry_host);
  if (options.read_auth_config_env) {
    auto from_env = from_environment(registry_host, key);
    if (!from_env || !from_env->anonymous()) return from_env;
  }
  std::string path = config_path(options);
  CASCADE_TRY_ASSIGN(auto config, load_config(registry_host, path));
  std::string helper = helper_for(config, key);
  if (!helper.empty()) return run_helper(registry_host, helper, key, options);
  const json* entry = find_auth_entry(config, key);
  if (!entry) return Credentials{};
  return decode_entry(registry_host, *entry, path);
}

}  // namespace cascade::registry
