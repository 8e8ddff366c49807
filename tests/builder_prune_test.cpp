// buildah's storage driver choice (real overlay mounts, and an injected refusal), what a
// prune keeps (pure, on listings captured from buildah 1.28 and dockerd 20.10), and pruning
// real storage: buildah with vfs and with overlay, and a real dockerd, with a real registry.
#include <doctest/doctest.h>

#include <sys/mount.h>

#include <chrono>

#include "../src/builder/storage.hpp"
#include "builder_fixture.hpp"
#include "cascade/builder.hpp"
#include "dockerd_fixture.hpp"

namespace {

using namespace cascade;
using namespace std::chrono_literals;
using builder::detail::StoredImage;
namespace fs = std::filesystem;

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');
const std::string kDigestC = "sha256:" + std::string(64, 'c');
const std::string kDigestD = "sha256:" + std::string(64, 'd');
const std::string kDigestE = "sha256:" + std::string(64, 'e');

std::string problems_of(const builder::PruneReport& report) {
  std::string text;
  for (const auto& problem : report.problems) text += problem + "\n";
  return text;
}

bool mounted_under(const std::string& path) {
  return test::read_file("/proc/self/mounts").find(path) != std::string::npos;
}

bool probe_folder_left(const fs::path& folder) {
  std::error_code ec;
  for (fs::directory_iterator entry(folder, ec), end; !ec && entry != end; entry.increment(ec))
    if (entry->path().filename().string().starts_with(".cascade-overlay-probe-")) return true;
  return false;
}

// An overlay mount in `dir` (merged/ on lower, upper, work), unmounted on destruction.
struct OverlayMount {
  explicit OverlayMount(const fs::path& dir) : merged(dir / "merged") {
    for (const char* name : {"lower", "upper", "work", "merged"}) fs::create_directories(dir / name);
    std::string options = "lowerdir=" + (dir / "lower").string() + ",upperdir=" + (dir / "upper").string() +
                          ",workdir=" + (dir / "work").string();
    ok = ::mount("overlay", merged.c_str(), "overlay", 0, options.c_str()) == 0;
  }
  ~OverlayMount() {
    if (ok) ::umount2(merged.c_str(), MNT_DETACH);
  }
  fs::path merged;
  bool ok = false;
};

}  // namespace

TEST_CASE("builder::choose_storage_driver") {
  test::TempDir dir;
  const std::string root = (dir / "state/buildah/root").string();

  SUBCASE("overlay on a normal folder (this machine's ext4), tried in a scratch folder removed after") {
    auto choice = builder::choose_storage_driver(root);
    CHECK(choice.driver == "overlay");
    CHECK_MESSAGE(choice.reason.starts_with("overlay: an overlay mount works under " + root + " ("), choice.reason);
    CHECK_FALSE(fs::exists(root));  // not made: the probe ran in the nearest folder there is
    CHECK_FALSE(probe_folder_left(dir.path()));
    CHECK_FALSE(mounted_under(dir.str()));
    fs::create_directories(root);
    CHECK(builder::choose_storage_driver(root).driver == "overlay");
    CHECK_FALSE(probe_folder_left(root));
    CHECK_FALSE(mounted_under(dir.str()));
  }
  SUBCASE("vfs where the kernel refuses: a root on an overlay mount (not an upperdir the kernel takes)") {
    OverlayMount overlay(dir / "ovl");
    if (!overlay.ok) {
      MESSAGE("skipped: cannot mount an overlay here (not root?)");
      return;
    }
    const std::string nested = (overlay.merged / "root").string();
    auto choice = builder::choose_storage_driver(nested);
    CHECK(choice.driver == "vfs");
    CHECK_MESSAGE(choice.reason.starts_with("vfs: overlay does not mount under " + nested + " (overlay): mount: "),
                  choice.reason);
    CHECK_FALSE(probe_folder_left(overlay.merged));
  }
  SUBCASE("an injected refusal is said in the reason") {
    auto refuse = [](const std::string&) { return std::string("mount: Operation not permitted"); };
    auto choice = builder::detail::choose_storage_driver(root, refuse);
    CHECK(choice.driver == "vfs");
    CHECK(choice.reason.find("overlay does not mount under " + root) != std::string::npos);
    CHECK(choice.reason.ends_with(": mount: Operation not permitted"));
  }
  SUBCASE("a root holding images of one driver keeps it") {
    auto works = [](const std::string&) { return std::string(); };
    auto refuse = [](const std::string&) { return std::string("mount: Invalid argument"); };
    test::write_file(fs::path(root) / "vfs-images/images.json", R"([{"id": "1"}, {"id": "2"}])");
    test::write_file(fs::path(root) / "overlay-images/images.json", "[]");  // made by a look, holds nothing
    auto choice = builder::detail::choose_storage_driver(root, works);
    CHECK(choice.driver == "vfs");
    CHECK(choice.reason.find(root + " already holds 2 vfs images") != std::string::npos);

    fs::remove_all(fs::path(root) / "vfs-images");
    test::write_file(fs::path(root) / "overlay-images/images.json", R"([{"id": "1"}])");
    choice = builder::detail::choose_storage_driver(root, works);
    CHECK(choice.driver == "overlay");
    CHECK(choice.reason.find("which holds 1 overlay images") != std::string::npos);
    choice = builder::detail::choose_storage_driver(root, refuse);  // overlay images, but no overlay now
    CHECK(choice.driver == "vfs");
    CHECK(choice.reason.find("its 1 overlay images cannot be used") != std::string::npos);

    test::write_file(fs::path(root) / "vfs-images/images.json", R"([{"id": "3"}])");  // both: the mount decides
    CHECK(builder::detail::choose_storage_driver(root, works).driver == "overlay");
    CHECK(builder::detail::choose_storage_driver(root, refuse).driver == "vfs");
  }
}

