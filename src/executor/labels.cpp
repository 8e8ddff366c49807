// The labels cascade puts on every image it builds, read back: what an image was built on
// (io.cascade.bases, else the OCI base labels).
#include <cctype>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "cascade/executor.hpp"

namespace cascade::executor {

std::map<std::string, std::string> built_on(const std::map<std::string, std::string>& labels) {
  std::map<std::string, std::string> bases;
  // A multi-platform image's pins (the bases' index digests) first: its io.cascade.bases names
  // per-platform manifests, which a base's tag never points to.
  for (const char* label : {kLabelBaseIndexes, kLabelBases}) {
    auto found = labels.find(label);
    if (found == labels.end()) continue;
    auto parsed = nlohmann::json::parse(found->second, nullptr, false);
    if (parsed.is_object())
      for (const auto& [image, digest] : parsed.items())
        if (digest.is_string()) bases[image] = digest.get<std::string>();
    if (!bases.empty()) return bases;
  }
  auto name = labels.find(kLabelBaseName);
  auto digest = labels.find(kLabelBaseDigest);
  if (name != labels.end() && digest != labels.end()) {
    auto parsed = reference::parse(name->second);
    bases[parsed ? parsed->without_digest().str() : name->second] = digest->second;
  }
  return bases;
}

std::string file_name_of(const std::string& image) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : image) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '.' || c == '-') out += c;
    else if (c == '/') out += '_';
    else if (c == ':') out += '+';
    else if (c == '@') out += '=';
    else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  if (out == "." || out == "..") out = out == "." ? "%2E" : "%2E%2E";
  if (out.size() <= kMaxFileName) return out;
  std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a
  for (char c : image) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  out.resize(160);
  out += "%h";
  for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(hash >> shift) & 0xF];
  return out;
}

}  // namespace cascade::executor
