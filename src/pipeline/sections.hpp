// Internal to the pipeline module: one read function per section of the file.
#pragma once

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

/// The `triggers:` section (triggers.cpp): server settings, webhooks with unique paths and
/// explicit authentication, schedule entries with valid cron expressions and zones.
Expected<Triggers, Error> read_triggers(const Context& context, const YAML::Node& node);

}  // namespace cascade::pipeline::detail
