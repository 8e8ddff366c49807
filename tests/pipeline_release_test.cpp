// Release control in the pipeline file: `test:`, `approval:`, a target's `windows:` and
// `urgent:`, `waves:`, `notify:` and `triggers.approvers`; their defaults, where `test:` may
// stand, and every error with its line and column. Secret variables come from a lookup the
// test chooses; their values never appear in a message.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "cascade/pipeline.hpp"
#include "pipeline_support.hpp"

using namespace cascade::pipeline;
using namespace pipeline_test;
using namespace std::chrono_literals;

namespace {

using Variables = std::map<std::string, std::string>;

const Variables kSecrets{
    {"SLACK_URL", "https://hooks.slack.example/services/T00/B00/slack-token-value"},
    {"HOOK_URL", "http://127.0.0.1:9000/hook?key=hook-url-token"},
    {"HOOK_KEY", "hmac-key-value"},
    {"CASCADE_TOKEN_ALICE", "alice-token-value"},
    {"CASCADE_TOKEN_BOB", "bob-token-value"},
    {"CASCADE_API_TOKEN", "api-token-value"},
};

Environment env_with(const Variables& variables) {
  Environment env = kEnv;
  env.variable = [variables](const std::string& name) -> std::optional<std::string> {
    auto found = variables.find(name);
    if (found == variables.end()) return std::nullopt;
    return found->second;
  };
  return env;
}

cascade::Expected<Pipeline, Error> parse_release(std::string_view section, const Variables& variables = kSecrets) {
  return parse(std::string(kHead) + std::string(section), "cascade.yaml", "/srv/fleet", env_with(variables));
}

Pipeline parsed_release(std::string_view section) {
  auto result = parse_release(section);
  if (!result) FAIL(result.error().str());
  return *result;
}

/// Checks an error's place and that its message holds `fragment`, and no secret value.
void check_error(std::string_view section, int line, int column, std::string_view fragment,
                 const Variables& variables = kSecrets) {
  auto result = parse_release(section, variables);
  REQUIRE_MESSAGE(!result, "parsed without error: " << section);
  const Error& error = result.error();
  INFO(error.str());
  CHECK(error.file == "cascade.yaml");
  CHECK(error.line == line);
  CHECK(error.column == column);
  CHECK(error.message.find(fragment) != std::string::npos);
  for (const auto& [name, value] : variables)
    if (!value.empty()) CHECK(error.message.find(value) == std::string::npos);
}

/// Two docker targets, lines 8-14; an appended section starts at line 15.
constexpr std::string_view kDeploy = R"(deploy:
  - name: canary
    kind: docker
    endpoint: unix:///run/podman/podman.sock
  - name: prod
    kind: docker
    endpoint: unix:///run/podman/podman.sock
)";

std::string with_deploy(std::string_view section) { return std::string(kDeploy) + std::string(section); }

}  // namespace

