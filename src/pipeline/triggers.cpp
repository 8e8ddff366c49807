// The `triggers:` section: what `cascade serve` listens on (address, debounce, body limit,
// parallel builds, API token variable, log format), its webhook endpoints (sender, path,
// authentication) and its cron schedule (expression checked with cron::Schedule::parse in
// its time zone, action: refresh, rebuild or scan; image globs for a rebuild); its approvers
// are read in release.cpp.
#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include "cascade/cron.hpp"
#include "cascade/util/text.hpp"
#include "paths.hpp"
#include "sections.hpp"

namespace cascade::pipeline::detail {

namespace {

const Section kTriggers{"triggers",
                        {{"listen"}, {"debounce"}, {"body_limit"}, {"parallel"}, {"api_token_env"}, {"read_token_env"},
                         {"hosts"}, {"log"}, {"webhooks"}, {"schedule"}, {"approvers"}}};
const Section kWebhook{"webhook",
                       {{"sender", true}, {"path"}, {"token_env"}, {"secret_env"}, {"auth"}, {"registry"}}};
const Section kScheduleEntry{"schedule entry",
                             {{"name"}, {"cron", true}, {"timezone"}, {"action", true}, {"images"}}};

constexpr std::array<std::string_view, 6> kSenders{"distribution", "dockerhub", "harbor", "quay", "github", "generic"};
/// Senders whose deliveries can carry an HMAC signature.
constexpr std::array<std::string_view, 2> kSigningSenders{"github", "generic"};


bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }


Expected<std::string, Error> read_listen(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto listen, read_nonempty(context.report, node, "listen"));
  if (!valid_host_port(listen))
    return unexpected(context.report.at(node, "'listen' " + quote(listen) +
                                                  " must be host:port (port 0-65535), e.g. 127.0.0.1:8080 or "
                                                  "[::1]:8080"));
  return listen;
}

/// "1048576", "512KiB", "1MiB", "100B".
Expected<std::size_t, Error> read_body_limit(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, node, "body_limit"));
  std::size_t digits_end = 0;
  while (digits_end < text.size() && is_digit(text[digits_end])) ++digits_end;
  std::string_view unit = std::string_view(text).substr(digits_end);
  std::size_t scale = unit.empty() || unit == "B" ? 1 : unit == "KiB" ? 1024 : unit == "MiB" ? 1024 * 1024 : 0;
  if (digits_end == 0 || digits_end > 10 || scale == 0)
    return unexpected(context.report.at(node, "'body_limit' " + quote(text) +
                                                  " must be a size in bytes like 1048576, 512KiB or 1MiB"));
  std::size_t bytes = std::stoull(text.substr(0, digits_end)) * scale;
  if (bytes == 0) return unexpected(context.report.at(node, "'body_limit' must be more than zero"));
  return bytes;
}

Expected<std::chrono::milliseconds, Error> read_debounce(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, node, "debounce"));
  auto duration = parse_duration(text);
  if (!duration) return unexpected(context.report.at(node, "'debounce': " + duration.error()));
  return *duration;
}

Expected<std::string, Error> read_log_format(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto format, read_nonempty(context.report, node, "log"));
  if (format != "text" && format != "json")
    return unexpected(context.report.at(node, "'log' must be text or json, not " + quote(format)));
  return format;
}

/// A registry host[:port] for repositories a payload names without one.
Expected<std::string, Error> read_registry_host(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto host, read_nonempty(context.report, node, "registry"));
  std::size_t colon = host.rfind(':');
  bool valid = colon == std::string::npos ? valid_hostname(host)
                                          : valid_hostname(host.substr(0, colon)) && valid_port(host.substr(colon + 1));
  if (!valid)
    return unexpected(context.report.at(node, "'registry' " + quote(host) +
                                                  " must be host[:port], e.g. registry.example.com or 127.0.0.1:5000, "
                                                  "without a scheme or path"));
  return host;
}

