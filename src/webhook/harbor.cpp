// Harbor webhooks (PROTOCOLS.md 4.3), both payload formats: Default (type PUSH_ARTIFACT,
// the push in event_data) and CloudEvents (type harbor.artifact.pushed, the same object in
// data, with an event id). One Event per resources[] entry; a tag that is a digest means the
// artifact was pushed untagged. Other event types are ignored.
#include "internal.hpp"

namespace cascade::webhook::detail {

namespace {

constexpr std::string_view kDefaultPushType = "PUSH_ARTIFACT";
constexpr std::string_view kCloudEventPushType = "harbor.artifact.pushed";

bool is_cloud_event(const Delivery& delivery, const Node& root) {
  return content_type_is(delivery, "application/cloudevents+json") || root["specversion"].present();
}

Expected<Event, Rejection> decode_resource(const HookConfig& config, const Node& resource, const Source& common) {
  if (!resource.is_object()) return unexpected(resource.expected("an object"));
  Source source = common;
  use_configured_registry(config, source);
  if (source.host.empty()) {
    auto url = required_string(resource["resource_url"]);
    if (!url) return unexpected(url.error());
    source.host = host_of(*url);
    source.host_field = resource["resource_url"].path();
  }
  auto tag = optional_string(resource["tag"]);
  if (!tag) return unexpected(tag.error());
  auto digest = optional_string(resource["digest"]);
  if (!digest) return unexpected(digest.error());
  source.digest = std::move(*digest);
  source.digest_field = resource["digest"].path();
  if (*tag && tag->value().starts_with("sha256:")) {  // untagged: Harbor puts the digest there
    if (!source.digest) {
      source.digest = std::move(*tag);
      source.digest_field = resource["tag"].path();
    }
  } else {
    source.tag = std::move(*tag);
    source.tag_field = resource["tag"].path();
  }
  if (!source.digest) return unexpected(resource["digest"].expected("a string"));
  return make_event(Sender::harbor, source);
}

}  // namespace

Expected<Decoded, Rejection> decode_harbor(const HookConfig& config, const Delivery& delivery) {
  auto body = parse_json(delivery.body);
  if (!body) return unexpected(body.error());
  const Node root(&*body, "");
  if (!root.is_object()) return unexpected(root.expected("an object"));
  const bool cloud_event = is_cloud_event(delivery, root);
  auto type = required_string(root["type"]);
  if (!type) return unexpected(type.error());
  Decoded decoded;
  if (*type != (cloud_event ? kCloudEventPushType : kDefaultPushType)) {
    decoded.ignored = 1;
    return decoded;
  }

  const Node data = root[cloud_event ? "data" : "event_data"];
  if (!data.is_object()) return unexpected(data.expected("an object"));
  Source common;
  if (cloud_event) {
    auto id = optional_string(root["id"]);
    if (!id) return unexpected(id.error());
    common.event_id = std::move(*id);
  }
  const Node full_name = data["repository"]["repo_full_name"];
  auto repository = required_string(full_name);
  if (!repository) return unexpected(repository.error());
  common.path = std::move(*repository);
  common.path_field = full_name.path();

  const Node resources = data["resources"];
  if (!resources.is_array()) return unexpected(resources.expected("an array"));
  for (std::size_t i = 0; i < resources.size(); ++i) {
    auto event = decode_resource(config, resources[i], common);
    if (!event) return unexpected(event.error());
    decoded.events.push_back(std::move(*event));
  }
  return decoded;
}

}  // namespace cascade::webhook::detail
