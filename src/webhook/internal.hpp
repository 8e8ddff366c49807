// Shared by the webhook adapters: a JSON cursor that remembers its path for error reasons
// ("events[2].target.repository: expected a string"), the 400 helpers, and the step every
// adapter ends with: host + repository + tag + digest -> a normalized, validated Event.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "cascade/reference.hpp"
#include "cascade/util/text.hpp"
#include "cascade/webhook.hpp"

namespace cascade::webhook::detail {

using Json = nlohmann::json;

/// A value inside the parsed body and the path that reached it. A member the body does not
/// have is a Node with no value, so lookups chain without checks until one is needed.
class Node {
 public:
  Node(const Json* value, std::string path) : value_(value), path_(std::move(path)) {}

  /// The member `key`, or a missing node when this is not an object or lacks it.
  Node operator[](std::string_view key) const;
  /// The element `index`, or a missing node.
  Node operator[](std::size_t index) const;

  /// Present and not null.
  bool present() const { return value_ != nullptr && !value_->is_null(); }
  bool is_object() const { return value_ != nullptr && value_->is_object(); }
  bool is_array() const { return value_ != nullptr && value_->is_array(); }
  std::size_t size() const { return is_array() ? value_->size() : 0; }
  const Json& json() const { return *value_; }
  /// "events[2].target"; "body" for the root.
  const std::string& path() const { return path_; }

  /// 400 "<path>: expected <what>".
  Rejection expected(std::string_view what) const;

 private:
  const Json* value_;
  std::string path_;
};

Rejection bad_request(std::string reason);

/// The header's value, nullopt when absent (or when the delivery has no header lookup).
std::optional<std::string> header(const Delivery& delivery, std::string_view name);
/// Whether the Content-Type header's media type (parameters dropped) is `media_type`.
bool content_type_is(const Delivery& delivery, std::string_view media_type);

/// Parses the body; 400 "body is not valid JSON (...)" when it is not.
Expected<Json, Rejection> parse_json(std::string_view body);

/// The string at `node`; 400 "<path>: expected a string" when missing or not a string.
Expected<std::string, Rejection> required_string(const Node& node);
/// The string at `node`, nullopt when missing, null or empty; 400 when another type.
Expected<std::optional<std::string>, Rejection> optional_string(const Node& node);

/// "harbor.internal" from "harbor.internal/base/runtime:1" or "https://r.example/v2/x".
std::string host_of(std::string_view url);

/// What an adapter read for one push, each value with the place it came from.
struct Source {
  std::string host;        // registry host, from config.registry or the payload
  std::string host_field;  // "events[0].request.host", "registry (configured)"
  std::string path;        // repository path as the payload names it: "base/runtime"
  std::string path_field;
  std::optional<std::string> tag;
  std::string tag_field;
  std::optional<std::string> digest;
  std::string digest_field;
  std::optional<std::string> event_id;
};

/// Normalizes host/path with the reference module and validates the tag and digest; a
/// bad value is 400 naming its field.
Expected<Event, Rejection> make_event(Sender sender, const Source& source);
/// The configured registry as a host, and the field name errors use for it.
void use_configured_registry(const HookConfig& config, Source& source);
/// 400 "<field>: <message>" when `digest` is not a valid digest.
Expected<void, Rejection> check_digest(std::string_view digest, std::string_view field);
/// Whether the first component of `image` is a registry host (reference's grammar).
bool names_registry(std::string_view image);
/// The parser's message with its offset made relative to a field that starts at
/// `field_start` in the parsed text.
std::string relocated(const reference::ParseError& error, std::size_t field_start);

Expected<Decoded, Rejection> decode_distribution(const HookConfig& config, const Delivery& delivery);
Expected<Decoded, Rejection> decode_dockerhub(const HookConfig& config, const Delivery& delivery);
Expected<Decoded, Rejection> decode_harbor(const HookConfig& config, const Delivery& delivery);
Expected<Decoded, Rejection> decode_quay(const HookConfig& config, const Delivery& delivery);
Expected<Decoded, Rejection> decode_github(const HookConfig& config, const Delivery& delivery);
Expected<Decoded, Rejection> decode_generic(const HookConfig& config, const Delivery& delivery);

}  // namespace cascade::webhook::detail