Expected<std::string, Error> read_hook_path(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto path, read_nonempty(context.report, node, "path"));
  bool valid = path != "." && path != ".." && std::all_of(path.begin(), path.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || is_digit(ch) || ch == '.' || ch == '_' || ch == '-';
  });
  if (!valid)
    return unexpected(context.report.at(node, "webhook path " + quote(path) +
                                                  " must match [a-z0-9._-]+ (it is the URL segment after /hooks/)"));
  return path;
}

Expected<std::string, Error> read_sender(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto sender, read_nonempty(context.report, node, "sender"));
  if (std::find(kSenders.begin(), kSenders.end(), sender) == kSenders.end())
    return unexpected(context.report.at(node, "unknown webhook sender " + quote(sender) +
                                                  "; known: distribution, dockerhub, harbor, quay, github, generic"));
  return sender;
}

/// token_env, secret_env and auth: at least one way to accept a delivery, chosen explicitly.
Status read_hook_auth(const Context& context, const YAML::Node& node, const Fields& fields, Webhook& hook) {
  if (auto value = fields.find("token_env")) {
    CASCADE_TRY_ASSIGN(hook.token_env, read_env_name(context.report, *value, "token_env"));
  }
  if (auto value = fields.find("secret_env")) {
    if (std::find(kSigningSenders.begin(), kSigningSenders.end(), hook.sender) == kSigningSenders.end())
      return unexpected(context.report.at(key_node(node, "secret_env"),
                                          hook.sender + " cannot sign; use token_env (only github and generic "
                                                        "deliveries carry a signature)"));
    CASCADE_TRY_ASSIGN(hook.secret_env, read_env_name(context.report, *value, "secret_env"));
  }
  if (auto value = fields.find("auth")) {
    if (!value->IsScalar() || value->Scalar() != "none")
      return unexpected(context.report.at(*value, "'auth' takes only the value none (accept unauthenticated "
                                                  "deliveries); for a token or a signature use token_env or "
                                                  "secret_env"));
    if (!hook.token_env.empty() || !hook.secret_env.empty())
      return unexpected(context.report.at(key_node(node, "auth"),
                                          std::string("'auth: none' contradicts '") +
                                              (hook.token_env.empty() ? "secret_env" : "token_env") +
                                              "'; remove one of them"));
    hook.unauthenticated = true;
  }
  if (hook.token_env.empty() && hook.secret_env.empty() && !hook.unauthenticated)
    return unexpected(context.report.at(node, "webhook " + quote(hook.path) +
                                                  " has no authentication: add token_env or secret_env (or "
                                                  "auth: none to accept unauthenticated deliveries)"));
  return {};
}

Expected<Webhook, Error> read_webhook(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kWebhook));
  Webhook hook;
  hook.mark = mark_of(node);
  CASCADE_TRY_ASSIGN(hook.sender, read_sender(context, fields.get("sender")));
  hook.path = hook.sender;
  if (auto value = fields.find("path")) CASCADE_TRY_ASSIGN(hook.path, read_hook_path(context, *value));
  if (auto value = fields.find("registry")) CASCADE_TRY_ASSIGN(hook.registry, read_registry_host(context, *value));
  CASCADE_TRY(read_hook_auth(context, node, fields, hook));
  return hook;
}

Expected<std::vector<Webhook>, Error> read_webhooks(const Context& context, const YAML::Node& node) {
  CASCADE_TRY(expect_list(context.report, node, "webhooks"));
  std::vector<Webhook> hooks;
  std::map<std::string, int> lines;
  for (const YAML::Node& entry : node) {
    CASCADE_TRY_ASSIGN(auto hook, read_webhook(context, entry));
    if (auto first = lines.find(hook.path); first != lines.end()) {
      YAML::Node where = entry.IsMap() && entry["path"] ? entry["path"] : entry;
      return unexpected(context.report.at(where, "webhook path " + quote(hook.path) +
                                                     " is already used by the webhook at line " +
                                                     std::to_string(first->second) + "; give each webhook its own "
                                                                                     "'path'"));
    }
    lines.emplace(hook.path, hook.mark.line);
    hooks.push_back(std::move(hook));
  }
  return hooks;
}

bool valid_entry_name(const std::string& name) {
  auto lower_or_digit = [](char ch) { return (ch >= 'a' && ch <= 'z') || is_digit(ch); };
  if (name.empty() || !lower_or_digit(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char ch) { return lower_or_digit(ch) || ch == '.' || ch == '_' || ch == '-'; });
}

