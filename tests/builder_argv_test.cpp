// The parts of the builder that need no build engine: exact argument vectors for every
// backend, secrets, BuildKit's metadata file, reading failures out of their output, the
// factory; and the buildctl run path driven through a stand-in script (no BuildKit daemon here).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "../src/builder/internal.hpp"
#include "../src/builder/platforms.hpp"
#include "cascade/builder.hpp"
#include "support.hpp"

namespace {

using namespace cascade;
using builder::Error;
using Args = std::vector<std::string>;
namespace fs = std::filesystem;

builder::BuildRequest shop_request(const std::string& image = "127.0.0.1:5000/apps/shop:1") {
  builder::BuildRequest request;
  request.run_id = "run-1";
  request.image = image;
  request.context_dir = "/ctx";
  request.dockerfile_text = "FROM 127.0.0.1:5000/base@sha256:" + std::string(64, 'a') + "\n";
  request.target = "runtime";
  request.build_args = {{"B", "two words"}, {"A", "1"}};
  request.labels = {{"k", "v"}};
  request.log_path = "/logs/shop.log";
  return request;
}

const std::string kImageId = "sha256:" + std::string(64, 'c');

}  // namespace

TEST_CASE("builder::Buildah argument vectors") {
  builder::BuildahOptions options;
  options.root = "/r";
  options.runroot = "/rr";
  options.work_dir = "/w";
  options.insecure_registries = {"127.0.0.1:5000"};
  options.auth_file = "/auth/config.json";
  builder::Buildah buildah(options);
  builder::BuildahFiles files{"/w/Dockerfile", "/w/iid", "/w/digest"};
  Args global = {"buildah", "--root", "/r", "--runroot", "/rr", "--storage-driver", "vfs"};

  SUBCASE("bud: Dockerfile outside the context, pinned-base pull policy, args and labels") {
    Args expected = global;
    expected.insert(expected.end(), {"bud", "--isolation", "chroot", "--format", "docker", "--pull=missing",
                                     "--authfile", "/auth/config.json", "-f", "/w/Dockerfile",
                                     "-t", "127.0.0.1:5000/apps/shop:1", "--target", "runtime",
                                     "--build-arg", "A", "--build-arg", "B", "--label", "k=v",
                                     "--iidfile", "/w/iid", "/ctx"});
    CHECK(buildah.bud_argv(shop_request(), files) == expected);
  }
  SUBCASE("bud: build-arg values travel in the environment, never in argv (ps shows argv)") {
    auto request = shop_request();
    request.build_args = {{"NPM_TOKEN", "s3cret-value"}, {"PATH", "/opt/bin"}, {"http_proxy", "http://p:3128"},
                          {"LD_PRELOAD", "/x.so"}, {"GOMAXPROCS", "1"}, {"GOOGLE_KEY", "k3y"}, {"a-b", "v"}};
    Args argv = buildah.bud_argv(request, files);
    for (const auto& arg : argv) CHECK(arg.find("s3cret-value") == std::string::npos);
    for (const auto& arg : argv) CHECK(arg.find("k3y") == std::string::npos);
    CHECK(std::find(argv.begin(), argv.end(), std::string("NPM_TOKEN")) != argv.end());
    auto env = builder::detail::build_arg_environment(request);
    CHECK(env == std::map<std::string, std::string>{{"NPM_TOKEN", "s3cret-value"}, {"GOOGLE_KEY", "k3y"}});
    // Names the builder reads itself (or no variable name at all) keep K=V: as an
    // environment variable they would change how buildah runs.
    for (const char* kept : {"PATH=/opt/bin", "http_proxy=http://p:3128", "LD_PRELOAD=/x.so", "GOMAXPROCS=1", "a-b=v"})
      CHECK(std::find(argv.begin(), argv.end(), std::string(kept)) != argv.end());
  }
  SUBCASE("push: by image id, plain http only for insecure hosts") {
    Args expected = global;
    expected.insert(expected.end(), {"push", "--authfile", "/auth/config.json", "--tls-verify=false",
                                     "--digestfile", "/w/digest", kImageId, "docker://127.0.0.1:5000/apps/shop:1"});
    CHECK(buildah.push_argv(shop_request(), kImageId, files) == expected);
    Args secure = buildah.push_argv(shop_request("registry.example.com/apps/shop:1"), kImageId, files);
    CHECK(std::find(secure.begin(), secure.end(), std::string("--tls-verify=false")) == secure.end());
  }
  SUBCASE("options: pull policy, retries, extra arguments, no target") {
    options.pull = builder::PullPolicy::always;
    options.retries = 2;
    options.retry_delay = "1s";
    options.auth_file.clear();
    options.global_args = {"--log-level", "debug"};
    options.bud_args = {"--layers"};
    options.push_args = {"--compression-format", "zstd"};
    builder::Buildah tuned(options);
    auto request = shop_request();
    request.target.clear();
    request.build_args.clear();
    request.labels.clear();
    Args global_tuned = global;
    global_tuned.insert(global_tuned.end(), {"--log-level", "debug"});
    Args bud = global_tuned;
    bud.insert(bud.end(), {"bud", "--isolation", "chroot", "--format", "docker", "--pull=always",
                           "--retry", "2", "--retry-delay", "1s", "-f", "/w/Dockerfile", "-t", "127.0.0.1:5000/apps/shop:1",
                           "--iidfile", "/w/iid", "--layers", "/ctx"});
    CHECK(tuned.bud_argv(request, files) == bud);
    Args push = global_tuned;
    push.insert(push.end(), {"push", "--tls-verify=false", "--retry", "2", "--retry-delay", "1s", "--digestfile",
                             "/w/digest", "--compression-format", "zstd", kImageId, "docker://127.0.0.1:5000/apps/shop:1"});
    CHECK(tuned.push_argv(request, kImageId, files) == push);
  }
  SUBCASE("storage defaults live under the state folder") {
    builder::BuildahOptions defaults;
    defaults.state_dir = "/state";
    builder::Buildah under_state(defaults);
    CHECK(under_state.options().root == "/state/buildah/root");
    CHECK(under_state.options().runroot == "/state/buildah/runroot");
    CHECK(under_state.options().work_dir == "/state/buildah/work");
  }
}

