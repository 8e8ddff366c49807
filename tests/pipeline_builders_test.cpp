// The `builders:` section of the pipeline file (workers, secrets, pull, prune, storage
// driver) and the `builder:` choices of sources, recipes and discover entries: every field
// read back, and every error with its line and column.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <string_view>

#include "cascade/pipeline.hpp"
#include "pipeline_support.hpp"
#include "support.hpp"

using namespace cascade::pipeline;
using namespace pipeline_test;
using cascade::test::TempDir;
using cascade::test::write_file;

namespace {

/// A folder holding the files a `builders:` section names: certs/ca.pem, certs/cert.pem,
/// certs/key.pem and secrets/pip.conf; the pipeline file is read as if it were there.
struct Folder {
  TempDir dir;
  Folder() {
    for (const char* name : {"certs/ca.pem", "certs/cert.pem", "certs/key.pem", "secrets/pip.conf"})
      write_file(dir / name, "not a real certificate\n");
  }
  std::string path(const std::string& relative) const { return (dir / relative).string(); }
};

/// A source with one recipe (6 lines) after the section under test.
constexpr std::string_view kSources = R"(sources:
  - name: platform
    git: repos/platform
    images:
      - image: registry.example.com/base/debian:12
        dockerfile: debian/Dockerfile
)";

/// "version: 1", then `text` (starting at line 2), then `sources` (kSources by default).
cascade::Expected<Pipeline, Error> parse_in(const Folder& folder, std::string_view text,
                                            std::string_view sources = kSources) {
  std::string file = "version: 1\n" + std::string(text) + std::string(sources);
  return parse(file, "cascade.yaml", folder.dir.str(), kEnv);
}

bool contains(const std::string& text, std::string_view fragment) { return text.find(fragment) != std::string::npos; }

/// Checks the error's place and a fragment of its message.
void check_error(const Folder& folder, std::string_view text, int line, int column, std::string_view fragment,
                 std::string_view sources = kSources) {
  auto result = parse_in(folder, text, sources);
  REQUIRE_MESSAGE(!result, "parsed without error: " << text);
  INFO(result.error().str());
  CHECK(result.error().line == line);
  CHECK(result.error().column == column);
  CHECK(contains(result.error().message, fragment));
}

using Labels = std::map<std::string, std::string>;

constexpr std::string_view kFull = R"(builders:
  pull: always
  storage_driver: overlay
  prune: {keep_runs: 5}
  secrets:
    - {id: npm_token, env: NPM_TOKEN}
    - {id: pip_conf, file: secrets/pip.conf}
  workers:
    - {name: local, kind: buildah, capacity: 2}
    - name: docker-a
      kind: docker
      endpoint: unix:///run/docker-a.sock
      capacity: 3
      network: none
      labels: {arch: amd64, pool: fast}
    - name: docker-b
      kind: docker
      endpoint: tcp://10.0.0.5:2376
      tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}
      insecure: false
      labels: {arch: arm64}
    - {name: kit, kind: buildkit, endpoint: "tcp://[::1]:1234", insecure: true}
)";

constexpr std::string_view kChoosingSources = R"(sources:
  - name: apps
    git: repos/apps
    builder: {labels: {arch: amd64}}
    images:
      - {image: registry.example.com/apps/api:1, dockerfile: api/Dockerfile, builder: {name: local}}
      - {image: registry.example.com/apps/web:1, dockerfile: web/Dockerfile}
      - {image: registry.example.com/apps/any:1, dockerfile: any/Dockerfile, builder: {}}
    discover:
      - {dockerfiles: "services/*/Dockerfile", image: "registry.example.com/apps/{dir}:1", builder: {labels: {pool: fast}}}
      - dockerfiles: "jobs/*/Dockerfile"
        image: "registry.example.com/jobs/{dir}:1"
        builder:
          name: docker-b
          labels: {arch: arm64}
  - name: plain
    git: repos/plain
    discover:
      - {dockerfiles: "*/Dockerfile", image: "registry.example.com/plain/{dir}:1"}
)";

}  // namespace