Status read_schedule_cron(const Context& context, const Fields& fields, ScheduleEntry& entry) {
  YAML::Node cron_node = fields.get("cron");
  CASCADE_TRY_ASSIGN(auto expression, read_nonempty(context.report, cron_node, "cron"));
  auto checked = cron::Schedule::parse(expression, "UTC");
  if (!checked)
    return unexpected(context.report.at(cron_mark(cron_node, checked.error().offset),
                                        "cron expression " + quote(expression) + ": " + checked.error().message));
  entry.cron = expression;
  if (auto value = fields.find("timezone")) {
    CASCADE_TRY_ASSIGN(auto zone, read_nonempty(context.report, *value, "timezone"));
    auto in_zone = cron::Schedule::parse(entry.cron, zone);
    if (!in_zone)
      return unexpected(context.report.at(*value, in_zone.error().message +
                                                      ": give an IANA zone name such as UTC or Europe/Berlin"));
    entry.timezone = zone;
  }
  return {};
}

Status read_schedule_images(const Context& context, const YAML::Node& node, ScheduleEntry& entry) {
  CASCADE_TRY(expect_list(context.report, node, "images"));
  if (node.size() == 0)
    return unexpected(context.report.at(node, "'images' is empty: list at least one glob, or remove the key to "
                                              "rebuild every fleet image"));
  for (const YAML::Node& item : node) {
    CASCADE_TRY_ASSIGN(auto glob, read_nonempty(context.report, item, "images"));
    auto valid = validate_glob(glob);
    if (!valid)
      return unexpected(context.report.at(item, "'images' glob " + quote(glob) + ": " + valid.error().first));
    std::size_t last_slash = glob.rfind('/');
    if (glob.find_first_of(":@", last_slash == std::string::npos ? 0 : last_slash + 1) != std::string::npos)
      return unexpected(context.report.at(item, "'images' glob " + quote(glob) +
                                                    " matches repositories: remove the tag or digest"));
    entry.images.push_back(glob);
  }
  return {};
}

Expected<ScheduleEntry, Error> read_schedule_entry(const Context& context, const YAML::Node& node, std::size_t index) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kScheduleEntry));
  ScheduleEntry entry;
  entry.mark = mark_of(node);
  YAML::Node action_node = fields.get("action");
  CASCADE_TRY_ASSIGN(auto action, read_nonempty(context.report, action_node, "action"));
  if (action == "refresh") {
    entry.action = ScheduleEntry::Action::refresh;
  } else if (action == "rebuild") {
    entry.action = ScheduleEntry::Action::rebuild;
  } else if (action == "scan") {
    entry.action = ScheduleEntry::Action::scan;
  } else {
    return unexpected(context.report.at(action_node, "unknown action " + quote(action) +
                                                         "; known: refresh (re-resolve the external base images), "
                                                         "rebuild (rebuild the listed images), scan (index the "
                                                         "installed packages of every image and workload)"));
  }
  entry.name = action + "-" + std::to_string(index + 1);
  if (auto value = fields.find("name")) {
    CASCADE_TRY_ASSIGN(auto name, read_nonempty(context.report, *value, "name"));
    if (!valid_entry_name(name))
      return unexpected(context.report.at(*value, "schedule entry name " + quote(name) +
                                                      " must match [a-z0-9][a-z0-9._-]*"));
    entry.name = name;
  }
  CASCADE_TRY(read_schedule_cron(context, fields, entry));
  if (auto value = fields.find("images")) {
    if (entry.action == ScheduleEntry::Action::refresh)
      return unexpected(context.report.at(key_node(node, "images"),
                                          "'images' applies only to action 'rebuild': a refresh re-resolves every "
                                          "external base image and cascades what changed"));
    if (entry.action == ScheduleEntry::Action::scan)
      return unexpected(context.report.at(key_node(node, "images"),
                                          "'images' applies only to action 'rebuild': a scan indexes every fleet "
                                          "image, external base and workload"));
    CASCADE_TRY(read_schedule_images(context, *value, entry));
  }
  return entry;
}

