// Package exposure from the store alone, stepped on hand-made layer indexes in a temporary
// SQLite store: which subjects carry the package, the version compared, the fix, and where
// it enters (external base, or the fleet image whose own layers installed it), also after
// the base moved on to a fixed digest.
#include <doctest/doctest.h>

#include "cascade/exposure.hpp"
#include "support.hpp"

using namespace cascade;
namespace pk = cascade::packages;
namespace st = cascade::store;

namespace {

std::string digest(char c) { return "sha256:" + std::string(64, c); }

pk::LayerIndex layer(char id, std::vector<pk::LayerFile> files) {
  return pk::LayerIndex{digest(id), std::move(files), {}, {}, 100};
}

pk::LayerFile database(pk::FileKind kind, const std::string& path, std::vector<pk::Package> packages) {
  pk::LayerFile file;
  file.kind = kind;
  file.path = path;
  file.packages = std::move(packages);
  return file;
}

pk::LayerFile os_release(const std::string& id, const std::string& version) {
  pk::LayerFile file;
  file.kind = pk::FileKind::os_release;
  file.path = "etc/os-release";
  file.os = pk::OsRelease{id, version, "", "", ""};
  return file;
}

const pk::Package kBash{"bash", "5.2.15-2+b8", "bash", "5.2.15-2", "amd64"};
const pk::Package kBashFixed{"bash", "5.2.15-2+deb12u1", "bash", "5.2.15-2+deb12u1", "amd64"};
const pk::Package kMusl{"musl", "1.2.5-r0", "musl", "1.2.5-r0", "x86_64"};
const pk::Package kApkBash{"bash", "5.2.26-r0", "bash", "5.2.26-r0", "x86_64"};

const char* kAdvisory = R"({"id": "x_T-1", "modified": "2026-01-01T00:00:00Z", "affected": [
  {"package": {"ecosystem": "Debian:12", "name": "bash"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.2.15-2+deb12u1"}]}]},
  {"package": {"ecosystem": "Alpine:v3.20", "name": "bash"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.2.26-r1"}]}]}]})";

// debian:12 (layer a) <- web (a, b); alpine:3.20 (c) <- tool (c, d: installs bash) <- tool-cli (c, d, e);
// a workload runs web.
class Fleet {
 public:
  Fleet() {
    auto opened = st::open_sqlite((dir_ / "state.db").string());
    REQUIRE(opened);
    store = std::move(*opened);
    put(layer('a', {database(pk::FileKind::dpkg_status, "var/lib/dpkg/status", {kBash}), os_release("debian", "12")}));
    put(layer('b', {}));
    put(layer('c', {database(pk::FileKind::apk_installed, "lib/apk/db/installed", {kMusl}), os_release("alpine", "3.20.3")}));
    put(layer('d', {database(pk::FileKind::apk_installed, "lib/apk/db/installed", {kMusl, kApkBash})}));
    put(layer('e', {}));
    image(st::ScanRole::external, "debian:12", '1', {'a'});
    image(st::ScanRole::fleet, "r/web:1", '2', {'a', 'b'});
    image(st::ScanRole::external, "alpine:3.20", '3', {'c'});
    image(st::ScanRole::fleet, "r/tool:1", '4', {'c', 'd'});
    image(st::ScanRole::fleet, "r/tool-cli:1", '5', {'c', 'd', 'e'});
    REQUIRE(store->record_image_scan({st::ScanRole::workload, "podman/web", "r/web:1", digest('2'), {}}));
  }
  void put(const pk::LayerIndex& index) { REQUIRE(store->put_layer_index(index)); }
  void image(st::ScanRole role, const std::string& name, char id, std::vector<char> layers) {
    st::ImageLayers record{digest(id), digest(id), {}};
    for (char c : layers) record.layers.push_back(digest(c));
    REQUIRE(store->put_image_layers(record));
    REQUIRE(store->record_image_scan({role, name, name, digest(id), {}}));
  }
  std::map<std::string, app::Exposure> by_subject(const app::ExposureReport& report) {
    std::map<std::string, app::Exposure> out;
    for (const auto& item : report.images) out[item.subject] = item;
    for (const auto& item : report.workloads) out[item.subject] = item;
    return out;
  }
  std::unique_ptr<st::Store> store;

 private:
  test::TempDir dir_;
};

}  // namespace

TEST_CASE("app::exposure") {
  Fleet fleet;

  SUBCASE("a constraint: every carrier, and where the package enters") {
    auto question = app::package_question("bash<6");
    REQUIRE(question);
    auto report = app::exposure(*fleet.store, *question);
    REQUIRE(report);
    auto found = fleet.by_subject(*report);
    CHECK(report->images.size() == 4);
    CHECK(report->workloads.size() == 1);
    CHECK(found["debian:12"].enters == "debian:12");
    CHECK(found["r/web:1"].enters == "debian:12");
    CHECK(found["r/web:1"].enters_role == st::ScanRole::external);
    CHECK(found["r/tool:1"].enters == "r/tool:1");
    CHECK(found["r/tool:1"].enters_role == st::ScanRole::fleet);
    CHECK(found["r/tool-cli:1"].enters == "r/tool:1");
    CHECK(found["podman/web"].enters == "debian:12");
    CHECK(found["r/tool:1"].distro == "alpine 3.20");
    CHECK_FALSE(found.count("alpine:3.20"));
  }
  SUBCASE("a constraint compares in the package's own ordering") {
    auto older = app::package_question("bash<5.2.15-2+b8");
    REQUIRE(older);
    auto report = app::exposure(*fleet.store, *older);
    REQUIRE(report);
    auto found = fleet.by_subject(*report);
    CHECK_FALSE(found.count("r/web:1"));   // dpkg: 5.2.15-2+b8 is not older than itself
    CHECK_FALSE(found.count("r/tool:1"));  // apk: 5.2.26-r0 is newer than 5.2.15-2+b8
  }
  SUBCASE("an advisory: the source version is compared and the fix named") {
    auto question = app::advisory_question_from_texts({kAdvisory}, "advisory");
    REQUIRE(question);
    auto report = app::exposure(*fleet.store, *question);
    REQUIRE(report);
    auto found = fleet.by_subject(*report);
    REQUIRE(found.count("r/web:1"));
    CHECK(found["r/web:1"].fixed == "5.2.15-2+deb12u1");
    CHECK(found["r/web:1"].matched_by == "x_T-1");
    CHECK(found["r/tool:1"].fixed == "5.2.26-r1");
    REQUIRE(report->bases.size() == 1);
    CHECK(report->bases[0].image == "debian:12");
    CHECK(report->bases[0].exposed);
  }
  SUBCASE("the base moved to a fixed digest: the base is clean, web still enters through it") {
    fleet.put(layer('f', {database(pk::FileKind::dpkg_status, "var/lib/dpkg/status", {kBashFixed}), os_release("debian", "12")}));
    fleet.image(st::ScanRole::external, "debian:12", '6', {'f'});
    auto question = app::advisory_question_from_texts({kAdvisory}, "advisory");
    REQUIRE(question);
    auto report = app::exposure(*fleet.store, *question);
    REQUIRE(report);
    auto found = fleet.by_subject(*report);
    CHECK_FALSE(found.count("debian:12"));
    CHECK(found["r/web:1"].enters == "debian:12");
    REQUIRE(report->bases.size() == 1);
    CHECK_FALSE(report->bases[0].exposed);
  }
  SUBCASE("an image never indexed is reported, not taken as clean") {
    REQUIRE(fleet.store->record_image_scan({st::ScanRole::fleet, "r/ghost:1", "r/ghost:1", digest('9'), {}}));
    auto question = app::package_question("bash");
    REQUIRE(question);
    auto report = app::exposure(*fleet.store, *question);
    REQUIRE(report);
    bool reported = false;
    for (const auto& item : report->unjudged) reported |= item.subject == "r/ghost:1";
    CHECK(reported);
  }
}