TEST_CASE("builder::detail prune listings") {
  SUBCASE("buildah images --json --no-trunc (1.28)") {
    auto images = builder::detail::parse_buildah_images(R"([
      {"id": "sha256:)" + std::string(64, 'a') + R"(", "names": ["127.0.0.1:5999/base@)" + kDigestB +
                                                        R"(", "127.0.0.1:5999/base:1"],
       "digest": ")" + kDigestC + R"(", "createdat": "24 seconds ago", "size": "2.13 MB", "created": 1796512789,
       "createdatraw": "2026-12-05T23:19:49.398436776Z", "readonly": false, "history": null},
      {"id": ")" + std::string(64, 'd') + R"(", "names": null, "digest": ")" + kDigestE + R"(", "created": 5}])");
    REQUIRE_MESSAGE(images, images.error());
    REQUIRE(images->size() == 2);
    CHECK((*images)[0].id == kDigestA);
    CHECK((*images)[0].names.size() == 2);
    CHECK((*images)[0].digests == std::vector<std::string>{kDigestC});
    CHECK((*images)[0].created == 1796512789);
    CHECK((*images)[1].id == kDigestD);  // some listings leave "sha256:" off
    CHECK((*images)[1].names.empty());
    CHECK(builder::detail::parse_buildah_images("null")->empty());
    CHECK(builder::detail::parse_buildah_images("")->empty());
    CHECK_FALSE(builder::detail::parse_buildah_images("Error: oops"));
    CHECK_FALSE(builder::detail::parse_buildah_images(R"([{"names": []}])"));
  }
  SUBCASE("buildah containers --json and containers/storage's times") {
    auto containers = builder::detail::parse_buildah_containers(R"([{"id": "9678", "builder": true,
      "imageid": ")" + std::string(64, 'a') + R"(", "imagename": "127.0.0.1:5999/app:1",
      "containername": "127.0.0.1-working-container"}])");
    REQUIRE(containers);
    REQUIRE(containers->size() == 1);
    CHECK((*containers)[0].builder);
    CHECK((*containers)[0].image_id == kDigestA);
    CHECK((*containers)[0].name == "127.0.0.1-working-container");
    CHECK(builder::detail::parse_buildah_containers("null")->empty());
    auto times = builder::detail::parse_container_times(
        R"([{"id": "9678", "created": "2026-12-05T23:21:33.539439879Z"}, {"id": "x", "created": "soon"}])");
    CHECK(times == std::map<std::string, std::int64_t>{{"9678", 1796512893}});
    CHECK(builder::detail::parse_utc_seconds("1970-01-01T01:00:00+01:00") == 0);
    CHECK(builder::detail::parse_utc_seconds("2026-12-05 23:24:32.889958597 +0000 UTC") == 1796513072);
    CHECK_FALSE(builder::detail::parse_utc_seconds("2026-13-05T00:00:00Z"));
  }
  SUBCASE("docker image inspect and docker's sizes") {
    auto images = builder::detail::parse_docker_images(R"([{"Id": ")" + kDigestA + R"(",
      "RepoTags": ["localhost:5999/app1:1"], "RepoDigests": ["localhost:5999/app1@)" + kDigestB + R"("],
      "Created": "2026-12-05T23:24:34.55715255Z", "Size": 1982258}])");
    REQUIRE(images);
    REQUIRE(images->size() == 1);
    CHECK((*images)[0].names == std::vector<std::string>{"localhost:5999/app1:1", "localhost:5999/app1@" + kDigestB});
    CHECK((*images)[0].digests == std::vector<std::string>{kDigestB});
    CHECK(builder::detail::parse_human_size("1.982MB") == 1982000);
    CHECK(builder::detail::parse_human_size("43B") == 43);
    CHECK(builder::detail::parse_human_size("12.5kB (100%)") == 12500);
    CHECK_FALSE(builder::detail::parse_human_size("lots"));
  }
  SUBCASE("labels from buildah inspect") {
    auto labels = builder::detail::parse_buildah_labels(
        R"({"Type": "buildah 0.0.1", "Docker": {"config": {"Labels": {"io.cascade.run": "4"}}},
            "OCIv1": {"config": {"Labels": null}}})");
    REQUIRE(labels);
    CHECK(labels->at("io.cascade.run") == "4");
    CHECK_FALSE(builder::detail::parse_buildah_labels("Error: no such image"));
  }
}

