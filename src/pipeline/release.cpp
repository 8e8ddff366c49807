// Release control in the pipeline file: `test:` commands run in a built image before its push,
// `approval:` (top level and per deploy target), a target's change `windows:`, the order of
// `waves:`, the `notify:` destinations and `triggers.approvers`. Secrets are named by
// environment variable; the variables must be set when the file is read, and their values
// are checked but never quoted in a message.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <optional>

#include "cascade/cron.hpp"
#include "sections.hpp"

namespace cascade::pipeline::detail {

namespace {

const Section kTestEntry{"test entry", {{"run", true}, {"timeout"}}};
const Section kApproval{"approval", {{"required"}, {"timeout"}, {"before"}}};
const Section kWindow{"window", {{"cron", true}, {"duration"}, {"timezone"}}};
const Section kWave{"wave", {{"name"}, {"targets", true}, {"soak"}}};
const Section kNotify{"notify destination",
                      {{"kind", true}, {"name"}, {"url_env"}, {"secret_env"}, {"argv"}, {"timeout"}, {"events"},
                       {"images"}, {"insecure"}}};
const Section kApprover{"approver", {{"name", true}, {"token_env", true}}};

constexpr std::chrono::milliseconds kLongestWindow{7LL * 24 * 3'600'000};

struct NotifyKind {
  Notify::Kind kind;
  std::string_view name;
  std::vector<std::string_view> keys;  // the kind-specific keys it takes
  std::string_view required;           // the one it needs
};

const std::array<NotifyKind, 3> kNotifyKinds{{
    {Notify::Kind::slack, "slack", {"url_env", "insecure"}, "url_env"},
    {Notify::Kind::webhook, "webhook", {"url_env", "secret_env", "insecure"}, "url_env"},
    {Notify::Kind::command, "command", {"argv"}, "argv"},
}};

/// Keys some notify kinds take and others do not.
constexpr std::array<std::string_view, 4> kNotifyKindKeys{"url_env", "secret_env", "argv", "insecure"};

/// A name of a wave or notify destination: [a-z0-9][a-z0-9._-]*.
bool valid_release_name(const std::string& name) {
  auto lower_or_digit = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  if (name.empty() || !lower_or_digit(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char ch) { return lower_or_digit(ch) || ch == '.' || ch == '_' || ch == '-'; });
}

/// An approver's name as recorded with an approval: letters, digits, '.', '_', '-', '@'.
bool valid_approver_name(const std::string& name) {
  auto alnum = [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
  };
  if (name.empty() || name.size() > 64 || !alnum(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char ch) { return alnum(ch) || ch == '.' || ch == '_' || ch == '-' || ch == '@'; });
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

/// The value of an environment variable the file names, through the context's lookup.
std::optional<std::string> variable_value(const Context& context, const std::string& name) {
  if (context.env.variable) return context.env.variable(name);
  const char* value = std::getenv(name.c_str());
  if (!value) return std::nullopt;
  return std::string(value);
}

/// A variable the file names for a secret, and its value (never put in a message).
struct SetVariable {
  std::string name;
  std::string value;
};

/// Reads a `*_env` key and fails unless the variable is set and not empty now. `who` names
/// the entry ("notify 'ops'"), `holds` what the variable holds ("the webhook's URL").
Expected<SetVariable, Error> read_set_variable(const Context& context, const YAML::Node& node, std::string_view key,
                                               const std::string& who, std::string_view holds) {
  CASCADE_TRY_ASSIGN(auto name, read_env_name(context.report, node, key));
  auto value = variable_value(context, name);
  if (!value || value->empty())
    return unexpected(context.report.at(node, who + ": " + std::string(key) + " " + name + " is " +
                                                  (value ? "empty" : "not set") + "; export it (" +
                                                  std::string(holds) + ") before running cascade, or change " +
                                                  quote(key)));
  return SetVariable{name, *value};
}

// test:

/// `run: bash --version` as the list it should be, for the message.
std::string as_list(const std::string& line) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while ((start = line.find_first_not_of(" \t", start)) != std::string::npos) {
    std::size_t end = line.find_first_of(" \t", start);
    words.push_back(line.substr(start, end - start));
    start = end;
  }
  return "[" + join_names(words) + "]";
}

Expected<std::vector<std::string>, Error> read_run(const Context& context, const YAML::Node& node) {
  if (node.IsScalar()) {
    const std::string& line = node.Scalar();
    std::string quoted = line.find_first_of("\"\\") == std::string::npos ? "\"" + line + "\"" : "\"...\"";
    return unexpected(context.report.at(node, "'run' is a string; write run: " + as_list(line) +
                                                  " as a list: no shell runs it (to use one, write run: [/bin/sh, "
                                                  "-c, " + quoted + "])"));
  }
  CASCADE_TRY(expect_list(context.report, node, "run"));
  if (node.size() == 0)
    return unexpected(context.report.at(node, "'run' is empty: give the program and its arguments, e.g. "
                                              "run: [bash, --version]"));
  std::vector<std::string> argv;
  for (const YAML::Node& entry : node) {
    if (entry.IsNull())
      return unexpected(context.report.at(node, "'run' has an empty entry; write \"\" for an empty argument"));
    CASCADE_TRY_ASSIGN(auto word, argv.empty() ? read_nonempty(context.report, entry, "run")
                                               : read_string(context.report, entry, "run"));
    argv.push_back(std::move(word));
  }
  return argv;
}

Expected<TestCommand, Error> read_test_command(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kTestEntry));
  TestCommand test;
  test.mark = mark_of(node);
  CASCADE_TRY_ASSIGN(test.argv, read_run(context, fields.get("run")));
  if (auto value = fields.find("timeout")) {
    CASCADE_TRY_ASSIGN(test.timeout, read_duration(context, *value, "timeout", false));
  }
  return test;
}

