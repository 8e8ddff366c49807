// OCI distribution client: digests, manifests, indexes, image labels, tags, re-tagging and
// cross-repository copies, with Bearer-token, Basic and anonymous auth, credentials from
// docker's config.json and credential helpers, and bounded retries with backoff.
// See shared/reference/PROTOCOLS.md sections 1-3.
//
// The executor uses the abstract `Registry`; `Client` is the one real implementation.
// Errors never carry a password, token or helper output.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <stop_token>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cascade/reference.hpp"
#include "cascade/util/expected.hpp"

namespace cascade::registry {

enum class ErrorKind {
  not_found,     // 404: no such repository, tag, manifest or blob
  unauthorized,  // 401 after fresh credentials, missing or rejected credentials
  denied,        // 403: authenticated, not allowed
  rate_limited,  // 429 after the retries
  transient,     // 5xx or 408 after the retries
  network,       // resolve, connect, write, read or timeout after the retries
  tls,           // the TLS handshake failed, e.g. the certificate did not verify
  invalid,       // anything else: bad answer, digest mismatch, unsupported request, bad config
};

/// "not found", "unauthorized", ...
std::string_view to_string(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::invalid;
  std::string registry;  // the registry as named in the reference: "127.0.0.1:5000", "docker.io"
  std::string message;   // what failed, naming the repository or scope; never a secret
  std::string code;      // the registry's error code ("MANIFEST_UNKNOWN") when it sent one
  int status = 0;        // the HTTP status when there was an answer

  /// Worth retrying later: rate_limited, transient or network.
  bool transient() const;
  /// "docker.io: not found: manifest for library/x:1 (MANIFEST_UNKNOWN)".
  std::string str() const;
};

/// How to reach one registry (built from the pipeline's `registries:` entries).
struct RegistryOptions {
  std::string host;       // as in image references: "registry.example.com", "127.0.0.1:5000"
  bool insecure = false;  // plain http (only then)
  std::string ca_file;    // PEM bundle to verify its TLS certificate, instead of the system roots
};

struct RetryOptions {
  int attempts = 4;                                // tries in all for a transient failure
  std::chrono::milliseconds initial_delay{200};    // doubled after every try
  std::chrono::milliseconds max_delay{10'000};     // also caps Retry-After
  double jitter = 0.25;                            // each delay varies by up to this fraction
  // One call (a lookup, a manifest, a blob) with all its tries and waits ends within this:
  // a peer that accepts and never answers costs at most this, not attempts x io_timeout.
  std::chrono::milliseconds budget{60'000};
};

struct Options {
  std::vector<RegistryOptions> registries;  // token servers on plain http must be listed too
  std::chrono::milliseconds connect_timeout{10'000};  // resolve, connect and TLS handshake, each
  std::chrono::milliseconds io_timeout{60'000};       // writing a request, reading a response
  std::size_t connections_per_host = 16;
  std::size_t body_limit = 64u << 20;
  RetryOptions retry;
  std::string docker_config;       // config.json to read; empty: $DOCKER_CONFIG/config.json, ~/.docker/config.json
  bool read_auth_config_env = true;  // also read DOCKER_AUTH_CONFIG, before the file
  std::chrono::milliseconds helper_timeout{10'000};  // for docker-credential-* helpers
  std::string platform_os = "linux";                // the image chosen from an index
  std::string platform_architecture = "amd64";
  std::size_t tag_page_size = 0;    // `n` for tag listing pages; 0: the registry's default
  std::string client_id = "cascade";
  // Once requested, every call running or starting fails at once (kind network, "cancelled"),
  // retry waits included: the daemon's shutdown.
  std::stop_token stop{};
};

/// Credentials for one registry, as docker's config would give them.
struct Credentials {
  std::string username;
  std::string password;        // a password or access token for Basic / the token GET
  std::string identity_token;  // a refresh token for the OAuth POST
  std::string registry_token;  // a ready Bearer token for the registry itself
  bool anonymous() const { return username.empty() && password.empty() && identity_token.empty() && registry_token.empty(); }
};

struct CredentialOptions {
  std::string docker_config;         // as Options::docker_config
  bool read_auth_config_env = true;  // DOCKER_AUTH_CONFIG first
  std::chrono::milliseconds helper_timeout{10'000};
};

/// The key docker stores credentials under: "https://index.docker.io/v1/" for Docker Hub,
/// otherwise the host with its port.
std::string credential_key(std::string_view registry_host);

/// Credentials for `registry_host` in docker's lookup order (PROTOCOLS.md section 3): a helper
/// from credHelpers or credsStore, else `auths`, else anonymous. Fails (kind invalid, naming
/// the file or helper, never its output) on an unreadable config or a failing helper;
/// "credentials not found" from a helper is anonymous.
Expected<Credentials, Error> find_credentials(std::string_view registry_host, const CredentialOptions& options = {});

/// One WWW-Authenticate challenge: scheme in lowercase ("bearer", "basic"), parameters by
/// lowercase name.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};

/// Parses a WWW-Authenticate value holding one or more challenges (RFC 7235 quoted strings,
/// commas inside quotes); malformed parts are skipped.
std::vector<Challenge> parse_challenges(std::string_view header);

/// "sha256:<hex>" of `bytes`.
std::string sha256_digest(std::string_view bytes);

struct Manifest {
  std::string digest;      // of the exact bytes in `body`
  std::string media_type;  // from Content-Type, else the body's mediaType
  std::string body;
};

/// One platform of an image and its image manifest.
struct PlatformManifest {
  std::string platform;  // "os/architecture[/variant]": "linux/amd64", "linux/arm/v7"
  std::string digest;    // the platform's image manifest
};

struct ImageInfo {
  std::string digest;         // what the reference points to: the manifest or index digest
  std::string media_type;
  std::string image_digest;   // the chosen platform's image manifest (== digest without an index)
  std::string config_digest;
  std::map<std::string, std::string> labels;  // the image config's Labels
  bool index = false;         // the reference names an OCI image index or a Docker manifest list
  // Every platform the image has, in the index's order (entries that are not images, such as
  // BuildKit's attestation manifests "unknown/unknown", left out); without an index, the one
  // platform of the image's config (os, architecture, variant) with `digest`.
  std::vector<PlatformManifest> platforms;
};

/// A blob as a manifest describes it.
struct BlobDescriptor {
  std::string digest;
  std::string media_type;
  std::uint64_t size = 0;  // as the manifest says (0 when absent)
};

/// An image's platform manifest (the chosen platform's, when the reference names an index).
struct ImageManifest {
  std::string digest;        // what the reference points to: the manifest or index digest
  std::string image_digest;  // the chosen platform's image manifest
  std::vector<BlobDescriptor> layers;  // bottom first
};

/// Receives a blob's bytes chunk by chunk; returns false to stop the transfer.
using BlobSink = std::function<bool(std::string_view chunk)>;

/// What the executor needs from a registry.
class Registry {
 public:
  virtual ~Registry() = default;
  /// The digest `image` points to now, by HEAD (no pull counted); a reference with a digest
  /// is answered without asking. Fails with the registry's error kind.
  virtual Expected<std::string, Error> resolve_digest(const reference::Reference& image) = 0;
  /// The digest, the chosen platform's manifest and config digests, and the labels; every
  /// body fetched by digest is verified. Fails with the registry's error kind.
  virtual Expected<ImageInfo, Error> inspect(const reference::Reference& image) = 0;
  /// Every tag of the repository of `repository`, following pagination.
  virtual Expected<std::vector<std::string>, Error> list_tags(const reference::Reference& repository) = 0;
  /// Points `to` at the manifest of `from` (same registry; blobs mounted across
  /// repositories), the bytes unchanged; returns the digest, which equals the source's.
  virtual Expected<std::string, Error> copy(const reference::Reference& from, const reference::Reference& to) = 0;
  /// The layers of `image` (its chosen platform's manifest, verified by digest). Fails with
  /// the registry's error kind; (invalid) for a backend that cannot read manifests.
  virtual Expected<ImageManifest, Error> image_manifest(const reference::Reference& image);
  /// Streams blob `blob` of `repository`'s repository to `sink` as it arrives (never held
  /// whole), then checks the bytes against the digest: on a mismatch or a short body it
  /// fails (invalid) and the caller must throw away what it made of the bytes. Not retried
  /// once a byte reached the sink (the caller starts over); a sink returning false fails
  /// (invalid, "stopped by the reader").
  virtual Expected<void, Error> stream_blob(const reference::Reference& repository, const BlobDescriptor& blob,
                                            const BlobSink& sink);
};

/// The real registry client. Thread-safe: share one between threads. Docker credentials are
/// read once per registry and again after the registry or token server rejects them; tokens
/// are cached per (realm, service, scopes, identity) until 10 s before they expire.
class Client final : public Registry {
 public:
  explicit Client(Options options = {});
  ~Client() override;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// GET /v2/ on `registry_host`, authenticating when challenged; fails when it is not a v2
  /// registry or refuses us.
  Expected<void, Error> ping(const std::string& registry_host);
  /// The manifest or index `image` names, bytes as served; verified when fetched by digest.
  Expected<Manifest, Error> get_manifest(const reference::Reference& image);

  Expected<std::string, Error> resolve_digest(const reference::Reference& image) override;
  Expected<ImageInfo, Error> inspect(const reference::Reference& image) override;
  Expected<std::vector<std::string>, Error> list_tags(const reference::Reference& repository) override;
  Expected<std::string, Error> copy(const reference::Reference& from, const reference::Reference& to) override;
  Expected<ImageManifest, Error> image_manifest(const reference::Reference& image) override;
  Expected<void, Error> stream_blob(const reference::Reference& repository, const BlobDescriptor& blob,
                                    const BlobSink& sink) override;

  /// Stores `manifest` (bytes and media type unchanged) under the tag or digest of `to`, whose
  /// repository must already hold everything it references; returns its digest. Fails
  /// (invalid) when the registry stores it under another digest.
  Expected<std::string, Error> put_manifest(const reference::Reference& to, const Manifest& manifest);

  /// HTTP connections opened so far (for tests and benchmarks).
  std::size_t connections_opened() const;

 private:
  /// The manifest `image` names and the chosen platform's image manifest (the same one
  /// twice when it is not an index).
  Expected<std::pair<Manifest, Manifest>, Error> platform_manifest(const reference::Reference& image);

  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cascade::registry
