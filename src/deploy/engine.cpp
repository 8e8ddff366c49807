// The engine connection: endpoint parsing (unix socket or TCP/TLS), API version negotiation,
// versioned calls with JSON bodies, and the small pure helpers around them.
#include <openssl/evp.h>

#include <cstdlib>
#include <sstream>

#include "internal.hpp"

namespace cascade::deploy {

std::string Error::str() const {
  static const char* names[] = {"invalid", "connection", "version", "api", "pull", "not found", "cancelled"};
  std::string text = names[static_cast<int>(kind)];
  return text + ": " + message;
}

std::string_view to_string(StepState state) {
  switch (state) {
    case StepState::updating: return "updating";
    case StepState::healthy: return "healthy";
    case StepState::failed: return "failed";
    case StepState::rolled_back: return "rolled_back";
  }
  return "?";
}

std::string_view to_string(InstanceOutcome outcome) {
  switch (outcome) {
    case InstanceOutcome::unchanged: return "unchanged";
    case InstanceOutcome::updated: return "updated";
    case InstanceOutcome::rolled_back: return "rolled_back";
    case InstanceOutcome::failed: return "failed";
  }
  return "?";
}

std::string_view to_string(RolloutResult::Outcome outcome) {
  switch (outcome) {
    case RolloutResult::Outcome::healthy: return "healthy";
    case RolloutResult::Outcome::rolled_back: return "rolled_back";
    case RolloutResult::Outcome::failed: return "failed";
  }
  return "?";
}

}  // namespace cascade::deploy

namespace cascade::deploy::detail {

int compare_versions(std::string_view a, std::string_view b) {
  auto part = [](std::string_view& text) {
    int value = 0;
    while (!text.empty() && text.front() != '.') {
      if (text.front() >= '0' && text.front() <= '9') value = value * 10 + (text.front() - '0');
      text.remove_prefix(1);
    }
    if (!text.empty()) text.remove_prefix(1);
    return value;
  };
  while (!a.empty() || !b.empty()) {
    int left = part(a), right = part(b);
    if (left != right) return left < right ? -1 : 1;
  }
  return 0;
}

Expected<std::string, Error> negotiate_version(std::string_view ours, std::string_view server_max,
                                               std::string_view server_min) {
  if (server_max.empty()) return unexpected(Error{ErrorKind::version, "the engine reports no ApiVersion"});
  std::string chosen(compare_versions(ours, server_max) <= 0 ? ours : server_max);
  if (!server_min.empty() && compare_versions(chosen, server_min) < 0)
    return unexpected(Error{ErrorKind::version, "API " + chosen + " is below the engine's minimum " + std::string(server_min)});
  return chosen;
}

std::string base64url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  for (auto& c : out) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return out;
}

std::string registry_auth_header(const registry::Credentials& credentials, const std::string& server) {
  if (credentials.anonymous()) return {};
  json auth = json::object();
  if (!credentials.registry_token.empty()) auth["registrytoken"] = credentials.registry_token;
  else if (!credentials.identity_token.empty()) auth["identitytoken"] = credentials.identity_token;
  else auth = {{"username", credentials.username}, {"password", credentials.password}, {"serveraddress", server}};
  return base64url(auth.dump());
}

std::optional<std::string> pull_stream_error(std::string_view body) {
  std::istringstream lines{std::string(body)};
  std::string line;
  while (std::getline(lines, line)) {
    auto message = json::parse(line, nullptr, false);
    if (!message.is_object()) continue;
    if (message.contains("errorDetail") && message["errorDetail"].is_object() &&
        message["errorDetail"].value("message", "") != "")
      return message["errorDetail"]["message"].get<std::string>();
    if (message.contains("error") && message["error"].is_string()) return message["error"].get<std::string>();
  }
  return std::nullopt;
}

Engine::Engine(std::string endpoint, std::string base_url, http::Options options)
    : endpoint_(std::move(endpoint)),
      base_url_(std::move(base_url)),
      client_(std::make_unique<http::Client>(std::move(options))) {}

