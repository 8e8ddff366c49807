// Manifest media types and the parts of manifests, indexes and image configs cascade reads.
#include <nlohmann/json.hpp>

#include "internal.hpp"

namespace cascade::registry::detail {

using nlohmann::json;

const char* const kManifestAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

bool is_index(std::string_view media_type) {
  return media_type == "application/vnd.oci.image.index.v1+json" ||
         media_type == "application/vnd.docker.distribution.manifest.list.v2+json";
}

namespace {

Error bad(const std::string& registry, const std::string& message) {
  return Error{ErrorKind::invalid, registry, message, "", 0};
}

Expected<json, Error> parse_object(const std::string& registry, std::string_view body, const char* what) {
  json parsed = json::parse(body, nullptr, false);
  if (!parsed.is_object()) return unexpected(bad(registry, std::string(what) + " is not a JSON object"));
  return parsed;
}

std::string text(const json& object, const char* name) {
  return object.is_object() && object.contains(name) && object[name].is_string() ? object[name].get<std::string>() : "";
}

Expected<Descriptor, Error> descriptor(const std::string& registry, const json& entry, const char* what) {
  Descriptor found{text(entry, "mediaType"), text(entry, "digest")};
  if (found.digest.empty()) return unexpected(bad(registry, std::string(what) + " has a descriptor without a digest"));
  return found;
}

Expected<std::vector<json>, Error> manifest_entries(const std::string& registry, std::string_view index_body) {
  CASCADE_TRY_ASSIGN(auto index, parse_object(registry, index_body, "the index"));
  if (!index.contains("manifests") || !index["manifests"].is_array())
    return unexpected(bad(registry, "the index has no \"manifests\" list"));
  return index["manifests"].get<std::vector<json>>();
}

// Attestations and other non-images: platform unknown/unknown, or docker's reference type.
bool is_attestation(const json& entry) {
  const json empty = json::object();
  const json& platform = entry.contains("platform") ? entry["platform"] : empty;
  const json& annotations = entry.contains("annotations") ? entry["annotations"] : empty;
  return text(platform, "os") == "unknown" || text(platform, "architecture") == "unknown" ||
         text(annotations, "vnd.docker.reference.type") == "attestation-manifest";
}

// "os/architecture[/variant]" of an index entry's platform or an image config; empty without
// an os or an architecture.
std::string platform_text(const json& object) {
  std::string os = text(object, "os"), architecture = text(object, "architecture"), variant = text(object, "variant");
  if (os.empty() || architecture.empty()) return {};
  return os + "/" + architecture + (variant.empty() ? "" : "/" + variant);
}

}  // namespace

std::string media_type_of(const http::Response& response) {
  std::string type = response.headers.get("Content-Type").value_or("");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (!type.empty() && type != "application/json" && type != "text/plain") return type;
  json parsed = json::parse(response.body, nullptr, false);
  return parsed.is_object() ? text(parsed, "mediaType") : type;
}

Expected<std::string, Error> choose_platform(const std::string& registry, std::string_view index_body,
                                             const std::string& os, const std::string& architecture) {
  CASCADE_TRY_ASSIGN(auto entries, manifest_entries(registry, index_body));
  for (const json& entry : entries) {
    if (is_attestation(entry) || !entry.contains("platform")) continue;
    const json& platform = entry["platform"];
    if (text(platform, "os") == os && text(platform, "architecture") == architecture) {
      CASCADE_TRY_ASSIGN(auto found, descriptor(registry, entry, "the index"));
      return found.digest;
    }
  }
  return unexpected(Error{ErrorKind::not_found, registry, "the index has no " + os + "/" + architecture + " image", "", 404});
}

Expected<std::vector<Descriptor>, Error> children_of(const std::string& registry, std::string_view index_body) {
  CASCADE_TRY_ASSIGN(auto entries, manifest_entries(registry, index_body));
  std::vector<Descriptor> children;
  for (const json& entry : entries) {
    CASCADE_TRY_ASSIGN(auto child, descriptor(registry, entry, "the index"));
    children.push_back(child);
  }
  return children;
}

Expected<std::vector<PlatformManifest>, Error> platforms_of(const std::string& registry, std::string_view index_body) {
  CASCADE_TRY_ASSIGN(auto entries, manifest_entries(registry, index_body));
  std::vector<PlatformManifest> platforms;
  for (const json& entry : entries) {
    if (is_attestation(entry) || !entry.contains("platform")) continue;
    std::string platform = platform_text(entry["platform"]);
    if (platform.empty()) continue;  // not an image a platform can run
    CASCADE_TRY_ASSIGN(auto child, descriptor(registry, entry, "the index"));
    platforms.push_back({std::move(platform), std::move(child.digest)});
  }
  return platforms;
}

Expected<std::string, Error> config_platform(const std::string& registry, std::string_view config_body) {
  CASCADE_TRY_ASSIGN(auto config, parse_object(registry, config_body, "the image config"));
  return platform_text(config);
}

Expected<Descriptor, Error> config_of(const std::string& registry, std::string_view manifest_body) {
  CASCADE_TRY_ASSIGN(auto manifest, parse_object(registry, manifest_body, "the manifest"));
  if (!manifest.contains("config")) return unexpected(bad(registry, "the manifest has no config (schema 1?)"));
  return descriptor(registry, manifest["config"], "the manifest");
}

Expected<std::vector<Descriptor>, Error> blobs_of(const std::string& registry, std::string_view manifest_body) {
  CASCADE_TRY_ASSIGN(auto config, config_of(registry, manifest_body));
  std::vector<Descriptor> blobs{config};
  json manifest = json::parse(manifest_body, nullptr, false);
  if (manifest.contains("layers") && manifest["layers"].is_array()) {
    for (const json& layer : manifest["layers"]) {
      CASCADE_TRY_ASSIGN(auto found, descriptor(registry, layer, "the manifest"));
      blobs.push_back(found);
    }
  }
  return blobs;
}

Expected<std::map<std::string, std::string>, Error> labels_of(const std::string& registry, std::string_view config_body) {
  CASCADE_TRY_ASSIGN(auto config, parse_object(registry, config_body, "the image config"));
  std::map<std::string, std::string> labels;
  if (!config.contains("config") || !config["config"].is_object()) return labels;
  const json& inner = config["config"];
  if (!inner.contains("Labels") || !inner["Labels"].is_object()) return labels;
  for (const auto& [key, value] : inner["Labels"].items())
    if (value.is_string()) labels[key] = value.get<std::string>();
  return labels;
}

}  // namespace cascade::registry::detail