TEST_CASE("builder::Buildah multi-platform argument vectors") {
  builder::BuildahOptions options;
  options.root = "/r";
  options.runroot = "/rr";
  options.insecure_registries = {"127.0.0.1:5000"};
  options.auth_file = "/auth/config.json";
  options.retries = 2;
  Args global = {"buildah", "--root", "/r", "--runroot", "/rr", "--storage-driver", "vfs"};
  auto request = shop_request();
  request.labels = {{"k", "v"}, {"base", "index"}};
  builder::PlatformBuild arm64{"linux/arm64", {{"base", "arm64-child"}, {"arch", "arm64"}}};
  request.platforms = {{"linux/amd64", {}}, arm64};
  const std::string list = "localhost/cascade-index-0123456789abcdef";

  SUBCASE("bud for one platform: --platform, no tag, its labels over the request's") {
    Args expected = global;
    expected.insert(expected.end(), {"bud", "--isolation", "chroot", "--format", "docker", "--pull=missing",
                                     "--authfile", "/auth/config.json", "--retry", "2", "-f", "/w/Dockerfile",
                                     "--platform", "linux/arm64", "--target", "runtime",
                                     "--build-arg", "A", "--build-arg", "B",
                                     "--label", "arch=arm64", "--label", "base=arm64-child", "--label", "k=v",
                                     "--iidfile", "/w/image-id-1", "/ctx"});
    builder::BuildahFiles files{"/w/Dockerfile", "/w/image-id-1", ""};
    CHECK(builder::detail::buildah_bud_argv(options, request, files, &arm64) == expected);
  }
  SUBCASE("bud without a platform is Buildah::bud_argv, tagged, whatever the request's platforms") {
    builder::BuildahFiles files{"/w/Dockerfile", "/w/iid", "/w/digest"};
    Args untargeted = builder::detail::buildah_bud_argv(options, request, files);
    CHECK(untargeted == builder::Buildah(options).bud_argv(request, files));
    CHECK(std::find(untargeted.begin(), untargeted.end(), std::string("--platform")) == untargeted.end());
    CHECK(std::find(untargeted.begin(), untargeted.end(), std::string("-t")) != untargeted.end());
  }
  SUBCASE("the manifest list: create, add by image id, rm") {
    Args create = global, add = global, rm = global;
    create.insert(create.end(), {"manifest", "create", list});
    add.insert(add.end(), {"manifest", "add", list, kImageId});
    rm.insert(rm.end(), {"manifest", "rm", list});
    CHECK(builder::detail::manifest_create_argv(options, list) == create);
    CHECK(builder::detail::manifest_add_argv(options, list, kImageId) == add);
    CHECK(builder::detail::manifest_rm_argv(options, list) == rm);
  }
  SUBCASE("manifest push: every image, the format of the build, plain http only for insecure hosts, no --retry") {
    options.push_args = {"--remove-signatures"};
    Args push = global;
    push.insert(push.end(), {"manifest", "push", "--all", "--format", "v2s2", "--authfile", "/auth/config.json",
                             "--tls-verify=false", "--digestfile", "/w/digest", "--remove-signatures", list,
                             "docker://127.0.0.1:5000/apps/shop:1"});
    CHECK(builder::detail::manifest_push_argv(options, request, list, "/w/digest") == push);
    options.format = "oci";
    options.auth_file.clear();
    options.push_args.clear();
    Args secure = global;
    secure.insert(secure.end(), {"manifest", "push", "--all", "--format", "oci", "--digestfile", "/w/digest", list,
                                 "docker://registry.example.com/apps/shop:1"});
    CHECK(builder::detail::manifest_push_argv(options, shop_request("registry.example.com/apps/shop:1"), list,
                                              "/w/digest") == secure);
  }
  SUBCASE("list names are local and differ from build to build") {
    std::string first = builder::detail::local_list_name(), second = builder::detail::local_list_name();
    CHECK(first.rfind("localhost/cascade-index-", 0) == 0);
    CHECK(first.size() == std::string("localhost/cascade-index-").size() + 16);
    CHECK(first != second);
  }
}

