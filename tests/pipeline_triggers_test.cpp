// The `triggers:` section of the pipeline file: server settings, webhooks and the cron
// schedule, their defaults, and every error with its line and column.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "cascade/pipeline.hpp"
#include "pipeline_support.hpp"

using namespace cascade::pipeline;
using namespace pipeline_test;
using namespace std::chrono_literals;

namespace {

/// Checks an error's place and its message (exactly, or the fragment it must contain).
void check_error(std::string_view triggers, int line, int column, std::string_view fragment) {
  auto result = parse_with(triggers);
  REQUIRE_MESSAGE(!result, "parsed without error: " << triggers);
  const Error& error = result.error();
  INFO(error.str());
  CHECK(error.file == "cascade.yaml");
  CHECK(error.line == line);
  CHECK(error.column == column);
  CHECK(error.message.find(fragment) != std::string::npos);
}

}  // namespace

TEST_CASE("pipeline::triggers") {
  SUBCASE("every key") {
    Pipeline pipeline = parsed(R"(triggers:
  listen: "[::1]:0"
  debounce: 1m30s
  body_limit: 512KiB
  parallel: 3
  api_token_env: MY_API_TOKEN
  log: json
  webhooks:
    - sender: distribution
      path: registry
      token_env: HOOK_TOKEN
      registry: 127.0.0.1:5000
    - sender: github
      secret_env: GH_SECRET
      token_env: _ALSO_A_TOKEN2
    - sender: generic
      auth: none
  schedule:
    - name: nightly
      cron: "0 3 * * *"
      timezone: Europe/Berlin
      action: refresh
    - cron: "@weekly"
      action: rebuild
      images: ["127.0.0.1:5000/apps/*", "docker.io/library/**"]
    - cron: "*/30 * * * *"
      action: scan
)");
    REQUIRE(pipeline.triggers);
    const Triggers& triggers = *pipeline.triggers;
    CHECK(triggers.mark.line == 9);  // the mapping starts at its first key
    CHECK(triggers.listen == "[::1]:0");
    CHECK(triggers.debounce == 90s);
    CHECK(triggers.body_limit == 512u * 1024u);
    CHECK(triggers.parallel == 3);
    CHECK(triggers.api_token_env == "MY_API_TOKEN");
    CHECK(triggers.log_format == "json");

    REQUIRE(triggers.webhooks.size() == 3);
    const Webhook& registry = triggers.webhooks[0];
    CHECK(registry.sender == "distribution");
    CHECK(registry.path == "registry");
    CHECK(registry.token_env == "HOOK_TOKEN");
    CHECK(registry.secret_env.empty());
    CHECK_FALSE(registry.unauthenticated);
    CHECK(registry.registry == "127.0.0.1:5000");
    CHECK(registry.mark.line == 16);
    CHECK(registry.mark.column == 7);
    const Webhook& github = triggers.webhooks[1];
    CHECK(github.path == "github");  // default: the sender's name
    CHECK(github.secret_env == "GH_SECRET");
    CHECK(github.token_env == "_ALSO_A_TOKEN2");
    CHECK(github.registry.empty());
    const Webhook& generic = triggers.webhooks[2];
    CHECK(generic.path == "generic");
    CHECK(generic.unauthenticated);
    CHECK(generic.token_env.empty());

    REQUIRE(triggers.schedule.size() == 3);
    const ScheduleEntry& nightly = triggers.schedule[0];
    CHECK(nightly.name == "nightly");
    CHECK(nightly.cron == "0 3 * * *");
    CHECK(nightly.timezone == "Europe/Berlin");
    CHECK(nightly.action == ScheduleEntry::Action::refresh);
    CHECK(nightly.images.empty());
    CHECK(nightly.mark.line == 26);
    const ScheduleEntry& weekly = triggers.schedule[1];
    CHECK(weekly.name == "rebuild-2");  // default: <action>-<1-based position>
    CHECK(weekly.cron == "@weekly");
    CHECK(weekly.timezone == "UTC");
    CHECK(weekly.action == ScheduleEntry::Action::rebuild);
    CHECK(weekly.images == std::vector<std::string>{"127.0.0.1:5000/apps/*", "docker.io/library/**"});
    const ScheduleEntry& scan = triggers.schedule[2];
    CHECK(scan.name == "scan-3");
    CHECK(scan.cron == "*/30 * * * *");
    CHECK(scan.action == ScheduleEntry::Action::scan);
    CHECK(scan.images.empty());
  }

  SUBCASE("defaults") {
    CHECK_FALSE(parsed("").triggers.has_value());
    Pipeline pipeline = parsed("triggers: {}\n");
    REQUIRE(pipeline.triggers);
    const Triggers& triggers = *pipeline.triggers;
    CHECK(triggers.listen == "127.0.0.1:8080");
    CHECK(triggers.debounce == 10s);
    CHECK(triggers.body_limit == 1024u * 1024u);
    CHECK(triggers.parallel == 2);
    CHECK(triggers.api_token_env == "CASCADE_API_TOKEN");
    CHECK(triggers.log_format == "text");
    CHECK(triggers.webhooks.empty());
    CHECK(triggers.schedule.empty());
  }

  SUBCASE("sizes, addresses and durations at their edges") {
    Pipeline pipeline = parsed("triggers:\n  listen: localhost:65535\n  debounce: 0s\n  body_limit: 100\n");
    CHECK(pipeline.triggers->listen == "localhost:65535");
    CHECK(pipeline.triggers->debounce == 0ms);
    CHECK(pipeline.triggers->body_limit == 100);
    CHECK(parsed("triggers:\n  body_limit: 2MiB\n").triggers->body_limit == 2u * 1024u * 1024u);
    CHECK(parsed("triggers:\n  body_limit: 64B\n").triggers->body_limit == 64);
    CHECK(parsed("triggers:\n  listen: 0.0.0.0:0\n").triggers->listen == "0.0.0.0:0");
  }

  SUBCASE("default schedule names count every entry") {
    Pipeline pipeline = parsed(R"(triggers:
  schedule:
    - {cron: "@daily", action: refresh}
    - {cron: "@hourly", action: refresh}
)");
    CHECK(pipeline.triggers->schedule[0].name == "refresh-1");
    CHECK(pipeline.triggers->schedule[1].name == "refresh-2");
  }
}