TEST_CASE("pipeline::builders") {
  Folder folder;
  SUBCASE("every field of the section and of the builder choices") {
    auto result = parse_in(folder, kFull, kChoosingSources);
    REQUIRE_MESSAGE(result, result.error().str());
    const Builders& builders = result->builders;
    CHECK(builders.mark.line == 3);
    CHECK(builders.mark.column == 3);
    CHECK(builders.pull == PullPolicy::always);
    CHECK(builders.storage_driver == "overlay");
    CHECK(builders.prune_keep_runs == 5);
    REQUIRE(builders.secrets.size() == 2);
    CHECK(builders.secrets[0].id == "npm_token");
    CHECK(builders.secrets[0].env == "NPM_TOKEN");
    CHECK(builders.secrets[0].file.empty());
    CHECK(builders.secrets[0].mark.line == 7);
    CHECK(builders.secrets[1].id == "pip_conf");
    CHECK(builders.secrets[1].env.empty());
    CHECK(builders.secrets[1].file == folder.path("secrets/pip.conf"));
    CHECK(builders.secrets[1].mark.line == 8);

    REQUIRE(builders.workers.size() == 4);
    const Worker& local = builders.workers[0];
    CHECK(local.name == "local");
    CHECK(local.kind == WorkerKind::buildah);
    CHECK(local.capacity == 2);
    CHECK(local.endpoint.empty());
    CHECK_FALSE(local.tls);
    CHECK(local.labels.empty());
    CHECK(local.mark.line == 10);
    CHECK(local.mark.column == 7);
    const Worker& docker_a = builders.workers[1];
    CHECK(docker_a.kind == WorkerKind::docker);
    CHECK(docker_a.endpoint == "unix:///run/docker-a.sock");
    CHECK(docker_a.capacity == 3);
    CHECK(docker_a.network == "none");
    CHECK(docker_a.labels == Labels{{"arch", "amd64"}, {"pool", "fast"}});
    CHECK_FALSE(docker_a.insecure);
    CHECK(docker_a.mark.line == 11);
    const Worker& docker_b = builders.workers[2];
    CHECK(docker_b.endpoint == "tcp://10.0.0.5:2376");
    REQUIRE(docker_b.tls);
    CHECK(docker_b.tls->ca == folder.path("certs/ca.pem"));
    CHECK(docker_b.tls->cert == folder.path("certs/cert.pem"));
    CHECK(docker_b.tls->key == folder.path("certs/key.pem"));
    CHECK_FALSE(docker_b.insecure);
    CHECK(docker_b.capacity == 1);
    CHECK(docker_b.network.empty());
    const Worker& kit = builders.workers[3];
    CHECK(kit.kind == WorkerKind::buildkit);
    CHECK(kit.endpoint == "tcp://[::1]:1234");
    CHECK(kit.insecure);
    CHECK_FALSE(kit.tls);

    REQUIRE(result->sources.size() == 2);
    const Source& apps = result->sources[0];
    REQUIRE(apps.builder);
    CHECK(apps.builder->name.empty());
    CHECK(apps.builder->labels == Labels{{"arch", "amd64"}});
    CHECK(apps.builder->mark.line == 27);
    CHECK(apps.builder->mark.column == 14);
    REQUIRE(apps.images.size() == 3);
    REQUIRE(apps.images[0].builder);
    CHECK(apps.images[0].builder->name == "local");
    CHECK(apps.images[0].builder->labels.empty());
    CHECK(apps.images[0].builder->mark.line == 29);
    CHECK_FALSE(apps.images[1].builder);
    REQUIRE(apps.images[2].builder);  // `builder: {}`: any worker, overriding the source's choice
    CHECK(apps.images[2].builder->any());
    REQUIRE(apps.discover.size() == 2);
    REQUIRE(apps.discover[0].builder);
    CHECK(apps.discover[0].builder->labels == Labels{{"pool", "fast"}});
    REQUIRE(apps.discover[1].builder);
    CHECK(apps.discover[1].builder->name == "docker-b");
    CHECK(apps.discover[1].builder->labels == Labels{{"arch", "arm64"}});
    CHECK(apps.discover[1].builder->mark.line == 37);  // a block mapping starts at its first key
    CHECK(apps.discover[1].builder->mark.column == 11);
    CHECK_FALSE(result->sources[1].builder);
    CHECK_FALSE(result->sources[1].discover[0].builder);
  }
  SUBCASE("without the section: the defaults, and choices of the implicit local worker") {
    auto result = parse_in(folder, "");
    REQUIRE(result);
    const Builders& builders = result->builders;
    CHECK(builders.workers.empty());
    CHECK(builders.pull == PullPolicy::missing);
    CHECK(builders.secrets.empty());
    CHECK_FALSE(builders.prune_keep_runs);
    CHECK(builders.storage_driver.empty());
    CHECK_FALSE(result->sources[0].builder);
    CHECK_FALSE(result->sources[0].images[0].builder);
    auto local = parse_in(folder, "", R"(sources:
  - name: platform
    git: repos/platform
    builder: {name: local}
    images:
      - {image: registry.example.com/base/debian:12, dockerfile: debian/Dockerfile, builder: {labels: {}}}
)");
    REQUIRE_MESSAGE(local, local.error().str());
    CHECK(local->sources[0].builder->name == "local");
  }
  SUBCASE("an empty section and a worker's defaults") {
    auto empty = parse_in(folder, "builders: {}\n");
    REQUIRE(empty);
    CHECK(empty->builders.workers.empty());
    CHECK(empty->builders.mark.line == 2);
    auto result = parse_in(folder, "builders:\n  workers:\n    - {name: b1, kind: buildah}\n"
                                   "    - {name: d1, kind: docker, endpoint: 'unix:///var/run/docker.sock'}\n");
    REQUIRE_MESSAGE(result, result.error().str());
    const Worker& worker = result->builders.workers.at(1);
    CHECK(worker.capacity == 1);
    CHECK_FALSE(worker.insecure);
    CHECK_FALSE(worker.tls);
    CHECK(worker.network.empty());
    CHECK(worker.labels.empty());
  }
  SUBCASE("pull missing, storage driver vfs, a secret file by absolute path") {
    std::string text = "builders:\n  pull: missing\n  storage_driver: vfs\n  secrets:\n    - {id: a.b-c_1, file: " +
                       folder.path("secrets/pip.conf") + "}\n";
    auto result = parse_in(folder, text);
    REQUIRE_MESSAGE(result, result.error().str());
    CHECK(result->builders.pull == PullPolicy::missing);
    CHECK(result->builders.storage_driver == "vfs");
    CHECK(result->builders.secrets.at(0).file == folder.path("secrets/pip.conf"));
  }
  SUBCASE("an insecure worker is warned about when a command starts") {
    auto result = parse_in(folder, kFull, kChoosingSources);
    REQUIRE(result);
    auto warnings = insecure_warnings(*result);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].line == 23);
    CHECK(warnings[0].column == 7);
    CHECK(contains(warnings[0].message, "build worker 'kit' is insecure"));
    CHECK(contains(warnings[0].message, "tcp://[::1]:1234"));
  }
}

