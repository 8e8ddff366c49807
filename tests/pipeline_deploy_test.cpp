// The `deploy:` section of the pipeline file: targets of each kind, rollout policies,
// durations, command placeholders, and every error with its line and column.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "cascade/pipeline.hpp"
#include "pipeline_support.hpp"

using namespace cascade::pipeline;
using namespace pipeline_test;
using namespace std::chrono_literals;

namespace {

/// The error for `deploy` appended to kHead; line -1 when it parsed.
Error error_for(std::string_view deploy) {
  auto result = parse_with(deploy);
  if (result) return Error{"cascade.yaml", -1, -1, "parsed without error"};
  return result.error();
}

bool contains(const std::string& text, std::string_view fragment) { return text.find(fragment) != std::string::npos; }

/// Checks an error's place and a fragment of its message.
void check_error(std::string_view deploy, int line, int column, std::string_view fragment) {
  Error error = error_for(deploy);
  INFO(error.str());
  CHECK(error.line == line);
  CHECK(error.column == column);
  CHECK(contains(error.message, fragment));
}

}  // namespace

TEST_CASE("pipeline::deploy") {
  SUBCASE("the example of every kind") {
    Pipeline pipeline = parsed(R"(deploy:
  - name: edge-hosts
    kind: docker
    endpoint: unix:///run/podman/podman.sock
    group_by: com.example.service
    images: ["registry.example.com/apps/*"]
    rollout: {batch: 2, max_unavailable: 0, health_timeout: 60s, rollback: false, http_probe: "http://127.0.0.1:8080/health", stable_for: 5s}
  - name: remote
    kind: docker
    endpoint: tcp://10.0.0.5:2376
    tls: {ca: certs/ca.pem, cert: ~/certs/cert.pem, key: /etc/cascade/key.pem}
  - name: prod
    kind: kubernetes
    kubeconfig: ~/.kube/config
    context: prod
    namespaces: [web, api]
    rollout: {health_timeout: 1h30m, rollback: true}
  - name: legacy-vms
    kind: command
    argv: [ansible-playbook, redeploy.yml, -e, "image={image}", -e, "digest={digest}", "{{literal}}"]
    env: {ANSIBLE_FORCE_COLOR: "0"}
    timeout: 5m
    images: ["registry.example.com/apps/*"]
max_parallel_deploys: 8
)");
    CHECK(pipeline.max_parallel_deploys == 8);
    REQUIRE(pipeline.deploy.size() == 4);
    const DeployTarget& edge = pipeline.deploy[0];
    CHECK(edge.name == "edge-hosts");
    CHECK(edge.kind == DeployKind::docker);
    CHECK(edge.endpoint == "unix:///run/podman/podman.sock");
    CHECK(edge.group_by == "com.example.service");
    CHECK(edge.images == std::vector<std::string>{"registry.example.com/apps/*"});
    CHECK(edge.rollout.batch == 2);
    CHECK(edge.rollout.max_unavailable == 0);
    CHECK(edge.rollout.health_timeout == 60s);
    CHECK_FALSE(edge.rollout.rollback);
    CHECK(edge.rollout.http_probe == "http://127.0.0.1:8080/health");
    CHECK(edge.rollout.stable_for == 5s);
    CHECK_FALSE(edge.tls);
    CHECK(edge.mark.line == 9);
    CHECK(edge.mark.column == 5);
    const DeployTarget& remote = pipeline.deploy[1];
    REQUIRE(remote.tls);
    CHECK(remote.tls->ca == "/srv/fleet/certs/ca.pem");
    CHECK(remote.tls->cert == "/home/dev/certs/cert.pem");
    CHECK(remote.tls->key == "/etc/cascade/key.pem");
    CHECK(remote.group_by == "com.docker.compose.service");
    const DeployTarget& prod = pipeline.deploy[2];
    CHECK(prod.kind == DeployKind::kubernetes);
    CHECK(prod.kubeconfig == "/home/dev/.kube/config");
    CHECK(prod.context == "prod");
    CHECK(prod.namespaces == std::vector<std::string>{"web", "api"});
    CHECK(prod.rollout.health_timeout == 1h + 30min);
    const DeployTarget& legacy = pipeline.deploy[3];
    CHECK(legacy.kind == DeployKind::command);
    CHECK(legacy.argv.size() == 7);
    CHECK(legacy.argv[3] == "image={image}");
    CHECK(legacy.env == std::map<std::string, std::string>{{"ANSIBLE_FORCE_COLOR", "0"}});
    CHECK(legacy.timeout == 5min);
  }
  SUBCASE("defaults") {
    Pipeline none = parsed("");
    CHECK(none.deploy.empty());
    CHECK(none.max_parallel_deploys == 4);
    Pipeline pipeline = parsed(R"(deploy:
  - {name: a, kind: docker, endpoint: "unix:///var/run/docker.sock"}
  - {name: b, kind: kubernetes, namespaces: [default]}
  - {name: c, kind: command, argv: [true]}
)");
    const DeployTarget& docker = pipeline.deploy[0];
    CHECK(docker.rollout.batch == 1);
    CHECK(docker.rollout.max_unavailable == 1);
    CHECK(docker.rollout.health_timeout == 60s);
    CHECK(docker.rollout.rollback);
    CHECK(docker.rollout.http_probe.empty());
    CHECK(docker.rollout.stable_for == 0ms);
    CHECK(docker.images.empty());
    CHECK(pipeline.deploy[1].kubeconfig.empty());
    CHECK(pipeline.deploy[1].context.empty());
    CHECK(pipeline.deploy[2].timeout == 10min);
  }
  SUBCASE("deploys() matches the images globs on the repository") {
    DeployTarget target;
    CHECK(deploys(target, "docker.io/library/nginx"));
    target.images = {"registry.example.com/apps/*", "docker.io/library/nginx"};
    CHECK(deploys(target, "registry.example.com/apps/web"));
    CHECK_FALSE(deploys(target, "registry.example.com/apps/team/web"));
    CHECK(deploys(target, "docker.io/library/nginx"));
    CHECK_FALSE(deploys(target, "docker.io/library/redis"));
  }
  SUBCASE("kind_name") {
    CHECK(kind_name(DeployKind::docker) == "docker");
    CHECK(kind_name(DeployKind::kubernetes) == "kubernetes");
    CHECK(kind_name(DeployKind::command) == "command");
  }
}

