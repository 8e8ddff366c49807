// CNCF distribution (registry:2 / registry:3, PROTOCOLS.md 4.1): the notification envelope
// (events.v1+json or events.v2+json, both read the same) holds events[]; a manifest push is
// an Event, everything else (blob pushes, pulls, mounts, deletes) is counted as ignored.
#include <array>

#include "internal.hpp"

namespace cascade::webhook::detail {

namespace {

// The manifest media types of PROTOCOLS.md 1.3, plus the legacy signed v1 manifest.
constexpr std::array<std::string_view, 5> kManifestTypes{
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
};

bool is_manifest(std::string_view media_type) {
  media_type = media_type.substr(0, media_type.find(';'));
  for (auto known : kManifestTypes) {
    if (media_type == known) return true;
  }
  return false;
}

// The registry host of one event: configured, the request's Host, or the target URL's host.
Expected<void, Rejection> find_host(const HookConfig& config, const Node& entry, Source& source) {
  use_configured_registry(config, source);
  if (!source.host.empty()) return {};
  auto host = optional_string(entry["request"]["host"]);
  if (!host) return unexpected(host.error());
  if (*host) {
    source.host = **host;
    source.host_field = entry["request"]["host"].path();
    return {};
  }
  auto url = optional_string(entry["target"]["url"]);
  if (!url) return unexpected(url.error());
  if (*url && !host_of(**url).empty()) {
    source.host = host_of(**url);
    source.host_field = entry["target"]["url"].path();
    return {};
  }
  return unexpected(entry["request"]["host"].expected("a string (the registry host)"));
}

// One events[] entry: an Event for a manifest push, nullopt for anything else.
Expected<std::optional<Event>, Rejection> decode_entry(const HookConfig& config, const Node& entry) {
  if (!entry.is_object()) return unexpected(entry.expected("an object"));
  auto action = required_string(entry["action"]);
  if (!action) return unexpected(action.error());
  if (*action != "push") return std::optional<Event>();
  const Node target = entry["target"];
  if (!target.is_object()) return unexpected(target.expected("an object"));
  auto media_type = required_string(target["mediaType"]);
  if (!media_type) return unexpected(media_type.error());
  if (!is_manifest(*media_type)) return std::optional<Event>();

  Source source;
  auto repository = required_string(target["repository"]);
  if (!repository) return unexpected(repository.error());
  source.path = std::move(*repository);
  source.path_field = target["repository"].path();
  auto tag = optional_string(target["tag"]);
  if (!tag) return unexpected(tag.error());
  source.tag = std::move(*tag);
  source.tag_field = target["tag"].path();
  auto digest = required_string(target["digest"]);
  if (!digest) return unexpected(digest.error());
  source.digest = std::move(*digest);
  source.digest_field = target["digest"].path();
  auto id = optional_string(entry["id"]);
  if (!id) return unexpected(id.error());
  source.event_id = std::move(*id);
  auto host = find_host(config, entry, source);
  if (!host) return unexpected(host.error());

  auto event = make_event(Sender::distribution, source);
  if (!event) return unexpected(event.error());
  return std::optional<Event>(std::move(*event));
}

}  // namespace

Expected<Decoded, Rejection> decode_distribution(const HookConfig& config, const Delivery& delivery) {
  auto body = parse_json(delivery.body);
  if (!body) return unexpected(body.error());
  const Node root(&*body, "");
  if (!root.is_object()) return unexpected(root.expected("an object"));
  const Node events = root["events"];
  if (!events.is_array()) return unexpected(events.expected("an array"));
  Decoded decoded;
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto event = decode_entry(config, events[i]);
    if (!event) return unexpected(event.error());
    if (*event) {
      decoded.events.push_back(std::move(**event));
    } else {
      ++decoded.ignored;
    }
  }
  return decoded;
}

}  // namespace cascade::webhook::detail