TEST_CASE("builder::detail::images_to_keep") {
  using builder::detail::images_to_keep;
  const std::string bases = R"({"r/base:1": ")" + kDigestE + R"("})";
  auto with_bases = [&](const std::string& text) {
    return [text](const StoredImage&) { return std::optional<std::map<std::string, std::string>>{{{"io.cascade.bases", text}}}; };
  };
  StoredImage base{"sha256:" + std::string(64, '1'), {"r/base@" + kDigestE, "r/base:1"}, {kDigestA}, 10};
  StoredImage old_app{"sha256:" + std::string(64, '2'), {}, {kDigestB}, 20};  // untagged by a newer build
  StoredImage app{"sha256:" + std::string(64, '3'), {"r/app:1"}, {kDigestC}, 30};
  StoredImage other{"sha256:" + std::string(64, '4'), {"r/other:1"}, {kDigestD}, 40};
  const std::vector<StoredImage> images = {base, old_app, app, other};

  SUBCASE("by a digested name, a bare digest, a config digest, or a local manifest digest") {
    CHECK(images_to_keep(images, {"r/base@" + kDigestE}, {}, {}) == std::set<std::string>{base.id});
    CHECK(images_to_keep(images, {kDigestE}, {}, {}) == std::set<std::string>{base.id});
    CHECK(images_to_keep(images, {other.id}, {}, {}) == std::set<std::string>{other.id});
    CHECK(images_to_keep(images, {kDigestB}, {}, {}) == std::set<std::string>{old_app.id});
    CHECK(images_to_keep(images, {"r/other:1"}, {}, {}) == std::set<std::string>{other.id});
    CHECK(images_to_keep(images, {}, {}, {}).empty());
  }
  SUBCASE("images a container uses") {
    CHECK(images_to_keep(images, {}, {old_app.id}, {}) == std::set<std::string>{old_app.id});
  }
  const std::string pushed = "sha256:" + std::string(64, '9');  // what the registry has for r/app
  const std::set<std::string> keep = {"r/app@" + pushed, pushed, "r/base@" + kDigestE, kDigestE};
  SUBCASE("a pushed image no local digest names: the newest of its repository built on kept bases") {
    CHECK(images_to_keep(images, keep, {}, with_bases(bases)) == std::set<std::string>{base.id, app.id});
    CHECK(images_to_keep(images, keep, {}, {}) == std::set<std::string>{base.id});  // docker: no fallback
  }
  SUBCASE("not when it was built on a base the keep set does not hold, nor when cascade did not build it") {
    CHECK(images_to_keep(images, keep, {}, with_bases(R"({"r/base:1": ")" + kDigestA + R"("})")) ==
          std::set<std::string>{base.id});
    auto no_labels = [](const StoredImage&) { return std::optional<std::map<std::string, std::string>>(std::map<std::string, std::string>{}); };
    CHECK(images_to_keep(images, keep, {}, no_labels) == std::set<std::string>{base.id});
  }
  SUBCASE("one image per unmatched reference, newest first; unreadable labels keep the image") {
    StoredImage rebuilt{"sha256:" + std::string(64, '5'), {"r/app:2"}, {kDigestD}, 50};
    auto kept = images_to_keep({base, app, rebuilt}, keep, {}, with_bases(bases));
    CHECK(kept == std::set<std::string>{base.id, rebuilt.id});
    auto two = keep;
    two.insert("r/app@" + kDigestA.substr(0, 70) + "f");
    CHECK(images_to_keep({base, app, rebuilt}, two, {}, with_bases(bases)).size() == 3);
    auto unreadable = [](const StoredImage&) { return std::optional<std::map<std::string, std::string>>{}; };
    CHECK(images_to_keep({base, app}, keep, {}, unreadable) == std::set<std::string>{base.id, app.id});
  }
  SUBCASE("helpers") {
    CHECK(builder::detail::repository_of("127.0.0.1:5000/apps/shop:1") == "127.0.0.1:5000/apps/shop");
    CHECK(builder::detail::repository_of("127.0.0.1:5000/apps/shop") == "127.0.0.1:5000/apps/shop");
    CHECK(builder::detail::repository_of("r/app@" + kDigestA) == "r/app");
    CHECK(builder::detail::kept_digests({"r/app@" + kDigestA, kDigestB, "junk"}) ==
          std::set<std::string>{kDigestA, kDigestB});
  }
}

