// Quay repo_push notifications (PROTOCOLS.md 4.4): the repository ("namespace/name"), the
// registry host from docker_url, and one Event per updated tag. updated_tags is a list in
// current Quay and an object keyed by tag in very old payloads; both are read. No digest.
// Quay's other notifications (vulnerability found, builds, mirror syncs) carry no
// updated_tags: they are ignored with a reason, not refused.
#include "internal.hpp"

namespace cascade::webhook::detail {

namespace {

// The updated tags with the path of each, from the list form or the old object form.
Expected<std::vector<std::pair<std::string, std::string>>, Rejection> updated_tags(const Node& tags) {
  std::vector<std::pair<std::string, std::string>> found;
  if (tags.is_object()) {
    for (const auto& [name, value] : tags.json().items()) found.emplace_back(name, tags[name].path());
    return found;
  }
  if (!tags.is_array()) return unexpected(tags.expected("an array"));
  for (std::size_t i = 0; i < tags.size(); ++i) {
    auto tag = required_string(tags[i]);
    if (!tag) return unexpected(tag.error());
    found.emplace_back(std::move(*tag), tags[i].path());
  }
  return found;
}

}  // namespace

Expected<Decoded, Rejection> decode_quay(const HookConfig& config, const Delivery& delivery) {
  auto body = parse_json(delivery.body);
  if (!body) return unexpected(body.error());
  const Node root(&*body, "");
  if (!root.is_object()) return unexpected(root.expected("an object"));
  if (!root["updated_tags"].present()) {  // another notification (vulnerability found, build, mirror): not a push
    Decoded other;
    other.ignored = 1;
    other.reason = "quay: a notification without updated_tags is not a repository push";
    return other;
  }

  Source source;
  use_configured_registry(config, source);
  if (source.host.empty()) {
    auto docker_url = required_string(root["docker_url"]);
    if (!docker_url) return unexpected(docker_url.error());
    source.host = host_of(*docker_url);
    source.host_field = root["docker_url"].path();
  }
  auto repository = required_string(root["repository"]);
  if (!repository) return unexpected(repository.error());
  source.path = std::move(*repository);
  source.path_field = root["repository"].path();

  auto tags = updated_tags(root["updated_tags"]);
  if (!tags) return unexpected(tags.error());
  Decoded decoded;
  for (auto& [tag, field] : *tags) {
    source.tag = std::move(tag);
    source.tag_field = std::move(field);
    auto event = make_event(Sender::quay, source);
    if (!event) return unexpected(event.error());
    decoded.events.push_back(std::move(*event));
  }
  return decoded;
}

}  // namespace cascade::webhook::detail