TEST_CASE("pipeline::builders errors") {
  Folder folder;
  SUBCASE("unknown keys in the section, a worker, a secret, tls, prune and a choice") {
    check_error(folder, "builders:\n  pul: always\n", 3, 3, "unknown key 'pul' in builders; did you mean 'pull'?");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: buildah, capcity: 2}\n", 4, 32,
                "unknown key 'capcity' in worker; did you mean 'capacity'? allowed: name, kind, endpoint, tls, "
                "insecure, capacity, network, labels");
    check_error(folder, "builders:\n  secrets:\n    - {id: a, env: A, value: x}\n", 4, 23,
                "unknown key 'value' in secret; allowed: id, env, file");
    check_error(folder,
                "builders:\n  workers:\n    - name: a\n      kind: docker\n      endpoint: tcp://h:1\n"
                "      tls: {ca: certs/ca.pem, crt: certs/cert.pem}\n",
                7, 31, "unknown key 'crt' in tls; did you mean 'cert'?");
    check_error(folder, "builders:\n  prune: {keep: 5}\n", 3, 11, "unknown key 'keep' in prune");
    check_error(folder, "", 5, 15, "unknown key 'nmae' in builder choice; did you mean 'name'?",
                "sources:\n  - name: a\n    git: a\n    builder: {nmae: local}\n    images: [{image: x/y:1, "
                "dockerfile: Dockerfile}]\n");
  }
  SUBCASE("wrong types") {
    check_error(folder, "builders: buildah\n", 2, 11, "builders must be a mapping");
    check_error(folder, "builders:\n  workers: {name: a}\n", 3, 12, "'workers' must be a list, not a mapping");
    check_error(folder, "builders:\n  workers:\n    - local\n", 4, 7, "worker must be a mapping");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: buildah, capacity: two}\n", 4, 42,
                "'capacity' must be a whole number of at least 1, not 'two'");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: buildah, capacity: 0}\n", 4, 42,
                "'capacity' must be a whole number of at least 1, not '0'");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: buildah, labels: [x]}\n", 4, 40,
                "'labels' must be a mapping of names to strings, not a list");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: buildah, labels: {arch: [x]}}\n", 4, 47,
                "'arch' in 'labels' must be a string, not a list");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: docker, endpoint: 'tcp://h:1', insecure: maybe}\n",
                4, 64, "'insecure' must be true or false");
    check_error(folder, "builders:\n  workers:\n    - {name: A, kind: buildah}\n", 4, 14,
                "worker name 'A' must match [a-z0-9][a-z0-9._-]*");
    check_error(folder, "builders:\n  secrets: {id: a}\n", 3, 12, "'secrets' must be a list, not a mapping");
    check_error(folder, "builders:\n  prune: 5\n", 3, 10, "prune must be a mapping with keys keep_runs");
    check_error(folder, "builders:\n  prune: {keep_runs: 0}\n", 3, 22,
                "'keep_runs' must be a whole number of at least 1, not '0'");
    check_error(folder, "builders:\n  prune: {}\n", 3, 10, "missing required key 'keep_runs' in prune");
    check_error(folder, "builders:\n  pull: sometimes\n", 3, 9, "'pull' must be missing or always, not 'sometimes'");
    check_error(folder, "builders:\n  storage_driver: btrfs\n", 3, 19,
                "'storage_driver' must be overlay or vfs, not 'btrfs'");
    check_error(folder, "", 5, 14, "builder choice must be a mapping with keys name, labels, not a string",
                "sources:\n  - name: a\n    git: a\n    builder: local\n    images: [{image: x/y:1, "
                "dockerfile: Dockerfile}]\n");
    check_error(folder, "", 5, 23, "'labels' must be a mapping of names to strings, not a list",
                "sources:\n  - name: a\n    git: a\n    builder: {labels: [arch]}\n    images: [{image: x/y:1, "
                "dockerfile: Dockerfile}]\n");
  }
  SUBCASE("workers: not empty, unique names, a known kind") {
    check_error(folder, "builders:\n  workers: []\n", 3, 12, "'workers' is empty: list at least one worker");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: buildah}\n    - {name: a, kind: buildah}\n", 5,
                14, "worker name 'a' is already used by the worker at line 4; give each worker a unique name");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: buildx}\n", 4, 23,
                "worker 'a': unknown kind 'buildx'; known: buildah, docker, buildkit");
    check_error(folder, "builders:\n  workers:\n    - {name: a}\n", 4, 7, "missing required key 'kind' in worker");
  }
  SUBCASE("endpoints: required for docker and buildkit, refused for buildah, absolute or host:port") {
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: docker}\n", 4, 7,
                "worker 'a': kind 'docker' needs an 'endpoint'");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: buildkit}\n", 4, 7,
                "worker 'a': kind 'buildkit' needs an 'endpoint'");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: buildah, endpoint: 'unix:///s'}\n", 4, 32,
                "worker 'a': 'endpoint' does not apply to kind 'buildah'");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: buildah, tls: {ca: certs/ca.pem}}\n", 4, 32,
                "worker 'a': 'tls' does not apply to kind 'buildah'");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: buildkit, endpoint: 'unix:///s', network: host}\n",
                4, 56, "worker 'a': 'network' applies only to kind 'docker'");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: docker, endpoint: 'unix://run/docker.sock'}\n", 4,
                41, "'endpoint' 'unix://run/docker.sock' must name an absolute socket path");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: docker, endpoint: 'tcp://10.0.0.5'}\n", 4, 41,
                "'endpoint' 'tcp://10.0.0.5' must be tcp://host:port");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: docker, endpoint: 'tcp://h:2376/v1'}\n", 4, 41,
                "must be tcp://host:port");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: docker, endpoint: 'https://h:2376'}\n", 4, 41,
                "must be unix:///absolute/path.sock or tcp://host:port");
  }
  SUBCASE("tcp:// without tls needs insecure: true; insecure elsewhere is refused") {
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: docker, endpoint: 'tcp://h:2375'}\n", 4, 41,
                "worker 'a': 'endpoint' 'tcp://h:2375' without 'tls' sends builds and their secrets unencrypted and "
                "unauthenticated; add 'tls: {ca, cert, key}', or set 'insecure: true' on the worker to accept that");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: docker, endpoint: 'unix:///s', insecure: true}\n",
                4, 64, "worker 'a': 'insecure: true' applies only to a tcp:// endpoint without 'tls'");
    check_error(folder, "builders:\n  workers:\n    - {name: a, kind: buildah, insecure: true}\n", 4, 42,
                "'insecure: true' applies only to a tcp:// endpoint");
    check_error(folder,
                "builders:\n  workers:\n    - {name: a, kind: docker, endpoint: 'tcp://h:1', insecure: true, "
                "tls: {ca: certs/ca.pem}}\n",
                4, 64, "'insecure: true' applies only to a tcp:// endpoint without 'tls'");
    auto insecure_false = parse_in(folder, "builders:\n  workers:\n    - {name: a, kind: buildah, insecure: false}\n");
    CHECK_MESSAGE(insecure_false, insecure_false.error().str());
  }
  SUBCASE("tls: cert and key together, only with tcp://, files that exist and can be read") {
    check_error(folder,
                "builders:\n  workers:\n    - {name: a, kind: docker, endpoint: 'tcp://h:1', tls: {cert: certs/cert.pem}}\n",
                4, 59, "'tls' needs both 'cert' and 'key'");
    check_error(folder,
                "builders:\n  workers:\n    - {name: a, kind: docker, endpoint: 'unix:///s', tls: {ca: certs/ca.pem}}\n",
                4, 59, "'tls' applies only to a tcp:// endpoint");
    check_error(folder,
                "builders:\n  workers:\n    - name: a\n      kind: docker\n      endpoint: tcp://h:1\n"
                "      tls:\n        ca: certs/ca.pem\n        cert: certs/cert.pem\n        key: certs/missing.pem\n",
                10, 14, "'tls' 'key' file '" + folder.path("certs/missing.pem") + "' does not exist");
    check_error(folder,
                "builders:\n  workers:\n    - {name: a, kind: docker, endpoint: 'tcp://h:1', tls: {ca: certs}}\n", 4,
                64, "'tls' 'ca' file '" + folder.path("certs") + "' is not a regular file");
  }
  SUBCASE("secrets: unique ids, exactly one of env and file, a file that exists") {
    check_error(folder, "builders:\n  secrets:\n    - {id: a, env: A}\n    - {id: a, file: secrets/pip.conf}\n", 5, 12,
                "secret id 'a' is already used by the secret at line 4; give each secret a unique id");
    check_error(folder, "builders:\n  secrets:\n    - {id: a, env: A, file: secrets/pip.conf}\n", 4, 7,
                "secret 'a' has both 'env' and 'file'; give exactly one");
    check_error(folder, "builders:\n  secrets:\n    - {id: a}\n", 4, 7, "secret 'a' has neither 'env' nor 'file'");
    check_error(folder, "builders:\n  secrets:\n    - {id: a, file: secrets/npm.conf}\n", 4, 21,
                "secret 'a' file '" + folder.path("secrets/npm.conf") + "' does not exist");
    check_error(folder, "builders:\n  secrets:\n    - {id: a, env: NPM-TOKEN}\n", 4, 20,
                "'env' names an environment variable: 'NPM-TOKEN' must match");
    check_error(folder, "builders:\n  secrets:\n    - {id: 'a,b', env: A}\n", 4, 12,
                "secret id 'a,b' must match [A-Za-z0-9][A-Za-z0-9._-]*");
  }
  SUBCASE("a secret file's content is never in a message") {
    write_file(folder.dir / "secrets/token", "s3cr3t-value\n");
    auto result = parse_in(folder, "builders:\n  secrets:\n    - {id: t, file: secrets/token, env: X}\n");
    REQUIRE_FALSE(result);
    CHECK_FALSE(contains(result.error().message, "s3cr3t"));
  }
}

