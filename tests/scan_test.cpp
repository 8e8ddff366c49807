// scan::Scanner against a real docker-registry holding real images (package_images.hpp): a
// Debian 12 base from mmdebstrap, alpine- and rocky-style bases and images derived from them
// with buildah; what each image's packages and os are, which layer a package entered at,
// that a layer is read once (across scans, images and scanner restarts), and that a blob
// whose bytes do not match its digest is refused and nothing of it stored (a ScriptedServer
// acting as a tiny registry serves the corrupted blob).
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cascade/reference.hpp"
#include "cascade/registry.hpp"
#include "cascade/scan.hpp"
#include "cascade/store.hpp"
#include "package_images.hpp"

namespace pk = cascade::packages;
namespace registry = cascade::registry;
namespace scan = cascade::scan;
namespace store = cascade::store;
using namespace cascade::test;

namespace {

// One registry and one buildah storage for this test program; each image is built on first
// use and kept, since SUBCASEs run their TEST_CASE's body again.
class Images {
 public:
  static Images& get() {
    static Images images;
    return images;
  }
  std::string host() const { return registry_.host(); }
  const DockerRegistry& registry() const { return registry_; }

  /// The Debian 12 base's digest; nullopt (and why in unavailable()) without the archive.
  std::optional<std::string> debian() {
    if (!debian_tried_) {
      debian_tried_ = true;
      debian_ = push_debian_base(registry_, sandbox_, "base/debian:12", &debian_unavailable_);
    }
    return debian_;
  }
  const std::string& unavailable() const { return debian_unavailable_; }

  std::string debian_without_status() {
    return once("app/debian-nodpkg:1", [&] {
      return build_and_push(registry_, sandbox_, "app/debian-nodpkg:1",
                            "FROM " + host() + "/base/debian:12\nRUN rm /var/lib/dpkg/status\n");
    });
  }
  std::string alpine() {
    return once("base/alpine:3.20", [&] { return push_apk_base(registry_, sandbox_, "base/alpine:3.20"); });
  }
  /// bash appended to lib/apk/db/installed by a RUN step (busybox sh).
  std::string alpine_bash() {
    alpine();
    return once("app/alpine-bash:1", [&] {
      return build_and_push(registry_, sandbox_, "app/alpine-bash:1",
                            "FROM " + host() + "/base/alpine:3.20\nRUN printf '" + escaped_bash_block() +
                                "' >> /lib/apk/db/installed\n");
    });
  }
  /// Another image on the alpine base, with no package change.
  std::string alpine_motd() {
    alpine();
    return once("app/alpine-motd:1", [&] {
      return build_and_push(registry_, sandbox_, "app/alpine-motd:1",
                            "FROM " + host() + "/base/alpine:3.20\nRUN echo welcome > /etc/motd\n");
    });
  }
  std::string rocky() {
    return once("base/rocky:9", [&] { return push_rpm_base(registry_, sandbox_, "base/rocky:9"); });
  }
  std::string rocky_without_rpmdb() {
    rocky();
    return once("app/rocky-norpm:1", [&] {
      return build_and_push(registry_, sandbox_, "app/rocky-norpm:1",
                            "FROM " + host() + "/base/rocky:9\nRUN [\"/bin/busybox\", \"rm\", \"/var/lib/rpm/rpmdb.sqlite\"]\n");
    });
  }

 private:
  Images() = default;

  std::string once(const std::string& image, const std::function<std::string()>& build) {
    auto found = built_.find(image);
    if (found == built_.end()) found = built_.emplace(image, build()).first;
    return found->second;
  }

  // The bash block as a printf format: newlines written as \n.
  static std::string escaped_bash_block() {
    std::string block = apk_block("bash", "5.2.26-r0", "bash", "The GNU Bourne Again shell",
                                  "D:/bin/sh so:libc.musl-x86_64.so.1\nF:bin\nR:bash\na:0:0:755\n");
    std::string escaped;
    for (char c : block) escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
    return escaped;
  }

  DockerRegistry registry_;
  BuildahSandbox sandbox_;
  std::map<std::string, std::string> built_;
  bool debian_tried_ = false;
  std::optional<std::string> debian_;
  std::string debian_unavailable_;
};

// The failure's message, or nothing (doctest may render a message for a passing check).
template <typename T>
std::string why(const cascade::Expected<T, scan::Error>& result) {
  return result ? std::string() : result.error().message;
}

// A store in a temp file, a registry client for `hosts` (plain http) and a scanner on both.
struct Scanning {
  explicit Scanning(const std::vector<std::string>& hosts) : client(options(hosts, dir)), scanner(client, *store) {}

