// The `deploy:` section: named deploy targets of three kinds (docker, kubernetes, command),
// their per-kind keys, rollout policies, durations and command placeholders.
#include <algorithm>
#include <array>
#include <map>

#include "paths.hpp"
#include "sections.hpp"

namespace cascade::pipeline::detail {

namespace {

/// Every key a target may carry; the kind decides which of them are allowed.
const Section kTarget{"deploy target",
                      {{"name", true}, {"kind", true}, {"images"}, {"rollout"}, {"endpoint"}, {"tls"},
                       {"group_by"}, {"kubeconfig"}, {"context"}, {"namespaces"}, {"argv"}, {"env"},
                       {"timeout"}, {"insecure"}, {"approval"}, {"windows"}, {"urgent"}}};
const Section kRolloutSection{"rollout",
                              {{"batch"}, {"max_unavailable"}, {"health_timeout"}, {"rollback"}, {"http_probe"},
                               {"stable_for"}}};

struct KindKeys {
  DeployKind kind;
  std::string_view name;
  std::vector<std::string_view> keys;  // keys only this kind takes
  std::string_view required;           // one of them the kind needs
};

const std::array<KindKeys, 3> kTargetKinds{{
    {DeployKind::docker, "docker", {"endpoint", "tls", "group_by", "insecure"}, "endpoint"},
    {DeployKind::kubernetes, "kubernetes", {"kubeconfig", "context", "namespaces"}, "namespaces"},
    {DeployKind::command, "command", {"argv", "env", "timeout"}, "argv"},
}};

/// Rollout keys Kubernetes leaves to the workload's own update strategy.
const std::vector<std::string_view> kDockerOnlyRollout{"batch", "max_unavailable", "http_probe", "stable_for"};

const std::vector<std::string_view> kPlaceholders{"image", "digest", "old_digest", "run", "repository"};


const KindKeys* owner_of(std::string_view key) {
  for (const KindKeys& kind : kTargetKinds)
    if (std::find(kind.keys.begin(), kind.keys.end(), key) != kind.keys.end()) return &kind;
  return nullptr;
}

bool valid_target_name(const std::string& name) {
  auto lower_or_digit = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  if (name.empty() || !lower_or_digit(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char ch) { return lower_or_digit(ch) || ch == '.' || ch == '_' || ch == '-'; });
}

/// A DNS label as Kubernetes requires for namespaces.
bool valid_namespace(const std::string& name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  return std::all_of(name.begin(), name.end(),
                     [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'; });
}

/// read_count as an int (six digits at most, so it fits).
Expected<int, Error> read_int(const Context& context, const YAML::Node& node, std::string_view key, int minimum) {
  CASCADE_TRY_ASSIGN(auto count, read_count(context.report, node, key, static_cast<std::size_t>(minimum)));
  return static_cast<int>(count);
}

/// Checks the placeholders of one argv entry; fails with the reason.
Expected<void, std::string> check_placeholders(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        ++i;
        continue;
      }
      return unexpected(std::string("stray '}': write '}}' for a literal brace"));
    }
    if (text[i] != '{') continue;
    if (i + 1 < text.size() && text[i + 1] == '{') {
      ++i;
      continue;
    }
    std::size_t close = text.find('}', i);
    if (close == std::string_view::npos)
      return unexpected(std::string("unclosed '{': write '{{' for a literal brace"));
    std::string_view name = text.substr(i + 1, close - i - 1);
    if (std::find(kPlaceholders.begin(), kPlaceholders.end(), name) == kPlaceholders.end())
      return unexpected("unknown placeholder {" + std::string(name) +
                        "}; known: {image}, {digest}, {old_digest}, {run}, {repository}");
    i = close;
  }
  return {};
}

Status read_argv(const Context& context, const YAML::Node& node, DeployTarget& target) {
  CASCADE_TRY_ASSIGN(auto argv, read_string_list(context, node, "argv"));
  for (std::size_t i = 0; i < argv.size(); ++i) {
    auto checked = check_placeholders(argv[i]);
    if (!checked) return unexpected(context.report.at(node[i], "'argv' entry " + quote(argv[i]) + ": " +
                                                                   checked.error()));
  }
  target.argv = std::move(argv);
  return {};
}

Status read_http_probe(const Context& context, const YAML::Node& node, Rollout& rollout) {
  CASCADE_TRY_ASSIGN(auto probe, read_nonempty(context.report, node, "http_probe"));
  bool http = probe.rfind("http://", 0) == 0 && probe.size() > 7;
  bool https = probe.rfind("https://", 0) == 0 && probe.size() > 8;
  if (!http && !https)
    return unexpected(context.report.at(node, "'http_probe' " + quote(probe) + " must be an http:// or https:// URL"));
  rollout.http_probe = probe;
  return {};
}

Status read_rollout(const Context& context, const YAML::Node& node, DeployKind kind, Rollout& rollout) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kRolloutSection));
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    bool docker_only = std::find(kDockerOnlyRollout.begin(), kDockerOnlyRollout.end(), key) != kDockerOnlyRollout.end();
    if (kind == DeployKind::kubernetes && docker_only)
      return unexpected(context.report.at(entry.first, "rollout key " + quote(key) +
                                                           " applies only to docker targets: Kubernetes rolls pods "
                                                           "by the workload's own update strategy"));
  }
  if (auto value = fields.find("batch")) CASCADE_TRY_ASSIGN(rollout.batch, read_int(context, *value, "batch", 1));
  if (auto value = fields.find("max_unavailable")) {
    CASCADE_TRY_ASSIGN(rollout.max_unavailable, read_int(context, *value, "max_unavailable", 0));
  }
  if (auto value = fields.find("health_timeout")) {
    CASCADE_TRY_ASSIGN(rollout.health_timeout, read_duration(context, *value, "health_timeout", false));
  }
  if (auto value = fields.find("rollback")) {
    CASCADE_TRY_ASSIGN(rollout.rollback, read_bool(context.report, *value, "rollback"));
  }
  if (auto value = fields.find("http_probe")) CASCADE_TRY(read_http_probe(context, *value, rollout));
  if (auto value = fields.find("stable_for")) {
    CASCADE_TRY_ASSIGN(rollout.stable_for, read_duration(context, *value, "stable_for", true));
  }
  return {};
}