TEST_CASE("pipeline::release every key") {
  Pipeline pipeline = parsed_release(R"(test:
  - run: [/bin/sh, -c, "bash --version"]
    timeout: 2m
  - run: ["true", ""]
approval: {required: 2, timeout: 12h, before: build}
deploy:
  - name: canary
    kind: docker
    endpoint: unix:///run/podman/podman.sock
    approval: {required: 1, timeout: 30m, before: rollout}
    windows:
      - {cron: "0 9 * * 1-5", duration: 8h, timezone: Europe/Berlin}
      - cron: "@daily"
    urgent: true
  - name: prod
    kind: command
    argv: [deploy, "{image}"]
waves:
  - {name: canary-wave, targets: [canary], soak: 30s}
  - {targets: [prod]}
notify:
  - kind: slack
    name: ops
    url_env: SLACK_URL
    timeout: 5s
    events: [run-finished, rolled-back]
    images: ["registry.example.com/apps/*"]
  - kind: webhook
    url_env: HOOK_URL
    secret_env: HOOK_KEY
    insecure: true
  - kind: command
    argv: [/usr/local/bin/page, --team, ops]
triggers:
  approvers:
    - {name: alice, token_env: CASCADE_TOKEN_ALICE}
    - {name: bob@example.com, token_env: CASCADE_TOKEN_BOB}
)");
  REQUIRE(pipeline.tests);
  REQUIRE(pipeline.tests->size() == 2);
  CHECK((*pipeline.tests)[0].argv == std::vector<std::string>{"/bin/sh", "-c", "bash --version"});
  CHECK((*pipeline.tests)[0].timeout == 2min);
  CHECK((*pipeline.tests)[0].mark.line == 9);
  CHECK((*pipeline.tests)[0].mark.column == 5);
  CHECK((*pipeline.tests)[1].argv == std::vector<std::string>{"true", ""});  // empty arguments pass through
  CHECK((*pipeline.tests)[1].timeout == 5min);

  REQUIRE(pipeline.approval);
  CHECK(pipeline.approval->required == 2);
  CHECK(pipeline.approval->timeout == 12h);
  CHECK(pipeline.approval->before_build);
  CHECK(pipeline.approval->mark.line == 12);

  REQUIRE(pipeline.deploy.size() == 2);
  const DeployTarget& canary = pipeline.deploy[0];
  REQUIRE(canary.approval);
  CHECK(canary.approval->required == 1);
  CHECK(canary.approval->timeout == 30min);
  CHECK_FALSE(canary.approval->before_build);
  REQUIRE(canary.windows.size() == 2);
  CHECK(canary.windows[0].cron == "0 9 * * 1-5");
  CHECK(canary.windows[0].duration == 8h);
  CHECK(canary.windows[0].timezone == "Europe/Berlin");
  CHECK(canary.windows[0].mark.line == 19);
  CHECK(canary.windows[1].cron == "@daily");
  CHECK(canary.windows[1].duration == 1h);  // the default
  CHECK(canary.windows[1].timezone == "UTC");
  CHECK(canary.urgent);
  const DeployTarget& prod = pipeline.deploy[1];
  CHECK_FALSE(prod.approval);  // the top-level one applies
  CHECK(prod.windows.empty());
  CHECK_FALSE(prod.urgent);

  REQUIRE(pipeline.waves.size() == 2);
  CHECK(pipeline.waves[0].name == "canary-wave");
  CHECK(pipeline.waves[0].targets == std::vector<std::string>{"canary"});
  CHECK(pipeline.waves[0].soak == 30s);
  CHECK(pipeline.waves[0].mark.line == 26);
  CHECK(pipeline.waves[1].name == "wave-2");
  CHECK(pipeline.waves[1].targets == std::vector<std::string>{"prod"});
  CHECK(pipeline.waves[1].soak == 0ms);

  REQUIRE(pipeline.notify.size() == 3);
  const Notify& ops = pipeline.notify[0];
  CHECK(ops.kind == Notify::Kind::slack);
  CHECK(ops.name == "ops");
  CHECK(ops.url_env == "SLACK_URL");  // the variable's name, never its value
  CHECK(ops.timeout == 5s);
  CHECK(ops.events == std::vector<std::string>{"run-finished", "rolled-back"});
  CHECK(ops.images == std::vector<std::string>{"registry.example.com/apps/*"});
  CHECK_FALSE(ops.insecure);
  CHECK(ops.mark.line == 29);
  const Notify& hook = pipeline.notify[1];
  CHECK(hook.kind == Notify::Kind::webhook);
  CHECK(hook.name == "webhook-2");
  CHECK(hook.url_env == "HOOK_URL");
  CHECK(hook.secret_env == "HOOK_KEY");
  CHECK(hook.timeout == 10s);
  CHECK(hook.events.empty());  // every event
  CHECK(hook.images.empty());  // any image
  CHECK(hook.insecure);
  const Notify& page = pipeline.notify[2];
  CHECK(page.kind == Notify::Kind::command);
  CHECK(page.name == "command-3");
  CHECK(page.argv == std::vector<std::string>{"/usr/local/bin/page", "--team", "ops"});
  CHECK(page.url_env.empty());

  REQUIRE(pipeline.triggers);
  REQUIRE(pipeline.triggers->approvers.size() == 2);
  CHECK(pipeline.triggers->approvers[0].name == "alice");
  CHECK(pipeline.triggers->approvers[0].token_env == "CASCADE_TOKEN_ALICE");
  CHECK(pipeline.triggers->approvers[0].mark.line == 43);
  CHECK(pipeline.triggers->approvers[1].name == "bob@example.com");
  CHECK(pipeline.triggers->approvers[1].token_env == "CASCADE_TOKEN_BOB");
}