  static registry::Options options(const std::vector<std::string>& hosts, const TempDir& dir) {
    registry::Options options;
    for (const auto& host : hosts) options.registries.push_back({host, true, ""});
    options.docker_config = (dir / "no-config.json").string();
    options.read_auth_config_env = false;
    options.retry.attempts = 2;
    options.retry.initial_delay = std::chrono::milliseconds(1);
    return options;
  }
  static std::unique_ptr<store::Store> open(const TempDir& dir) {
    auto opened = store::open_sqlite((dir / "state.db").string());
    if (!opened) throw std::runtime_error("open_sqlite: " + opened.error().message);
    return std::move(*opened);
  }

  scan::ScannedImage must_scan(const std::string& image) {
    auto scanned = scanner.scan(cascade::test::image_ref(image));
    REQUIRE_MESSAGE(scanned, image << ": " << why(scanned));
    return *scanned;
  }

  TempDir dir;
  std::unique_ptr<store::Store> store = open(dir);
  registry::Client client;
  scan::Scanner scanner;
};

const pk::ImagePackage* find_package(const pk::ImageContents& contents, const std::string& name) {
  for (const auto& entry : contents.packages)
    if (entry.package.name == name) return &entry;
  return nullptr;
}

std::vector<std::string> names(const pk::ImageContents& contents) {
  std::vector<std::string> result;
  for (const auto& entry : contents.packages) result.push_back(entry.package.name);
  return result;
}

// What the mmdebstrap tarball's own dpkg status says: bash's stanza and the count of
// installed packages, read with tar and plain string search (not cascade's parser).
struct DebianTruth {
  std::string bash_version;
  std::string bash_source;  // the Source: line's value
  std::size_t installed = 0;
};

DebianTruth debian_truth() {
  auto tar = run({"tar", "-xOf", debian_rootfs().tarball, "./var/lib/dpkg/status"});
  REQUIRE_MESSAGE(tar.exit_code == 0, tar.err);
  DebianTruth truth;
  std::istringstream lines(tar.out);
  bool in_bash = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("Package: ", 0) == 0) in_bash = line == "Package: bash";
    if (line == "Status: install ok installed") ++truth.installed;
    if (in_bash && line.rfind("Version: ", 0) == 0) truth.bash_version = line.substr(9);
    if (in_bash && line.rfind("Source: ", 0) == 0) truth.bash_source = line.substr(8);
  }
  REQUIRE(!truth.bash_version.empty());
  return truth;
}

}  // namespace

TEST_CASE("scan::Scanner: a real Debian 12 image") {
  Images& images = Images::get();
  std::optional<std::string> base = images.debian();
  if (!base) {
    MESSAGE("cannot run the Debian image cases: " << images.unavailable());
    return;
  }
  Scanning scanning({images.host()});

  SUBCASE("lists bash with its real dpkg version and source, every installed package, and the os debian 12") {
    scan::ScannedImage scanned = scanning.must_scan(images.host() + "/base/debian:12");
    CHECK(scanned.digest == *base);
    CHECK(scanned.image_digest == *base);
    CHECK(scanned.layers.size() == 1);
    DebianTruth truth = debian_truth();
    const pk::ImagePackage* bash = find_package(scanned.contents, "bash");
    REQUIRE(bash != nullptr);
    CHECK(bash->format == pk::Format::dpkg);
    CHECK(bash->layer == 0);
    CHECK(bash->package.version == truth.bash_version);
    CHECK(bash->package.source_name == "bash");
    CHECK("bash (" + bash->package.source_version + ")" == truth.bash_source);
    CHECK(find_package(scanned.contents, "libc6")->package.source_name == "glibc");
    CHECK(scanned.contents.packages.size() == truth.installed);
    REQUIRE(scanned.contents.os.has_value());  // etc/os-release is a link to ../usr/lib/os-release
    CHECK(scanned.contents.os->id == "debian");
    CHECK(scanned.contents.os->version_id == "12");
    CHECK(pk::distro_name(*scanned.contents.os) == "debian 12");
    CHECK(scanned.contents.problems.empty());
  }
  SUBCASE("RUN rm /var/lib/dpkg/status in a derived image whites out every package; only its layer is read") {
    scanning.must_scan(images.host() + "/base/debian:12");
    std::string derived = images.debian_without_status();
    scan::ScannedImage scanned = scanning.must_scan(images.host() + "/app/debian-nodpkg:1");
    CHECK(scanned.digest == derived);
    CHECK(scanned.layers.size() == 2);
    CHECK(scanned.contents.packages.empty());
    CHECK_FALSE(scanned.contents.has_database);
    REQUIRE(scanned.contents.os.has_value());
    CHECK(scanned.contents.os->id == "debian");
    scan::Stats stats = scanning.scanner.stats();
    CHECK(stats.layers_read == 2);
    CHECK(stats.layers_known == 1);
  }
}