Status read_namespaces(const Context& context, const YAML::Node& node, DeployTarget& target) {
  CASCADE_TRY_ASSIGN(auto namespaces, read_string_list(context, node, "namespaces"));
  for (std::size_t i = 0; i < namespaces.size(); ++i) {
    const std::string& name = namespaces[i];
    if (!valid_namespace(name))
      return unexpected(context.report.at(node[i], "namespace " + quote(name) +
                                                       " must be a DNS label: lowercase letters, digits and '-', "
                                                       "at most 63 characters"));
    if (std::find(namespaces.begin(), namespaces.begin() + static_cast<long>(i), name) !=
        namespaces.begin() + static_cast<long>(i))
      return unexpected(context.report.at(node[i], "namespace " + quote(name) + " is listed twice"));
  }
  target.namespaces = std::move(namespaces);
  return {};
}

Status read_env(const Context& context, const YAML::Node& node, DeployTarget& target) {
  CASCADE_TRY_ASSIGN(auto env, read_string_map(context.report, node, "env"));
  for (const auto& entry : node) {
    const std::string name = entry.first.Scalar();
    if (!valid_env_name(name))
      return unexpected(context.report.at(entry.first, "environment variable name " + quote(name) +
                                                           " must match [A-Za-z_][A-Za-z0-9_]*"));
    if (name.rfind("CASCADE_", 0) == 0)
      return unexpected(context.report.at(entry.first, quote(name) + " is set by cascade itself; pick another name"));
  }
  target.env = std::move(env);
  return {};
}

Expected<DeployKind, Error> read_kind(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, node, "kind"));
  for (const KindKeys& kind : kTargetKinds)
    if (kind.name == text) return kind.kind;
  return unexpected(context.report.at(node, "unknown deploy kind " + quote(text) +
                                                "; known: docker, kubernetes, command"));
}

/// Fails on a key that belongs to another kind, or when the kind's required key is missing.
Status check_kind_keys(const Context& context, const YAML::Node& node, const Fields& fields, DeployKind kind) {
  const KindKeys& own = kTargetKinds[static_cast<std::size_t>(kind)];
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const KindKeys* owner = owner_of(key);
    if (owner && owner->kind != kind)
      return unexpected(context.report.at(entry.first, quote(key) + " belongs to kind " + quote(owner->name) +
                                                           ", not " + quote(own.name) + "; remove it or change 'kind'"));
    if (key == "rollout" && kind == DeployKind::command)
      return unexpected(context.report.at(entry.first, "'rollout' does not apply to kind 'command': a command "
                                                       "deploys in one step; bound it with 'timeout'"));
  }
  if (!fields.find(own.required))
    return unexpected(context.report.at(node, "missing required key " + quote(own.required) + " for kind " +
                                                  quote(own.name) + "; add it"));
  return {};
}

