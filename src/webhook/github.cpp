// GitHub Packages (ghcr.io) webhooks (PROTOCOLS.md 4.5): `package` and `registry_package`
// events, as JSON or form-encoded (payload=<json>). A published or updated container version
// becomes ghcr.io/<owner>/<name> (lowercased) with its tag and digest; other events (ping,
// push, ...), actions and package types are ignored. The event id is X-GitHub-Delivery.
#include "internal.hpp"

namespace cascade::webhook::detail {

namespace {

constexpr std::string_view kPackage = "package";
constexpr std::string_view kRegistryPackage = "registry_package";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding: '+' is a space, %XX a byte.
std::optional<std::string> form_decode(std::string_view text) {
  std::string decoded;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      decoded += ' ';
    } else if (text[i] != '%') {
      decoded += text[i];
    } else {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      decoded += static_cast<char>(high * 16 + low);
      i += 2;
    }
  }
  return decoded;
}

// The JSON of a form-encoded delivery: its `payload` field.
Expected<std::string, Rejection> form_payload(std::string_view body) {
  while (!body.empty()) {
    const auto end = body.find('&');
    const std::string_view field = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view() : body.substr(end + 1);
    const auto equals = field.find('=');
    if (form_decode(field.substr(0, equals)) != "payload") continue;
    auto payload = form_decode(equals == std::string_view::npos ? std::string_view() : field.substr(equals + 1));
    if (!payload) return unexpected(bad_request("payload: malformed percent-encoding"));
    return std::move(*payload);
  }
  return unexpected(bad_request("payload: expected a form field holding the JSON"));
}

bool is_form(const Delivery& delivery) {
  return content_type_is(delivery, "application/x-www-form-urlencoded") || delivery.body.starts_with("payload=");
}

// The package object: under the key the event names, or the other one.
std::optional<Node> package_of(const Node& root, std::string_view event) {
  const std::string_view other = event == kPackage ? kRegistryPackage : kPackage;
  if (root[event].is_object()) return root[event];
  if (root[other].is_object()) return root[other];
  return std::nullopt;
}

bool is_container(const std::string& package_type) {
  const auto type = util::lowercase(package_type);
  return type == "container" || type == "docker";
}

// The digest: the first valid one of container_metadata.tag.digest, package_version.name
// and .version. A malformed one is skipped when another field holds a valid digest (GitHub
// repeats the digest in several fields; one truncated field must not lose the push); with
// none valid the push is still a hint by tag when it has one (the daemon asks the registry),
// and refused naming the first malformed field when it has no tag.
Expected<void, Rejection> find_digest(const Node& version, Source& source) {
  std::optional<Rejection> malformed;
  const Node candidates[] = {version["container_metadata"]["tag"]["digest"], version["name"], version["version"]};
  for (std::size_t i = 0; i < std::size(candidates); ++i) {
    const Node& field = candidates[i];
    auto value = optional_string(field);
    if (!value) {
      if (!malformed) malformed = value.error();
      continue;
    }
    if (!*value) continue;
    bool named_as_digest = i == 0 || value->value().starts_with("sha256:");  // name/version may be a tag-like version
    if (!named_as_digest) continue;
    if (auto valid = check_digest(**value, field.path()); !valid) {
      if (!malformed) malformed = valid.error();
      continue;
    }
    source.digest = std::move(*value);
    source.digest_field = field.path();
    return {};
  }
  if (malformed && !source.tag) return unexpected(*malformed);
  return {};
}

// One published container version, or nullopt when the delivery is not about one.
Expected<std::optional<Event>, Rejection> decode_package(const HookConfig& config, const Delivery& delivery,
                                                         const Node& root, const Node& package) {
  auto action = required_string(root["action"]);
  if (!action) return unexpected(action.error());
  if (*action != "published" && *action != "updated") return std::optional<Event>();
  auto package_type = required_string(package["package_type"]);
  if (!package_type) return unexpected(package_type.error());
  if (!is_container(*package_type)) return std::optional<Event>();

  auto owner = required_string(package["owner"]["login"]);
  if (!owner) return unexpected(owner.error());
  auto name = required_string(package["name"]);
  if (!name) return unexpected(name.error());
  Source source;
  source.host = source.host_field = "ghcr.io";
  use_configured_registry(config, source);
  source.path = util::lowercase(*owner) + "/" + util::lowercase(*name);
  source.path_field = package["name"].path();

  const Node version = package["package_version"];
  if (!version.is_object()) return unexpected(version.expected("an object"));
  const Node tag_name = version["container_metadata"]["tag"]["name"];
  auto tag = optional_string(tag_name);
  if (!tag) return unexpected(tag.error());
  source.tag = std::move(*tag);
  source.tag_field = tag_name.path();
  auto digest = find_digest(version, source);
  if (!digest) return unexpected(digest.error());
  if (!source.tag && !source.digest) return std::optional<Event>();  // nothing to act on
  source.event_id = header(delivery, "X-GitHub-Delivery");

  auto event = make_event(Sender::github, source);
  if (!event) return unexpected(event.error());
  return std::optional<Event>(std::move(*event));
}

}  // namespace

Expected<Decoded, Rejection> decode_github(const HookConfig& config, const Delivery& delivery) {
  Decoded ignored;
  ignored.ignored = 1;
  const auto event = header(delivery, "X-GitHub-Event");
  if (event && *event != kPackage && *event != kRegistryPackage) return ignored;  // ping, push, ...

  std::string text(delivery.body);
  if (is_form(delivery)) {
    auto payload = form_payload(delivery.body);
    if (!payload) return unexpected(payload.error());
    text = std::move(*payload);
  }
  auto body = parse_json(text);
  if (!body) return unexpected(body.error());
  const Node root(&*body, "");
  if (!root.is_object()) return unexpected(root.expected("an object"));
  if (!event && !root[kPackage].present() && !root[kRegistryPackage].present())
    return unexpected(bad_request("missing X-GitHub-Event header"));

  auto package = package_of(root, event ? std::string_view(*event) : kPackage);
  if (!package) return unexpected(root[event ? std::string_view(*event) : kPackage].expected("an object"));
  auto decoded = decode_package(config, delivery, root, *package);
  if (!decoded) return unexpected(decoded.error());
  if (!*decoded) return ignored;
  Decoded found;
  found.events.push_back(std::move(**decoded));
  return found;
}

}  // namespace cascade::webhook::detail