TEST_CASE("builder::Buildctl argument vectors") {
  builder::BuildctlOptions options;
  options.addr = "tcp://buildkitd.example:1234";
  options.tls_server_name = "buildkitd.example";
  options.tls_ca_cert = "/certs/ca.pem";
  options.tls_cert = "/certs/cert.pem";
  options.tls_key = "/certs/key.pem";
  options.insecure_registries = {"127.0.0.1:5000"};
  builder::BuildctlFiles files{"/w/dockerfile", "Dockerfile", "/w/metadata.json"};
  Args expected = {"buildctl", "--addr", "tcp://buildkitd.example:1234", "--tlsservername", "buildkitd.example",
                   "--tlscacert", "/certs/ca.pem", "--tlscert", "/certs/cert.pem", "--tlskey", "/certs/key.pem",
                   "build", "--progress", "plain", "--frontend", "dockerfile.v0",
                   "--local", "context=/ctx", "--local", "dockerfile=/w/dockerfile", "--opt", "filename=Dockerfile",
                   "--opt", "target=runtime", "--opt", "build-arg:A=1", "--opt", "build-arg:B=two words",
                   "--opt", "label:k=v",
                   "--output", "type=image,name=127.0.0.1:5000/apps/shop:1,push=true,registry.insecure=true",
                   "--metadata-file", "/w/metadata.json"};
  CHECK(builder::Buildctl(options).argv(shop_request(), files) == expected);

  SUBCASE("a secure registry, the default daemon address, extra arguments") {
    builder::BuildctlOptions plain;
    plain.global_args = {"--debug"};
    plain.build_args = {"--export-cache", "type=inline"};
    auto request = shop_request("registry.example.com/apps/shop:1");
    request.target.clear();
    request.build_args.clear();
    request.labels.clear();
    Args minimal = {"buildctl", "--debug", "build", "--progress", "plain", "--frontend", "dockerfile.v0",
                    "--local", "context=/ctx", "--local", "dockerfile=/w/dockerfile", "--opt", "filename=Dockerfile",
                    "--output", "type=image,name=registry.example.com/apps/shop:1,push=true",
                    "--metadata-file", "/w/metadata.json", "--export-cache", "type=inline"};
    CHECK(builder::Buildctl(plain).argv(request, files) == minimal);
  }
}

TEST_CASE("builder::DockerBuild argument vectors") {
  builder::DockerOptions options;
  options.host = "tcp://10.0.0.5:2376";
  options.tls_ca_cert = "/certs/ca.pem";
  options.tls_cert = "/certs/cert.pem";
  options.tls_key = "/certs/key.pem";
  options.network = "none";
  builder::DockerBuild docker(options);
  builder::DockerFiles files{"/w/Dockerfile", "/w/iid"};
  Args global = {"/usr/bin/docker", "-H", "tcp://10.0.0.5:2376", "--tlsverify", "--tlscacert", "/certs/ca.pem",
                 "--tlscert", "/certs/cert.pem", "--tlskey", "/certs/key.pem"};
  Args build = global;
  build.insert(build.end(), {"build", "--progress", "plain", "-f", "/w/Dockerfile", "--target", "runtime",
                             "--network", "none", "--build-arg", "A", "--build-arg", "B", "--label", "k=v",
                             "--iidfile", "/w/iid", "-t", "127.0.0.1:5000/apps/shop:1", "/ctx"});
  CHECK(docker.build_argv(shop_request(), files) == build);
  Args push = global;
  push.insert(push.end(), {"push", "127.0.0.1:5000/apps/shop:1"});
  CHECK(docker.push_argv(shop_request()) == push);

  SUBCASE("the default engine, pull always, no cache, extra arguments") {
    builder::DockerOptions plain;
    plain.pull = builder::PullPolicy::always;
    plain.build_args = {"--cache-from", "type=inline"};
    auto request = shop_request();
    request.target.clear();
    request.labels.clear();
    request.no_cache = true;
    request.build_args = {{"PATH", "/opt/bin"}};
    Args minimal = {"/usr/bin/docker", "build", "--progress", "plain", "-f", "/w/Dockerfile", "--no-cache", "--pull",
                    "--build-arg", "PATH=/opt/bin", "--iidfile", "/w/iid", "-t", "127.0.0.1:5000/apps/shop:1",
                    "--cache-from", "type=inline", "/ctx"};
    CHECK(builder::DockerBuild(plain).build_argv(request, files) == minimal);
    CHECK(builder::DockerBuild(plain).push_argv(request) == Args{"/usr/bin/docker", "push", "127.0.0.1:5000/apps/shop:1"});
  }
}