TEST_CASE("pipeline::release defaults") {
  SUBCASE("without the keys: no tests, no approval, no waves, no notify") {
    Pipeline pipeline = parsed_release(with_deploy(""));
    CHECK_FALSE(pipeline.tests);
    CHECK_FALSE(pipeline.approval);
    CHECK(pipeline.waves.empty());
    CHECK(pipeline.notify.empty());
    CHECK_FALSE(pipeline.deploy[0].approval);
    CHECK(pipeline.deploy[0].windows.empty());
    CHECK_FALSE(pipeline.deploy[0].urgent);
    CHECK_FALSE(pipeline.sources[0].tests);
    CHECK_FALSE(pipeline.sources[0].images[0].tests);
  }
  SUBCASE("an empty approval mapping: one approver within 24h, before the rollouts") {
    Pipeline pipeline = parsed_release("approval: {}\n");
    REQUIRE(pipeline.approval);
    CHECK(pipeline.approval->required == 1);
    CHECK(pipeline.approval->timeout == 24h);
    CHECK_FALSE(pipeline.approval->before_build);
  }
  SUBCASE("test: [] is an empty list, not an absent one") {
    Pipeline pipeline = parsed_release("test: []\n");
    REQUIRE(pipeline.tests);
    CHECK(pipeline.tests->empty());
  }
  SUBCASE("empty windows, waves, notify and approvers lists mean none") {
    Pipeline pipeline = parsed_release("waves: []\nnotify: []\ntriggers:\n  approvers: []\n");
    CHECK(pipeline.waves.empty());
    CHECK(pipeline.notify.empty());
    CHECK(pipeline.triggers->approvers.empty());
  }
}

TEST_CASE("pipeline::release test: in sources, image recipes and discover entries") {
  auto result = parse(R"(version: 1
test:
  - {run: [fleet-check]}
sources:
  - name: apps
    git: repos/apps
    test:
      - {run: [source-check], timeout: 1m}
    images:
      - image: registry.example.com/apps/api:1
        dockerfile: api/Dockerfile
        test:
          - {run: [api-check], timeout: 10s}
      - {image: registry.example.com/apps/web:1, dockerfile: web/Dockerfile, test: []}
      - {image: registry.example.com/apps/cart:1, dockerfile: cart/Dockerfile}
    discover:
      - {dockerfiles: "jobs/*/Dockerfile", image: "registry.example.com/jobs/{dir}:1", test: [{run: [job-check]}]}
)",
                      "cascade.yaml", "/srv/fleet", env_with(kSecrets));
  REQUIRE_MESSAGE(result, (result ? "" : result.error().str()));
  const Pipeline& pipeline = *result;
  REQUIRE(pipeline.tests);
  CHECK((*pipeline.tests)[0].argv == std::vector<std::string>{"fleet-check"});
  const Source& source = pipeline.sources[0];
  REQUIRE(source.tests);
  CHECK((*source.tests)[0].argv == std::vector<std::string>{"source-check"});
  CHECK((*source.tests)[0].timeout == 1min);
  REQUIRE(source.images[0].tests);
  CHECK((*source.images[0].tests)[0].argv == std::vector<std::string>{"api-check"});
  CHECK((*source.images[0].tests)[0].timeout == 10s);
  REQUIRE(source.images[1].tests);
  CHECK(source.images[1].tests->empty());
  CHECK_FALSE(source.images[2].tests);  // inherits: fleet::scan picks the source's
  REQUIRE(source.discover[0].tests);
  CHECK((*source.discover[0].tests)[0].argv == std::vector<std::string>{"job-check"});
}

