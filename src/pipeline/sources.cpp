// The `sources:` section: names, git locations, refs, worker choices, platforms, tests, and
// the recipes of each source.
#include <algorithm>
#include <map>

#include "paths.hpp"
#include "sections.hpp"

namespace cascade::pipeline::detail {

namespace {

const Section kSource{"source",
                      {{"name", true}, {"git", true}, {"ref"}, {"builder"}, {"platforms"}, {"test"}, {"images"},
                       {"discover"}}};

bool valid_source_name(const std::string& name) {
  auto lower_or_digit = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  if (name.empty() || !lower_or_digit(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char ch) { return lower_or_digit(ch) || ch == '.' || ch == '_' || ch == '-'; });
}

Expected<std::string, Error> read_name(const Context& context, const YAML::Node& node) {
  auto name = read_nonempty(context.report, node, "name");
  if (name && !valid_source_name(*name))
    return unexpected(context.report.at(
        node, "source name '" + *name +
                  "' must match [a-z0-9][a-z0-9._-]*: lowercase letters, digits, '.', '_' and '-', "
                  "starting with a letter or digit"));
  return name;
}

Status read_git(const Context& context, const YAML::Node& node, Source& source) {
  CASCADE_TRY_ASSIGN(auto git, read_nonempty(context.report, node, "git"));
  auto location = classify_git(git);
  if (!location) return unexpected(context.report.at(node, "'git': " + location.error()));
  source.remote = *location == GitLocation::remote;
  if (source.remote) {
    source.git = git;
    return {};
  }
  auto path = resolve_local(git, context.directory, context.env);
  if (!path) return unexpected(context.report.at(node, "'git': " + path.error()));
  source.git = *path;
  return {};
}

Expected<std::string, Error> read_ref(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto ref, read_nonempty(context.report, node, "ref"));
  if (ref.front() == '-')
    return unexpected(context.report.at(node, "'ref' must not start with '-': name a branch, tag or commit"));
  bool has_space = std::any_of(ref.begin(), ref.end(), [](char ch) { return ch <= ' ' || ch == 0x7f; });
  if (has_space)
    return unexpected(context.report.at(node, "'ref' must not contain spaces or control characters: name a "
                                              "branch, tag or commit"));
  return ref;
}

template <typename T, typename ReadEntry>
Status read_list(const Context& context, const YAML::Node& node, std::string_view key, std::vector<T>& out,
                 ReadEntry read_entry) {
  CASCADE_TRY(expect_list(context.report, node, key));
  for (const YAML::Node& entry : node) {
    CASCADE_TRY_ASSIGN(auto value, read_entry(entry));
    out.push_back(std::move(value));
  }
  return {};
}

Status read_recipes(const Context& context, const Fields& fields, Source& source) {
  if (auto images = fields.find("images")) {
    CASCADE_TRY(read_list(context, *images, "images", source.images,
                          [&](const YAML::Node& entry) { return read_image_recipe(context, entry); }));
  }
  if (auto discover = fields.find("discover")) {
    CASCADE_TRY(read_list(context, *discover, "discover", source.discover,
                          [&](const YAML::Node& entry) { return read_discover(context, entry, source.name); }));
  }
  if (source.images.empty() && source.discover.empty())
    return unexpected(context.report.at(fields.mapping(), "source '" + source.name +
                                                              "' has no recipes: add an 'images' or a "
                                                              "'discover' list with at least one entry"));
  return {};
}

Expected<Source, Error> read_source(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kSource));
  Source source;
  source.mark = mark_of(node);
  CASCADE_TRY_ASSIGN(source.name, read_name(context, fields.get("name")));
  CASCADE_TRY(read_git(context, fields.get("git"), source));
  source.ref = "HEAD";
  if (auto ref_node = fields.find("ref")) CASCADE_TRY_ASSIGN(source.ref, read_ref(context, *ref_node));
  if (auto builder = fields.find("builder")) CASCADE_TRY_ASSIGN(source.builder, read_worker_choice(context, *builder));
  if (auto list = fields.find("platforms")) CASCADE_TRY_ASSIGN(source.platforms, read_platforms(context, *list));
  if (auto list = fields.find("test")) CASCADE_TRY_ASSIGN(source.tests, read_tests(context, *list));
  CASCADE_TRY(read_recipes(context, fields, source));
  return source;
}

/// The `name:` value of a source that read_source accepted.
YAML::Node name_node(const YAML::Node& source) {
  for (const auto& entry : source)
    if (entry.first.Scalar() == "name") return entry.second;
  return source;
}

struct Producer {
  std::string source;
  Mark mark;
};

/// Fails when a recipe of `source` produces an image an earlier recipe already produces.
Status check_unique_images(const Context& context, const Source& source, std::map<std::string, Producer>& seen) {
  for (const ImageRecipe& recipe : source.images) {
    auto [first, inserted] = seen.emplace(recipe.image, Producer{source.name, recipe.mark});
    if (inserted) continue;
    std::string where = "line " + std::to_string(first->second.mark.line);
    if (first->second.source != source.name) where += " (source '" + first->second.source + "')";
    return unexpected(Error{context.report.file(), recipe.mark.line, recipe.mark.column,
                            "image '" + recipe.image + "' is already produced by the recipe at " + where +
                                "; each image must have one recipe: remove or rename one of them"});
  }
  return {};
}

}  // namespace

Expected<std::vector<Source>, Error> read_sources(const Context& context, const YAML::Node& node) {
  CASCADE_TRY(expect_list(context.report, node, "sources"));
  if (node.size() == 0)
    return unexpected(context.report.at(node, "'sources' is empty: list at least one source"));
  std::vector<Source> sources;
  std::map<std::string, Mark> names;
  std::map<std::string, Producer> images;
  for (const YAML::Node& entry : node) {
    CASCADE_TRY_ASSIGN(auto source, read_source(context, entry));
    YAML::Node name = name_node(entry);
    if (auto first = names.find(source.name); first != names.end())
      return unexpected(context.report.at(name, "source name '" + source.name +
                                                    "' is already used by the source at line " +
                                                    std::to_string(first->second.line) +
                                                    "; give each source a unique name"));
    names.emplace(source.name, mark_of(name));
    CASCADE_TRY(check_unique_images(context, source, images));
    sources.push_back(std::move(source));
  }
  return sources;
}

}  // namespace cascade::pipeline::detail