TEST_CASE("scan::Scanner: alpine- and rocky-style images") {
  Images& images = Images::get();
  Scanning scanning({images.host()});

  SUBCASE("an alpine image lists its apk packages at layer 0, no bash, and the os alpine 3.20.3") {
    images.alpine();
    scan::ScannedImage scanned = scanning.must_scan(images.host() + "/base/alpine:3.20");
    CHECK(names(scanned.contents) == std::vector<std::string>{"apk-tools", "busybox", "busybox-binsh", "musl"});
    for (const auto& entry : scanned.contents.packages) {
      CHECK(entry.format == pk::Format::apk);
      CHECK(entry.layer == 0);
    }
    CHECK(find_package(scanned.contents, "busybox-binsh")->package.source_name == "busybox");
    REQUIRE(scanned.contents.os.has_value());
    CHECK(scanned.contents.os->id == "alpine");
    CHECK(scanned.contents.os->version_id == "3.20.3");
  }
  SUBCASE("bash appended to the apk database by a RUN step enters at the derived image's own layer") {
    images.alpine_bash();
    std::size_t base_layers = scanning.must_scan(images.host() + "/base/alpine:3.20").layers.size();
    scan::ScannedImage scanned = scanning.must_scan(images.host() + "/app/alpine-bash:1");
    REQUIRE(scanned.layers.size() > base_layers);
    const pk::ImagePackage* bash = find_package(scanned.contents, "bash");
    REQUIRE(bash != nullptr);
    CHECK(bash->layer >= base_layers);
    CHECK(bash->layer < scanned.layers.size());
    CHECK(bash->package.version == "5.2.26-r0");
    CHECK(bash->format == pk::Format::apk);
    CHECK(find_package(scanned.contents, "musl")->layer == 0);  // the rewritten database kept it
  }
  SUBCASE("a rocky image lists the rpmdb.sqlite packages and the os through the etc/os-release link") {
    images.rocky();
    scan::ScannedImage scanned = scanning.must_scan(images.host() + "/base/rocky:9");
    std::vector<std::string> found = names(scanned.contents);
    for (const char* name : {"cascade-hello", "cascade-hello-doc", "cascade-tiny"})
      CHECK_MESSAGE(std::count(found.begin(), found.end(), name) == 1, name);
    CHECK(std::count(found.begin(), found.end(), "gpg-pubkey") == 0);
    CHECK(find_package(scanned.contents, "cascade-hello-doc")->package.source_name == "cascade-hello");
    CHECK(find_package(scanned.contents, "cascade-tiny")->format == pk::Format::rpm);
    REQUIRE(scanned.contents.os.has_value());
    CHECK(scanned.contents.os->id == "rocky");
    CHECK(scanned.contents.os->version_id == "9.3");
  }
  SUBCASE("removing rpmdb.sqlite in a derived image removes the rpm packages") {
    images.rocky_without_rpmdb();
    scan::ScannedImage scanned = scanning.must_scan(images.host() + "/app/rocky-norpm:1");
    CHECK(scanned.layers.size() == 2);
    CHECK(scanned.contents.packages.empty());
    REQUIRE(scanned.contents.os.has_value());
    CHECK(scanned.contents.os->id == "rocky");
  }
}

