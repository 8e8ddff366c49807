// Docker Hub repository webhooks (PROTOCOLS.md 4.2): one push per delivery, named by
// repository.repo_name and push_data.tag. No digest: the event is a hint the daemon confirms
// with a manifest HEAD. No event id either; the payload has none.
#include "internal.hpp"

namespace cascade::webhook::detail {

Expected<Decoded, Rejection> decode_dockerhub(const HookConfig& config, const Delivery& delivery) {
  auto body = parse_json(delivery.body);
  if (!body) return unexpected(body.error());
  const Node root(&*body, "");
  if (!root.is_object()) return unexpected(root.expected("an object"));

  Source source;
  source.host = source.host_field = "docker.io";
  use_configured_registry(config, source);
  const Node repo_name = root["repository"]["repo_name"];
  auto repository = required_string(repo_name);
  if (!repository) return unexpected(repository.error());
  source.path = std::move(*repository);
  source.path_field = repo_name.path();
  const Node pushed_tag = root["push_data"]["tag"];
  auto tag = required_string(pushed_tag);
  if (!tag) return unexpected(tag.error());
  source.tag = std::move(*tag);
  source.tag_field = pushed_tag.path();

  auto event = make_event(Sender::dockerhub, source);
  if (!event) return unexpected(event.error());
  Decoded decoded;
  decoded.events.push_back(std::move(*event));
  return decoded;
}

}  // namespace cascade::webhook::detail
