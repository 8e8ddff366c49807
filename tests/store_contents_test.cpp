// The store's image contents: layer indexes stored once per digest and read back whole,
// what each image digest is made of, the latest scan per subject with its history, and a
// pushed task's verdict; a version 3 file migrates to version 4 keeping its runs.
#include <doctest/doctest.h>

#include "store_support.hpp"
#include "support.hpp"

using namespace cascade::test;
namespace pk = cascade::packages;

namespace {

const std::string kLayerA = "sha256:" + std::string(64, 'a');
const std::string kLayerB = "sha256:" + std::string(64, 'b');

pk::LayerIndex sample_layer() {
  pk::LayerIndex layer;
  layer.digest = kLayerA;
  layer.uncompressed_bytes = 12345;
  layer.whiteouts = {"var/lib/dpkg/status-old"};
  layer.opaque_dirs = {"var/cache/apt"};
  pk::LayerFile status;
  status.path = "var/lib/dpkg/status";
  status.kind = pk::FileKind::dpkg_status;
  status.packages = {{"bash", "5.2.15-2+b8", "bash", "5.2.15-2", "amd64"}, {"libc6", "2.36-9", "glibc", "2.36-9", "amd64"}};
  pk::LayerFile link;
  link.path = "etc/os-release";
  link.kind = pk::FileKind::os_release;
  link.link = "../usr/lib/os-release";
  pk::LayerFile os;
  os.path = "usr/lib/os-release";
  os.kind = pk::FileKind::os_release;
  os.os = pk::OsRelease{"debian", "12", "12 (bookworm)", "", "Debian GNU/Linux 12 (bookworm)"};
  pk::LayerFile bdb;
  bdb.path = "var/lib/rpm/Packages";
  bdb.kind = pk::FileKind::rpm_bdb;
  bdb.problem = "rpm BerkeleyDB database: not indexed";
  layer.files = {status, link, os, bdb};
  return layer;
}

}  // namespace

TEST_CASE("store::contents") {
  TempDir dir;
  auto store = open_store((dir / "state.db").string());

  SUBCASE("a layer index reads back exactly, once stored it never changes") {
    pk::LayerIndex layer = sample_layer();
    ok(store->put_layer_index(layer));
    auto read = ok(store->get_layer_indexes({kLayerA, kLayerB}));
    REQUIRE(read.size() == 1);
    CHECK(read.at(kLayerA) == layer);
    pk::LayerIndex changed = layer;
    changed.files.clear();
    ok(store->put_layer_index(changed));  // the same digest: nothing changes
    CHECK(ok(store->all_layer_indexes()).at(kLayerA) == layer);
    CHECK(ok(store->known_layers({kLayerB, kLayerA})) == std::vector<std::string>{kLayerA});
  }
  SUBCASE("an image digest's layers, in order") {
    st::ImageLayers image{"sha256:" + std::string(64, 'c'), "sha256:" + std::string(64, 'd'), {kLayerB, kLayerA}};
    ok(store->put_image_layers(image));
    auto read = ok(store->get_image_layers(image.digest));
    REQUIRE(read);
    CHECK(read->layers == image.layers);
    CHECK(read->image_digest == image.image_digest);
    CHECK_FALSE(ok(store->get_image_layers(kLayerA)));
    CHECK(ok(store->all_image_layers()).size() == 1);
  }
  SUBCASE("the latest scan per subject, the earlier ones kept as history; workloads gone are forgotten") {
    ok(store->record_image_scan({st::ScanRole::external, "debian:12", "debian:12", "sha256:old", {}}));
    ok(store->record_image_scan({st::ScanRole::external, "debian:12", "debian:12", "sha256:new", {}}));
    ok(store->record_image_scan({st::ScanRole::workload, "podman/web", "r/web:1", "sha256:w", {}}));
    ok(store->record_image_scan({st::ScanRole::workload, "podman/gone", "r/gone:1", "sha256:g", {}}));
    auto latest = ok(store->image_scans());
    REQUIRE(latest.size() == 3);
    CHECK(latest[0].digest == "sha256:new");
    CHECK(ok(store->image_scans(true)).size() == 4);
    ok(store->retain_image_scans(st::ScanRole::workload, {"podman/web"}));
    latest = ok(store->image_scans());
    REQUIRE(latest.size() == 2);
    CHECK(latest[1].subject == "podman/web");
    // Seen again at an old digest: that digest is the latest now.
    ok(store->record_image_scan({st::ScanRole::external, "debian:12", "debian:12", "sha256:old", {}}));
    CHECK(ok(store->image_scans())[0].digest == "sha256:old");
  }
  SUBCASE("a pushed task's verdict") {
    auto run = ok(store->create_run(sample_run()));
    ok(store->add_tasks(run, chain_tasks(1)));
    ok(store->set_task_verdict(run, "r.example.com/img-0", "vulnerable: bash 5.2.26-r0 (x_1, fixed in 5.2.26-r1)"));
    CHECK(ok(store->get_tasks(run)).at(0).verdict == "vulnerable: bash 5.2.26-r0 (x_1, fixed in 5.2.26-r1)");
    auto missing = store->set_task_verdict(run, "nope", "clean");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == st::ErrorCode::not_found);
  }
}

TEST_CASE("store::migrations to version 4") {
  TempDir dir;
  std::string path = (dir / "state.db").string();
  st::RunId run;
  {
    auto options = test_options();
    options.schema_version = 3;
    auto v3 = open_store(path, options);
    {
      RawDb raw(path);
      run = insert_legacy_run(raw);  // as a version 3 binary stored it (today's writes version 5 columns)
    }
    ok(v3->add_tasks(run, chain_tasks(1)));
  }
  CHECK(RawDb(path).one("PRAGMA user_version") == "3");
  auto store = open_store(path);
  CHECK(RawDb(path).one("PRAGMA user_version") == std::to_string(st::latest_schema_version()));
  auto tasks = ok(store->get_tasks(run));
  REQUIRE(tasks.size() == 1);
  CHECK_FALSE(tasks[0].verdict);
  ok(store->put_layer_index(sample_layer()));
  CHECK(ok(store->all_layer_indexes()).size() == 1);
}
