// Registry operations: ping, manifests and digests, image labels, tags, copies.
#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <thread>

#include "internal.hpp"

namespace cascade::registry {

using namespace detail;

namespace {

std::string pull_scope(const std::string& path) { return "repository:" + path + ":pull"; }
std::string push_scope(const std::string& path) { return "repository:" + path + ":pull,push"; }
std::string manifest_target(const std::string& path, const std::string& ref) { return "/v2/" + path + "/manifests/" + ref; }

// The tag, else the digest: what goes after /manifests/.
std::string object_of(const reference::Reference& image) { return image.digest.empty() ? image.tag : image.digest; }

Call manifest_call(const reference::Reference& image, const char* method) {
  Call call{image.domain, method, manifest_target(image.path, object_of(image)), {}, {}, {pull_scope(image.path)}};
  call.headers.set("Accept", kManifestAccept);
  return call;
}

reference::Reference with_digest(reference::Reference image, const std::string& digest) {
  image.digest = digest;
  return image;
}

}  // namespace

class Client::Impl {
 public:
  explicit Impl(Options options) : options(std::move(options)), transport(this->options) {}

  /// Sends `call` and keeps the response only when its status is one of `wanted`.
  Expected<http::Response, Error> expect(const Call& call, std::initializer_list<int> wanted, const std::string& what) {
    CASCADE_TRY_ASSIGN(auto response, transport.send(call));
    for (int status : wanted)
      if (response.status == status) return response;
    return unexpected(from_status(call.registry, response, what));
  }

  Expected<std::string, Error> get_blob(const reference::Reference& image, const std::string& digest);
  Expected<void, Error> put_manifest(const reference::Reference& to, const std::string& ref, const Manifest& manifest,
                                     const std::vector<std::string>& scopes);
  Expected<void, Error> mount(const reference::Reference& from, const reference::Reference& to, const Descriptor& blob);
  Expected<void, Error> upload(const reference::Reference& from, const reference::Reference& to, const Descriptor& blob);
  Expected<void, Error> link_contents(Client& client, const reference::Reference& from, const reference::Reference& to,
                                      const Manifest& manifest, int depth);