Expected<std::unique_ptr<Engine>, Error> Engine::open(const DockerOptions& options) {
  std::string endpoint = options.endpoint;
  if (endpoint.empty()) {
    const char* docker_host = std::getenv("DOCKER_HOST");
    endpoint = docker_host && *docker_host ? docker_host : "unix:///var/run/docker.sock";
  }
  http::Options http_options;
  http_options.read_timeout = options.request_timeout;
  http_options.write_timeout = options.request_timeout;
  http_options.body_limit = 256u << 20;
  http_options.max_redirects = 0;
  http_options.user_agent = "cascade/0.1 (deploy)";
  http_options.stop = options.cancel;
  std::string base_url;
  if (endpoint.rfind("unix://", 0) == 0) {
    std::string path = endpoint.substr(7);
    if (path.empty() || path.front() != '/')
      return unexpected(Error{ErrorKind::invalid, "unix endpoint needs an absolute path: " + endpoint});
    http::HostOptions host;
    host.insecure = true;
    host.unix_socket = path;
    http_options.hosts["docker"] = host;
    base_url = "http://docker";
  } else if (endpoint.rfind("tcp://", 0) == 0) {
    std::string host_port = endpoint.substr(6);
    while (!host_port.empty() && host_port.back() == '/') host_port.pop_back();
    if (host_port.find('@') != std::string::npos)  // not echoed: user information may hold a password
      return unexpected(Error{ErrorKind::invalid, "tcp endpoint must be tcp://host:port, without user information"});
    if (host_port.empty() || host_port.find('/') != std::string::npos)
      return unexpected(Error{ErrorKind::invalid, "tcp endpoint must be tcp://host:port: " + endpoint});
    if (!options.tls && !options.insecure)
      return unexpected(Error{ErrorKind::invalid, "tcp endpoint without TLS sends the engine's API unencrypted: " +
                                                      endpoint + " (set tls, or insecure to accept that)"});
    http::HostOptions host;
    host.insecure = !options.tls;
    host.ca_file = options.ca_file;
    host.cert_file = options.cert_file;
    host.key_file = options.key_file;
    http_options.hosts[host_port] = host;
    base_url = (options.tls ? "https://" : "http://") + host_port;
  } else {
    return unexpected(Error{ErrorKind::invalid, "endpoint must be unix:///path or tcp://host:port: " + endpoint});
  }
  return std::unique_ptr<Engine>(new Engine(std::move(endpoint), std::move(base_url), std::move(http_options)));
}

Expected<void, Error> Engine::negotiate(std::string_view ours) {
  auto failed = [this](Error error) {
    error.message = "engine " + endpoint_ + ": " + error.message;
    return unexpected(std::move(error));
  };
  auto reply = call("GET", "/version", {}, {}, true);
  if (!reply) return failed(reply.error());
  auto version = json::parse(reply->body, nullptr, false);
  if (reply->status != 200 || !version.is_object())
    return failed(Error{ErrorKind::connection, "GET /version answered " + std::to_string(reply->status), reply->status});
  auto chosen = negotiate_version(ours, version.value("ApiVersion", ""), version.value("MinAPIVersion", ""));
  if (!chosen) return failed(chosen.error());
  version_ = *chosen;
  for (const auto& component : version.value("Components", json::array()))
    if (component.value("Name", "").find("Podman") != std::string::npos) podman_ = true;
  return {};
}

Expected<Engine::Reply, Error> Engine::call(const std::string& method, const std::string& path, const std::string& body,
                                            const std::vector<std::pair<std::string, std::string>>& headers, bool raw) {
  http::Request request;
  request.method = method;
  request.url = base_url_ + (raw ? path : "/v" + version_ + path);
  request.body = body;
  if (!body.empty()) request.headers.set("Content-Type", "application/json");
  for (const auto& [name, value] : headers) request.headers.set(name, value);
  auto response = client_->request(std::move(request));
  if (!response) return unexpected(Error{ErrorKind::connection, method + " " + path + ": " + response.error().str()});
  return Reply{response->status, std::move(response->body)};
}

Expected<json, Error> Engine::expect(const std::string& method, const std::string& path, std::initializer_list<int> ok,
                                     const std::string& what, const json& body) {
  auto reply = call(method, path, body.is_null() ? std::string() : body.dump());
  if (!reply) return unexpected(reply.error());
  for (int status : ok) {
    if (reply->status != status) continue;
    if (reply->body.empty()) return json(nullptr);
    auto parsed = json::parse(reply->body, nullptr, false);
    if (parsed.is_discarded()) return unexpected(Error{ErrorKind::connection, what + ": the engine answered no JSON"});
    return parsed;
  }
  auto parsed = json::parse(reply->body, nullptr, false);
  std::string message = parsed.is_object() ? parsed.value("message", "") : "";
  if (message.empty()) message = "HTTP " + std::to_string(reply->status);
  ErrorKind kind = reply->status == 404 ? ErrorKind::not_found : ErrorKind::api;
  return unexpected(Error{kind, what + ": " + message, reply->status});
}

}  // namespace cascade::deploy::detail
