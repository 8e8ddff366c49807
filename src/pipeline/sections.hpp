// Internal to the pipeline module: one read function per section of the file.
#pragma once

#include <string>
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

/// The `triggers:` section (triggers.cpp): server settings, webhooks with unique paths and
/// explicit authentication, schedule entries with valid cron expressions and zones.
Expected<Triggers, Error> read_triggers(const Context& context, const YAML::Node& node);

}  // namespace cascade::pipeline::detail