TEST_CASE("pipeline::release test: errors") {
  SUBCASE("run given as a string: no shell, write a list") {
    check_error("test:\n  - run: bash --version\n", 9, 10, "write run: [bash, --version] as a list: no shell");
  }
  SUBCASE("test given as a string") {
    check_error("test: bash --version\n", 8, 7, "'test' must be a list of {run: [...]} entries");
  }
  SUBCASE("an empty argv") { check_error("test:\n  - run: []\n", 9, 10, "'run' is empty"); }
  SUBCASE("an empty program") { check_error("test:\n  - run: [\"\", x]\n", 9, 11, "'run' must not be empty"); }
  SUBCASE("run missing") { check_error("test:\n  - timeout: 1m\n", 9, 5, "missing required key 'run' in test entry"); }
  SUBCASE("a zero timeout") {
    check_error("test:\n  - {run: [x], timeout: 0s}\n", 9, 25, "'timeout' must be longer than zero");
  }
  SUBCASE("an unknown key") {
    check_error("test:\n  - {run: [x], timout: 1m}\n", 9, 16,
                "unknown key 'timout' in test entry; did you mean 'timeout'?");
  }
  SUBCASE("in an image recipe, the error points there") {
    auto result = parse(R"(version: 1
sources:
  - name: apps
    git: repos/apps
    images:
      - {image: r.example.com/a:1, dockerfile: a/Dockerfile, test: [{run: "make check"}]}
)",
                        "cascade.yaml", "/srv/fleet", kEnv);
    REQUIRE(!result);
    CHECK(result.error().line == 6);
    CHECK(result.error().column == 75);  // the opening quote
    CHECK(result.error().message.find("write run: [make, check] as a list") != std::string::npos);
  }
}

TEST_CASE("pipeline::release approval: errors") {
  SUBCASE("a count of 0 at the top level: approval is off when the key is absent") {
    check_error("approval: {required: 0}\n", 8, 22, "approval is off when the 'approval' key is absent");
  }
  SUBCASE("a count of 0 on a target") {
    check_error(R"(deploy:
  - name: prod
    kind: docker
    endpoint: unix:///run/podman/podman.sock
    approval:
      required: 0
)",
                13, 17, "'required: 0' would ask no one");
  }
  SUBCASE("a count that is not a number") {
    check_error("approval: {required: two}\n", 8, 22, "'required' must be a whole number of at least 0");
  }
  SUBCASE("before: build on a target") {
    check_error(R"(deploy:
  - name: prod
    kind: docker
    endpoint: unix:///run/podman/podman.sock
    approval: {before: build}
)",
                12, 24, "'before: build' applies only to the top-level 'approval'");
  }
  SUBCASE("an unknown before") {
    check_error("approval: {before: deploy}\n", 8, 20, "'before' must be rollout (build and push, then wait) or build");
  }
  SUBCASE("a zero timeout") { check_error("approval: {timeout: 0m}\n", 8, 21, "'timeout' must be longer than zero"); }
  SUBCASE("an unknown key") {
    check_error("approval: {requird: 2}\n", 8, 12, "unknown key 'requird' in approval; did you mean 'required'?");
  }
  SUBCASE("approval as a number") { check_error("approval: 2\n", 8, 11, "approval must be a mapping"); }
}