TEST_CASE("pipeline::triggers errors") {
  SUBCASE("unknown keys") {
    // line 10 is "  debounse: 5s"; the key starts at column 3
    check_error("triggers:\n  listen: 127.0.0.1:8080\n  debounse: 5s\n", 10, 3,
                "unknown key 'debounse' in triggers; did you mean 'debounce'?");
    check_error("triggers:\n  webhooks:\n    - sender: harbor\n      token_env: T\n      tokenenv: U\n", 12, 7,
                "unknown key 'tokenenv' in webhook");
    check_error("triggers:\n  schedule:\n    - cron: '@daily'\n      action: refresh\n      zone: UTC\n", 12, 7,
                "unknown key 'zone' in schedule entry");
    check_error("trigers: {}\n", 8, 1, "did you mean 'triggers'?");
  }

  SUBCASE("wrong types") {
    check_error("triggers: [listen]\n", 8, 11, "triggers must be a mapping");
    check_error("triggers:\n  webhooks: {sender: harbor}\n", 9, 13, "'webhooks' must be a list, not a mapping");
    check_error("triggers:\n  schedule: nightly\n", 9, 13, "'schedule' must be a list, not a string");
    check_error("triggers:\n  parallel: 0\n", 9, 13, "'parallel' must be a whole number of at least 1, not '0'");
    check_error("triggers:\n  parallel: \"2\"\n", 9, 13, "'parallel' must be a whole number of at least 1");
    check_error("triggers:\n  log: xml\n", 9, 8, "'log' must be text or json, not 'xml'");
    check_error("triggers:\n  api_token_env: my-token\n", 9, 18,
                "'api_token_env' names an environment variable: 'my-token' must match [A-Za-z_][A-Za-z0-9_]*");
  }

  SUBCASE("listen") {
    // the value starts at column 11 ("  listen: " is 10 characters)
    check_error("triggers:\n  listen: localhost\n", 9, 11,
                "'listen' 'localhost' must be host:port (port 0-65535), e.g. 127.0.0.1:8080 or [::1]:8080");
    check_error("triggers:\n  listen: 127.0.0.1:70000\n", 9, 11, "'listen' '127.0.0.1:70000' must be host:port");
    check_error("triggers:\n  listen: ::1:8080\n", 9, 11, "'listen' '::1:8080' must be host:port");
    check_error("triggers:\n  listen: \"[::1]\"\n", 9, 11, "'listen' '[::1]' must be host:port");
    check_error("triggers:\n  listen: http://127.0.0.1:8080\n", 9, 11, "must be host:port");
  }

  SUBCASE("body_limit") {
    check_error("triggers:\n  body_limit: 1MB\n", 9, 15,
                "'body_limit' '1MB' must be a size in bytes like 1048576, 512KiB or 1MiB");
    check_error("triggers:\n  body_limit: 0KiB\n", 9, 15, "'body_limit' must be more than zero");
    check_error("triggers:\n  body_limit: -1\n", 9, 15, "must be a size in bytes");
  }

  SUBCASE("debounce") {
    check_error("triggers:\n  debounce: 10\n", 9, 13, "'debounce': duration '10' needs a unit: ms, s, m or h");
    check_error("triggers:\n  debounce: 1.5s\n", 9, 13, "'debounce': duration '1.5s' must be like 500ms");
  }

  SUBCASE("webhook senders and paths") {
    // "    - sender: " is 14 characters: the value starts at column 15
    check_error("triggers:\n  webhooks:\n    - sender: nexus\n      token_env: T\n", 10, 15,
                "unknown webhook sender 'nexus'; known: distribution, dockerhub, harbor, quay, github, generic");
    check_error("triggers:\n  webhooks:\n    - token_env: T\n", 10, 7, "missing required key 'sender' in webhook");
    check_error("triggers:\n  webhooks:\n    - sender: harbor\n      path: /hooks/harbor\n      token_env: T\n", 11, 13,
                "webhook path '/hooks/harbor' must match [a-z0-9._-]+");
    check_error("triggers:\n  webhooks:\n    - sender: harbor\n      registry: https://h.example.com\n      token_env: T\n",
                11, 17, "'registry' 'https://h.example.com' must be host[:port]");
  }

  SUBCASE("duplicate paths") {
    // an explicit path naming another webhook's default: at the path value, line 13 column 13
    check_error(R"(triggers:
  webhooks:
    - sender: harbor
      token_env: T
    - sender: generic
      path: harbor
      auth: none
)",
                13, 13, "webhook path 'harbor' is already used by the webhook at line 10; give each webhook its own 'path'");
    // two defaults: at the second entry (line 12, column 7)
    check_error(R"(triggers:
  webhooks:
    - sender: quay
      token_env: T
    - sender: quay
      token_env: U
)",
                12, 7, "webhook path 'quay' is already used by the webhook at line 10");
  }

  SUBCASE("authentication") {
    // secret_env on a sender that cannot sign: at the key, line 11 column 7
    check_error("triggers:\n  webhooks:\n    - sender: harbor\n      secret_env: S\n", 11, 7,
                "harbor cannot sign; use token_env");
    check_error("triggers:\n  webhooks:\n    - sender: distribution\n      secret_env: S\n", 11, 7,
                "distribution cannot sign; use token_env");
    // nothing chosen: at the entry
    check_error("triggers:\n  webhooks:\n    - sender: quay\n", 10, 7,
                "webhook 'quay' has no authentication: add token_env or secret_env (or auth: none to accept "
                "unauthenticated deliveries)");
    check_error("triggers:\n  webhooks:\n    - sender: github\n      secret_env: S\n      auth: none\n", 12, 7,
                "'auth: none' contradicts 'secret_env'; remove one of them");
    check_error("triggers:\n  webhooks:\n    - sender: harbor\n      token_env: T\n      auth: none\n", 12, 7,
                "'auth: none' contradicts 'token_env'");
    check_error("triggers:\n  webhooks:\n    - sender: harbor\n      auth: basic\n", 11, 13,
                "'auth' takes only the value none");
    check_error("triggers:\n  webhooks:\n    - sender: harbor\n      token_env: 1TOKEN\n", 11, 18,
                "'token_env' names an environment variable: '1TOKEN' must match");
  }

  SUBCASE("cron expressions point at the bad field") {
    // "    - cron: " is 12 characters: a quoted value's quote is column 13, so its first
    // character is column 14 and "25" (offset 2) column 16
    check_error("triggers:\n  schedule:\n    - cron: \"0 25 * * *\"\n      action: refresh\n", 10, 16,
                "cron expression '0 25 * * *': hour: 25 is out of range 0-23");
    // unquoted: the value starts at column 13, so "25" is column 15
    check_error("triggers:\n  schedule:\n    - cron: 0 25 * * *\n      action: refresh\n", 10, 15,
                "hour: 25 is out of range 0-23");
    // single quotes, "FOO" at offset 8: column 13 + 1 + 8 = 22
    check_error("triggers:\n  schedule:\n    - cron: '0 0 * * FOO'\n      action: refresh\n", 10, 22,
                "day of week: unknown name \"FOO\"");
    // four fields: the offset is the end of the expression (7): 14 + 7 = 21
    check_error("triggers:\n  schedule:\n    - cron: \"0 0 * *\"\n      action: refresh\n", 10, 21,
                "expected 5 fields, got 4");
    check_error("triggers:\n  schedule:\n    - action: refresh\n", 10, 7, "missing required key 'cron' in schedule entry");
  }

  SUBCASE("time zones") {
    // "      timezone: " is 16 characters
    check_error("triggers:\n  schedule:\n    - cron: '@daily'\n      timezone: Mars/Base\n      action: refresh\n", 11,
                17, "unknown time zone \"Mars/Base\": give an IANA zone name such as UTC or Europe/Berlin");
  }

  SUBCASE("actions and images") {
    check_error("triggers:\n  schedule:\n    - cron: '@daily'\n      action: rebuld\n", 11, 15,
                "unknown action 'rebuld'; known: refresh");
    check_error("triggers:\n  schedule:\n    - cron: '@daily'\n      action: Scan\n", 11, 15,
                "unknown action 'Scan'; known: refresh (re-resolve the external base images), rebuild (rebuild the "
                "listed images), scan (index the installed packages of every image and workload)");
    check_error("triggers:\n  schedule:\n    - cron: '@daily'\n", 10, 7, "missing required key 'action' in schedule entry");
    // images on a refresh: at the key, line 12 column 7
    check_error("triggers:\n  schedule:\n    - cron: '@daily'\n      action: refresh\n      images: [a/*]\n", 12, 7,
                "'images' applies only to action 'rebuild'");
    check_error("triggers:\n  schedule:\n    - cron: '@daily'\n      action: scan\n      images: [a/*]\n", 12, 7,
                "'images' applies only to action 'rebuild': a scan indexes every fleet image, external base and "
                "workload");
    // "      images: [" is 15 characters, "a/*, " 5 more: the second glob's quote is column 21
    check_error("triggers:\n  schedule:\n    - cron: '@daily'\n      action: rebuild\n      images: [a/*, 'b/[x']\n", 12,
                21, "'images' glob 'b/[x'");
    check_error("triggers:\n  schedule:\n    - cron: '@daily'\n      action: rebuild\n      images: [apps/web:1]\n", 12,
                16, "'images' glob 'apps/web:1' matches repositories: remove the tag or digest");
    check_error("triggers:\n  schedule:\n    - cron: '@daily'\n      action: rebuild\n      images: []\n", 12, 15,
                "'images' is empty");
  }

  SUBCASE("schedule names") {
    check_error("triggers:\n  schedule:\n    - name: Nightly\n      cron: '@daily'\n      action: refresh\n", 10, 13,
                "schedule entry name 'Nightly' must match [a-z0-9][a-z0-9._-]*");
    // an explicit name equal to the next entry's default
    check_error(R"(triggers:
  schedule:
    - name: refresh-2
      cron: '@daily'
      action: refresh
    - cron: '@hourly'
      action: refresh
)",
                13, 7, "schedule entry name 'refresh-2' is already used by the entry at line 10; give each entry a "
                       "unique 'name'");
  }
}

TEST_CASE("pipeline::triggers read_token_env and hosts") {
  Pipeline pipeline = parsed("triggers:\n  read_token_env: CASCADE_READ_TOKEN\n  hosts: [cascade.example.com, Build-01]\n");
  REQUIRE(pipeline.triggers);
  CHECK(pipeline.triggers->read_token_env == "CASCADE_READ_TOKEN");
  CHECK(pipeline.triggers->hosts == std::vector<std::string>{"cascade.example.com", "build-01"});
  Pipeline defaults = parsed("triggers:\n  listen: 127.0.0.1:8080\n");
  CHECK(defaults.triggers->read_token_env.empty());
  CHECK(defaults.triggers->hosts.empty());
  check_error("triggers:\n  read_token_env: read-token\n", 9, 19,
              "'read_token_env' names an environment variable: 'read-token' must match");
  check_error("triggers:\n  hosts: [\"https://cascade.example.com:8080\"]\n", 9, 11,
              "'hosts' entry 'https://cascade.example.com:8080' is not a host name");
  check_error("triggers:\n  hosts: cascade.example.com\n", 9, 10, "'hosts' must be a list");
}
