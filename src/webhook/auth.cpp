// Sender authentication: the HMAC-SHA256 signature of the raw body (GitHub's
// X-Hub-Signature-256, or X-Cascade-Signature-256) and the shared token in any of its forms.
// Every comparison of a secret value runs in time independent of its content, and no
// reason names the secret, the token or what the sender offered.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <array>
#include <vector>

#include "internal.hpp"

namespace cascade::webhook {

namespace {

constexpr std::string_view kSignaturePrefix = "sha256=";
constexpr std::size_t kDigestBytes = 32;

Rejection unauthorized(std::string reason) { return {401, std::move(reason)}; }

const unsigned char* bytes(std::string_view text) {
  static const unsigned char kNothing = 0;
  return text.empty() ? &kNothing : reinterpret_cast<const unsigned char*>(text.data());
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), bytes(key), static_cast<int>(key.size()), bytes(data), data.size(), digest.data(),
           &length) == nullptr)
    return {};
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

std::string sha256(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(bytes(data), data.size(), digest.data());
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "sha256=<64 hex>" -> the 32 digest bytes; nullopt when malformed.
std::optional<std::string> signature_bytes(std::string_view value) {
  if (value.substr(0, kSignaturePrefix.size()) != kSignaturePrefix) return std::nullopt;
  value.remove_prefix(kSignaturePrefix.size());
  if (value.size() != kDigestBytes * 2) return std::nullopt;
  std::string decoded;
  for (std::size_t i = 0; i < value.size(); i += 2) {
    const int high = hex_value(value[i]);
    const int low = hex_value(value[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    decoded += static_cast<char>(high * 16 + low);
  }
  return decoded;
}

Expected<void, Rejection> check_signature(const HookConfig& config, const Delivery& delivery) {
  const std::string name = config.sender == Sender::github ? "X-Hub-Signature-256" : "X-Cascade-Signature-256";
  auto received = detail::header(delivery, name);
  if (!received) return unexpected(unauthorized("missing " + name));
  auto offered = signature_bytes(*received);
  if (!offered) return unexpected(unauthorized("malformed " + name + ": expected sha256=<64 hex digits>"));
  if (!constant_time_equal(hmac_sha256(config.secret, delivery.body), *offered))
    return unexpected(unauthorized("signature does not match the body (" + name + ")"));
  return {};
}

bool starts_with_bearer(std::string_view value) {
  return value.size() > 7 && util::lowercase(value.substr(0, 7)) == "bearer ";
}

// Every token the delivery offers: Authorization as "Bearer T" and verbatim, X-Cascade-Token,
// and the query parameter.
std::vector<std::string> offered_tokens(const Delivery& delivery) {
  std::vector<std::string> offered;
  if (auto authorization = detail::header(delivery, "Authorization")) {
    if (starts_with_bearer(*authorization)) {
      std::string_view token = std::string_view(*authorization).substr(7);
      while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
      offered.emplace_back(token);
    }
    offered.push_back(*authorization);
  }
  if (auto token = detail::header(delivery, "X-Cascade-Token")) offered.push_back(*token);
  if (auto token = delivery.query.find("token"); token != delivery.query.end()) offered.push_back(token->second);
  return offered;
}

Expected<void, Rejection> check_token(const HookConfig& config, const Delivery& delivery) {
  const auto offered = offered_tokens(delivery);
  if (offered.empty())
    return unexpected(unauthorized("missing token (Authorization: Bearer, X-Cascade-Token or ?token=)"));
  // Digests have equal lengths, so neither the token's length nor its content shows in the
  // time taken; every form is compared, matched or not.
  const std::string expected = sha256(config.token);
  bool matched = false;
  for (const auto& token : offered) matched |= constant_time_equal(sha256(token), expected);
  if (!matched) return unexpected(unauthorized("token does not match"));
  return {};
}

}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  static constexpr char kHexDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : hmac_sha256(key, data)) {
    hex += kHexDigits[byte >> 4];
    hex += kHexDigits[byte & 15];
  }
  return hex;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(bytes(a), bytes(b), a.size()) == 0;
}

Expected<void, Rejection> authenticate(const HookConfig& config, const Delivery& delivery) {
  const bool has_secret = !config.secret.empty();
  const bool has_token = !config.token.empty();
  if (!has_secret && !has_token) {
    if (config.unauthenticated) return {};
    return unexpected(unauthorized("this webhook has no token or secret configured"));
  }
  if (has_secret) {
    auto signed_ok = check_signature(config, delivery);
    if (!signed_ok) return signed_ok;
  }
  if (has_token) {
    auto token_ok = check_token(config, delivery);
    if (!token_ok) return token_ok;
  }
  return {};
}

}  // namespace cascade::webhook
