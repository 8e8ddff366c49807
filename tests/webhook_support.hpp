// Shared by the webhook tests: sample digests, a delivery builder and small helpers.
#pragma once

#include "cascade/webhook.hpp"

#include <doctest/doctest.h>

#include <cctype>
#include <map>
#include <string>
#include <vector>

namespace wh = cascade::webhook;

namespace webhook_test {

const std::string kIndexDigest = "sha256:4b1f0d3c9e2a7b6d5c8f1e0a9b3c2d4e6f708192a3b4c5d6e7f8091a2b3c4d5e";
const std::string kBlobDigest = "sha256:77aa0b1c2d3e4f5061728394a5b6c7d8e9f00112233445566778899aabbccddee";
const std::string kChildDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

inline std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A delivery as the daemon hands it over: body, headers looked up case-insensitively, query.
struct Request {
  explicit Request(std::string body_text = {}) : body(std::move(body_text)) {}

  std::string body;
  std::map<std::string, std::string> headers;  // keys lowercase
  std::map<std::string, std::string> query;

  Request& with(const std::string& name, const std::string& value) {
    headers[lower(name)] = value;
    return *this;
  }
  wh::Delivery delivery() const {
    return {body,
            [this](std::string_view name) -> std::optional<std::string> {
              auto found = headers.find(lower(name));
              if (found == headers.end()) return std::nullopt;
              return found->second;
            },
            query};
  }
};

inline wh::HookConfig config_for(wh::Sender sender, std::string registry = {}) {
  wh::HookConfig config;
  config.sender = sender;
  config.registry = std::move(registry);
  return config;
}

inline wh::Decoded decoded(const wh::HookConfig& config, const Request& request) {
  auto result = wh::decode(config, request.delivery());
  INFO("rejected: ", result ? std::string() : result.error().reason);
  REQUIRE(result);
  return *result;
}

inline wh::Decoded decoded(wh::Sender sender, const std::string& body) { return decoded(config_for(sender), Request{body}); }

inline wh::Rejection rejected(const wh::HookConfig& config, const Request& request) {
  auto result = wh::decode(config, request.delivery());
  REQUIRE_FALSE(result);
  return result.error();
}

inline std::string rejection(wh::Sender sender, const std::string& body) {
  auto failure = rejected(config_for(sender), Request{body});
  CHECK(failure.status == 400);
  return failure.reason;
}

// PROTOCOLS.md 4.1: a manifest push and a blob push of the same `docker push`.
inline std::string distribution_example() {
  return R"({
  "events": [
    {
      "id": "6f0c2a8e-1b7d-4c55-9a51-0d3e2f9b7a10",
      "timestamp": "2026-05-01T10:02:11.482Z",
      "action": "push",
      "target": {
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": ")" + kIndexDigest + R"(",
        "size": 1609,
        "length": 1609,
        "repository": "base/runtime",
        "url": "https://registry.internal/v2/base/runtime/manifests/)" + kIndexDigest + R"(",
        "tag": "bookworm"
      },
      "request": {"id": "c1d2", "addr": "10.0.4.7:51234", "host": "registry.internal",
                  "method": "PUT", "useragent": "buildkit/v0.23"},
      "actor": {"name": "ci-bot"},
      "source": {"addr": "registry-0:5000", "instanceID": "e4a1"}
    },
    {
      "id": "0a9b", "timestamp": "2026-05-01T10:02:09.001Z", "action": "push",
      "target": {"mediaType": "application/octet-stream", "digest": ")" + kBlobDigest + R"(", "size": 29126484,
                 "repository": "base/runtime"},
      "request": {"id": "c1d3", "method": "PUT"}, "actor": {"name": "ci-bot"}, "source": {}
    }
  ]
})";
}

// One distribution event with the given target fields (JSON members, without braces).
inline std::string distribution_event(const std::string& action, const std::string& target,
                               const std::string& host = "127.0.0.1:5000") {
  return R"({"id": "e1", "action": ")" + action + R"(", "target": {)" + target + R"(},
             "request": {"host": ")" + host + R"("}})";
}