TEST_CASE("builder secrets in argument vectors: an id and where the value is, never the value") {
  auto request = shop_request();
  request.target.clear();
  request.build_args.clear();
  request.labels.clear();
  request.secrets = {{"token", "NPM_TOKEN", ""}, {"netrc", "", "/run/secrets/netrc"}};
  Args specs = {"--secret", "id=token,env=CASCADE_BUILD_SECRET_0", "--secret", "id=netrc,src=/run/secrets/netrc"};
  auto contains = [](const Args& argv, const Args& part) {
    return std::search(argv.begin(), argv.end(), part.begin(), part.end()) != argv.end();
  };
  builder::BuildahOptions buildah_options;
  buildah_options.state_dir = "/state";
  CHECK(contains(builder::Buildah(buildah_options).bud_argv(request, {"/w/Dockerfile", "/w/iid", "/w/digest"}), specs));
  CHECK(contains(builder::Buildctl(builder::BuildctlOptions{}).argv(request, {"/w/dockerfile", "Dockerfile", "/w/metadata.json"}), specs));
  CHECK(contains(builder::DockerBuild(builder::DockerOptions{}).build_argv(request, {"/w/Dockerfile", "/w/iid"}), specs));
}

TEST_CASE("builder::detail::read_secrets and mask_secrets") {
  using builder::detail::mask_secrets;
  using builder::detail::read_secrets;
  test::TempDir dir;
  test::write_file(dir / "netrc", "machine example.com\npassword pa55-word-77\n");
  test::ScopedVariable value("CASCADE_TEST_SECRET_VALUE", "v4lue-of-the-secret");
  auto request = shop_request();
  request.secrets = {{"token", "CASCADE_TEST_SECRET_VALUE", ""}, {"netrc", "", (dir / "netrc").string()}};
  auto read = read_secrets(request);
  REQUIRE_MESSAGE(read, read.error().message);
  CHECK(read->env == std::map<std::string, std::string>{{"CASCADE_BUILD_SECRET_0", "v4lue-of-the-secret"}});
  CHECK(read->masked == Args{"v4lue-of-the-secret", "machine example.com\npassword pa55-word-77\n"});
  CHECK(mask_secrets("#5 0.1 v4lue-of-the-secret\n#5 0.2 password pa55-word-77 x\nabc v4lue\n", read->masked) ==
        "#5 0.1 ***\n#5 0.2 *** x\nabc v4lue\n");
  CHECK(mask_secrets("a b c", {"b"}) == "a b c");  // too short to mask

  auto fails = [&](builder::Secret secret, const std::string& says) {
    CAPTURE(says);
    request.secrets = {secret};
    auto failed = read_secrets(request);
    REQUIRE_FALSE(failed);
    CHECK(failed.error().kind == Error::Kind::setup);
    CHECK(failed.error().message.find("build secret \"" + secret.id + "\"") != std::string::npos);
    CHECK(failed.error().message.find(says) != std::string::npos);
    CHECK(failed.error().message.find("v4lue-of-the-secret") == std::string::npos);
  };
  fails({"token", "CASCADE_TEST_SECRET_UNSET", ""}, "CASCADE_TEST_SECRET_UNSET is not set");
  fails({"netrc", "", (dir / "missing").string()}, "cannot read the file");
  fails({"netrc", "", dir.path().string()}, "cannot read the file");  // a folder
  fails({"netrc", "", "relative/netrc"}, "absolute path");
  fails({"both", "CASCADE_TEST_SECRET_VALUE", (dir / "netrc").string()}, "exactly one of env and file");
  fails({"a,b", "CASCADE_TEST_SECRET_VALUE", ""}, "without ','");
  fails({"token", "NOT-A-NAME", ""}, "not an environment variable name");
}

TEST_CASE("builder::parse_buildkit_metadata") {
  // The shape buildx documents for --metadata-file (buildctl writes the same keys).
  std::string json = R"({
    "buildx.build.ref": "mybuilder/mybuilder0/0fjb6ubs52xx3vygf6fgdl611",
    "containerimage.config.digest": "sha256:2937f66a9722f7f4a2df583de2f8cb97fc9196059a410e7f00072fc918930e66",
    "containerimage.descriptor": {"digest": "sha256:19ffeab6f8bc9293ac2c3fdf94ebe28396254c993aea0b5a542cfb02e0883fa3",
                                  "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 506},
    "containerimage.digest": "sha256:19ffeab6f8bc9293ac2c3fdf94ebe28396254c993aea0b5a542cfb02e0883fa3",
    "image.name": "docker.io/user/app"})";
  auto parsed = builder::parse_buildkit_metadata(json);
  REQUIRE(parsed);
  CHECK(parsed->digest == "sha256:19ffeab6f8bc9293ac2c3fdf94ebe28396254c993aea0b5a542cfb02e0883fa3");
  CHECK(parsed->image_id == "sha256:2937f66a9722f7f4a2df583de2f8cb97fc9196059a410e7f00072fc918930e66");
  CHECK_FALSE(builder::parse_buildkit_metadata("not json"));
  CHECK(builder::parse_buildkit_metadata("{}").error().find("containerimage.digest") != std::string::npos);
  CHECK_FALSE(builder::parse_buildkit_metadata(R"({"containerimage.digest": "sha256:short"})"));
}