// windows:

Status read_window_schedule(const Context& context, const Fields& fields, Window& window) {
  YAML::Node cron_node = fields.get("cron");
  CASCADE_TRY_ASSIGN(auto expression, read_nonempty(context.report, cron_node, "cron"));
  auto checked = cron::Schedule::parse(expression, "UTC");
  if (!checked)
    return unexpected(context.report.at(cron_mark(cron_node, checked.error().offset),
                                        "cron expression " + quote(expression) + ": " + checked.error().message));
  if (!checked->next(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())))
    return unexpected(context.report.at(cron_node, "cron expression " + quote(expression) +
                                                       " never fires, so the window would never open; fix the "
                                                       "day and month"));
  window.cron = expression;
  if (auto value = fields.find("timezone")) {
    CASCADE_TRY_ASSIGN(auto zone, read_nonempty(context.report, *value, "timezone"));
    auto in_zone = cron::Schedule::parse(expression, zone);
    if (!in_zone)
      return unexpected(context.report.at(*value, in_zone.error().message +
                                                      ": give an IANA zone name such as UTC or Europe/Berlin"));
    window.timezone = zone;
  }
  return {};
}

Expected<Window, Error> read_window(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kWindow));
  Window window;
  window.mark = mark_of(node);
  CASCADE_TRY(read_window_schedule(context, fields, window));
  if (auto value = fields.find("duration")) {
    CASCADE_TRY_ASSIGN(window.duration, read_duration(context, *value, "duration", false));
    if (window.duration > kLongestWindow)
      return unexpected(context.report.at(*value, "'duration' is longer than 7 days: a window opens at most for a "
                                                  "week (168h); for rollouts at any time remove 'windows'"));
  }
  return window;
}

// waves:

/// The deploy target names, for suggestions.
std::vector<Key> target_keys(const std::vector<DeployTarget>& targets) {
  std::vector<Key> keys;
  for (const auto& target : targets) keys.push_back({target.name});
  return keys;
}