namespace {

// A registry, a buildah storage of `driver` and a busybox base pushed as base:1.
struct BuildahFleet {
  explicit BuildahFleet(const std::string& driver) : driver(driver), buildah(options()) {
    auto built = build("base", test::busybox_dockerfile("RUN echo base > /base\n"), {});
    base_id = built.image_id;
    base_digest = built.digest;
  }

  builder::BuildahOptions options() const {
    auto options = sandbox.options({registry.host()});
    options.storage_driver = driver;
    return options;
  }
  std::string host() const { return registry.host(); }

  builder::BuildResult build(const std::string& name, const std::string& dockerfile,
                             std::map<std::string, std::string> labels) {
    builder::BuildRequest request;
    request.run_id = "prune-" + name;
    request.image = host() + "/" + name + ":1";
    request.context_dir = sandbox.context(name);
    request.dockerfile_text = dockerfile;
    request.log_path = sandbox.log(name);
    request.timeout = 120s;
    request.labels = std::move(labels);
    auto built = cascade::test::build_retrying(buildah, request);
    if (!built) throw std::runtime_error("cannot build " + name + ": " + built.error().message);
    return *built;
  }
  // An app on the pinned base, labelled as the executor labels it.
  builder::BuildResult app(const std::string& name) {
    std::string bases = nlohmann::json{{host() + "/base:1", base_digest}}.dump();
    return build(name, "FROM " + host() + "/base@" + base_digest + "\nRUN echo " + name + " > /" + name + "\n",
                 {{"io.cascade.bases", bases}, {"io.cascade.run", "1"}});
  }

  std::vector<std::string> cli(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"buildah", "--root", (sandbox.path() / "root").string(), "--runroot",
                                     (sandbox.path() / "runroot").string(), "--storage-driver", driver};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  bool has_image(const std::string& id) const { return test::run(cli({"inspect", "--type", "image", id})).exit_code == 0; }

