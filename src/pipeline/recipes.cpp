// Recipe sections: explicit `images:` entries and `discover:` entries with their templates.
#include <algorithm>

#include "cascade/reference.hpp"
#include "paths.hpp"
#include "sections.hpp"

namespace cascade::pipeline::detail {

namespace {

const Section kImageRecipe{"image recipe",
                           {{"image", true}, {"dockerfile", true}, {"context"}, {"target"}, {"build_args"}, {"builder"},
                            {"platforms"}, {"test"}}};
const Section kDiscover{"discover entry",
                        {{"dockerfiles", true}, {"image", true}, {"context"}, {"target"}, {"build_args"}, {"builder"},
                         {"platforms"}, {"test"}}};

bool has_space(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char ch) { return ch <= ' ' || ch == 0x7f; });
}

/// A reference::parse result as the image a recipe produces: normalized, without digest.
Expected<std::string, std::string> produced_image(std::string_view text) {
  auto parsed = reference::parse(text);
  if (!parsed) return unexpected("invalid image reference '" + std::string(text) + "': " + parsed.error().message);
  if (!parsed->digest.empty())
    return unexpected("image '" + std::string(text) +
                      "' must not carry a digest: a recipe builds and pushes a tag; remove '@" + parsed->digest + "'");
  return parsed->str();
}

Expected<std::string, Error> read_image(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, node, "image"));
  auto image = produced_image(text);
  if (!image) return unexpected(context.report.at(node, image.error()));
  return *image;
}

/// A repository path value; `folder_allowed` lets the root ("" or ".") through, as ".".
Expected<std::string, Error> read_repository_path(const Context& context, const YAML::Node& node,
                                                  std::string_view key, bool folder_allowed) {
  CASCADE_TRY_ASSIGN(auto text, folder_allowed ? read_string(context.report, node, key)
                                                : read_nonempty(context.report, node, key));
  auto path = repository_path(text);
  if (!path) return unexpected(context.report.at(node, "'" + std::string(key) + "' " + path.error()));
  if (folder_allowed) return path->empty() ? std::string(".") : *path;
  if (path->empty() || text.back() == '/')
    return unexpected(context.report.at(node, "'" + std::string(key) + "' must name a file, e.g. 'app/Dockerfile'"));
  return *path;
}

/// A path that glob matches, for checking templates: '*' and '**' become "sample", '?'
/// and each set the first fitting character of [a-z0-9._-].
std::string sample_path(std::string_view glob) {
  static constexpr std::string_view kCandidates = "abcdefghijklmnopqrstuvwxyz0123456789._-ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string sample;
  for (std::size_t i = 0; i < glob.size(); ++i) {
    char ch = glob[i];
    if (ch == '*') {
      sample += "sample";
      while (i + 1 < glob.size() && glob[i + 1] == '*') ++i;
    } else if (ch == '?') {
      sample += 'x';
    } else if (ch == '[') {
      std::size_t close = glob.find(']', i + (glob[i + 1] == '!' ? 3 : 2));
      std::string_view set = glob.substr(i, close - i + 1);
      auto fits = [&](char candidate) { return glob_match(set, std::string_view(&candidate, 1)); };
      auto chosen = std::find_if(kCandidates.begin(), kCandidates.end(), fits);
      sample += chosen == kCandidates.end() ? 'x' : *chosen;
      i = close;
    } else {
      sample += ch;
    }
  }
  return sample;
}

bool has_per_file_placeholder(std::string_view tmpl) {
  return tmpl.find("{dir}") != std::string_view::npos || tmpl.find("{path}") != std::string_view::npos ||
         tmpl.find("{file}") != std::string_view::npos;
}

Expected<std::string, Error> read_image_template(const Context& context, const YAML::Node& node,
                                                 const std::string& sample, const std::string& source_name) {
  CASCADE_TRY_ASSIGN(auto tmpl, read_nonempty(context.report, node, "image"));
  auto expanded = expand_template(tmpl, sample, source_name);
  if (!expanded) return unexpected(context.report.at(node, "image template '" + tmpl + "': " + expanded.error()));
  if (!has_per_file_placeholder(tmpl))
    return unexpected(context.report.at(
        node, "image template '" + tmpl +
                  "' has no {dir}, {path} or {file} placeholder, so every discovered Dockerfile would produce "
                  "the same image; use e.g. 'registry.example.com/apps/{dir}:latest'"));
  bool domain_is_literal = tmpl.substr(0, tmpl.find('/')).find('{') == std::string::npos;
  if (domain_is_literal) {
    auto image = produced_image(*expanded);
    if (!image)
      return unexpected(context.report.at(node, "image template '" + tmpl + "' gives '" + *expanded +
                                                    "' for the matching path '" + sample + "': " + image.error()));
  }
  return tmpl;
}