TEST_CASE("builder failure classification") {
  using builder::detail::classify_build_failure;
  using builder::detail::classify_buildkit_failure;
  using builder::detail::classify_push_failure;
  // buildah 1.28's own lines, captured on this machine.
  CHECK(classify_build_failure("STEP 2/2: RUN curl --max-time 5 x\nsubprocess exited with status 1\n"
                               "Error: building at STEP \"RUN curl --max-time 5 x || echo timeout\": exit status 1\n") ==
        Error::Kind::build_failed);
  CHECK(classify_build_failure("Trying to pull 127.0.0.1:5999/x@sha256:...\nError: creating build container: initializing "
                               "source docker://127.0.0.1:5999/x@sha256:...: pinging container registry 127.0.0.1:5999: "
                               "Get \"https://127.0.0.1:5999/v2/\": dial tcp 127.0.0.1:5999: connect: connection refused") ==
        Error::Kind::pull_failed);
  // Seen in CI under load: runc could not start the step's process, the RUN never ran; retried.
  CHECK(classify_build_failure("STEP 2/9: RUN mkdir -p /srv/www\nClose_Fd sealing memfd copy: Device or resource busy\n"
                               "Error: building at STEP \"RUN mkdir -p /srv/www\": exit status 1\n") ==
        Error::Kind::runtime_failed);
  // The same words printed by an earlier step's command are that command's business.
  CHECK(classify_build_failure("STEP 2/3: RUN echo 'sealing memfd copy'\nsealing memfd copy\n"
                               "STEP 3/3: RUN false\nError: building at STEP \"RUN false\": exit status 1\n") ==
        Error::Kind::build_failed);
  CHECK(classify_build_failure("Error: creating build container: reading manifest sha256:ab in 127.0.0.1:5000/x: "
                               "manifest unknown: manifest unknown") == Error::Kind::build_failed);
  CHECK(classify_push_failure("Error: pushing image \"sha256:e2\" to \"docker://127.0.0.1:5999/base:1\": trying to reuse "
                              "blob sha256:ce at destination: pinging container registry 127.0.0.1:5999: Get "
                              "\"http://127.0.0.1:5999/v2/\": dial tcp 127.0.0.1:5999: connect: connection refused") ==
        Error::Kind::push_failed);
  // Seen in CI: the registry went away between buildah's pings; the push must be retried, not rejected.
  CHECK(classify_push_failure("Error: pushing image \"sha256:0c\" to \"docker://127.0.0.1:37435/runtimes/web:1\": trying to "
                              "reuse blob sha256:da at destination: pinging container registry 127.0.0.1:37435: Get "
                              "\"http://127.0.0.1:37435/v2/\": http: server closed idle connection") == Error::Kind::push_failed);
  CHECK(classify_push_failure("Error: pushing image ...: http: server gave HTTP response to HTTPS client") ==
        Error::Kind::push_rejected);
  CHECK(classify_push_failure("Error: pushing image ...: pinging container registry 127.0.0.1:5081: invalid status code "
                              "from registry 503 (Service Unavailable)") == Error::Kind::push_failed);
  CHECK(classify_push_failure("Error: pushing image ...: checking whether a blob sha256:ce exists in 127.0.0.1:5082/x: "
                              "unauthorized: authentication required") == Error::Kind::push_rejected);
  CHECK(classify_push_failure("Error: ...: received unexpected HTTP status: 502 Bad Gateway") == Error::Kind::push_failed);
  CHECK(classify_push_failure("Error: ...: requested access to the resource is denied") == Error::Kind::push_rejected);
  // BuildKit's shapes (buildctl "error:", "ERROR:").
  CHECK(classify_buildkit_failure("#5 ERROR: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3\n"
                                  "ERROR: failed to solve: process \"/bin/sh -c exit 3\" did not complete successfully: "
                                  "exit code: 3") == Error::Kind::build_failed);
  CHECK(classify_buildkit_failure("error: failed to solve: failed to push 127.0.0.1:5000/apps/shop:1: failed to do "
                                  "request: Head \"http://127.0.0.1:5000/v2/apps/shop/blobs/sha256:ab\": dial tcp "
                                  "127.0.0.1:5000: connect: connection refused") == Error::Kind::push_failed);
  CHECK(classify_buildkit_failure("error: failed to solve: failed to push r.example/apps/shop:1: unexpected status from "
                                  "HEAD request to https://r.example/v2/apps/shop/blobs/sha256:ab: 401 Unauthorized") ==
        Error::Kind::push_rejected);
  CHECK(classify_buildkit_failure("error: failed to solve: r.example/base@sha256:ab: failed to resolve source metadata "
                                  "for r.example/base@sha256:ab: unexpected status code 503 Service Unavailable") ==
        Error::Kind::pull_failed);
  CHECK(classify_buildkit_failure("error: failed to solve: r.example/base@sha256:ab: not found") == Error::Kind::build_failed);
  CHECK(classify_buildkit_failure("error: failed to solve: process \"/bin/sh -c true\" did not complete successfully: "
                                  "failed to create shim task: OCI runtime create failed: runc create failed: unable "
                                  "to start container process") == Error::Kind::runtime_failed);
}