TEST_CASE("pipeline::builders choices no worker satisfies") {
  Folder folder;
  constexpr std::string_view kWorkers = R"(builders:
  workers:
    - {name: local, kind: buildah}
    - {name: docker-a, kind: docker, endpoint: "unix:///run/docker-a.sock", labels: {arch: amd64, pool: fast}}
)";
  SUBCASE("a source naming an unknown worker") {
    check_error(folder, kWorkers, 9, 14,
                "source 'apps': builder {name: docker-b} matches no worker: no worker is named 'docker-b'; the workers "
                "are: local (buildah, no labels), docker-a (docker, labels {arch: amd64, pool: fast}). Change the "
                "choice, or declare a worker that satisfies it under 'builders.workers'",
                "sources:\n  - name: apps\n    git: a\n    builder: {name: docker-b}\n"
                "    images: [{image: x/y:1, dockerfile: Dockerfile}]\n");
  }
  SUBCASE("an image recipe asking for labels no worker carries") {
    check_error(folder, kWorkers, 11, 63,
                "image recipe 'docker.io/x/web:1' of source 'apps': builder {labels: {arch: arm64}} matches no "
                "worker: no worker carries all of the labels {arch: arm64}; the workers are: local",
                "sources:\n  - name: apps\n    git: a\n    images:\n      - {image: x/api:1, dockerfile: api/Dockerfile}\n"
                "      - {image: x/web:1, dockerfile: web/Dockerfile, builder: {labels: {arch: arm64}}}\n");
  }
  SUBCASE("labels spread over two workers satisfy no choice") {
    check_error(folder,
                "builders:\n  workers:\n    - {name: a, kind: buildah, labels: {arch: amd64}}\n"
                "    - {name: b, kind: buildah, labels: {pool: fast}}\n",
                9, 14, "no worker carries all of the labels {arch: amd64, pool: fast}",
                "sources:\n  - name: apps\n    git: a\n    builder: {labels: {arch: amd64, pool: fast}}\n"
                "    images: [{image: x/y:1, dockerfile: Dockerfile}]\n");
  }
  SUBCASE("a discover entry naming a worker without the labels it asks for") {
    check_error(folder, kWorkers, 13, 11,
                "discover entry '*/Dockerfile' of source 'apps': builder {name: docker-a, labels: {arch: arm64, pool: "
                "fast}} matches no worker: worker 'docker-a' does not carry the labels {arch: arm64}",
                "sources:\n  - name: apps\n    git: a\n    discover:\n      - dockerfiles: \"*/Dockerfile\"\n"
                "        image: \"x/{dir}:1\"\n        builder:\n          name: docker-a\n"
                "          labels: {arch: arm64, pool: fast}\n");
  }
  SUBCASE("without builders.workers only the implicit local buildah worker exists") {
    check_error(folder, "", 5, 14,
                "source 'apps': builder {name: docker-a} matches no worker: no worker is named 'docker-a'; the "
                "workers are: local (buildah, no labels) (implicit: the file declares no 'builders.workers')",
                "sources:\n  - name: apps\n    git: a\n    builder: {name: docker-a}\n"
                "    images: [{image: x/y:1, dockerfile: Dockerfile}]\n");
    check_error(folder, "builders:\n  pull: always\n", 7, 62, "no worker carries all of the labels {arch: amd64}",
                "sources:\n  - name: apps\n    git: a\n    images: [{image: x/y:1, dockerfile: Dockerfile, "
                "builder: {labels: {arch: amd64}}}]\n");
  }
  SUBCASE("a choice is checked wherever the builders section stands in the file") {
    std::string text = "version: 1\n" + std::string(kSources) + "    builder: {name: docker-a}\n" + std::string(kWorkers);
    auto result = parse(text, "cascade.yaml", folder.dir.str(), kEnv);
    REQUIRE_MESSAGE(result, result.error().str());
    CHECK(result->sources[0].builder->name == "docker-a");
  }
}
