// Registry push webhooks -> trigger events. One adapter per sender (shared/reference/
// PROTOCOLS.md section 4) decodes a delivery into the image pushes it reports; authenticate()
// checks the sender's shared token or HMAC signature in constant time. Pure: text and values
// in, values out; the daemon owns the sockets, the store and the registry lookups.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/util/expected.hpp"

namespace cascade::webhook {

enum class Sender { distribution, dockerhub, harbor, quay, github, generic };

/// "distribution", "dockerhub", "harbor", "quay", "github", "generic".
std::string_view to_string(Sender sender);
std::optional<Sender> parse_sender(std::string_view name);
/// Every sender, in the order above.
const std::vector<Sender>& all_senders();
/// Whether the sender's payload carries the pushed digest (distribution, harbor, github,
/// generic). Events of the others are hints: the daemon resolves the tag's digest itself.
bool carries_digest(Sender sender);

/// One configured webhook endpoint (the pipeline's `triggers.webhooks` entry, secrets read
/// from the environment).
struct HookConfig {
  Sender sender = Sender::generic;
  std::string token;   // shared token; empty: none. Accepted as "Authorization: Bearer T",
                       // "Authorization: T" (Harbor's verbatim auth header), "X-Cascade-Token: T"
                       // or the query parameter token=T.
  std::string secret;  // HMAC-SHA256 key; empty: none. github: X-Hub-Signature-256;
                       // generic: X-Cascade-Signature-256; both "sha256=<lowercase hex>" over the raw body.
  std::string registry;  // registry host to use for repositories the payload names without
                         // one ("127.0.0.1:5000"); empty: the payload's own (see decode()).
  bool unauthenticated = false;  // `auth: none` in the file: accept deliveries with no token or signature
};

/// What arrived: the raw body and a header lookup (names case-insensitive).
struct Delivery {
  std::string_view body;
  std::function<std::optional<std::string>(std::string_view name)> header;
  std::map<std::string, std::string> query;
};

/// A rejected delivery: the HTTP status to answer (400 malformed, 401 authentication) and why.
/// The reason never contains a token, a signature or a secret.
struct Rejection {
  int status = 400;
  std::string reason;  // "events[0].target: expected an object", "signature does not match"
};

/// One image push the delivery reports.
struct Event {
  Sender sender = Sender::generic;
  std::string repository;             // normalized, with the registry host: "127.0.0.1:5000/base/runtime",
                                      // "docker.io/acme/runtime", "ghcr.io/acme/runtime"
  std::optional<std::string> tag;     // "bookworm"; nullopt for a push by digest only
  std::optional<std::string> digest;  // "sha256:<64 hex>"; nullopt when the payload has none (a hint)
  std::optional<std::string> event_id;  // the sender's id of this event (distribution event id,
                                        // CloudEvents id, X-GitHub-Delivery, generic "id")
  /// repository[:tag], the image the daemon matches against the fleet.
  std::string image() const;
};

struct Decoded {
  std::vector<Event> events;  // in payload order; may be empty (only blob events, a pull, ...)
  std::size_t ignored = 0;    // entries that were not image pushes (blobs, pulls, deletes, other types)
  std::string reason{};       // why the whole delivery was ignored, when an adapter says ("quay: not a push ...")
};

/// Checks the delivery against the config: with a secret, the signature header must match
/// the HMAC of the body; with a token, one of the token forms must match; with both, both.
/// With neither, only `unauthenticated` lets a delivery through. Fails with 401.
Expected<void, Rejection> authenticate(const HookConfig& config, const Delivery& delivery);

/// Decodes the body with the sender's adapter. Fails with 400 and the reason (naming the
/// JSON path) when the body is not JSON or lacks what the sender always sends. Registry host
/// per sender: config.registry when set; else distribution: events[].request.host;
/// harbor: resources[].resource_url's host; quay: docker_url's host; dockerhub: docker.io;
/// github: ghcr.io; generic: the image must name its registry (or docker.io is implied).
Expected<Decoded, Rejection> decode(const HookConfig& config, const Delivery& delivery);

/// Lowercase hex HMAC-SHA256 of `data` keyed with `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
/// Compares in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace cascade::webhook