TEST_CASE("pipeline::release windows: errors") {
  auto target_with = [](std::string_view windows) {
    return std::string(R"(deploy:
  - name: prod
    kind: docker
    endpoint: unix:///run/podman/podman.sock
)") + std::string(windows);  // the windows start at line 12
  };
  SUBCASE("an invalid cron: the column of the offending field inside the string") {
    check_error(target_with("    windows:\n      - {cron: \"0 25 * * *\", duration: 1h}\n"), 13, 19,
                "cron expression '0 25 * * *': hour");
  }
  SUBCASE("an invalid cron, plain scalar") {
    check_error(target_with("    windows:\n      - cron: 0 9 * * mon-fry\n"), 13, 27,
                "cron expression '0 9 * * mon-fry': day of week");
  }
  SUBCASE("a cron that never fires") {
    check_error(target_with("    windows:\n      - {cron: \"0 0 30 2 *\"}\n"), 13, 16, "never fires");
  }
  SUBCASE("an invalid time zone") {
    check_error(target_with("    windows:\n      - {cron: \"@daily\", timezone: Europe/Berln}\n"), 13, 36,
                "give an IANA zone name such as UTC or Europe/Berlin");
  }
  SUBCASE("a zero duration") {
    check_error(target_with("    windows:\n      - {cron: \"@daily\", duration: 0s}\n"), 13, 36,
                "'duration' must be longer than zero");
  }
  SUBCASE("a duration over a week") {
    check_error(target_with("    windows:\n      - {cron: \"@weekly\", duration: 169h}\n"), 13, 37,
                "'duration' is longer than 7 days");
  }
  SUBCASE("exactly a week is accepted") {
    auto result = parse_release(target_with("    windows:\n      - {cron: \"@weekly\", duration: 168h}\n"));
    REQUIRE_MESSAGE(result, (result ? "" : result.error().str()));
    CHECK(result->deploy[0].windows[0].duration == 168h);
  }
  SUBCASE("cron missing") {
    check_error(target_with("    windows:\n      - {duration: 1h}\n"), 13, 9, "missing required key 'cron' in window");
  }
  SUBCASE("an unknown key") {
    check_error(target_with("    windows:\n      - {cron: \"@daily\", zone: UTC}\n"), 13, 26,
                "unknown key 'zone' in window");
  }
  SUBCASE("urgent must be a bool") {
    check_error(target_with("    urgent: yes\n"), 12, 13, "'urgent' must be true or false");
  }
}

TEST_CASE("pipeline::release waves: errors") {
  SUBCASE("a wave naming an unknown target, with the nearest name") {
    check_error(with_deploy("waves:\n  - {targets: [prdo]}\n"), 16, 16,
                "wave 'wave-1': unknown deploy target 'prdo'; did you mean 'prod'? targets: canary, prod");
  }
  SUBCASE("waves without any deploy target") {
    check_error("waves:\n  - {targets: [prod]}\n", 9, 16, "the file has no 'deploy' targets");
  }
  SUBCASE("a target in two waves names both") {
    check_error(with_deploy("waves:\n"
                            "  - {name: first, targets: [canary, prod]}\n"
                            "  - {name: second, targets: [prod]}\n"),
                17, 30, "deploy target 'prod' is in wave 'first' (line 16) and in wave 'second'");
  }
  SUBCASE("a target twice in one wave") {
    check_error(with_deploy("waves:\n  - {targets: [prod, prod]}\n"), 16, 22, "wave 'wave-1' lists 'prod' twice");
  }
  SUBCASE("a duplicate wave name") {
    check_error(with_deploy("waves:\n  - {name: go, targets: [canary]}\n  - {name: go, targets: [prod]}\n"), 17, 12,
                "wave name 'go' is already used by the wave at line 16");
  }
  SUBCASE("a name that collides with a default name points at the entry") {
    check_error(with_deploy("waves:\n  - {name: wave-2, targets: [canary]}\n  - {targets: [prod]}\n"), 17, 5,
                "wave name 'wave-2' is already used");
  }
  SUBCASE("an invalid name") {
    check_error(with_deploy("waves:\n  - {name: Canary Wave, targets: [canary]}\n"), 16, 12,
                "wave name 'Canary Wave' must match [a-z0-9][a-z0-9._-]*");
  }
  SUBCASE("no targets") {
    check_error(with_deploy("waves:\n  - {targets: []}\n"), 16, 15, "wave 'wave-1' has no targets");
  }
  SUBCASE("targets missing") {
    check_error(with_deploy("waves:\n  - {name: a}\n"), 16, 5, "missing required key 'targets' in wave");
  }
  SUBCASE("a bad soak") {
    check_error(with_deploy("waves:\n  - {targets: [prod], soak: 5 minutes}\n"), 16, 29, "'soak': duration");
  }
  SUBCASE("an unknown key") {
    check_error(with_deploy("waves:\n  - {targets: [prod], soak_time: 5m}\n"), 16, 23,
                "unknown key 'soak_time' in wave");
  }
}