TEST_CASE("builder docker failure classification, on docker 20.10's own lines") {
  using builder::detail::classify_docker_build_failure;
  using builder::detail::classify_docker_push_failure;
  using builder::detail::docker_engine_unavailable;
  const std::string sock = "unix:///tmp/cx/d/docker.sock";
  const std::string tcp = "tcp://127.0.0.1:5376";
  // The engine itself: a socket nobody serves, a TCP port nobody serves, TLS refused either way.
  CHECK(classify_docker_build_failure("Cannot connect to the Docker daemon at unix:///tmp/cx/nope.sock. Is the docker "
                                      "daemon running?\n", sock) == Error::Kind::worker_unavailable);
  CHECK(classify_docker_push_failure("Cannot connect to the Docker daemon at unix:///tmp/cx/nope.sock. Is the docker "
                                     "daemon running?\n", sock) == Error::Kind::worker_unavailable);
  CHECK(classify_docker_build_failure("failed to dial gRPC: cannot connect to the Docker daemon. Is 'docker daemon' "
                                      "running on this host?: dial tcp 127.0.0.1:5999: connect: connection refused",
                                      "tcp://127.0.0.1:5999") == Error::Kind::worker_unavailable);
  CHECK(classify_docker_build_failure("failed to dial gRPC: cannot connect to the Docker daemon. Is 'docker daemon' "
                                      "running on this host?: x509: certificate signed by unknown authority", tcp) ==
        Error::Kind::worker_unavailable);
  CHECK(classify_docker_build_failure("failed to dial gRPC: remote error: tls: bad certificate", tcp) ==
        Error::Kind::worker_unavailable);
  CHECK(classify_docker_push_failure("error during connect: Post \"https://127.0.0.1:5376/v1.24/images/127.0.0.1:5077/"
                                     "tlsbase/push?tag=1\": x509: certificate signed by unknown authority", tcp) ==
        Error::Kind::worker_unavailable);
  // kill -9 of dockerd during a RUN, and during a push: the client's stream just ends.
  CHECK(classify_docker_build_failure("#5 [2/2] RUN echo start-sleep && sleep 30\n#5 sha256:55ff63cd\nunexpected EOF\n",
                                      sock) == Error::Kind::worker_unavailable);
  CHECK(classify_docker_push_failure("edd8d5fa5f0e: Mounted from base\nunexpected EOF\n", sock) ==
        Error::Kind::worker_unavailable);
  CHECK(classify_docker_build_failure("#4 [2/2] RUN echo start-sleep && sleep 30\ncannot write /s/docker/work/killed-tC/"
                                      "image-id because server did not provide an image ID\n", sock) ==
        Error::Kind::worker_unavailable);
  // A refusal naming the engine's own address, however worded.
  CHECK(docker_engine_unavailable("read tcp 127.0.0.1:40122->127.0.0.1:5376: read: connection reset by peer", tcp));
  CHECK_FALSE(docker_engine_unavailable("read tcp 127.0.0.1:40122->127.0.0.1:5376: read: connection reset by peer",
                                        "tcp://127.0.0.1:5377"));
  // A client that cannot read its own TLS files.
  CHECK(classify_docker_build_failure("unable to resolve docker endpoint: open /tmp/cx/tls/nokey.pem: no such file or "
                                      "directory", tcp) == Error::Kind::setup);

  // A registry that refuses is the registry's business, not the engine's.
  CHECK(classify_docker_build_failure(
            " > [internal] load metadata for 127.0.0.1:47391/base@sha256:429f:\n------\nfailed to solve with frontend "
            "dockerfile.v0: failed to create LLB definition: failed to do request: Head \"http://127.0.0.1:47391/v2/base/"
            "manifests/sha256:429f\": dial tcp 127.0.0.1:47391: connect: connection refused", sock) ==
        Error::Kind::pull_failed);
  CHECK(classify_docker_push_failure("The push refers to repository [127.0.0.1:47391/base]\nGet \"http://127.0.0.1:47391"
                                     "/v2/\": dial tcp 127.0.0.1:47391: connect: connection refused", sock) ==
        Error::Kind::push_failed);
  CHECK(classify_docker_push_failure("Get \"https://r.example/v2/\": x509: certificate signed by unknown authority", tcp) ==
        Error::Kind::push_rejected);
  CHECK(classify_docker_push_failure("unauthorized: authentication required", sock) == Error::Kind::push_rejected);
  CHECK(classify_docker_push_failure("received unexpected HTTP status: 503 Service Unavailable", sock) ==
        Error::Kind::push_failed);

  // The Dockerfile's own failures, whatever the RUN's command or output says.
  CHECK(classify_docker_build_failure("#4 0.104 about-to-fail\n#4 ERROR: executor failed running [/bin/sh -c echo "
                                      "about-to-fail; exit 3]: exit code: 3\n------\n > [2/2] RUN echo about-to-fail; exit 3:"
                                      "\n------\nexecutor failed running [/bin/sh -c echo about-to-fail; exit 3]: exit code: 3",
                                      sock) == Error::Kind::build_failed);
  CHECK(classify_docker_build_failure("#4 0.139 error: Cannot connect to the Docker daemon\n#4 0.140 unexpected EOF\n"
                                      "executor failed running [/bin/sh -c echo 'error: Cannot connect to the Docker daemon';"
                                      " echo 'unexpected EOF'; exit 3]: exit code: 3", sock) == Error::Kind::build_failed);
  CHECK(classify_docker_build_failure("executor failed running [/bin/sh -c curl http://127.0.0.1:5376/]: exit code: 7",
                                      tcp) == Error::Kind::build_failed);
  CHECK(classify_docker_build_failure("executor failed running [/bin/sh -c true]: failed to create shim task: OCI runtime "
                                      "create failed: runc create failed: unable to start container process", sock) ==
        Error::Kind::runtime_failed);
  CHECK(classify_docker_build_failure("failed to solve with frontend dockerfile.v0: failed to create LLB definition: "
                                      "127.0.0.1:5077/base@sha256:aaaa: not found", sock) == Error::Kind::build_failed);
  CHECK(classify_docker_build_failure("failed to solve with frontend dockerfile.v0: failed to create LLB definition: "
                                      "dockerfile parse error line 2: unknown instruction: FOO", sock) ==
        Error::Kind::build_failed);
  CHECK(classify_docker_build_failure("failed to compute cache key: \"/nothere\" not found: not found", sock) ==
        Error::Kind::build_failed);
  CHECK(classify_docker_build_failure("executor failed running [/bin/sh -c true]: network bridge not found", sock) ==
        Error::Kind::build_failed);
}

