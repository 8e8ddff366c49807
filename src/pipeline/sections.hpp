// Internal to the pipeline module: one read function per section of the file.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "fields.hpp"

namespace cascade::pipeline::detail {

/// What every section reader needs besides its node.
struct Context {
  Reporter report;
  std::string directory;  // absolute folder of the pipeline file
  Environment env;
};

/// The `sources:` list: each source, unique names, and no two explicit recipes producing
/// the same image anywhere in the file.
Expected<std::vector<Source>, Error> read_sources(const Context& context, const YAML::Node& node);

/// One `images:` entry.
Expected<ImageRecipe, Error> read_image_recipe(const Context& context, const YAML::Node& node);

/// One `discover:` entry; templates are checked by expanding them for a sample path
/// drawn from the glob, with `source_name` for {source}.
Expected<Discover, Error> read_discover(const Context& context, const YAML::Node& node, const std::string& source_name);

/// `build_args:` of a recipe or discover entry.
Expected<std::map<std::string, std::string>, Error> read_build_args(const Context& context, const YAML::Node& node);

/// `target:` of a recipe or discover entry.
Expected<std::string, Error> read_target(const Context& context, const YAML::Node& node);

/// The `deploy:` list: each target with its kind's keys, unique names.
Expected<std::vector<DeployTarget>, Error> read_deploy(const Context& context, const YAML::Node& node);

/// A duration ("500ms", "30s", "1h30m"): longer than zero, or zero too with `allow_zero`.
Expected<std::chrono::milliseconds, Error> read_duration(const Context& context, const YAML::Node& node,
                                                         std::string_view key, bool allow_zero);

/// A non-empty list of non-empty strings.
Expected<std::vector<std::string>, Error> read_string_list(const Context& context, const YAML::Node& node,
                                                           std::string_view key);

/// A non-empty list of globs on normalized repositories (validate_glob; no tag or digest).
Expected<std::vector<std::string>, Error> read_repository_globs(const Context& context, const YAML::Node& node,
                                                                std::string_view key);

/// `max_parallel_deploys:`, a whole number >= 1.
Expected<int, Error> read_max_parallel_deploys(const Context& context, const YAML::Node& node);

/// An engine's `endpoint:`: "unix:///absolute/path" or "tcp://host:port" (engines.cpp).
Expected<std::string, Error> read_endpoint(const Context& context, const YAML::Node& node);

/// Whether read_tls checks that the files exist and can be read.
enum class TlsCheck { paths_only, files_readable };

/// A `tls: {ca, cert, key}` mapping for `endpoint`: paths resolved against the pipeline's
/// folder; fails unless cert and key come together and the endpoint is tcp://, and with
/// TlsCheck::files_readable on a file that is missing, not a regular file, or unreadable.
Expected<TlsFiles, Error> read_tls(const Context& context, const YAML::Node& node, std::string_view endpoint,
                                   TlsCheck check);

/// Fails at `node` unless `path` names an existing regular file this process may read
/// (its content is not read). `what` names the file in the message ("secret 'x' file").
Status check_readable_file(const Context& context, const YAML::Node& node, std::string_view what,
                           const std::string& path);

/// The `builders:` section (builders.cpp): workers with unique names and valid
/// connections, secrets with unique ids and existing files, pull, prune, storage driver.
Expected<Builders, Error> read_builders(const Context& context, const YAML::Node& node);

/// A `platforms:` list of the top level, a source, recipe or discover entry (platforms.cpp):
/// a non-empty list of "os/arch[/variant]", each normalized as containerd does ("linux/arm64",
/// "linux/arm/v7"), in the order written; fails at an entry that is not a linux platform of
/// a known architecture and variant, or that repeats an earlier one once normalized.
Expected<std::vector<std::string>, Error> read_platforms(const Context& context, const YAML::Node& node);

/// A `builder: {name, labels}` choice of a source, recipe or discover entry.
Expected<WorkerChoice, Error> read_worker_choice(const Context& context, const YAML::Node& node);

/// Fails at the first `builder:` choice in `pipeline` that no worker satisfies (the
/// implicit local buildah worker when there is no `builders.workers`).
Status check_worker_choices(const Context& context, const Pipeline& pipeline);

/// Where the character at `offset` of a cron expression's scalar is in the file (triggers.cpp):
/// the node's mark moved along its line (past a quote); the node's mark when it spans lines.
YAML::Mark cron_mark(const YAML::Node& node, std::size_t offset);

/// The `triggers:` section (triggers.cpp): server settings, webhooks with unique paths and
/// explicit authentication, schedule entries with valid cron expressions and zones.
Expected<Triggers, Error> read_triggers(const Context& context, const YAML::Node& node);

// Release control (release.cpp).

/// A `test:` list (top level, source, image recipe, discover entry): each entry
/// `{run: [argv...], timeout: 5m}`; `test: []` is an empty list (no tests, overriding a default).
Expected<std::vector<TestCommand>, Error> read_tests(const Context& context, const YAML::Node& node);

/// Where an `approval:` mapping stands: the top level may hold a run before it builds
/// (`before: build`); a deploy target may not.
enum class ApprovalScope { pipeline, target };

/// An `approval: {required, timeout, before}` mapping; fails on `required: 0` (approval is
/// off when the key is absent) and on `before: build` in a target.
Expected<Approval, Error> read_approval(const Context& context, const YAML::Node& node, ApprovalScope scope);

/// A deploy target's `windows:` list: cron expressions checked with cron::Schedule::parse in
/// their zone (and that they ever fire), durations > 0 and at most 7 days.
Expected<std::vector<Window>, Error> read_windows(const Context& context, const YAML::Node& node);

/// The top-level `waves:` list against the file's deploy targets: unique names (default
/// "wave-<n>"), each target known and in one wave at most, soak >= 0.
Expected<std::vector<Wave>, Error> read_waves(const Context& context, const YAML::Node& node,
                                              const std::vector<DeployTarget>& targets);

/// The top-level `notify:` list: each destination's kind and its keys, unique names (default
/// "<kind>-<n>"), known events, image globs, and the secret variables set now (their values
/// checked, never quoted in a message).
Expected<std::vector<Notify>, Error> read_notify(const Context& context, const YAML::Node& node);

/// `triggers.approvers`: unique names, each token variable set now, no token shared by two
/// approvers or with the API token (`api_token_env` of `triggers`, already read).
Expected<std::vector<Triggers::Approver>, Error> read_approvers(const Context& context, const YAML::Node& node,
                                                                const Triggers& triggers);

}  // namespace cascade::pipeline::detail