TEST_CASE("pipeline::release notify: errors") {
  SUBCASE("the URL variable not set") {
    check_error("notify:\n  - {kind: slack, name: ops, url_env: SLACK_URL}\n", 9, 39,
                "notify 'ops': url_env SLACK_URL is not set; export it", {});
  }
  SUBCASE("the URL variable empty") {
    check_error("notify:\n  - {kind: webhook, url_env: HOOK_URL}\n", 9, 30,
                "notify 'webhook-1': url_env HOOK_URL is empty", {{"HOOK_URL", ""}});
  }
  SUBCASE("the signing key variable not set") {
    check_error("notify:\n  - {kind: webhook, url_env: HOOK_URL, secret_env: MISSING_KEY}\n", 9, 52,
                "notify 'webhook-1': secret_env MISSING_KEY is not set");
  }
  SUBCASE("a URL that is not http(s): said without the value") {
    Variables variables{{"SLACK_URL", "ftp://files.example/secret-path-token"}};
    check_error("notify:\n  - {kind: slack, url_env: SLACK_URL}\n", 9, 28,
                "url_env SLACK_URL does not hold an http:// or https:// URL", variables);
  }
  SUBCASE("a URL with a space: said without the value") {
    Variables variables{{"SLACK_URL", "https://hooks.example/a token"}};
    check_error("notify:\n  - {kind: slack, url_env: SLACK_URL}\n", 9, 28, "holds a URL with a space", variables);
  }
  SUBCASE("an unknown event lists the valid ones") {
    check_error("notify:\n  - {kind: slack, url_env: SLACK_URL, events: [run-started, run-finish]}\n", 9, 61,
                "notify 'slack-1': unknown event 'run-finish'; did you mean 'run-finished'? known: run-started, "
                "awaiting-approval, rolled-back, quarantined, run-finished");
  }
  SUBCASE("an event listed twice") {
    check_error("notify:\n  - {kind: slack, url_env: SLACK_URL, events: [quarantined, quarantined]}\n", 9, 61,
                "lists event 'quarantined' twice");
  }
  SUBCASE("an unknown kind") { check_error("notify:\n  - {kind: email}\n", 9, 12, "unknown notify kind 'email'"); }
  SUBCASE("a key of another kind") {
    check_error("notify:\n  - {kind: slack, url_env: SLACK_URL, secret_env: HOOK_KEY}\n", 9, 39,
                "'secret_env' applies only to kind 'webhook', not 'slack'");
    check_error("notify:\n  - {kind: command, argv: [x], insecure: true}\n", 9, 32,
                "'insecure' applies only to kind 'slack' and 'webhook', not 'command'");
  }
  SUBCASE("the kind's required key missing") {
    check_error("notify:\n  - {kind: webhook}\n", 9, 5, "missing required key 'url_env' for notify kind 'webhook'");
    check_error("notify:\n  - {kind: command, name: page}\n", 9, 5,
                "missing required key 'argv' for notify kind 'command'");
  }
  SUBCASE("an argv given as a string") {
    check_error("notify:\n  - {kind: command, argv: page ops}\n", 9, 27, "'argv' must be a list");
  }
  SUBCASE("a bad image glob") {
    check_error("notify:\n  - {kind: command, argv: [x], images: [\"r.example.com/apps:1\"]}\n", 9, 41,
                "matches repositories: remove the tag or digest");
  }
  SUBCASE("a duplicate name") {
    check_error("notify:\n  - {kind: command, name: page, argv: [a]}\n  - {kind: command, name: page, argv: [b]}\n",
                10, 27, "notify name 'page' is already used by the destination at line 9");
  }
  SUBCASE("an unknown key") {
    check_error("notify:\n  - {kind: slack, url_env: SLACK_URL, channel: ops}\n", 9, 39,
                "unknown key 'channel' in notify destination");
  }
  SUBCASE("a bad variable name") {
    check_error("notify:\n  - {kind: slack, url_env: $SLACK_URL}\n", 9, 28, "'url_env' names an environment variable");
  }
}