  Options options;
  Transport transport;
};

Client::Client(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

std::size_t Client::connections_opened() const { return impl_->transport.connections_opened(); }

Expected<void, Error> Client::ping(const std::string& registry_host) {
  CASCADE_TRY(impl_->expect(Call{registry_host, "GET", "/v2/", {}, {}, {}}, {200}, "ping /v2/"));
  return {};
}

Expected<Manifest, Error> Client::get_manifest(const reference::Reference& image) {
  CASCADE_TRY_ASSIGN(auto response, impl_->expect(manifest_call(image, "GET"), {200}, "manifest " + image.familiar()));
  if (!image.digest.empty()) {
    CASCADE_TRY(verify_digest(image.domain, image.digest, response.body, "manifest " + image.familiar()));
  }
  std::string digest = image.digest.empty() ? sha256_digest(response.body) : image.digest;
  return Manifest{digest, media_type_of(response), std::move(response.body)};
}

Expected<std::string, Error> Client::resolve_digest(const reference::Reference& image) {
  if (!image.digest.empty()) return image.digest;
  CASCADE_TRY_ASSIGN(auto response, impl_->expect(manifest_call(image, "HEAD"), {200}, "manifest " + image.familiar()));
  auto header = response.headers.get("Docker-Content-Digest");
  if (header && reference::validate_digest(*header)) return *header;
  CASCADE_TRY_ASSIGN(auto manifest, get_manifest(image));  // no digest header: hash the body ourselves
  return manifest.digest;
}

Expected<std::string, Error> Client::Impl::get_blob(const reference::Reference& image, const std::string& digest) {
  Call call{image.domain, "GET", "/v2/" + image.path + "/blobs/" + digest, {}, {}, {pull_scope(image.path)}};
  std::string what = "blob " + digest + " of " + image.repository();
  CASCADE_TRY_ASSIGN(auto response, expect(call, {200}, what));
  CASCADE_TRY(verify_digest(image.domain, digest, response.body, what));
  return std::move(response.body);
}

Expected<std::pair<Manifest, Manifest>, Error> Client::platform_manifest(const reference::Reference& image) {
  CASCADE_TRY_ASSIGN(auto top, get_manifest(image));
  if (!is_index(top.media_type)) return std::pair{top, top};
  CASCADE_TRY_ASSIGN(auto child, choose_platform(image.domain, top.body, impl_->options.platform_os,
                                                 impl_->options.platform_architecture));
  CASCADE_TRY_ASSIGN(auto manifest, get_manifest(with_digest(image, child)));
  return std::pair{std::move(top), std::move(manifest)};
}

Expected<ImageInfo, Error> Client::inspect(const reference::Reference& image) {
  CASCADE_TRY_ASSIGN(auto manifests, platform_manifest(image));
  const auto& [top, chosen] = manifests;
  ImageInfo info;
  info.digest = top.digest;
  info.media_type = top.media_type;
  info.image_digest = chosen.digest;
  info.index = is_index(top.media_type);
  CASCADE_TRY_ASSIGN(auto config, config_of(image.domain, chosen.body));
  info.config_digest = config.digest;
  CASCADE_TRY_ASSIGN(auto blob, impl_->get_blob(image, config.digest));
  CASCADE_TRY_ASSIGN(info.labels, labels_of(image.domain, blob));
  // The platforms come from what was fetched anyway: the index's entries (no request per
  // child), or the config of a single image.
  if (info.index) {
    CASCADE_TRY_ASSIGN(info.platforms, platforms_of(image.domain, top.body));
  } else {
    CASCADE_TRY_ASSIGN(auto platform, config_platform(image.domain, blob));
    if (!platform.empty()) info.platforms.push_back({std::move(platform), top.digest});
  }
  return info;
}

Expected<std::vector<std::string>, Error> Client::list_tags(const reference::Reference& repository) {
  std::string target = "/v2/" + repository.path + "/tags/list";
  if (impl_->options.tag_page_size > 0) target += "?n=" + std::to_string(impl_->options.tag_page_size);
  std::vector<std::string> tags;
  for (int page = 0; page < 100'000 && !target.empty(); ++page) {
    Call call{repository.domain, "GET", target, {}, {}, {pull_scope(repository.path)}};
    CASCADE_TRY_ASSIGN(auto response, impl_->expect(call, {200}, "tags of " + repository.repository()));
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    if (!body.is_object()) return unexpected(Error{ErrorKind::invalid, repository.domain, "tag list is not JSON", "", 200});
    if (body.contains("tags") && body["tags"].is_array())
      for (const auto& tag : body["tags"])
        if (tag.is_string()) tags.push_back(tag.get<std::string>());
    std::string next = next_link(response.headers);
    if (next.empty()) break;
    CASCADE_TRY_ASSIGN(target, impl_->transport.same_host_target(repository.domain, target, next));
  }
  return tags;
}

Expected<std::string, Error> Client::copy(const reference::Reference& from, const reference::Reference& to) {
  if (from.domain != to.domain)
    return unexpected(Error{ErrorKind::invalid, to.domain, "copying from " + from.domain + " to another registry is not supported", "", 0});
  CASCADE_TRY_ASSIGN(auto source, get_manifest(from));
  if (!to.digest.empty() && to.digest != source.digest)
    return unexpected(Error{ErrorKind::invalid, to.domain, "target digest " + to.digest + " differs from the source's", "", 0});
  if (from.path != to.path) CASCADE_TRY(impl_->link_contents(*this, from, to, source, 0));
  std::vector<std::string> scopes{push_scope(to.path)};
  if (from.path != to.path) scopes.push_back(pull_scope(from.path));
  CASCADE_TRY(impl_->put_manifest(to, to.tag.empty() ? source.digest : to.tag, source, scopes));
  return source.digest;
}

Expected<std::string, Error> Client::put_manifest(const reference::Reference& to, const Manifest& manifest) {
  CASCADE_TRY(impl_->put_manifest(to, to.tag.empty() ? manifest.digest : to.tag, manifest, {push_scope(to.path)}));
  return manifest.digest;
}

Expected<void, Error> Client::Impl::put_manifest(const reference::Reference& to, const std::string& ref,
                                                 const Manifest& manifest, const std::vector<std::string>& scopes) {
  Call call{to.domain, "PUT", manifest_target(to.path, ref), {}, manifest.body, scopes};
  call.headers.set("Content-Type", manifest.media_type);
  CASCADE_TRY_ASSIGN(auto response, expect(call, {200, 201, 202}, "storing manifest " + to.path + ":" + ref));
  auto stored = response.headers.get("Docker-Content-Digest");
  if (stored && !stored->empty() && *stored != manifest.digest)
    return unexpected(Error{ErrorKind::invalid, to.domain, "the registry stored " + to.path + ":" + ref + " as " + *stored +
                                                              ", not " + manifest.digest, "", response.status});
  return {};
}

Expected<void, Error> Client::Impl::link_contents(Client& client, const reference::Reference& from,
                                                  const reference::Reference& to, const Manifest& manifest, int depth) {
  if (depth > 2) return unexpected(Error{ErrorKind::invalid, from.domain, "indexes nested too deep in " + from.familiar(), "", 0});
  if (!is_index(manifest.media_type)) {
    CASCADE_TRY_ASSIGN(auto blobs, blobs_of(from.domain, manifest.body));
    for (const auto& blob : blobs) CASCADE_TRY(mount(from, to, blob));
    return {};
  }
  CASCADE_TRY_ASSIGN(auto children, children_of(from.domain, manifest.body));
  for (const auto& child : children) {
    CASCADE_TRY_ASSIGN(auto child_manifest, client.get_manifest(with_digest(from, child.digest)));
    CASCADE_TRY(link_contents(client, from, to, child_manifest, depth + 1));
    CASCADE_TRY(put_manifest(to, child.digest, child_manifest, {push_scope(to.path), pull_scope(from.path)}));
  }
  return {};
}

Expected<void, Error> Client::Impl::mount(const reference::Reference& from, const reference::Reference& to,
                                          const Descriptor& blob) {
  Call call{to.domain, "POST", "/v2/" + to.path + "/blobs/uploads/?mount=" + blob.digest + "&from=" + from.path, {}, {},
            {push_scope(to.path), pull_scope(from.path)}};
  CASCADE_TRY_ASSIGN(auto response, expect(call, {201, 202}, "mounting " + blob.digest + " from " + from.path));
  if (response.status == 201) return {};
  // 202: no mount, an upload session instead. Cancel it and copy the bytes.
  if (auto location = response.headers.get("Location")) {
    auto session = transport.same_host_target(to.domain, call.target, *location);
    if (session) (void)transport.send(Call{to.domain, "DELETE", *session, {}, {}, {push_scope(to.path)}});
  }
  return upload(from, to, blob);
}

Expected<void, Error> Client::Impl::upload(const reference::Reference& from, const reference::Reference& to,
                                           const Descriptor& blob) {
  CASCADE_TRY_ASSIGN(auto bytes, get_blob(from, blob.digest));
  std::vector<std::string> scopes{push_scope(to.path)};
  Call start{to.domain, "POST", "/v2/" + to.path + "/blobs/uploads/", {}, {}, scopes};
  CASCADE_TRY_ASSIGN(auto opened, expect(start, {202}, "starting an upload to " + to.path));
  CASCADE_TRY_ASSIGN(auto session,
                     transport.same_host_target(to.domain, start.target, opened.headers.get("Location").value_or("")));
  std::string target = session + (session.find('?') == std::string::npos ? "?" : "&") + "digest=" + blob.digest;
  Call put{to.domain, "PUT", target, {}, std::move(bytes), scopes};
  put.headers.set("Content-Type", "application/octet-stream");
  CASCADE_TRY(expect(put, {201}, "uploading " + blob.digest + " to " + to.path));
  return {};
}

Expected<ImageManifest, Error> Registry::image_manifest(const reference::Reference& image) {
  return unexpected(Error{ErrorKind::invalid, image.domain, "this registry backend cannot read manifests", "", 0});
}

Expected<void, Error> Registry::stream_blob(const reference::Reference& repository, const BlobDescriptor&, const BlobSink&) {
  return unexpected(Error{ErrorKind::invalid, repository.domain, "this registry backend cannot read blobs", "", 0});
}

Expected<ImageManifest, Error> Client::image_manifest(const reference::Reference& image) {
  CASCADE_TRY_ASSIGN(auto manifests, platform_manifest(image));
  const auto& [top, chosen] = manifests;
  ImageManifest result{top.digest, chosen.digest, {}};
  auto parsed = nlohmann::json::parse(chosen.body, nullptr, false);
  if (!parsed.is_object() || !parsed.contains("layers") || !parsed["layers"].is_array())
    return unexpected(Error{ErrorKind::invalid, image.domain, "manifest " + image.familiar() + " has no layers array", "", 0});
  for (const auto& layer : parsed["layers"]) {
    if (!layer.is_object() || !layer.contains("digest") || !layer["digest"].is_string() ||
        !reference::validate_digest(layer["digest"].get<std::string>()))
      return unexpected(Error{ErrorKind::invalid, image.domain, "manifest " + image.familiar() + " has a layer without a valid digest", "", 0});
    BlobDescriptor blob{layer["digest"].get<std::string>(), "", 0};
    if (layer.contains("mediaType") && layer["mediaType"].is_string()) blob.media_type = layer["mediaType"].get<std::string>();
    if (layer.contains("size") && layer["size"].is_number_unsigned()) blob.size = layer["size"].get<std::uint64_t>();
    result.layers.push_back(std::move(blob));
  }
  return result;
}

namespace {

// Hashes a blob as it streams past, with the algorithm its digest names.
class StreamHash {
 public:
  explicit StreamHash(const std::string& digest) : context_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    std::string algorithm = digest.substr(0, digest.find(':'));
    const EVP_MD* md = algorithm == "sha256" ? EVP_sha256() : algorithm == "sha384" ? EVP_sha384()
                     : algorithm == "sha512" ? EVP_sha512() : nullptr;
    if (md && EVP_DigestInit_ex(context_.get(), md, nullptr) == 1) algorithm_ = algorithm;
  }
  bool usable() const { return !algorithm_.empty(); }
  void add(std::string_view bytes) { EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()); }
  std::string finish() {
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(context_.get(), hash, &size);
    static const char* hex = "0123456789abcdef";
    std::string text = algorithm_ + ":";
    for (unsigned int i = 0; i < size; ++i) text += {hex[hash[i] >> 4], hex[hash[i] & 15]};
    return text;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> context_;
  std::string algorithm_;
};

}  // namespace

Expected<void, Error> Client::stream_blob(const reference::Reference& repository, const BlobDescriptor& blob,
                                          const BlobSink& sink) {
  std::string what = "blob " + blob.digest + " of " + repository.repository();
  for (int attempt = 1;; ++attempt) {
    StreamHash hash(blob.digest);
    if (!hash.usable()) return unexpected(Error{ErrorKind::invalid, repository.domain, what + ": unsupported digest", "", 0});
    std::uint64_t delivered = 0;
    Call call{repository.domain, "GET", "/v2/" + repository.path + "/blobs/" + blob.digest, {}, {}, {pull_scope(repository.path)}};
    call.attempts = 1;
    call.body_sink = [&](std::string_view chunk) {
      hash.add(chunk);
      delivered += chunk.size();
      return sink(chunk);
    };
    auto response = impl_->expect(call, {200}, what);
    if (!response) {
      bool retry = delivered == 0 && response.error().transient() && attempt < impl_->options.retry.attempts;
      if (retry) {
        std::this_thread::sleep_for(impl_->options.retry.initial_delay * attempt);
        continue;
      }
      return unexpected(response.error());
    }
    if (blob.size != 0 && delivered != blob.size)
      return unexpected(Error{ErrorKind::invalid, repository.domain, what + ": " + std::to_string(delivered) +
                                                                         " bytes, the manifest says " + std::to_string(blob.size), "", 200});
    std::string actual = hash.finish();
    if (actual != blob.digest)
      return unexpected(Error{ErrorKind::invalid, repository.domain, what + ": content hashes to " + actual, "", 200});
    return {};
  }
}

}  // namespace cascade::registry
