// What the webhook adapters share: sender names, the dispatch to one adapter per sender,
// the JSON cursor with paths for error reasons, and the step that turns what an adapter
// read (host, repository, tag, digest) into an Event normalized by the reference module.
#include <algorithm>
#include <array>

#include "internal.hpp"

namespace cascade::webhook {

namespace {

constexpr std::array<std::pair<Sender, std::string_view>, 6> kSenderNames{{
    {Sender::distribution, "distribution"},
    {Sender::dockerhub, "dockerhub"},
    {Sender::harbor, "harbor"},
    {Sender::quay, "quay"},
    {Sender::github, "github"},
    {Sender::generic, "generic"},
}};

}  // namespace

std::string_view to_string(Sender sender) {
  for (const auto& [value, name] : kSenderNames) {
    if (value == sender) return name;
  }
  return "unknown";
}

std::optional<Sender> parse_sender(std::string_view name) {
  for (const auto& [value, known] : kSenderNames) {
    if (known == name) return value;
  }
  return std::nullopt;
}

const std::vector<Sender>& all_senders() {
  static const std::vector<Sender> senders = [] {
    std::vector<Sender> all;
    for (const auto& entry : kSenderNames) all.push_back(entry.first);
    return all;
  }();
  return senders;
}

bool carries_digest(Sender sender) {
  return sender != Sender::dockerhub && sender != Sender::quay;
}

std::string Event::image() const { return tag ? repository + ":" + *tag : repository; }

Expected<Decoded, Rejection> decode(const HookConfig& config, const Delivery& delivery) {
  switch (config.sender) {
    case Sender::distribution: return detail::decode_distribution(config, delivery);
    case Sender::dockerhub: return detail::decode_dockerhub(config, delivery);
    case Sender::harbor: return detail::decode_harbor(config, delivery);
    case Sender::quay: return detail::decode_quay(config, delivery);
    case Sender::github: return detail::decode_github(config, delivery);
    case Sender::generic: return detail::decode_generic(config, delivery);
  }
  return unexpected(detail::bad_request("unknown webhook sender"));
}

namespace detail {

// ---- the JSON cursor ----

Node Node::operator[](std::string_view key) const {
  std::string child = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  if (!is_object()) return {nullptr, std::move(child)};
  auto found = value_->find(key);
  return {found == value_->end() ? nullptr : &*found, std::move(child)};
}

Node Node::operator[](std::size_t index) const {
  std::string child = (path_.empty() ? std::string("body") : path_) + "[" + std::to_string(index) + "]";
  return {index < size() ? &(*value_)[index] : nullptr, std::move(child)};
}

Rejection Node::expected(std::string_view what) const {
  return bad_request((path_.empty() ? std::string("body") : path_) + ": expected " + std::string(what));
}

Rejection bad_request(std::string reason) { return {400, std::move(reason)}; }

std::optional<std::string> header(const Delivery& delivery, std::string_view name) {
  if (!delivery.header) return std::nullopt;
  return delivery.header(name);
}

bool content_type_is(const Delivery& delivery, std::string_view media_type) {
  auto value = header(delivery, "Content-Type");
  if (!value) return false;
  std::string_view type(*value);
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return util::lowercase(type) == media_type;
}

Expected<Json, Rejection> parse_json(std::string_view body) {
  if (body.empty()) return unexpected(bad_request("body is empty: expected JSON"));
  try {
    return Json::parse(body);
  } catch (const Json::parse_error& error) {
    return unexpected(bad_request("body is not valid JSON (syntax error at byte " + std::to_string(error.byte) + ")"));
  } catch (const Json::exception&) {  // out_of_range: a number no double holds (1e999999)
    return unexpected(bad_request("body is not usable JSON: a number is out of range"));
  }
}

Expected<std::string, Rejection> required_string(const Node& node) {
  if (!node.present() || !node.json().is_string()) return unexpected(node.expected("a string"));
  return node.json().get<std::string>();
}

Expected<std::optional<std::string>, Rejection> optional_string(const Node& node) {
  if (!node.present()) return std::optional<std::string>();
  if (!node.json().is_string()) return unexpected(node.expected("a string"));
  auto text = node.json().get<std::string>();
  return text.empty() ? std::nullopt : std::optional<std::string>(std::move(text));
}

std::string host_of(std::string_view url) {
  if (auto scheme = url.find("://"); scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  return std::string(url);
}

// ---- references ----

bool names_registry(std::string_view image) {
  const auto slash = image.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view first = image.substr(0, slash);
  if (first == "localhost") return true;
  return std::any_of(first.begin(), first.end(),
                     [](char c) { return c == '.' || c == ':' || (c >= 'A' && c <= 'Z'); });
}

std::string relocated(const reference::ParseError& error, std::size_t field_start) {
  std::string message = error.message;
  if (auto offset = message.rfind(" (at offset "); offset != std::string::npos) message.resize(offset);
  const std::size_t position = error.position >= field_start ? error.position - field_start : 0;
  return message + " (at offset " + std::to_string(position) + ")";
}

Expected<void, Rejection> check_digest(std::string_view digest, std::string_view field) {
  auto valid = reference::validate_digest(digest);
  if (!valid) return unexpected(bad_request(std::string(field) + ": " + valid.error().message));
  return {};
}

void use_configured_registry(const HookConfig& config, Source& source) {
  if (config.registry.empty()) return;
  source.host = config.registry;
  source.host_field = "registry (configured)";
}

namespace {

// host/path as a repository with the host as its registry; 400 naming the field at fault.
Expected<reference::Reference, Rejection> parse_repository(const Source& source, const std::string& host) {
  const std::string text = host + "/" + source.path;
  auto parsed = reference::parse(text);
  if (!parsed) {
    const auto& error = parsed.error();
    if (error.position < host.size()) return unexpected(bad_request(source.host_field + ": " + relocated(error, 0)));
    return unexpected(bad_request(source.path_field + ": " + relocated(error, host.size() + 1)));
  }
  const bool same_host = parsed->domain == host || (host == "index.docker.io" && parsed->domain == "docker.io");
  if (!same_host) {
    return unexpected(bad_request(source.host_field + ": \"" + host +
                                  "\" is not a registry host (one needs a '.', a ':' or to be localhost)"));
  }
  if (!parsed->tag_implied || !parsed->digest.empty())
    return unexpected(bad_request(source.path_field + ": expected a repository name, without tag or digest"));
  return std::move(*parsed);
}

Expected<void, Rejection> check_tag(const std::string& repository, const std::string& tag, const std::string& field) {
  auto parsed = reference::parse(repository + ":" + tag);
  if (!parsed) return unexpected(bad_request(field + ": " + relocated(parsed.error(), repository.size() + 1)));
  if (parsed->tag != tag || !parsed->digest.empty() || parsed->repository() != repository)
    return unexpected(bad_request(field + ": \"" + tag + "\" is not a tag"));
  return {};
}

}  // namespace

Expected<Event, Rejection> make_event(Sender sender, const Source& source) {
  auto parsed = parse_repository(source, util::lowercase(source.host));
  if (!parsed) return unexpected(parsed.error());
  Event event{sender, parsed->repository(), source.tag, source.digest, source.event_id};
  if (event.tag) {
    auto tag = check_tag(event.repository, *event.tag, source.tag_field);
    if (!tag) return unexpected(tag.error());
  }
  if (event.digest) {
    auto digest = check_digest(*event.digest, source.digest_field);
    if (!digest) return unexpected(digest.error());
  }
  return event;
}

}  // namespace detail
}  // namespace cascade::webhook