TEST_CASE("scan::Scanner: each layer is read once") {
  Images& images = Images::get();
  images.alpine_bash();
  images.alpine_motd();
  std::string bash_image = images.host() + "/app/alpine-bash:1";
  std::string motd_image = images.host() + "/app/alpine-motd:1";
  Scanning scanning({images.host()});

  SUBCASE("scanning the same image twice reads no layer the second time") {
    scan::ScannedImage first = scanning.must_scan(bash_image);
    scan::Stats before = scanning.scanner.stats();
    CHECK(before.layers_read == first.layers.size());
    CHECK(before.layers_known == 0);
    CHECK(before.bytes_read > 0);
    scan::ScannedImage second = scanning.must_scan(bash_image);
    scan::Stats after = scanning.scanner.stats();
    CHECK(after.layers_read == before.layers_read);
    CHECK(after.bytes_read == before.bytes_read);
    CHECK(after.layers_known == before.layers_known + second.layers.size());
    CHECK(after.manifests_read == before.manifests_read + 1);  // a tag: its manifest is asked for again
    CHECK(after.images == 2);
    CHECK(names(second.contents) == names(first.contents));
  }
  SUBCASE("an image named by a digest seen before needs no request at all") {
    scan::ScannedImage first = scanning.must_scan(bash_image);
    scan::Stats before = scanning.scanner.stats();
    scan::ScannedImage by_digest = scanning.must_scan(images.host() + "/app/alpine-bash@" + first.digest);
    scan::Stats after = scanning.scanner.stats();
    CHECK(after.manifests_read == before.manifests_read);
    CHECK(after.layers_read == before.layers_read);
    CHECK(by_digest.layers == first.layers);
    CHECK(find_package(by_digest.contents, "bash") != nullptr);
  }
  SUBCASE("a scanner restarted on the same store reads no layer") {
    scanning.must_scan(bash_image);
    scan::Scanner restarted(scanning.client, *scanning.store);
    auto again = restarted.scan(cascade::test::image_ref(bash_image));
    REQUIRE_MESSAGE(again, why(again));
    CHECK(restarted.stats().layers_read == 0);
    CHECK(find_package(again->contents, "bash") != nullptr);
  }
  SUBCASE("a second image sharing the base reads only its own new layers") {
    scan::ScannedImage bash = scanning.must_scan(bash_image);
    scan::Stats before = scanning.scanner.stats();
    scan::ScannedImage motd = scanning.must_scan(motd_image);
    REQUIRE(motd.layers.front() == bash.layers.front());
    scan::Stats after = scanning.scanner.stats();
    CHECK(after.layers_read - before.layers_read == motd.layers.size() - 1);
    CHECK(after.layers_known - before.layers_known == 1);
    CHECK(find_package(motd.contents, "bash") == nullptr);
  }
  SUBCASE("scan_all reads a layer shared by two images once and reports progress per image") {
    std::vector<std::pair<std::size_t, std::size_t>> progress;
    auto results = scanning.scanner.scan_all({cascade::test::image_ref(bash_image), cascade::test::image_ref(motd_image)},
                                             [&](std::size_t done, std::size_t total) { progress.emplace_back(done, total); });
    REQUIRE(results.size() == 2);
    REQUIRE_MESSAGE(results[0], why(results[0]));
    REQUIRE_MESSAGE(results[1], why(results[1]));
    CHECK(find_package(results[0]->contents, "bash") != nullptr);
    CHECK(find_package(results[1]->contents, "bash") == nullptr);
    CHECK(scanning.scanner.stats().layers_read == results[0]->layers.size() + results[1]->layers.size() - 1);
    CHECK(progress == std::vector<std::pair<std::size_t, std::size_t>>{{1, 2}, {2, 2}});
  }
  SUBCASE("stored() answers from the store alone, and nullopt for a digest never scanned") {
    scan::ScannedImage scanned = scanning.must_scan(bash_image);
    auto stored = scanning.scanner.stored(bash_image, scanned.image_digest);
    REQUIRE_MESSAGE(stored, why(stored));
    REQUIRE(stored->has_value());
    CHECK((*stored)->layers == scanned.layers);
    CHECK(names((*stored)->contents) == names(scanned.contents));
    auto never = scanning.scanner.stored(motd_image, std::string("sha256:") + std::string(64, '0'));
    REQUIRE_MESSAGE(never, why(never));
    CHECK_FALSE(never->has_value());
  }
}