Expected<std::string, Error> read_wave_target(const Context& context, const YAML::Node& node, const Wave& wave,
                                              const std::vector<DeployTarget>& targets) {
  CASCADE_TRY_ASSIGN(auto name, read_nonempty(context.report, node, "targets"));
  bool known = std::any_of(targets.begin(), targets.end(), [&](const auto& target) { return target.name == name; });
  if (known) return name;
  std::string message = "wave " + quote(wave.name) + ": unknown deploy target " + quote(name) + "; ";
  if (targets.empty()) return unexpected(context.report.at(node, message + "the file has no 'deploy' targets"));
  std::vector<Key> keys = target_keys(targets);
  if (auto suggestion = closest(name, keys)) message += "did you mean " + quote(*suggestion) + "? ";
  std::vector<std::string> names;
  for (const auto& target : targets) names.push_back(target.name);
  return unexpected(context.report.at(node, message + "targets: " + join_names(names)));
}

Expected<Wave, Error> read_wave(const Context& context, const YAML::Node& node, std::size_t index,
                                const std::vector<DeployTarget>& targets) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kWave));
  Wave wave;
  wave.mark = mark_of(node);
  wave.name = "wave-" + std::to_string(index + 1);
  if (auto value = fields.find("name")) {
    CASCADE_TRY_ASSIGN(wave.name, read_nonempty(context.report, *value, "name"));
    if (!valid_release_name(wave.name))
      return unexpected(context.report.at(*value, "wave name " + quote(wave.name) +
                                                      " must match [a-z0-9][a-z0-9._-]*"));
  }
  YAML::Node list = fields.get("targets");
  CASCADE_TRY(expect_list(context.report, list, "targets"));
  if (list.size() == 0)
    return unexpected(context.report.at(list, "wave " + quote(wave.name) + " has no targets: list the deploy "
                                                                            "targets it rolls out to"));
  for (const YAML::Node& entry : list) {
    CASCADE_TRY_ASSIGN(auto target, read_wave_target(context, entry, wave, targets));
    if (std::find(wave.targets.begin(), wave.targets.end(), target) != wave.targets.end())
      return unexpected(context.report.at(entry, "wave " + quote(wave.name) + " lists " + quote(target) +
                                                     " twice; keep only one"));
    wave.targets.push_back(std::move(target));
  }
  if (auto value = fields.find("soak")) CASCADE_TRY_ASSIGN(wave.soak, read_duration(context, *value, "soak", true));
  return wave;
}

/// Fails when `wave` names a target an earlier wave has, or an earlier wave's name.
Status check_wave_against(const Context& context, const YAML::Node& node, const Wave& wave,
                          const std::vector<Wave>& earlier) {
  for (const Wave& other : earlier) {
    if (other.name == wave.name) {
      YAML::Node where = node["name"] ? node["name"] : node;
      return unexpected(context.report.at(where, "wave name " + quote(wave.name) + " is already used by the wave at "
                                                 "line " + std::to_string(other.mark.line) +
                                                 "; give each wave a unique 'name'"));
    }
    for (std::size_t i = 0; i < wave.targets.size(); ++i) {
      const std::string& target = wave.targets[i];
      if (std::find(other.targets.begin(), other.targets.end(), target) == other.targets.end()) continue;
      return unexpected(context.report.at(node["targets"][i],
                                          "deploy target " + quote(target) + " is in wave " + quote(other.name) +
                                              " (line " + std::to_string(other.mark.line) + ") and in wave " +
                                              quote(wave.name) + "; a target rolls out in one wave: remove it "
                                                                 "from one of them"));
    }
  }
  return {};
}

// notify:

Expected<Notify::Kind, Error> read_notify_kind(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, node, "kind"));
  for (const NotifyKind& kind : kNotifyKinds)
    if (kind.name == text) return kind.kind;
  return unexpected(context.report.at(node, "unknown notify kind " + quote(text) +
                                                "; known: slack (an incoming webhook: Slack, Mattermost, Rocket.Chat), "
                                                "webhook (cascade's JSON event, optionally signed), command (an "
                                                "argument vector, the event's JSON on stdin)"));
}