TEST_CASE("pipeline::release triggers.approvers") {
  SUBCASE("a token variable not set") {
    check_error("triggers:\n  approvers:\n    - {name: carol, token_env: CASCADE_TOKEN_CAROL}\n", 10, 32,
                "approver 'carol': token_env CASCADE_TOKEN_CAROL is not set; export it");
  }
  SUBCASE("a duplicate name") {
    check_error(R"(triggers:
  approvers:
    - {name: alice, token_env: CASCADE_TOKEN_ALICE}
    - {name: alice, token_env: CASCADE_TOKEN_BOB}
)",
                11, 14, "approver 'alice' is already listed at line 10");
  }
  SUBCASE("two approvers with one token: said without the token") {
    Variables variables = kSecrets;
    variables["CASCADE_TOKEN_BOB"] = variables["CASCADE_TOKEN_ALICE"];
    check_error(R"(triggers:
  approvers:
    - {name: alice, token_env: CASCADE_TOKEN_ALICE}
    - {name: bob, token_env: CASCADE_TOKEN_BOB}
)",
                11, 30, "approver 'bob' has the same token as approver 'alice'", variables);
  }
  SUBCASE("an approver with the API token") {
    check_error("triggers:\n  approvers:\n    - {name: alice, token_env: CASCADE_API_TOKEN}\n", 10, 32,
                "has the API token (CASCADE_API_TOKEN)");
  }
  SUBCASE("the name the API token approves as") {
    check_error("triggers:\n  approvers:\n    - {name: api, token_env: CASCADE_TOKEN_ALICE}\n", 10, 14,
                "approver name 'api' is the API token's own");
  }
  SUBCASE("an invalid name") {
    check_error("triggers:\n  approvers:\n    - {name: \"alice smith\", token_env: CASCADE_TOKEN_ALICE}\n", 10, 14,
                "approver name 'alice smith' must be letters");
  }
  SUBCASE("token_env missing") {
    check_error("triggers:\n  approvers:\n    - {name: alice}\n", 10, 7,
                "missing required key 'token_env' in approver");
  }
  SUBCASE("an unknown key") {
    check_error("triggers:\n  approvers:\n    - {name: alice, token_env: CASCADE_TOKEN_ALICE, role: admin}\n", 10, 53,
                "unknown key 'role' in approver");
  }
}

TEST_CASE("pipeline::release secret variables come from the process by default") {
  // A caller's Environment without a lookup (as Environment::current() gives) reads the
  // process environment.
  constexpr const char* kName = "CASCADE_TEST_RELEASE_SLACK_URL";
  constexpr std::string_view kSection = "notify:\n  - {kind: slack, url_env: CASCADE_TEST_RELEASE_SLACK_URL}\n";
  ::unsetenv(kName);
  auto unset = parse_with(kSection);
  REQUIRE(!unset);
  CHECK(unset.error().message.find("url_env CASCADE_TEST_RELEASE_SLACK_URL is not set") != std::string::npos);
  ::setenv(kName, "https://hooks.example/services/process-token", 1);
  auto set = parse_with(kSection);
  ::unsetenv(kName);
  REQUIRE_MESSAGE(set, (set ? "" : set.error().str()));
  CHECK(set->notify[0].url_env == kName);
}