  test::DockerRegistry registry;
  test::BuildahSandbox sandbox;
  std::string driver;
  builder::Buildah buildah;
  std::string base_id, base_digest;
};

// What keep_set gives for a run that pushed `image` at `digest` on the fleet's base.
std::set<std::string> keep_for(const BuildahFleet& fleet, const std::string& name, const std::string& digest) {
  return {fleet.host() + "/" + name + "@" + digest, digest, fleet.host() + "/base@" + fleet.base_digest,
          fleet.base_digest};
}

void prunes_all_but_the_kept(const std::string& driver) {
  BuildahFleet fleet(driver);
  auto app1 = fleet.app("app1");
  auto app2 = fleet.app("app2");
  auto app3 = fleet.app("app3");
  auto pruned = fleet.buildah.prune(keep_for(fleet, "app1", app1.digest), {});
  REQUIRE_MESSAGE(pruned, pruned.error().message);
  CHECK_MESSAGE(pruned->problems.empty(), problems_of(*pruned));
  CHECK(pruned->removed == 2);
  CHECK(pruned->kept == 2);
  CHECK(pruned->bytes_freed > 0);
  CHECK(fleet.has_image(app1.image_id));      // built by the kept run: known by its repository and bases
  CHECK(fleet.has_image(fleet.base_id));      // the base it was built on
  CHECK_FALSE(fleet.has_image(app2.image_id));
  CHECK_FALSE(fleet.has_image(app3.image_id));
  auto again = fleet.buildah.prune(keep_for(fleet, "app1", app1.digest), {});
  REQUIRE(again);
  CHECK(again->removed == 0);
  CHECK(again->kept == 2);
  // The kept base still serves builds on its pinned digest.
  CHECK_NOTHROW(fleet.app("app4"));
}

}  // namespace

TEST_CASE("builder::Buildah prune keeps what the recent runs built and built on") {
  SUBCASE("vfs") { prunes_all_but_the_kept("vfs"); }
  SUBCASE("overlay") { prunes_all_but_the_kept("overlay"); }
}

TEST_CASE("builder::Buildah prune by config digest, and working containers") {
  BuildahFleet fleet("vfs");
  auto app1 = fleet.app("app1");
  auto app2 = fleet.app("app2");

  SUBCASE("a config digest alone keeps its image; the base goes (its layers stay with the image)") {
    auto pruned = fleet.buildah.prune({app2.image_id}, {});
    REQUIRE(pruned);
    CHECK(pruned->removed == 2);
    CHECK(fleet.has_image(app2.image_id));
    CHECK_FALSE(fleet.has_image(fleet.base_id));
    CHECK(test::run(fleet.cli({"from", "--pull=never", app2.image_id})).exit_code == 0);
  }
  SUBCASE("a fresh working container and its image stay; a leftover one (over a minute old) goes") {
    auto made = test::run(fleet.cli({"from", "--pull=never", "--name", "leftover", app2.image_id}));
    REQUIRE_MESSAGE(made.exit_code == 0, made.err);
    auto pruned = fleet.buildah.prune({}, {});
    REQUIRE(pruned);
    CHECK_MESSAGE(pruned->problems.empty(), problems_of(*pruned));
    CHECK(fleet.has_image(app2.image_id));
    CHECK_FALSE(fleet.has_image(app1.image_id));
    CHECK(test::run(fleet.cli({"inspect", "--type", "container", "leftover"})).exit_code == 0);

    // Set the container's creation time back in containers/storage's record of it.
    fs::path record = fleet.sandbox.path() / "root/vfs-containers/containers.json";
    auto containers = nlohmann::json::parse(test::read_file(record));
    for (auto& container : containers) container["created"] = "2026-01-01T00:00:00Z";
    test::write_file(record, containers.dump());
    pruned = fleet.buildah.prune({}, {});
    REQUIRE(pruned);
    CHECK_MESSAGE(pruned->problems.empty(), problems_of(*pruned));
    CHECK(test::run(fleet.cli({"inspect", "--type", "container", "leftover"})).exit_code != 0);
    CHECK_FALSE(fleet.has_image(app2.image_id));
    CHECK(pruned->kept == 0);
  }
  SUBCASE("a cancel before the start removes nothing") {
    CancelSource source;
    source.request_stop();
    auto pruned = fleet.buildah.prune({}, source.get_token());
    REQUIRE_FALSE(pruned);
    CHECK(pruned.error().kind == builder::Error::Kind::cancelled);
    CHECK(fleet.has_image(app1.image_id));
  }
}

