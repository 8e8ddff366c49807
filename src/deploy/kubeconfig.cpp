// kubeconfig files (PROTOCOLS.md 6.1): clusters, users and contexts, resolved for one context.
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cascade/deploy_kubernetes.hpp"

namespace cascade::deploy {

namespace {

namespace fs = std::filesystem;

Error invalid(std::string message) { return Error{ErrorKind::invalid, "kubeconfig: " + std::move(message), 0}; }

/// Standard base64 (padding optional, whitespace skipped); nothing on a bad character.
std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  unsigned int buffer = 0;
  int bits = 0;
  for (char ch : text) {
    int value;
    if (ch >= 'A' && ch <= 'Z') value = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') value = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') value = ch - '0' + 52;
    else if (ch == '+') value = 62;
    else if (ch == '/') value = 63;
    else if (ch == '=' || ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t') continue;
    else return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned int>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

/// The `field` mapping of the entry called `name` in the list `key` ("clusters", "users").
Expected<YAML::Node, Error> named_entry(const YAML::Node& root, std::string_view key, std::string_view field,
                                        const std::string& name) {
  YAML::Node list = root[std::string(key)];
  if (list && list.IsSequence()) {
    for (const YAML::Node& entry : list) {
      if (entry.IsMap() && entry["name"] && entry["name"].IsScalar() && entry["name"].Scalar() == name) {
        YAML::Node value = entry[std::string(field)];
        if (!value || !value.IsMap()) return unexpected(invalid(std::string(field) + " '" + name + "' has no settings"));
        return value;
      }
    }
  }
  return unexpected(invalid("no " + std::string(field) + " named '" + name + "' in '" + std::string(key) + "'"));
}

std::string scalar(const YAML::Node& map, const char* key) {
  YAML::Node value = map[key];
  return value && value.IsScalar() ? value.Scalar() : std::string();
}

std::string resolve(const std::string& path, std::string_view directory) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(directory) / path).lexically_normal().string();
}

/// Decodes the `key` -data value into `out`; fails naming the key.
Expected<void, Error> read_data(const YAML::Node& map, const char* key, std::string& out) {
  std::string text = scalar(map, key);
  if (text.empty()) return {};
  auto decoded = base64_decode(text);
  if (!decoded) return unexpected(invalid("'" + std::string(key) + "' is not valid base64"));
  out = *decoded;
  return {};
}

Expected<void, Error> read_cluster(const YAML::Node& cluster, std::string_view directory, KubeCredentials& out) {
  out.server = scalar(cluster, "server");
  if (out.server.empty()) return unexpected(invalid("cluster of context '" + out.context + "' has no 'server'"));
  for (const char* unsupported : {"proxy-url", "tls-server-name"})
    if (!scalar(cluster, unsupported).empty())
      return unexpected(invalid("cluster '" + std::string(unsupported) + "' is not supported"));
  out.insecure = scalar(cluster, "insecure-skip-tls-verify") == "true";
  out.ca_file = resolve(scalar(cluster, "certificate-authority"), directory);
  return read_data(cluster, "certificate-authority-data", out.ca_data);
}

Expected<void, Error> read_user(const YAML::Node& user, std::string_view directory, KubeCredentials& out) {
  if (user["exec"])
    return unexpected(invalid("user of context '" + out.context +
                              "' uses an exec credential plugin, which is not supported: give a token or a client "
                              "certificate"));
  if (user["auth-provider"])
    return unexpected(invalid("user of context '" + out.context + "' uses an auth-provider, which is not supported"));
  if (user["username"] || user["password"])
    return unexpected(invalid("user of context '" + out.context +
                              "' uses username/password (Basic), which is not supported"));
  out.token = scalar(user, "token");
  if (std::string token_file = resolve(scalar(user, "tokenFile"), directory); out.token.empty() && !token_file.empty()) {
    std::ifstream in(token_file, std::ios::binary);
    if (!in) return unexpected(invalid("cannot read tokenFile " + token_file));
    out.token.assign(std::istreambuf_iterator<char>(in), {});
    while (!out.token.empty() && (out.token.back() == '\n' || out.token.back() == '\r')) out.token.pop_back();
  }
  out.cert_file = resolve(scalar(user, "client-certificate"), directory);
  out.key_file = resolve(scalar(user, "client-key"), directory);
  if (auto read = read_data(user, "client-certificate-data", out.cert_data); !read) return read;
  if (auto read = read_data(user, "client-key-data", out.key_data); !read) return read;
  bool has_cert = !out.cert_file.empty() || !out.cert_data.empty();
  bool has_key = !out.key_file.empty() || !out.key_data.empty();
  if (has_cert != has_key)
    return unexpected(invalid("user of context '" + out.context + "' needs both a client certificate and its key"));
  return {};
}

}  // namespace

Expected<KubeCredentials, Error> parse_kubeconfig(std::string_view text, std::string_view directory,
                                                  std::string_view context) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& exception) {
    return unexpected(invalid("invalid YAML: " + exception.msg));
  }
  if (!root.IsMap()) return unexpected(invalid("not a mapping of clusters, users and contexts"));
  KubeCredentials out;
  out.context = context.empty() ? scalar(root, "current-context") : std::string(context);
  if (out.context.empty()) return unexpected(invalid("no context given and no current-context set"));
  auto settings = named_entry(root, "contexts", "context", out.context);
  if (!settings) return unexpected(settings.error());
  out.namespace_name = scalar(*settings, "namespace");
  std::string cluster_name = scalar(*settings, "cluster");
  std::string user_name = scalar(*settings, "user");
  if (cluster_name.empty()) return unexpected(invalid("context '" + out.context + "' names no cluster"));
  auto cluster = named_entry(root, "clusters", "cluster", cluster_name);
  if (!cluster) return unexpected(cluster.error());
  if (auto read = read_cluster(*cluster, directory, out); !read) return unexpected(read.error());
  if (!user_name.empty()) {
    auto user = named_entry(root, "users", "user", user_name);
    if (!user) return unexpected(user.error());
    if (auto read = read_user(*user, directory, out); !read) return unexpected(read.error());
  }
  return out;
}

std::string kubeconfig_path(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* list = std::getenv("KUBECONFIG"); list && *list) {
    std::string first(list);
    first = first.substr(0, first.find(':'));
    if (!first.empty()) return first;
  }
  if (const char* home = std::getenv("HOME"); home && *home) return (fs::path(home) / ".kube" / "config").string();
  return {};
}

}  // namespace cascade::deploy
