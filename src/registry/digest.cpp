// Content digests (OpenSSL EVP) and base64.
#include <openssl/evp.h>

#include "internal.hpp"

namespace cascade::registry {

std::string sha256_digest(std::string_view bytes) { return detail::digest_with("sha256", bytes); }

namespace detail {

std::string digest_with(std::string_view algorithm, std::string_view bytes) {
  const EVP_MD* md = algorithm == "sha256" ? EVP_sha256()
                     : algorithm == "sha384" ? EVP_sha384()
                     : algorithm == "sha512" ? EVP_sha512()
                                             : nullptr;
  if (!md) return {};
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), hash, &size, md, nullptr) != 1) return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string text(algorithm);
  text += ':';
  for (unsigned int i = 0; i < size; ++i) {
    text += hex[hash[i] >> 4];
    text += hex[hash[i] & 15];
  }
  return text;
}

Expected<void, Error> verify_digest(const std::string& registry, const std::string& digest, std::string_view bytes,
                                    const std::string& what) {
  auto colon = digest.find(':');
  std::string actual = colon == std::string::npos ? std::string() : digest_with(digest.substr(0, colon), bytes);
  if (actual.empty()) return unexpected(Error{ErrorKind::invalid, registry, what + ": unsupported digest " + digest, "", 0});
  if (actual != digest)
    return unexpected(Error{ErrorKind::invalid, registry, what + ": content hashes to " + actual + ", not " + digest, "", 0});
  return {};
}

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (unsigned char)bytes[i] << 16 | (unsigned char)bytes[i + 1] << 8 | (unsigned char)bytes[i + 2];
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
  }
  if (i + 1 == bytes.size()) {
    unsigned v = (unsigned char)bytes[i] << 16;
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    unsigned v = (unsigned char)bytes[i] << 16 | (unsigned char)bytes[i + 1] << 8;
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    const char* at = std::char_traits<char>::find(kAlphabet, 64, c);
    if (!at) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(at - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

}  // namespace detail
}  // namespace cascade::registry