namespace {

const std::string kStatus =
    "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nSource: bash (5.2.15-2)\n"
    "Version: 5.2.15-2+b8\n\nPackage: libc6\nStatus: install ok installed\nArchitecture: amd64\n"
    "Source: glibc\nVersion: 2.36-9+deb12u14\n";

// A one-layer image (dpkg status and os-release) made here, compressed as asked.
LayoutImage hand_made_image(Compression compression) {
  return layout_image({make_tar({tar_file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
                                 tar_file("var/lib/dpkg/status", kStatus)})},
                      compression);
}

// A tiny registry serving `image` as <repository>:1, with `layer` as its layer's bytes.
Reply tiny_registry(const Received& request, const std::string& repository, const LayoutImage& image,
                    const std::string& layer) {
  std::string prefix = "/v2/" + repository + "/";
  auto blob = [](const std::string& bytes, const std::string& digest) {
    return Reply{200, {{"Content-Type", "application/octet-stream"}, {"Docker-Content-Digest", digest}}, bytes};
  };
  if (request.target == "/v2/")
    return {200, {{"Docker-Distribution-API-Version", "registry/2.0"}, {"Content-Type", "application/json"}}, "{}"};
  if (request.target == prefix + "manifests/1" || request.target == prefix + "manifests/" + image.manifest_digest)
    return {200,
            {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"},
             {"Docker-Content-Digest", image.manifest_digest},
             {"Docker-Distribution-API-Version", "registry/2.0"}},
            image.manifest};
  if (request.target == prefix + "blobs/" + image.config_digest) return blob(image.config, image.config_digest);
  if (request.target == prefix + "blobs/" + image.layer_digests[0]) return blob(layer, image.layer_digests[0]);
  return {404, {{"Content-Type", "application/json"}}, "{\"errors\":[{\"code\":\"NOT_FOUND\",\"message\":\"unknown\"}]}"};
}

}  // namespace

TEST_CASE("scan::Scanner: layer bytes from the registry") {
  Images& images = Images::get();
  TempDir dir;

  SUBCASE("a blob whose bytes do not match its digest fails, nothing of it is stored, and a good copy is read later") {
    LayoutImage image = hand_made_image(Compression::gzip);
    push_layout_image(image, dir / "layout", images.host(), "hand/corrupt:1");
    // The gzip header's MTIME: the stream still decompresses to the same tar, only the digest differs.
    std::string corrupted = image.layers[0];
    corrupted[4] = static_cast<char>(corrupted[4] ^ 0x5a);
    REQUIRE(sha256(corrupted) != image.layer_digests[0]);
    ScriptedServer tiny([&](const Received& request) { return tiny_registry(request, "hand/corrupt", image, corrupted); });
    Scanning scanning({images.host(), tiny.host()});

    auto failed = scanning.scanner.scan(cascade::test::image_ref(tiny.host() + "/hand/corrupt:1"));
    REQUIRE_FALSE(failed);
    CHECK(failed.error().kind == scan::Error::Kind::invalid);
    CHECK_MESSAGE(failed.error().message.find(image.layer_digests[0]) != std::string::npos, failed.error().message);
    auto known = scanning.store->known_layers({image.layer_digests[0]});
    REQUIRE(known);
    CHECK(known->empty());

    std::size_t read_before = scanning.scanner.stats().layers_read;
    scan::ScannedImage good = scanning.must_scan(images.host() + "/hand/corrupt:1");
    CHECK(scanning.scanner.stats().layers_read == read_before + 1);
    CHECK(good.layers == image.layer_digests);
    CHECK(names(good.contents) == std::vector<std::string>{"bash", "libc6"});
    known = scanning.store->known_layers({image.layer_digests[0]});
    REQUIRE(known);
    CHECK(known->size() == 1);
  }
  SUBCASE("zstd and uncompressed OCI layers are read as gzip ones are") {
    for (Compression compression : {Compression::zstd, Compression::none}) {
      LayoutImage image = hand_made_image(compression);
      std::string name = compression == Compression::zstd ? "hand/zstd:1" : "hand/plain:1";
      std::string pushed = push_layout_image(image, dir / image_slug(name), images.host(), name);
      Scanning scanning({images.host()});
      scan::ScannedImage scanned = scanning.must_scan(images.host() + "/" + name);
      CHECK(scanned.digest == pushed);
      CHECK(names(scanned.contents) == std::vector<std::string>{"bash", "libc6"});
      CHECK(scanning.scanner.stats().bytes_read == image.layers[0].size());
      REQUIRE(scanned.contents.os.has_value());
      CHECK(scanned.contents.os->id == "debian");
    }
  }
}