// A docker target that would talk without TLS verification: a plain tcp:// endpoint (the
// engine's API, root on its host, unencrypted and unauthenticated) or an https http_probe
// (probed without certificate verification) needs `insecure: true`, said out loud.
Status check_insecure(const Context& context, const Fields& fields, const DeployTarget& target) {
  if (target.kind != DeployKind::docker || target.insecure) return {};
  if (auto node = fields.find("endpoint"); node && target.endpoint.rfind("tcp://", 0) == 0 && !target.tls)
    return unexpected(context.report.at(*node, "'endpoint' " + quote(target.endpoint) +
                                                   " without 'tls' sends the engine's API unencrypted and "
                                                   "unauthenticated; add 'tls: {ca, cert, key}', or set "
                                                   "'insecure: true' on the target to accept that"));
  if (target.rollout.http_probe.rfind("https://", 0) == 0) {
    YAML::Node probe = fields.get("rollout")["http_probe"];
    return unexpected(context.report.at(probe, "'http_probe' " + quote(target.rollout.http_probe) +
                                                   " is probed without certificate verification; use an "
                                                   "http:// probe, or set 'insecure: true' on the target to "
                                                   "accept that"));
  }
  return {};
}

Status read_kind_fields(const Context& context, const Fields& fields, DeployTarget& target) {
  if (auto node = fields.find("insecure")) {
    CASCADE_TRY_ASSIGN(target.insecure, read_bool(context.report, *node, "insecure"));
  }
  if (auto node = fields.find("endpoint")) CASCADE_TRY_ASSIGN(target.endpoint, read_endpoint(context, *node));
  if (auto node = fields.find("tls")) {
    CASCADE_TRY_ASSIGN(target.tls, read_tls(context, *node, target.endpoint, TlsCheck::paths_only));
  }
  if (auto node = fields.find("group_by")) {
    CASCADE_TRY_ASSIGN(target.group_by, read_nonempty(context.report, *node, "group_by"));
  }
  if (auto node = fields.find("kubeconfig")) {
    CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, *node, "kubeconfig"));
    auto path = resolve_local(text, context.directory, context.env);
    if (!path) return unexpected(context.report.at(*node, "'kubeconfig': " + path.error()));
    target.kubeconfig = *path;
  }
  if (auto node = fields.find("context")) {
    CASCADE_TRY_ASSIGN(target.context, read_nonempty(context.report, *node, "context"));
  }
  if (auto node = fields.find("namespaces")) CASCADE_TRY(read_namespaces(context, *node, target));
  if (auto node = fields.find("argv")) CASCADE_TRY(read_argv(context, *node, target));
  if (auto node = fields.find("env")) CASCADE_TRY(read_env(context, *node, target));
  if (auto node = fields.find("timeout")) {
    CASCADE_TRY_ASSIGN(target.timeout, read_duration(context, *node, "timeout", false));
  }
  return {};
}

/// approval, windows, urgent: what holds a target's rollouts (release.cpp reads the values).
Status read_release_fields(const Context& context, const Fields& fields, DeployTarget& target) {
  if (auto node = fields.find("approval")) {
    CASCADE_TRY_ASSIGN(target.approval, read_approval(context, *node, ApprovalScope::target));
  }
  if (auto node = fields.find("windows")) CASCADE_TRY_ASSIGN(target.windows, read_windows(context, *node));
  if (auto node = fields.find("urgent")) CASCADE_TRY_ASSIGN(target.urgent, read_bool(context.report, *node, "urgent"));
  return {};
}

Expected<DeployTarget, Error> read_deploy_target(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kTarget));
  DeployTarget target;
  target.mark = mark_of(node);
  YAML::Node name_node = fields.get("name");
  CASCADE_TRY_ASSIGN(auto name, read_nonempty(context.report, name_node, "name"));
  if (!valid_target_name(name))
    return unexpected(context.report.at(name_node, "deploy target name " + quote(name) +
                                                       " must match [a-z0-9][a-z0-9._-]*"));
  target.name = name;
  CASCADE_TRY_ASSIGN(target.kind, read_kind(context, fields.get("kind")));
  CASCADE_TRY(check_kind_keys(context, node, fields, target.kind));
  if (auto images = fields.find("images")) {
    CASCADE_TRY_ASSIGN(target.images, read_repository_globs(context, *images, "images"));
  }
  if (auto rollout = fields.find("rollout")) CASCADE_TRY(read_rollout(context, *rollout, target.kind, target.rollout));
  CASCADE_TRY(read_kind_fields(context, fields, target));
  CASCADE_TRY(check_insecure(context, fields, target));
  CASCADE_TRY(read_release_fields(context, fields, target));
  return target;
}

}  // namespace

Expected<std::chrono::milliseconds, Error> read_duration(const Context& context, const YAML::Node& node,
                                                         std::string_view key, bool allow_zero) {
  CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, node, key));
  auto duration = parse_duration(text);
  if (!duration) return unexpected(context.report.at(node, quote(key) + ": " + duration.error()));
  if (!allow_zero && duration->count() == 0)
    return unexpected(context.report.at(node, quote(key) + " must be longer than zero"));
  return *duration;
}