TEST_CASE("builder::detail::parse_docker_push_digest") {
  using builder::detail::parse_docker_push_digest;
  const std::string digest = "sha256:429f4c9b09bf85917571539c24a2e2e66c3f080d8df03b3dde0eff9a638ba25b";
  std::string output = "The push refers to repository [127.0.0.1:5077/base]\nedd8d5fa5f0e: Preparing\n"
                       "edd8d5fa5f0e: Pushed\n1: digest: " + digest + " size: 735\n";
  CHECK(parse_docker_push_digest(output, "1") == digest);
  CHECK(parse_docker_push_digest(output, "2").empty());
  CHECK(parse_docker_push_digest("1: digest: sha256:abc size: 735\n", "1").empty());
  CHECK(parse_docker_push_digest("1: digest: " + digest + "\n", "1").empty());
  CHECK(parse_docker_push_digest("edd8d5fa5f0e: Pushed", "1").empty());
}

TEST_CASE("builder helpers") {
  SUBCASE("registry_host") {
    CHECK(builder::registry_host("127.0.0.1:5000/apps/shop:1") == "127.0.0.1:5000");
    CHECK(builder::registry_host("ghcr.io/org/app@sha256:ab") == "ghcr.io");
    CHECK(builder::registry_host("localhost/app:1") == "localhost");
    CHECK(builder::registry_host("docker.io/library/busybox:1") == "docker.io");
    CHECK(builder::registry_host("library/busybox") == "docker.io");
  }
  SUBCASE("the factory") {
    CHECK(builder::parse_backend_kind("buildah").value() == builder::BackendKind::buildah);
    CHECK(builder::parse_backend_kind("buildctl").value() == builder::BackendKind::buildctl);
    CHECK(builder::parse_backend_kind("docker").value() == builder::BackendKind::docker);
    CHECK(builder::parse_backend_kind("buildx").error().find("buildah, docker or buildctl") != std::string::npos);
    builder::BuilderConfig config;
    CHECK(builder::make_builder(config)->name() == "buildah");
    config.kind = builder::BackendKind::buildctl;
    CHECK(builder::make_builder(config)->name() == "buildctl");
    config.kind = builder::BackendKind::docker;
    config.docker.host = "unix:///run/engine.sock";
    auto docker = builder::make_builder(config);
    CHECK(docker->name() == "docker");
    CHECK(dynamic_cast<builder::DockerBuild&>(*docker).options().host == "unix:///run/engine.sock");
  }
  SUBCASE("error kinds") {
    CHECK(builder::kind_name(Error::Kind::push_failed) == "push-failed");
    CHECK(Error{Error::Kind::pull_failed, ""}.transient());
    CHECK(Error{Error::Kind::runtime_failed, ""}.transient());
    CHECK(builder::kind_name(Error::Kind::runtime_failed) == "runtime-failed");
    CHECK_FALSE(Error{Error::Kind::timed_out, ""}.transient());
    CHECK_FALSE(Error{Error::Kind::push_rejected, ""}.transient());
  }
  SUBCASE("logged commands mask build-arg values and quote") {
    CHECK(builder::detail::format_command({"buildah", "bud", "--build-arg", "TOKEN=s3cret", "--label", "a=b c"}) ==
          "buildah bud --build-arg 'TOKEN=***' --label 'a=b c'");
    CHECK(builder::detail::format_command({"buildctl", "--opt", "build-arg:TOKEN=s3cret"}) ==
          "buildctl --opt 'build-arg:TOKEN=***'");
  }
  SUBCASE("last_error_line") {
    CHECK(builder::detail::last_error_line("a\nError: first\nb\nError: second\nc\n") == "Error: second");
    CHECK(builder::detail::last_error_line("a\nlast words\n\n") == "last words");
  }
}