/// Fails on a key another kind takes, or when the kind's required key is missing.
Status check_notify_kind_keys(const Context& context, const YAML::Node& node, const Fields& fields,
                              const NotifyKind& own) {
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    if (std::find(kNotifyKindKeys.begin(), kNotifyKindKeys.end(), key) == kNotifyKindKeys.end()) continue;
    if (std::find(own.keys.begin(), own.keys.end(), key) != own.keys.end()) continue;
    std::string owners;
    for (const NotifyKind& kind : kNotifyKinds)
      if (std::find(kind.keys.begin(), kind.keys.end(), key) != kind.keys.end())
        owners += (owners.empty() ? "" : " and ") + quote(kind.name);
    return unexpected(context.report.at(entry.first, quote(key) + " applies only to kind " + owners + ", not " +
                                                         quote(own.name) + "; remove it or change 'kind'"));
  }
  if (!fields.find(own.required))
    return unexpected(context.report.at(node, "missing required key " + quote(own.required) + " for notify kind " +
                                                  quote(own.name) + "; add it"));
  return {};
}

/// Checks a URL held in a variable without ever putting the value in a message.
Status check_url_value(const Context& context, const YAML::Node& node, const Notify& notify,
                       const std::string& url) {
  bool http = url.rfind("http://", 0) == 0 && url.size() > 7;
  bool https = url.rfind("https://", 0) == 0 && url.size() > 8;
  std::string problem;
  if (!http && !https) problem = "does not hold an http:// or https:// URL";
  else if (std::any_of(url.begin(), url.end(),
                       [](char ch) { return static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f; }))
    problem = "holds a URL with a space or control character";
  if (problem.empty()) return {};
  return unexpected(context.report.at(node, "notify " + quote(notify.name) + ": url_env " + notify.url_env + " " +
                                                problem + "; set it to the destination's URL (its value is not "
                                                          "shown here)"));
}

Status read_notify_secrets(const Context& context, const Fields& fields, Notify& notify) {
  std::string who = "notify " + quote(notify.name);
  if (auto value = fields.find("url_env")) {
    CASCADE_TRY_ASSIGN(auto variable, read_set_variable(context, *value, "url_env", who, "the destination's URL"));
    notify.url_env = variable.name;
    CASCADE_TRY(check_url_value(context, *value, notify, variable.value));
  }
  if (auto value = fields.find("secret_env")) {
    CASCADE_TRY_ASSIGN(auto variable, read_set_variable(context, *value, "secret_env", who, "the HMAC-SHA256 key"));
    notify.secret_env = variable.name;
  }
  return {};
}

Status read_notify_events(const Context& context, const YAML::Node& node, Notify& notify) {
  CASCADE_TRY_ASSIGN(auto events, read_string_list(context, node, "events"));
  std::vector<Key> known;
  std::string known_list;
  for (const char* event : kNotifyEvents) {
    known.push_back({event});
    known_list += (known_list.empty() ? "" : ", ") + std::string(event);
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    const std::string& event = events[i];
    bool valid = std::any_of(known.begin(), known.end(), [&](const Key& key) { return key.name == event; });
    if (!valid) {
      std::string message = "notify " + quote(notify.name) + ": unknown event " + quote(event) + "; ";
      if (auto suggestion = closest(event, known)) message += "did you mean " + quote(*suggestion) + "? ";
      return unexpected(context.report.at(node[i], message + "known: " + known_list));
    }
    auto before = events.begin() + static_cast<long>(i);
    if (std::find(events.begin(), before, event) != before)
      return unexpected(context.report.at(node[i], "notify " + quote(notify.name) + " lists event " + quote(event) +
                                                       " twice; keep only one"));
  }
  notify.events = std::move(events);
  return {};
}