Expected<std::vector<ScheduleEntry>, Error> read_schedule(const Context& context, const YAML::Node& node) {
  CASCADE_TRY(expect_list(context.report, node, "schedule"));
  std::vector<ScheduleEntry> entries;
  std::map<std::string, int> lines;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    CASCADE_TRY_ASSIGN(auto entry, read_schedule_entry(context, item, i));
    if (auto first = lines.find(entry.name); first != lines.end()) {
      YAML::Node where = item["name"] ? item["name"] : item;
      return unexpected(context.report.at(where, "schedule entry name " + quote(entry.name) +
                                                     " is already used by the entry at line " +
                                                     std::to_string(first->second) + "; give each entry a unique "
                                                                                     "'name'"));
    }
    lines.emplace(entry.name, entry.mark.line);
    entries.push_back(std::move(entry));
  }
  return entries;
}

/// `hosts`: names (no port, no scheme) the daemon answers to besides its listen address.
Status read_hosts(const Context& context, const YAML::Node& node, Triggers& triggers) {
  CASCADE_TRY(expect_list(context.report, node, "hosts"));
  for (const YAML::Node& item : node) {
    CASCADE_TRY_ASSIGN(auto host, read_nonempty(context.report, item, "hosts"));
    bool plain = std::all_of(host.begin(), host.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_';
    });
    if (!plain)
      return unexpected(context.report.at(item, "'hosts' entry " + quote(host) +
                                                    " is not a host name: write the name alone (cascade.example.com), "
                                                    "without scheme, port or path"));
    triggers.hosts.push_back(util::lowercase(host));
  }
  return {};
}

/// listen, debounce, body_limit, parallel, api_token_env, read_token_env, hosts, log.
Status read_server_settings(const Context& context, const Fields& fields, Triggers& triggers) {
  if (auto value = fields.find("listen")) CASCADE_TRY_ASSIGN(triggers.listen, read_listen(context, *value));
  if (auto value = fields.find("debounce")) CASCADE_TRY_ASSIGN(triggers.debounce, read_debounce(context, *value));
  if (auto value = fields.find("body_limit")) CASCADE_TRY_ASSIGN(triggers.body_limit, read_body_limit(context, *value));
  if (auto value = fields.find("parallel")) {
    CASCADE_TRY_ASSIGN(triggers.parallel, read_count(context.report, *value, "parallel", 1));
  }
  if (auto value = fields.find("api_token_env")) {
    CASCADE_TRY_ASSIGN(triggers.api_token_env, read_env_name(context.report, *value, "api_token_env"));
  }
  if (auto value = fields.find("read_token_env")) {
    CASCADE_TRY_ASSIGN(triggers.read_token_env, read_env_name(context.report, *value, "read_token_env"));
  }
  if (auto value = fields.find("hosts")) CASCADE_TRY(read_hosts(context, *value, triggers));
  if (auto value = fields.find("log")) CASCADE_TRY_ASSIGN(triggers.log_format, read_log_format(context, *value));
  return {};
}

}  // namespace

YAML::Mark cron_mark(const YAML::Node& node, std::size_t offset) {
  YAML::Mark mark = node.Mark();
  if (mark.is_null() || node.Scalar().find('\n') != std::string::npos) return mark;
  mark.column += static_cast<int>(offset) + (node.Tag() == "!" ? 1 : 0);
  return mark;
}

Expected<Triggers, Error> read_triggers(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kTriggers));
  Triggers triggers;
  triggers.mark = mark_of(node);
  CASCADE_TRY(read_server_settings(context, fields, triggers));
  if (auto value = fields.find("webhooks")) CASCADE_TRY_ASSIGN(triggers.webhooks, read_webhooks(context, *value));
  if (auto value = fields.find("schedule")) CASCADE_TRY_ASSIGN(triggers.schedule, read_schedule(context, *value));
  if (auto value = fields.find("approvers")) {
    CASCADE_TRY_ASSIGN(triggers.approvers, read_approvers(context, *value, triggers));
  }
  return triggers;
}

}  // namespace cascade::pipeline::detail