namespace {

std::vector<nlohmann::json> build_cache(test::DockerEngine& engine) {
  auto records = nlohmann::json::parse(engine.docker({"system", "df", "--verbose", "--format", "{{json .BuildCache}}"}));
  return records.is_array() ? records.get<std::vector<nlohmann::json>>() : std::vector<nlohmann::json>{};
}

std::size_t private_records(test::DockerEngine& engine) {
  std::size_t count = 0;
  for (const auto& record : build_cache(engine)) count += record.value("Shared", "") == "false";
  return count;
}

}  // namespace

TEST_CASE("builder::DockerBuild prune keeps what the recent runs built and built on, and the cache they share") {
  test::DockerRegistry registry;
  test::DockerEngine engine;
  test::TempDir dir;
  const std::string host = registry.host();
  // Builds and pushes host/<name>:1; returns its id and the digest the engine recorded for the push.
  auto build = [&](const std::string& name, const std::string& dockerfile) {
    fs::path context = dir / name;
    fs::create_directories(context);
    fs::copy_file("/usr/bin/busybox", context / "busybox");
    test::write_file(context / "Dockerfile", dockerfile);
    std::string image = host + "/" + name + ":1";
    engine.docker({"build", "--network", "none", "-t", image, context.string()});
    engine.docker({"push", image});
    auto id = engine.docker({"image", "inspect", "--format", "{{.Id}}", image});
    auto digests = nlohmann::json::parse(engine.docker({"image", "inspect", "--format", "{{json .RepoDigests}}", image}));
    REQUIRE(digests.size() == 1);
    std::string digest = digests[0].get<std::string>();
    return std::pair{id.substr(0, id.find('\n')), digest.substr(digest.find('@') + 1)};
  };
  auto [base_id, base_digest] = build("base", test::busybox_dockerfile());
  auto app = [&](const std::string& name) {
    return build(name, "FROM " + host + "/base@" + base_digest + "\nRUN echo " + name + " > /" + name + "\n");
  };
  auto [app1_id, app1_digest] = app("app1");
  auto [app2_id, app2_digest] = app("app2");
  auto [app3_id, app3_digest] = app("app3");
  auto exists = [&](const std::string& id) {
    try {
      engine.docker({"image", "inspect", id});
      return true;
    } catch (const std::exception&) {
      return false;
    }
  };
  REQUIRE(private_records(engine) > 0);  // the build contexts, at least

  builder::DockerOptions options;
  options.host = engine.endpoint();
  builder::DockerBuild docker(options);
  // A stopped container of app3 (a deploy on the same engine): its image is in use.
  engine.docker({"create", "--network", "none", host + "/app3:1", "true"});
  const std::set<std::string> keep = {host + "/app1@" + app1_digest, app1_digest, host + "/base@" + base_digest,
                                      base_digest};
  auto pruned = docker.prune(keep, {});
  REQUIRE_MESSAGE(pruned, pruned.error().message);
  CHECK_MESSAGE(pruned->problems.empty(), problems_of(*pruned));
  CHECK(pruned->removed == 1);
  CHECK(pruned->kept == 3);
  CHECK(exists(app1_id));
  CHECK(exists(base_id));
  CHECK(exists(app3_id));
  CHECK_FALSE(exists(app2_id));
  CHECK(private_records(engine) == 0);  // what is left of the cache is shared with the images left
  CHECK_FALSE(build_cache(engine).empty());
  CHECK(pruned->bytes_freed > 0);

  SUBCASE("an unreachable engine is worker-unavailable") {
    builder::DockerOptions gone;
    gone.host = "unix://" + (dir / "nothing.sock").string();
    auto failed = builder::DockerBuild(gone).prune(keep, {});
    REQUIRE_FALSE(failed);
    CHECK(failed.error().kind == builder::Error::Kind::worker_unavailable);
  }
}