Expected<Notify, Error> read_notify_entry(const Context& context, const YAML::Node& node, std::size_t index) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kNotify));
  Notify notify;
  notify.mark = mark_of(node);
  CASCADE_TRY_ASSIGN(notify.kind, read_notify_kind(context, fields.get("kind")));
  const NotifyKind& kind = kNotifyKinds[static_cast<std::size_t>(notify.kind)];
  CASCADE_TRY(check_notify_kind_keys(context, node, fields, kind));
  notify.name = std::string(kind.name) + "-" + std::to_string(index + 1);
  if (auto value = fields.find("name")) {
    CASCADE_TRY_ASSIGN(notify.name, read_nonempty(context.report, *value, "name"));
    if (!valid_release_name(notify.name))
      return unexpected(context.report.at(*value, "notify name " + quote(notify.name) +
                                                      " must match [a-z0-9][a-z0-9._-]*"));
  }
  CASCADE_TRY(read_notify_secrets(context, fields, notify));
  if (auto value = fields.find("argv")) CASCADE_TRY_ASSIGN(notify.argv, read_string_list(context, *value, "argv"));
  if (auto value = fields.find("timeout")) {
    CASCADE_TRY_ASSIGN(notify.timeout, read_duration(context, *value, "timeout", false));
  }
  if (auto value = fields.find("events")) CASCADE_TRY(read_notify_events(context, *value, notify));
  if (auto value = fields.find("images")) {
    CASCADE_TRY_ASSIGN(notify.images, read_repository_globs(context, *value, "images"));
  }
  if (auto value = fields.find("insecure")) {
    CASCADE_TRY_ASSIGN(notify.insecure, read_bool(context.report, *value, "insecure"));
  }
  return notify;
}

/// A list read entry by entry, each with its index.
template <typename T, typename Read>
Expected<std::vector<T>, Error> read_indexed(const Context& context, const YAML::Node& node, std::string_view key,
                                             Read read) {
  CASCADE_TRY(expect_list(context.report, node, key));
  std::vector<T> values;
  for (std::size_t i = 0; i < node.size(); ++i) {
    CASCADE_TRY_ASSIGN(auto value, read(node[i], i));
    values.push_back(std::move(value));
  }
  return values;
}

}  // namespace

Expected<std::vector<TestCommand>, Error> read_tests(const Context& context, const YAML::Node& node) {
  if (node.IsScalar())
    return unexpected(context.report.at(node, "'test' must be a list of {run: [...]} entries, not a string: write "
                                              "test: [{run: " + as_list(node.Scalar()) + "}]"));
  return read_indexed<TestCommand>(context, node, "test",
                      [&](const YAML::Node& entry, std::size_t) { return read_test_command(context, entry); });
}

Expected<Approval, Error> read_approval(const Context& context, const YAML::Node& node, ApprovalScope scope) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kApproval));
  Approval approval;
  approval.mark = mark_of(node);
  if (auto value = fields.find("required")) {
    CASCADE_TRY_ASSIGN(auto required, read_count(context.report, *value, "required", 0));
    if (required == 0)
      return unexpected(context.report.at(*value, "'required: 0' would ask no one: approval is off when the "
                                                  "'approval' key is absent; remove the key, or require at least 1"));
    approval.required = static_cast<int>(required);
  }
  if (auto value = fields.find("timeout")) {
    CASCADE_TRY_ASSIGN(approval.timeout, read_duration(context, *value, "timeout", false));
  }
  if (auto value = fields.find("before")) {
    CASCADE_TRY_ASSIGN(auto before, read_nonempty(context.report, *value, "before"));
    if (before != "rollout" && before != "build")
      return unexpected(context.report.at(*value, "'before' must be rollout (build and push, then wait) or build "
                                                  "(wait before building anything), not " + quote(before)));
    if (before == "build" && scope == ApprovalScope::target)
      return unexpected(context.report.at(*value, "'before: build' applies only to the top-level 'approval': a "
                                                  "target's approval holds its rollouts; move it to the top level "
                                                  "to hold the whole run before it builds"));
    approval.before_build = before == "build";
  }
  return approval;
}

Expected<std::vector<Window>, Error> read_windows(const Context& context, const YAML::Node& node) {
  return read_indexed<Window>(context, node, "windows",
                      [&](const YAML::Node& entry, std::size_t) { return read_window(context, entry); });
}

