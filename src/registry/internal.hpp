// Pieces of the registry client shared between its files: error mapping, encodings,
// manifest parsing, and the Transport (auth, retries) every operation goes through.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/http.hpp"
#include "cascade/registry.hpp"

namespace cascade::registry::detail {

using Clock = std::chrono::steady_clock;

// --- errors.cpp ---
/// The Error for a failed HTTP exchange (after retries): tls, network or invalid.
Error from_http_error(const std::string& registry, const http::Error& failure);
/// The Error for an unwanted status; `what` names the object ("manifest team/app:1").
Error from_status(const std::string& registry, const http::Response& response, const std::string& what);
/// 408, 429 and 5xx other than 501: worth another try.
bool retryable_status(int status);

// --- digest.cpp ---
std::string base64_encode(std::string_view bytes);
/// Decodes standard base64 (padding optional); nullopt on bad input.
std::optional<std::string> base64_decode(std::string_view text);
/// "<algorithm>:<hex>" of `bytes` for sha256, sha384 or sha512; empty for another algorithm.
std::string digest_with(std::string_view algorithm, std::string_view bytes);
/// Checks that `bytes` hash to `digest`; fails (invalid) naming `what`.
Expected<void, Error> verify_digest(const std::string& registry, const std::string& digest, std::string_view bytes,
                                    const std::string& what);

// --- challenge.cpp ---
/// The URL of the Link header's rel="next" entry, or empty.
std::string next_link(const http::Headers& headers);
/// Splits on spaces, dropping empties.
std::vector<std::string> split_scopes(std::string_view scopes);

// --- manifest.cpp ---
extern const char* const kManifestAccept;  // the four manifest media types, comma-separated
bool is_index(std::string_view media_type);
/// The Content-Type without parameters, else the body's "mediaType".
std::string media_type_of(const http::Response& response);

struct Descriptor {
  std::string media_type;
  std::string digest;
};

/// The child of an index for os/architecture, skipping attestation entries; fails
/// (not_found) when there is none, (invalid) when the body is not an index.
Expected<std::string, Error> choose_platform(const std::string& registry, std::string_view index_body,
                                             const std::string& os, const std::string& architecture);
/// Every child manifest of an index.
Expected<std::vector<Descriptor>, Error> children_of(const std::string& registry, std::string_view index_body);
/// The image platforms of an index in its order, "os/architecture[/variant]" with the child's
/// digest; attestations and entries without a platform left out. Fails (invalid) when the
/// body is not an index or an image entry has no digest.
Expected<std::vector<PlatformManifest>, Error> platforms_of(const std::string& registry, std::string_view index_body);
/// The platform "os/architecture[/variant]" an image config names; empty when it names no
/// os or no architecture. Fails (invalid) when the body is not a JSON object.
Expected<std::string, Error> config_platform(const std::string& registry, std::string_view config_body);
/// The config descriptor of an image manifest.
Expected<Descriptor, Error> config_of(const std::string& registry, std::string_view manifest_body);
/// The config and layer descriptors of an image manifest.
Expected<std::vector<Descriptor>, Error> blobs_of(const std::string& registry, std::string_view manifest_body);
/// config.Labels of an image config (empty when absent or null).
Expected<std::map<std::string, std::string>, Error> labels_of(const std::string& registry, std::string_view config_body);

// --- transport.cpp and auth.cpp ---
/// One registry API call: a target under the registry's base URL and the scopes it needs.
struct Call {
  std::string registry;  // as in references: "docker.io", "127.0.0.1:5000"
  std::string method = "GET";
  std::string target;    // "/v2/team/app/manifests/1"
  http::Headers headers;
  std::string body;
  std::vector<std::string> scopes;  // "repository:team/app:pull"
  std::function<bool(std::string_view)> body_sink{};  // streams a 2xx body (http::Request::body_sink)
  int attempts = 0;  // tries for a transient failure; 0: RetryOptions::attempts
};

/// "docker.io" -> "registry-1.docker.io"; other hosts unchanged.
std::string api_host(std::string_view registry);

class Transport {
 public:
  explicit Transport(const Options& options);

  /// Sends `call` with credentials (cached token, Basic, or none), answers one 401 challenge
  /// with fresh credentials and retries once; retries transient failures with backoff.
  /// The whole call ends within RetryOptions::budget. Any final status is a Response except
  /// 401, which fails (unauthorized) naming the registry, scopes and user, never the secret.
  Expected<http::Response, Error> send(const Call& call);
  /// Sends `request` as is, retrying network failures, 408, 429 and 5xx with backoff
  /// (Retry-After honoured, capped), all by the request's deadline (else RetryOptions::budget
  /// from now); fails only when no response came, or at once when cancelled (Options::stop).
  Expected<http::Response, Error> fetch(const std::string& registry, http::Request request, int attempts = 0);
  /// "https://host" or "http://host" for an insecure registry.
  std::string base_url(const std::string& registry) const;
  /// The target under base_url(registry) that `location` (relative or absolute) names;
  /// fails (invalid) when it points at another host.
  Expected<std::string, Error> same_host_target(const std::string& registry, std::string_view base_target,
                                                std::string_view location) const;
  std::size_t connections_opened() const { return http_.connections_opened(); }

 private:
  struct HostAuth {
    std::string scheme;  // "" (none needed so far), "basic" or "bearer"
    std::string realm;
    std::string service;
  };
  struct Token {
    std::string value;
    Clock::time_point expires;
  };

  Expected<std::string, Error> authorization(const Call& call);
  Expected<void, Error> answer_challenge(const Call& call, const http::Response& response);
  /// Docker's credentials for `registry`, looked up once and kept until they are rejected.
  Expected<Credentials, Error> credentials(const std::string& registry);
  /// Drops the kept credentials, so the next call reads the config or asks the helper again.
  void forget_credentials(const std::string& registry);
  Expected<Token, Error> fetch_token(const Call& call, const HostAuth& auth, const std::vector<std::string>& scopes,
                                     const Credentials& creds);
  Expected<Token, Error> oauth_token(const Call& call, const HostAuth& auth, const std::vector<std::string>& scopes,
                                     const Credentials& creds);
  Expected<Token, Error> token_from(const Call& call, const HostAuth& auth, const http::Response& response,
                                    const Credentials& creds);
  std::string token_key(const HostAuth& auth, const std::vector<std::string>& scopes, const Credentials& creds) const;
  Error rejected(const Call& call, const http::Response& response);
  std::chrono::milliseconds backoff(int attempt) const;
  /// Waits `delay` unless that ends at or past `deadline`; false (without the wait) then, or
  /// when Options::stop is requested meanwhile.
  bool pause(std::chrono::milliseconds delay, Clock::time_point deadline) const;

  Options options_;
  http::Client http_;
  std::mutex mutex_;  // guards the maps below
  std::map<std::string, HostAuth> hosts_;
  std::map<std::string, Credentials> credentials_;
  std::map<std::string, Token> tokens_;
};

}  // namespace cascade::registry::detail