Expected<std::string, Error> read_context_template(const Context& context, const YAML::Node& node,
                                                   const std::string& sample, const std::string& source_name) {
  CASCADE_TRY_ASSIGN(auto tmpl, read_string(context.report, node, "context"));
  auto expanded = expand_template(tmpl, sample, source_name);
  if (!expanded) return unexpected(context.report.at(node, "context template '" + tmpl + "': " + expanded.error()));
  auto path = repository_path(*expanded);
  if (!path)
    return unexpected(context.report.at(node, "context template '" + tmpl + "' gives '" + *expanded +
                                                  "' for the matching path '" + sample + "', which " + path.error()));
  return tmpl;
}

Expected<std::string, Error> read_glob(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto glob, read_string(context.report, node, "dockerfiles"));
  auto valid = validate_glob(glob);
  if (!valid)
    return unexpected(context.report.at(node, "invalid glob '" + glob + "' at character " +
                                                  std::to_string(valid.error().second + 1) + ": " +
                                                  valid.error().first));
  return glob;
}

/// Reads the keys recipes and discover entries share.
template <typename Recipe>
Status read_build_options(const Context& context, const Fields& fields, Recipe& recipe) {
  if (auto node = fields.find("target")) CASCADE_TRY_ASSIGN(recipe.target, read_target(context, *node));
  if (auto node = fields.find("build_args")) CASCADE_TRY_ASSIGN(recipe.build_args, read_build_args(context, *node));
  if (auto node = fields.find("builder")) CASCADE_TRY_ASSIGN(recipe.builder, read_worker_choice(context, *node));
  if (auto node = fields.find("platforms")) CASCADE_TRY_ASSIGN(recipe.platforms, read_platforms(context, *node));
  if (auto node = fields.find("test")) CASCADE_TRY_ASSIGN(recipe.tests, read_tests(context, *node));
  return {};
}

}  // namespace

Expected<std::string, Error> read_target(const Context& context, const YAML::Node& node) {
  auto target = read_nonempty(context.report, node, "target");
  if (target && has_space(*target))
    return unexpected(context.report.at(node, "'target' must be a stage name, without spaces"));
  return target;
}

Expected<std::map<std::string, std::string>, Error> read_build_args(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto args, read_string_map(context.report, node, "build_args"));
  for (const auto& entry : node) {
    const std::string name = entry.first.Scalar();
    if (has_space(name) || name.find('=') != std::string::npos)
      return unexpected(context.report.at(entry.first, "build argument name '" + name +
                                                         "' must not contain '=' or spaces"));
  }
  return args;
}

Expected<ImageRecipe, Error> read_image_recipe(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kImageRecipe));
  ImageRecipe recipe;
  recipe.mark = mark_of(node);
  CASCADE_TRY_ASSIGN(recipe.image, read_image(context, fields.get("image")));
  CASCADE_TRY_ASSIGN(recipe.dockerfile, read_repository_path(context, fields.get("dockerfile"), "dockerfile", false));
  recipe.context = folder_of(recipe.dockerfile);
  if (auto node_context = fields.find("context")) {
    CASCADE_TRY_ASSIGN(recipe.context, read_repository_path(context, *node_context, "context", true));
  }
  CASCADE_TRY(read_build_options(context, fields, recipe));
  return recipe;
}

Expected<Discover, Error> read_discover(const Context& context, const YAML::Node& node,
                                        const std::string& source_name) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kDiscover));
  Discover discover;
  discover.mark = mark_of(node);
  CASCADE_TRY_ASSIGN(discover.dockerfiles, read_glob(context, fields.get("dockerfiles")));
  std::string sample = sample_path(discover.dockerfiles);
  CASCADE_TRY_ASSIGN(discover.image_template, read_image_template(context, fields.get("image"), sample, source_name));
  if (auto node_context = fields.find("context")) {
    CASCADE_TRY_ASSIGN(discover.context_template, read_context_template(context, *node_context, sample, source_name));
  }
  CASCADE_TRY(read_build_options(context, fields, discover));
  return discover;
}

}  // namespace cascade::pipeline::detail