Expected<std::vector<Wave>, Error> read_waves(const Context& context, const YAML::Node& node,
                                              const std::vector<DeployTarget>& targets) {
  CASCADE_TRY(expect_list(context.report, node, "waves"));
  std::vector<Wave> waves;
  for (std::size_t i = 0; i < node.size(); ++i) {
    CASCADE_TRY_ASSIGN(auto wave, read_wave(context, node[i], i, targets));
    CASCADE_TRY(check_wave_against(context, node[i], wave, waves));
    waves.push_back(std::move(wave));
  }
  return waves;
}

Expected<std::vector<Notify>, Error> read_notify(const Context& context, const YAML::Node& node) {
  auto read_entry = [&](const YAML::Node& entry, std::size_t i) { return read_notify_entry(context, entry, i); };
  CASCADE_TRY_ASSIGN(auto destinations, read_indexed<Notify>(context, node, "notify", read_entry));
  std::map<std::string, int> lines;
  for (std::size_t i = 0; i < destinations.size(); ++i) {
    const Notify& notify = destinations[i];
    auto [first, inserted] = lines.emplace(notify.name, notify.mark.line);
    if (inserted) continue;
    YAML::Node where = node[i]["name"] ? node[i]["name"] : node[i];
    return unexpected(context.report.at(where, "notify name " + quote(notify.name) + " is already used by the "
                                               "destination at line " + std::to_string(first->second) +
                                               "; give each destination a unique 'name'"));
  }
  return destinations;
}

Expected<std::vector<Triggers::Approver>, Error> read_approvers(const Context& context, const YAML::Node& node,
                                                                const Triggers& triggers) {
  CASCADE_TRY(expect_list(context.report, node, "approvers"));
  std::vector<Triggers::Approver> approvers;
  std::vector<std::string> tokens;  // each approver's token, to refuse one token for two names
  std::optional<std::string> api_token = variable_value(context, triggers.api_token_env);
  for (const YAML::Node& entry : node) {
    CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, entry, kApprover));
    Triggers::Approver approver;
    approver.mark = mark_of(entry);
    YAML::Node name_node = fields.get("name");
    CASCADE_TRY_ASSIGN(approver.name, read_nonempty(context.report, name_node, "name"));
    if (!valid_approver_name(approver.name))
      return unexpected(context.report.at(name_node, "approver name " + quote(approver.name) +
                                                         " must be letters, digits, '.', '_', '-' or '@', starting "
                                                         "with a letter or digit (at most 64)"));
    if (approver.name == "api")
      return unexpected(context.report.at(name_node, "approver name 'api' is the API token's own (it approves as "
                                                     "'api'); pick another name"));
    for (const auto& other : approvers)
      if (other.name == approver.name)
        return unexpected(context.report.at(name_node, "approver " + quote(approver.name) + " is already listed at "
                                                       "line " + std::to_string(other.mark.line) + "; keep only one"));
    std::string who = "approver " + quote(approver.name);
    CASCADE_TRY_ASSIGN(auto token, read_set_variable(context, fields.get("token_env"), "token_env", who,
                                                     "the bearer token " + approver.name + " approves with"));
    approver.token_env = token.name;
    for (std::size_t i = 0; i < approvers.size(); ++i)
      if (tokens[i] == token.value)
        return unexpected(context.report.at(fields.get("token_env"),
                                            who + " has the same token as approver " + quote(approvers[i].name) +
                                                " (line " + std::to_string(approvers[i].mark.line) +
                                                "): each approver needs a token of its own"));
    if (api_token && *api_token == token.value)
      return unexpected(context.report.at(fields.get("token_env"),
                                          who + " has the API token (" + triggers.api_token_env +
                                              "), which approves as 'api'; give " + approver.name +
                                              " a token of its own"));
    tokens.push_back(std::move(token.value));
    approvers.push_back(std::move(approver));
  }
  return approvers;
}

}  // namespace cascade::pipeline::detail