inline std::string manifest_target(const std::string& media_type, const std::string& digest, const std::string& tag) {
  std::string target = R"("mediaType": ")" + media_type + R"(", "digest": ")" + digest +
                       R"(", "repository": "base/runtime")";
  if (!tag.empty()) target += R"(, "tag": ")" + tag + "\"";
  return target;
}

const std::string kDockerHubExample = R"({
  "callback_url": "https://registry.hub.docker.com/u/acme/runtime/hook/2f1e/",
  "push_data": {"pushed_at": 1777629731, "pusher": "acmeci", "tag": "bookworm"},
  "repository": {
    "repo_name": "acme/runtime", "namespace": "acme", "name": "runtime", "owner": "acme",
    "repo_url": "https://hub.docker.com/r/acme/runtime", "is_private": true, "is_official": false,
    "status": "Active", "date_created": 1700000000, "description": ""
  }
})";

inline std::string harbor_data(const std::string& tag, const std::string& digest) {
  const std::string suffix = tag.starts_with("sha256:") ? "@" + tag : ":" + tag;
  return R"({"resources": [{"digest": ")" + digest + R"(", "tag": ")" + tag +
         R"(", "resource_url": "harbor.internal/base/runtime)" + suffix + R"("}],
    "repository": {"date_created": 1700000000, "name": "runtime", "namespace": "base",
                   "repo_full_name": "base/runtime", "repo_type": "private"}})";
}

inline std::string harbor_default(const std::string& type, const std::string& tag, const std::string& digest) {
  return R"({"type": ")" + type + R"(", "occur_at": 1777629731, "operator": "robot$ci", "event_data": )" +
         harbor_data(tag, digest) + "}";
}

inline std::string harbor_cloud_event(const std::string& type, const std::string& tag, const std::string& digest) {
  return R"({"specversion":"1.0","id":"7c1d-42","requestid":"a0b1","source":"/projects/3/webhook/policies/7",
 "type":")" + type + R"(","datacontenttype":"application/json","time":"2026-05-01T10:02:11Z",
 "operator":"robot$ci","data":)" + harbor_data(tag, digest) + "}";
}

const std::string kQuayExample = R"({
  "repository": "acme/runtime",
  "namespace": "acme",
  "name": "runtime",
  "docker_url": "quay.io/acme/runtime",
  "homepage": "https://quay.io/repository/acme/runtime",
  "updated_tags": ["bookworm"]
})";

// PROTOCOLS.md 4.5 under `key`, with the given action, type, owner and tag name.
inline std::string github_example(const std::string& key = "package", const std::string& action = "published",
                           const std::string& type = "CONTAINER", const std::string& tag = "bookworm",
                           const std::string& owner = "acme") {
  return R"({
  "action": ")" + action + R"(",
  ")" + key + R"(": {
    "name": "runtime",
    "namespace": "acme/runtime-src",
    "package_type": ")" + type + R"(",
    "owner": {"login": ")" + owner + R"("},
    "package_version": {
      "name": ")" + kIndexDigest + R"(",
      "version": ")" + kIndexDigest + R"(",
      "package_url": "ghcr.io/acme/runtime:bookworm",
      "container_metadata": {
        "tag": {"name": ")" + tag + R"(", "digest": ")" + (tag.empty() ? "" : kIndexDigest) + R"("},
        "manifest": {"digest": ")" + kIndexDigest + R"(",
                     "media_type": "application/vnd.oci.image.index.v1+json", "size": 1609}
      }
    },
    "registry": {"type": "CONTAINER", "url": "https://ghcr.io/acme"}
  },
  "sender": {"login": "acme-ci"}
})";
}

inline Request github_request(const std::string& event, const std::string& body) {
  Request request{body};
  request.with("X-GitHub-Event", event).with("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  request.with("Content-Type", "application/json");
  return request;
}

inline std::string form_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

}  // namespace webhook_test