TEST_CASE("pipeline::parse_duration") {
  SUBCASE("units alone and combined") {
    CHECK(*parse_duration("500ms") == 500ms);
    CHECK(*parse_duration("60s") == 60s);
    CHECK(*parse_duration("5m") == 5min);
    CHECK(*parse_duration("1h30m") == 90min);
    CHECK(*parse_duration("1m30s250ms") == 90250ms);
    CHECK(*parse_duration("0s") == 0ms);
  }
  SUBCASE("rejected") {
    for (std::string_view bad : {"", "60", "s", "5x", "1m1h", "5s5s", "-1s", "1.5s", " 5s", "5 s", "9999999999s"}) {
      INFO(bad);
      CHECK_FALSE(parse_duration(bad));
    }
    CHECK(parse_duration("60").error() == "duration '60' needs a unit: ms, s, m or h");
  }
}

TEST_CASE("pipeline::deploy errors") {
  SUBCASE("unknown keys, with a suggestion") {
    Error error = error_for("deploy:\n  - {name: a, kind: command, argv: [x], timout: 5s}\n");
    CHECK(error.line == 9);
    CHECK(error.column == 41);
    CHECK(contains(error.message, "unknown key 'timout' in deploy target; did you mean 'timeout'?"));
    check_error("deploy:\n  - name: a\n    kind: docker\n    endpoint: tcp://h:2376\n    rollout: {batchs: 2}\n",
                12, 15, "unknown key 'batchs' in rollout; did you mean 'batch'?");
    check_error("deploy:\n  - name: a\n    kind: docker\n    endpoint: tcp://h:2376\n    tls: {ca: a, cret: b}\n", 12,
                18, "unknown key 'cret' in tls; did you mean 'cert'?");
    check_error("max_paralel_deploys: 2\n", 8, 1, "did you mean 'max_parallel_deploys'?");
  }
  SUBCASE("a key of another kind names its kind") {
    check_error("deploy:\n  - name: a\n    kind: docker\n    endpoint: tcp://h:2376\n    namespaces: [web]\n", 12, 5,
                "'namespaces' belongs to kind 'kubernetes', not 'docker'; remove it or change 'kind'");
    check_error("deploy:\n  - name: a\n    kind: kubernetes\n    namespaces: [web]\n    argv: [x]\n", 12, 5,
                "'argv' belongs to kind 'command', not 'kubernetes'");
    check_error("deploy:\n  - name: a\n    kind: command\n    argv: [x]\n    endpoint: unix:///s\n", 12, 5,
                "'endpoint' belongs to kind 'docker', not 'command'");
    check_error("deploy:\n  - name: a\n    kind: command\n    argv: [x]\n    rollout: {batch: 1}\n", 12, 5,
                "'rollout' does not apply to kind 'command'");
    check_error("deploy:\n  - name: a\n    kind: kubernetes\n    namespaces: [web]\n    rollout: {batch: 2}\n", 12, 15,
                "rollout key 'batch' applies only to docker targets");
  }
  SUBCASE("missing required keys") {
    check_error("deploy:\n  - name: a\n", 9, 5, "missing required key 'kind' in deploy target");
    check_error("deploy:\n  - kind: docker\n", 9, 5, "missing required key 'name' in deploy target");
    check_error("deploy:\n  - name: a\n    kind: docker\n", 9, 5, "missing required key 'endpoint' for kind 'docker'");
    check_error("deploy:\n  - name: a\n    kind: kubernetes\n", 9, 5,
                "missing required key 'namespaces' for kind 'kubernetes'");
    check_error("deploy:\n  - name: a\n    kind: command\n", 9, 5, "missing required key 'argv' for kind 'command'");
  }
  SUBCASE("wrong types") {
    check_error("deploy: {name: a}\n", 8, 9, "'deploy' must be a list, not a mapping");
    check_error("deploy:\n  - just-a-name\n", 9, 5, "deploy target must be a mapping");
    check_error("deploy:\n  - {name: a, kind: command, argv: x}\n", 9, 36, "'argv' must be a list, not a string");
    check_error("deploy:\n  - {name: a, kind: command, argv: [[x]]}\n", 9, 37, "'argv' must be a string, not a list");
    check_error("deploy:\n  - {name: a, kind: command, argv: []}\n", 9, 36, "'argv' is empty");
    check_error("deploy:\n  - {name: a, kind: command, argv: [x], env: [A]}\n", 9, 46, "'env' must be a mapping");
    check_error("deploy:\n  - {name: a, kind: kubernetes, namespaces: web}\n", 9, 45, "'namespaces' must be a list");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: [x]}\n", 9, 39, "'endpoint' must be a string");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h:1', rollout: 5}\n", 9, 61,
                "rollout must be a mapping");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h:1', rollout: {rollback: yes}}\n", 9, 72,
                "'rollback' must be true or false");
    check_error("max_parallel_deploys: [1]\n", 8, 23, "'max_parallel_deploys' must be a whole number of at least 1");
  }
  SUBCASE("numbers and durations") {
    check_error("max_parallel_deploys: 0\n", 8, 23, "at least 1, not '0'");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h:1', rollout: {batch: 0}}\n", 9, 69,
                "'batch' must be a whole number of at least 1, not '0'");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h:1', rollout: {max_unavailable: -1}}\n", 9, 79,
                "'max_unavailable' must be a whole number of at least 0");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h:1', rollout: {health_timeout: 60}}\n", 9, 78,
                "'health_timeout': duration '60' needs a unit");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h:1', rollout: {health_timeout: 0s}}\n", 9, 78,
                "'health_timeout' must be longer than zero");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h:1', rollout: {stable_for: 1.5s}}\n", 9, 74,
                "must be like 500ms, 60s, 5m or 1h30m");
    check_error("deploy:\n  - {name: a, kind: command, argv: [x], timeout: 0ms}\n", 9, 50, "'timeout' must be longer");
  }
  SUBCASE("names: format and uniqueness") {
    check_error("deploy:\n  - {name: Prod, kind: command, argv: [x]}\n", 9, 12,
                "deploy target name 'Prod' must match [a-z0-9][a-z0-9._-]*");
    check_error("deploy:\n  - {name: a, kind: command, argv: [x]}\n  - {name: a, kind: command, argv: [y]}\n", 10, 12,
                "deploy target name 'a' is already used by the target at line 9");
    check_error("deploy:\n  - {name: a, kind: swarm}\n", 9, 21, "unknown deploy kind 'swarm'; known: docker, kubernetes");
  }
  SUBCASE("argv placeholders") {
    check_error("deploy:\n  - name: a\n    kind: command\n    argv: [deploy, \"--image={imgae}\"]\n", 11, 20,
                "unknown placeholder {imgae}; known: {image}, {digest}, {old_digest}, {run}, {repository}");
    check_error("deploy:\n  - name: a\n    kind: command\n    argv:\n      - deploy\n      - \"{image\"\n", 13, 9,
                "unclosed '{'");
    check_error("deploy:\n  - name: a\n    kind: command\n    argv: [\"a}b\"]\n", 11, 12, "stray '}'");
  }
  SUBCASE("docker endpoints and tls") {
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'http://h:2375'}\n", 9, 39,
                "must be unix:///absolute/path.sock or tcp://host:port");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h'}\n", 9, 39, "tcp://host:port");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'unix:///s', tls: {ca: x}}\n", 9, 57,
                "'tls' applies only to a tcp:// endpoint");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h:1', tls: {cert: x}}\n", 9, 57,
                "needs both 'cert' and 'key'");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h:1', rollout: {http_probe: 'h:80/'}}\n", 9, 74,
                "'http_probe' 'h:80/' must be an http:// or https:// URL");
  }
  SUBCASE("a plain tcp:// endpoint and an unverified https probe need insecure: true") {
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h:2375'}\n", 9, 39,
                "'endpoint' 'tcp://h:2375' without 'tls' sends the engine's API unencrypted");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h:2375'}\n", 9, 39, "'insecure: true'");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'unix:///s', rollout: {http_probe: 'https://127.0.0.1/'}}\n",
                9, 74, "'http_probe' 'https://127.0.0.1/' is probed without certificate verification");
    check_error("deploy:\n  - {name: a, kind: docker, endpoint: 'unix:///s', insecure: maybe}\n", 9, 62, "insecure");
    check_error("deploy:\n  - {name: a, kind: command, argv: [x], insecure: true}\n", 9, 41,
                "'insecure' belongs to kind 'docker'");
    auto plain = parse_with("deploy:\n  - {name: a, kind: docker, endpoint: 'tcp://h:2375', insecure: true}\n"
                            "  - {name: b, kind: docker, endpoint: 'unix:///s', insecure: true,"
                            " rollout: {http_probe: 'https://127.0.0.1:8443/health'}}\n"
                            "  - {name: c, kind: docker, endpoint: 'unix:///s', rollout: {http_probe: 'http://127.0.0.1/'}}\n"
                            "  - {name: d, kind: docker, endpoint: 'tcp://h:2376', tls: {ca: ca.pem}}\n");
    REQUIRE_MESSAGE(plain, plain.error().str());
    CHECK(plain->deploy[0].insecure);
    CHECK_FALSE(plain->deploy[2].insecure);
    auto warnings = insecure_warnings(*plain);  // said when a command starts
    REQUIRE(warnings.size() == 2);
    CHECK(warnings[0].line == 9);
    CHECK(contains(warnings[0].message, "deploy target 'a' is insecure: its endpoint tcp://h:2375 is plain tcp"));
    CHECK(contains(warnings[1].message, "deploy target 'b' is insecure: its https http_probe is not verified"));
  }
  SUBCASE("kubernetes namespaces, command env, images globs") {
    check_error("deploy:\n  - {name: a, kind: kubernetes, namespaces: [web, Api]}\n", 9, 51,
                "namespace 'Api' must be a DNS label");
    check_error("deploy:\n  - {name: a, kind: kubernetes, namespaces: [web, web]}\n", 9, 51,
                "namespace 'web' is listed twice");
    check_error("deploy:\n  - {name: a, kind: command, argv: [x], env: {CASCADE_IMAGE: y}}\n", 9, 47,
                "'CASCADE_IMAGE' is set by cascade itself");
    check_error("deploy:\n  - {name: a, kind: command, argv: [x], env: {1X: y}}\n", 9, 47,
                "environment variable name '1X' must match");
    check_error("deploy:\n  - {name: a, kind: command, argv: [x], images: ['registry.example.com/apps/web:1']}\n", 9,
                50, "matches repositories: remove the tag or digest");
    check_error("deploy:\n  - {name: a, kind: command, argv: [x], images: ['apps/[a']}\n", 9, 50, "'images' glob 'apps/[a'");
    check_error("deploy:\n  - {name: a, kind: kubernetes, namespaces: [web], kubeconfig: '~bob/config'}\n", 9, 64,
                "'kubeconfig':");
  }
}