TEST_CASE("builder::Buildctl run path, through a stand-in program") {
  test::TempDir dir;
  // Behaves like buildctl as far as cascade can see: records its arguments and
  // environment, prints progress, then writes the metadata file or fails as `mode` says.
  test::write_file(dir / "bin/fake", "#!/bin/sh\nhere=$(dirname \"$0\")\nprintf '%s\\n' \"$@\" > \"$here/args\"\n"
                                     "echo \"DOCKER_CONFIG=$DOCKER_CONFIG\" >> \"$here/args\"\n"
                                     "meta=; prev=\nfor a in \"$@\"; do [ \"$prev\" = --metadata-file ] && meta=$a; prev=$a; done\n"
                                     "echo '#1 [internal] load build definition from Dockerfile'\n"
                                     "[ -n \"$CASCADE_BUILD_SECRET_0\" ] && echo \"#2 the secret is $CASCADE_BUILD_SECRET_0\"\n"
                                     "case $(cat \"$here/mode\") in\n"
                                     "ok) printf '{\"containerimage.digest\":\"sha256:%s\",\"containerimage.config.digest\":"
                                     "\"sha256:%s\"}' $(printf 'd%.0s' $(seq 64) ) $(printf 'c%.0s' $(seq 64)) > \"$meta\";;\n"
                                     "run) echo 'error: failed to solve: process \"/bin/sh -c false\" did not complete "
                                     "successfully: exit code: 1' >&2; exit 1;;\n"
                                     "push) echo 'error: failed to solve: failed to push x: connect: connection refused' >&2; exit 1;;\n"
                                     "esac\n");
  fs::permissions(dir / "bin/fake", fs::perms::owner_all);
  fs::create_directories(dir / "ctx");
  auto request = shop_request();
  request.context_dir = (dir / "ctx").string();
  request.log_path = (dir / "build.log").string();

  builder::BuildctlOptions buildctl_options;
  buildctl_options.program = (dir / "bin/fake").string();
  buildctl_options.state_dir = (dir / "state").string();
  buildctl_options.docker_config_dir = "/etc/cascade/docker";
  builder::Buildctl buildctl(buildctl_options);

  test::write_file(dir / "bin/mode", "ok");
  auto built = buildctl.build_and_push(request, {});
  REQUIRE_MESSAGE(built, built.error().message);
  CHECK(built->digest == "sha256:" + std::string(64, 'd'));
  CHECK(built->image_id == "sha256:" + std::string(64, 'c'));
  CHECK(test::read_file(request.log_path).find("#1 [internal] load build definition") != std::string::npos);
  CHECK(fs::is_empty(dir / "state/buildctl/work"));  // the Dockerfile folder is gone
  std::string args = test::read_file(dir / "bin/args");
  CHECK(args.find("DOCKER_CONFIG=/etc/cascade/docker") != std::string::npos);
  CHECK(args.find("--opt\nfilename=Dockerfile\n") != std::string::npos);

  SUBCASE("a secret reaches buildctl through its environment and is masked in the log") {
    test::ScopedVariable secret("CASCADE_TEST_BUILDCTL_SECRET", "buildctl-s3cret-value");
    request.secrets = {{"token", "CASCADE_TEST_BUILDCTL_SECRET", ""}};
    request.log_path = (dir / "secret.log").string();
    REQUIRE(buildctl.build_and_push(request, {}));
    std::string log = test::read_file(request.log_path);
    CHECK(log.find("--secret id=token,env=CASCADE_BUILD_SECRET_0") != std::string::npos);
    CHECK(log.find("#2 the secret is ***") != std::string::npos);
    CHECK(log.find("buildctl-s3cret-value") == std::string::npos);
    CHECK(test::read_file(dir / "bin/args").find("--secret\nid=token,env=CASCADE_BUILD_SECRET_0\n") != std::string::npos);
  }
  SUBCASE("failures") {
    test::write_file(dir / "bin/mode", "run");
    auto failed = buildctl.build_and_push(request, {});
    REQUIRE_FALSE(failed);
    CHECK(failed.error().kind == Error::Kind::build_failed);
    CHECK(failed.error().message.find("did not complete successfully") != std::string::npos);

    test::write_file(dir / "bin/mode", "push");
    auto push = buildctl.build_and_push(request, {});
    REQUIRE_FALSE(push);
    CHECK(push.error().kind == Error::Kind::push_failed);
  }
}
