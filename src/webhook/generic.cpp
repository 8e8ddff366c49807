// The generic webhook (cascade's own format, for CI jobs and scripts):
//   {"image": "repo[:tag][@digest]", "digest": "sha256:...", "id": "..."}
// or {"events": [{...}, ...]} with the same fields. The image is a full reference; without a
// registry it names docker.io, or the configured registry when there is one. A digest may
// come in the image, in "digest", or both when they agree.
#include "internal.hpp"

namespace cascade::webhook::detail {

namespace {

Expected<Event, Rejection> decode_image(const HookConfig& config, const Node& entry) {
  if (!entry.is_object()) return unexpected(entry.expected("an object"));
  const Node image_field = entry["image"];
  auto image = required_string(image_field);
  if (!image) return unexpected(image.error());
  auto digest = optional_string(entry["digest"]);
  if (!digest) return unexpected(digest.error());
  auto id = optional_string(entry["id"]);
  if (!id) return unexpected(id.error());

  const std::string prefix = config.registry.empty() || names_registry(*image) ? "" : config.registry + "/";
  auto parsed = reference::parse(prefix + *image);
  if (!parsed) {
    const bool in_registry = parsed.error().position < prefix.size();
    return unexpected(bad_request((in_registry ? std::string("registry (configured)") : image_field.path()) + ": " +
                                  relocated(parsed.error(), in_registry ? 0 : prefix.size())));
  }
  if (*digest) {
    auto valid = check_digest(**digest, entry["digest"].path());
    if (!valid) return unexpected(valid.error());
    if (!parsed->digest.empty() && parsed->digest != **digest)
      return unexpected(bad_request(entry["digest"].path() + ": does not match the digest in " + image_field.path()));
  } else if (!parsed->digest.empty()) {
    *digest = parsed->digest;
  }
  // "repo@digest" is a push by digest only; "latest" is implied only when nothing else is named.
  std::optional<std::string> tag;
  if (!parsed->tag.empty() && !(parsed->tag_implied && *digest)) tag = parsed->tag;
  return Event{Sender::generic, parsed->repository(), std::move(tag), std::move(*digest), std::move(*id)};
}

}  // namespace

Expected<Decoded, Rejection> decode_generic(const HookConfig& config, const Delivery& delivery) {
  auto body = parse_json(delivery.body);
  if (!body) return unexpected(body.error());
  const Node root(&*body, "");
  if (!root.is_object()) return unexpected(root.expected("an object"));
  Decoded decoded;
  const Node events = root["events"];
  if (!events.present()) {
    auto event = decode_image(config, root);
    if (!event) return unexpected(event.error());
    decoded.events.push_back(std::move(*event));
    return decoded;
  }
  if (!events.is_array()) return unexpected(events.expected("an array"));
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto event = decode_image(config, events[i]);
    if (!event) return unexpected(event.error());
    decoded.events.push_back(std::move(*event));
  }
  return decoded;
}

}  // namespace cascade::webhook::detail
