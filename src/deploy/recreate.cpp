// The create body that recreates a container with the same configuration on a new image
// (PROTOCOLS.md 5.8): the user's settings kept, the old image's defaults dropped, runtime
// fields left out, and podman's inspect quirks undone.
#include <algorithm>
#include <cctype>
#include <set>

#include "internal.hpp"
#include "cascade/util/text.hpp"

namespace cascade::deploy::detail {

std::string container_name(const json& container) {
  std::string name = container.value("Name", "");
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  return name;
}

namespace {

const json& image_config(const json& image) {
  static const json empty = json::object();
  if (image.contains("Config") && image["Config"].is_object()) return image["Config"];
  return empty;
}

bool empty_value(const json& value) {
  return value.is_null() || ((value.is_array() || value.is_object() || value.is_string()) && value.empty());
}

// Env entries the user added: those not in the image's Env.
json user_env(const json& env, const json& image_env) {
  std::set<std::string> defaults;
  if (image_env.is_array()) for (const auto& entry : image_env) defaults.insert(entry.get<std::string>());
  json kept = json::array();
  if (env.is_array())
    for (const auto& entry : env) {
      std::string text = entry.get<std::string>();
      // podman adds these itself to every container; they are not configuration.
      if (text.rfind("HOSTNAME=", 0) == 0 || text == "container=podman") continue;
      if (!defaults.contains(text)) kept.push_back(text);
    }
  return kept;
}

// Object entries (labels, volumes, ports) that differ from the image's.
json subtract(const json& values, const json& image_values) {
  json kept = json::object();
  if (!values.is_object()) return kept;
  for (const auto& [key, value] : values.items()) {
    bool from_image = image_values.is_object() && image_values.contains(key) && image_values[key] == value;
    if (!from_image) kept[key] = value;
  }
  return kept;
}

// podman reports ulimits as "RLIMIT_NOFILE" and refuses that name at create; dockerd uses "nofile".
json fix_ulimits(const json& ulimits) {
  json fixed = json::array();
  if (!ulimits.is_array()) return fixed;
  for (auto ulimit : ulimits) {
    std::string name = ulimit.value("Name", "");
    if (name.rfind("RLIMIT_", 0) == 0) name = name.substr(7);
    ulimit["Name"] = util::lowercase(name);
    fixed.push_back(ulimit);
  }
  return fixed;
}

// "/db:/app/db" -> "db:db".
json fix_links(const json& links) {
  if (!links.is_array()) return links;
  json fixed = json::array();
  for (const auto& link : links) {
    std::string text = link.get<std::string>();
    auto colon = text.find(':');
    std::string target = text.substr(0, colon);
    if (!target.empty() && target.front() == '/') target.erase(0, 1);
    std::string alias = colon == std::string::npos ? target : text.substr(text.rfind('/') + 1);
    fixed.push_back(target + ":" + alias);
  }
  return fixed;
}

json host_config(const json& container) {
  json host = container.value("HostConfig", json::object());
  host["Ulimits"] = fix_ulimits(host.value("Ulimits", json::array()));
  if (host.contains("Links")) host["Links"] = fix_links(host["Links"]);
  // podman reports its own runtime name "oci" here, which is no runtime to create with.
  if (host.value("Runtime", "") == "oci") host.erase("Runtime");
  // Anonymous volumes the new container would otherwise get afresh.
  std::set<std::string> covered;
  for (const auto& bind : host.value("Binds", json::array())) {
    std::string text = bind.get<std::string>();
    auto first = text.find(':');
    if (first != std::string::npos) covered.insert(text.substr(first + 1, text.find(':', first + 1) - first - 1));
  }
  for (const auto& mount : host.value("Mounts", json::array())) covered.insert(mount.value("Target", ""));
  json mounts = host.value("Mounts", json::array());
  if (!mounts.is_array()) mounts = json::array();
  for (const auto& mount : container.value("Mounts", json::array())) {
    if (mount.value("Type", "") != "volume" || covered.contains(mount.value("Destination", ""))) continue;
    mounts.push_back({{"Type", "volume"}, {"Source", mount.value("Name", "")}, {"Target", mount.value("Destination", "")}});
  }
  if (!mounts.empty()) host["Mounts"] = mounts;
  return host;
}

json networking(const json& container, const json& host, std::string_view api_version) {
  std::string mode = host.value("NetworkMode", "");
  if (mode == "host" || mode == "none" || mode.rfind("container:", 0) == 0) return nullptr;
  json endpoints = json::object();
  std::string short_id = container.value("Id", "").substr(0, 12);
  auto networks = container.value("NetworkSettings", json::object()).value("Networks", json::object());
  for (const auto& [network, settings] : networks.items()) {
    if (compare_versions(api_version, "1.44") < 0 && network != mode && !(mode == "default" && network == "bridge"))
      continue;  // older APIs take one network at create (the others are left out: not supported here)
    json kept = json::object();
    for (const char* field : {"IPAMConfig", "Links", "Aliases", "DriverOpts", "GwPriority"})
      if (settings.contains(field) && !empty_value(settings[field])) kept[field] = settings[field];
    if (kept.contains("Aliases") && compare_versions(api_version, "1.44") <= 0) {
      json aliases = json::array();
      for (const auto& alias : kept["Aliases"]) if (alias != short_id) aliases.push_back(alias);
      kept["Aliases"] = aliases;
    }
    endpoints[network] = kept;
  }
  if (endpoints.empty()) return nullptr;
  return {{"EndpointsConfig", endpoints}};
}

}  // namespace

json create_body(const json& container, const json& old_image, const std::string& new_image,
                 std::string_view api_version) {
  const json config = container.value("Config", json::object());
  const json& defaults = image_config(old_image);
  json body = json::object();
  body["Image"] = new_image;
  for (const char* field : {"Domainname", "Tty", "OpenStdin", "StdinOnce", "AttachStdin", "AttachStdout",
                            "AttachStderr", "StopSignal", "StopTimeout", "Shell", "OnBuild"})
    if (config.contains(field) && !empty_value(config[field])) body[field] = config[field];
  // podman reports StopSignal as a number ("15") and a zero StopTimeout when none was set.
  if (body.value("StopTimeout", 0) == 0) body.erase("StopTimeout");
  body["Env"] = user_env(config.value("Env", json::array()), defaults.value("Env", json::array()));
  body["Labels"] = subtract(config.value("Labels", json::object()), defaults.value("Labels", json::object()));
  json host = host_config(container);
  json ports = subtract(config.value("ExposedPorts", json::object()), defaults.value("ExposedPorts", json::object()));
  const json port_bindings = host.value("PortBindings", json::object());
  if (port_bindings.is_object())
    for (const auto& [port, bindings] : port_bindings.items()) ports[port] = json::object();
  if (!ports.empty()) body["ExposedPorts"] = ports;
  json volumes = subtract(config.value("Volumes", json::object()), defaults.value("Volumes", json::object()));
  if (!volumes.empty()) body["Volumes"] = volumes;
  // Entrypoint and Cmd: drop the image's own; a custom Entrypoint keeps its Cmd.
  json entrypoint = config.value("Entrypoint", json());
  json image_entrypoint = defaults.value("Entrypoint", json());
  bool entrypoint_default = empty_value(entrypoint) || entrypoint == image_entrypoint;
  if (!entrypoint_default) body["Entrypoint"] = entrypoint;
  json cmd = config.value("Cmd", json());
  if (!empty_value(cmd) && (!entrypoint_default || cmd != defaults.value("Cmd", json()))) body["Cmd"] = cmd;
  for (const char* field : {"WorkingDir", "User"}) {
    std::string value = config.value(field, "");
    std::string image_value = defaults.value(field, "");
    bool podman_root_default = std::string(field) == "WorkingDir" && value == "/" && image_value.empty();
    if (!value.empty() && value != image_value && !podman_root_default) body[field] = value;
  }
  // Healthcheck: the image's own (same Test) is left to the new image; podman fills in
  // defaults (Timeout) the image never set, so sub-fields are not compared one by one.
  if (config.contains("Healthcheck") && config["Healthcheck"].is_object() && !config["Healthcheck"].empty()) {
    json image_health = defaults.value("Healthcheck", json::object());
    bool from_image = image_health.is_object() && image_health.value("Test", json()) == config["Healthcheck"].value("Test", json());
    if (!from_image) body["Healthcheck"] = config["Healthcheck"];
  }
  std::string hostname = config.value("Hostname", "");
  std::string mode = host.value("NetworkMode", "");
  if (!hostname.empty() && hostname != container.value("Id", "").substr(0, 12) && mode.rfind("container:", 0) != 0)
    body["Hostname"] = hostname;
  body["HostConfig"] = host;
  json network = networking(container, host, api_version);
  if (!network.is_null()) body["NetworkingConfig"] = network;
  return body;
}

}  // namespace cascade::deploy::detail