Expected<std::vector<std::string>, Error> read_string_list(const Context& context, const YAML::Node& node,
                                                           std::string_view key) {
  CASCADE_TRY(expect_list(context.report, node, key));
  if (node.size() == 0) return unexpected(context.report.at(node, quote(key) + " is empty: list at least one value"));
  std::vector<std::string> values;
  for (const YAML::Node& entry : node) {
    CASCADE_TRY_ASSIGN(auto value, read_nonempty(context.report, entry, key));
    values.push_back(value);
  }
  return values;
}

Expected<std::vector<std::string>, Error> read_repository_globs(const Context& context, const YAML::Node& node,
                                                                std::string_view key) {
  CASCADE_TRY_ASSIGN(auto globs, read_string_list(context, node, key));
  for (std::size_t i = 0; i < globs.size(); ++i) {
    const std::string& glob = globs[i];
    auto valid = validate_glob(glob);
    if (!valid)
      return unexpected(context.report.at(node[i], quote(key) + " glob " + quote(glob) + ": " + valid.error().first));
    std::size_t last_slash = glob.rfind('/');
    std::size_t tail = last_slash == std::string::npos ? 0 : last_slash + 1;
    if (glob.find_first_of(":@", tail) != std::string::npos)
      return unexpected(context.report.at(node[i], quote(key) + " glob " + quote(glob) +
                                                       " matches repositories: remove the tag or digest"));
  }
  return globs;
}

Expected<std::vector<DeployTarget>, Error> read_deploy(const Context& context, const YAML::Node& node) {
  CASCADE_TRY(expect_list(context.report, node, "deploy"));
  std::vector<DeployTarget> targets;
  std::map<std::string, int> lines;
  for (const YAML::Node& entry : node) {
    CASCADE_TRY_ASSIGN(auto target, read_deploy_target(context, entry));
    if (auto first = lines.find(target.name); first != lines.end())
      return unexpected(context.report.at(entry["name"], "deploy target name " + quote(target.name) +
                                                             " is already used by the target at line " +
                                                             std::to_string(first->second) +
                                                             "; give each target a unique name"));
    lines.emplace(target.name, target.mark.line);
    targets.push_back(std::move(target));
  }
  return targets;
}

Expected<int, Error> read_max_parallel_deploys(const Context& context, const YAML::Node& node) {
  return read_int(context, node, "max_parallel_deploys", 1);
}

}  // namespace cascade::pipeline::detail

namespace cascade::pipeline {

Expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text) {
  static const std::array<std::pair<std::string_view, long long>, 4> units{
      {{"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};
  auto fail = [&] {
    return unexpected("duration '" + std::string(text) + "' must be like 500ms, 60s, 5m or 1h30m");
  };
  if (text.empty()) return fail();
  long long total = 0;
  std::size_t next_unit = 0;  // units must come in order, each once
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start || i - start > 9) return fail();
    long long number = std::stoll(std::string(text.substr(start, i - start)));
    std::size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    std::size_t found = next_unit;
    while (found < units.size() && units[found].first != unit) ++found;
    if (found == units.size()) {
      if (unit.empty() && i == text.size()) return unexpected("duration '" + std::string(text) + "' needs a unit: ms, s, m or h");
      return fail();
    }
    total += number * units[found].second;
    next_unit = found + 1;
  }
  return std::chrono::milliseconds(total);
}

std::vector<Error> insecure_warnings(const Pipeline& pipeline) {
  std::vector<Error> warnings;
  for (const auto& target : pipeline.deploy) {
    if (target.kind != DeployKind::docker || !target.insecure) continue;
    std::string what;
    if (target.endpoint.rfind("tcp://", 0) == 0 && !target.tls)
      what = "its endpoint " + target.endpoint + " is plain tcp: the engine's API unencrypted and unauthenticated";
    if (target.rollout.http_probe.rfind("https://", 0) == 0)
      what += std::string(what.empty() ? "its" : "; its") + " https http_probe is not verified";
    if (what.empty()) continue;
    warnings.push_back({pipeline.file, target.mark.line, target.mark.column,
                        "deploy target '" + target.name + "' is insecure: " + what});
  }
  for (const auto& worker : pipeline.builders.workers) {
    if (!worker.insecure) continue;
    warnings.push_back({pipeline.file, worker.mark.line, worker.mark.column,
                        "build worker '" + worker.name + "' is insecure: its endpoint " + worker.endpoint +
                            " is plain tcp: builds and their secrets unencrypted and unauthenticated"});
  }
  return warnings;
}

std::string_view kind_name(DeployKind kind) { return detail::kTargetKinds[static_cast<std::size_t>(kind)].name; }

bool deploys(const DeployTarget& target, std::string_view repository) {
  if (target.images.empty()) return true;
  return std::any_of(target.images.begin(), target.images.end(),
                     [&](const std::string& glob) { return glob_match(glob, repository); });
}

}  // namespace cascade::pipeline
