// The pipeline file: YAML text -> Pipeline. The top-level sections are read here; sources
// and recipes in sources.cpp and recipes.cpp, all through the key checker in fields.cpp.
#include "cascade/pipeline.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include "paths.hpp"
#include "sections.hpp"

namespace cascade::pipeline {

namespace fs = std::filesystem;

namespace detail {
namespace {

const Section kTopLevel{"the pipeline file",
                        {{"version", true}, {"state"}, {"cache"}, {"registries"}, {"sources", true},
                         {"deploy"}, {"max_parallel_deploys"}, {"builders"}, {"platforms"}, {"triggers"},
                         {"test"}, {"approval"}, {"waves"}, {"notify"}}};
const Section kRegistry{"registry", {{"host", true}, {"insecure"}}};

constexpr std::size_t kMaxFileSize = 4 * 1024 * 1024;

Expected<int, Error> read_version(const Context& context, const YAML::Node& node) {
  if (node.IsScalar() && node.Scalar() == "1") return 1;
  std::string found = node.IsScalar() ? "'" + node.Scalar() + "'" : std::string(kind_of(node));
  return unexpected(context.report.at(node, "unsupported version " + found + ": this cascade reads 'version: 1'"));
}

Expected<std::string, Error> read_local_path(const Context& context, const YAML::Node& node, std::string_view key) {
  CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, node, key));
  auto path = resolve_local(text, context.directory, context.env);
  if (!path) return unexpected(context.report.at(node, "'" + std::string(key) + "': " + path.error()));
  return *path;
}

bool valid_host_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
         ch == '-' || ch == ':' || ch == '[' || ch == ']';
}

Expected<std::string, Error> read_host(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto host, read_nonempty(context.report, node, "host"));
  if (host.find("://") != std::string::npos)
    return unexpected(context.report.at(node, "registry host '" + host +
                                                  "' must not carry a scheme: write only host[:port], and "
                                                  "'insecure: true' for plain http"));
  if (!std::all_of(host.begin(), host.end(), valid_host_char))
    return unexpected(context.report.at(node, "registry host '" + host +
                                                  "' must be host[:port], e.g. 'registry.example.com' or "
                                                  "'127.0.0.1:5000', without a path"));
  return host;
}

Expected<Registry, Error> read_registry(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kRegistry));
  Registry registry;
  registry.mark = mark_of(node);
  CASCADE_TRY_ASSIGN(registry.host, read_host(context, fields.get("host")));
  if (auto node_insecure = fields.find("insecure")) {
    CASCADE_TRY_ASSIGN(registry.insecure, read_bool(context.report, *node_insecure, "insecure"));
  }
  return registry;
}

Expected<std::vector<Registry>, Error> read_registries(const Context& context, const YAML::Node& node) {
  CASCADE_TRY(expect_list(context.report, node, "registries"));
  std::vector<Registry> registries;
  std::map<std::string, int> lines;
  for (const YAML::Node& entry : node) {
    CASCADE_TRY_ASSIGN(auto registry, read_registry(context, entry));
    if (auto first = lines.find(registry.host); first != lines.end())
      return unexpected(context.report.at(entry, "registry '" + registry.host +
                                                     "' is already configured at line " +
                                                     std::to_string(first->second) + "; keep only one entry"));
    lines.emplace(registry.host, registry.mark.line);
    registries.push_back(std::move(registry));
  }
  return registries;
}

std::string default_cache(const Context& context) {
  const Environment& env = context.env;
  if (!env.xdg_cache_home.empty() && env.xdg_cache_home.front() == '/')
    return (fs::path(env.xdg_cache_home) / "cascade").lexically_normal().string();
  if (!env.home.empty()) return (fs::path(env.home) / ".cache" / "cascade").lexically_normal().string();
  return (fs::path(context.directory) / ".cascade" / "cache").string();
}

Status read_paths(const Context& context, const Fields& fields, Pipeline& pipeline) {
  pipeline.state = (fs::path(context.directory) / ".cascade" / "state.db").string();
  if (auto node = fields.find("state")) CASCADE_TRY_ASSIGN(pipeline.state, read_local_path(context, *node, "state"));
  pipeline.cache = default_cache(context);
  if (auto node = fields.find("cache")) CASCADE_TRY_ASSIGN(pipeline.cache, read_local_path(context, *node, "cache"));
  return {};
}

/// test, approval, waves (after `deploy:`, whose targets they name), notify.
Status read_release_control(const Context& context, const Fields& fields, Pipeline& pipeline) {
  if (auto node = fields.find("approval")) {
    CASCADE_TRY_ASSIGN(pipeline.approval, read_approval(context, *node, ApprovalScope::pipeline));
  }
  if (auto node = fields.find("waves")) CASCADE_TRY_ASSIGN(pipeline.waves, read_waves(context, *node, pipeline.deploy));
  if (auto node = fields.find("notify")) CASCADE_TRY_ASSIGN(pipeline.notify, read_notify(context, *node));
  return {};
}

Expected<Pipeline, Error> read_pipeline(const Context& context, const YAML::Node& root) {
  if (root.IsNull())
    return unexpected(Error{context.report.file(), 1, 1,
                            "the pipeline file is empty: start it with 'version: 1' and a 'sources' list"});
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, root, kTopLevel));
  Pipeline pipeline;
  pipeline.file = context.report.file();
  pipeline.directory = context.directory;
  CASCADE_TRY_ASSIGN(pipeline.version, read_version(context, fields.get("version")));
  CASCADE_TRY(read_paths(context, fields, pipeline));
  if (auto node = fields.find("registries")) CASCADE_TRY_ASSIGN(pipeline.registries, read_registries(context, *node));
  if (auto node = fields.find("builders")) CASCADE_TRY_ASSIGN(pipeline.builders, read_builders(context, *node));
  if (auto node = fields.find("platforms")) CASCADE_TRY_ASSIGN(pipeline.platforms, read_platforms(context, *node));
  if (auto node = fields.find("test")) CASCADE_TRY_ASSIGN(pipeline.tests, read_tests(context, *node));
  CASCADE_TRY_ASSIGN(pipeline.sources, read_sources(context, fields.get("sources")));
  CASCADE_TRY(check_worker_choices(context, pipeline));
  if (auto node = fields.find("deploy")) CASCADE_TRY_ASSIGN(pipeline.deploy, read_deploy(context, *node));
  if (auto node = fields.find("max_parallel_deploys")) {
    CASCADE_TRY_ASSIGN(pipeline.max_parallel_deploys, read_max_parallel_deploys(context, *node));
  }
  CASCADE_TRY(read_release_control(context, fields, pipeline));
  if (auto node = fields.find("triggers")) CASCADE_TRY_ASSIGN(pipeline.triggers, read_triggers(context, *node));
  return pipeline;
}

/// yaml-cpp's message, with a hint for its most common cause.
std::string syntax_message(std::string_view text, const YAML::ParserException& exception) {
  std::string message = "invalid YAML: " + exception.msg;
  if (exception.mark.is_null()) return message;
  std::size_t line_start = 0;
  for (int line = 0; line < exception.mark.line && line_start != std::string_view::npos; ++line) {
    line_start = text.find('\n', line_start);
    if (line_start != std::string_view::npos) ++line_start;
  }
  if (line_start == std::string_view::npos) return message;
  std::string_view line = text.substr(line_start, text.find('\n', line_start) - line_start);
  if (line.substr(0, line.find_first_not_of(" \t")).find('\t') != std::string_view::npos)
    message += " (the line is indented with a tab: YAML allows only spaces)";
  return message;
}

}  // namespace
}  // namespace detail

std::string Error::str() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

Environment Environment::current() {
  Environment env;
  if (const char* home = std::getenv("HOME")) env.home = home;
  if (const char* cache = std::getenv("XDG_CACHE_HOME")) env.xdg_cache_home = cache;
  return env;
}

namespace {

// What a walk over a YAML stream's documents found: where a second, non-empty document
// starts, or where the parser stopped making progress.
struct DocumentWalk {
  std::optional<YAML::Mark> second;
  std::optional<YAML::Mark> stuck;
};

// Records where a document's first event is and whether it holds anything but a null.
class DocumentProbe final : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> first;
  std::optional<YAML::Mark> first_value;

  void OnDocumentStart(const YAML::Mark& mark) override { note(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { note(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { value(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    value(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    value(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    value(mark);
  }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& mark) {
    if (!first) first = mark;
  }
  void value(const YAML::Mark& mark) {
    note(mark);
    if (!first_value) first_value = mark;
  }
};

// yaml-cpp 0.7 (Debian 12) never returns from LoadAll on some malformed streams: a lone
// ',' yields an endless run of empty documents at the same place, growing memory until the
// process dies (jbeder/yaml-cpp#1040; fixed upstream after 0.8 by #1319). So the stream is
// walked first with a probe that stops at the second non-empty document, at a document that
// starts where the previous one did (no progress), or after kMaxDocuments; only then is the
// first document loaded. Throws YAML::ParserException as LoadAll would.
DocumentWalk walk_documents(std::string_view text) {
  constexpr int kMaxDocuments = 1024;
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentWalk walk;
  std::optional<YAML::Mark> previous;
  for (int index = 0; index < kMaxDocuments; ++index) {
    DocumentProbe probe;
    if (!parser.HandleNextDocument(probe)) return walk;
    if (!probe.first_value && probe.first && previous && probe.first->pos == previous->pos) {
      walk.stuck = probe.first;
      return walk;
    }
    if (index > 0 && probe.first_value) {  // a trailing '---' opens an empty document: allowed
      walk.second = probe.first_value;
      return walk;
    }
    previous = probe.first;
  }
  walk.stuck = previous;
  return walk;
}

}  // namespace

Expected<Pipeline, Error> parse(std::string_view text, std::string_view file, std::string_view directory,
                                const Environment& env) {
  fs::path folder = directory.empty() ? fs::path(".") : fs::path(directory);
  std::error_code ignored;
  if (folder.is_relative()) folder = fs::absolute(folder, ignored);
  detail::Context context{detail::Reporter(std::string(file)), folder.lexically_normal().string(), env};
  if (context.directory.size() > 1 && context.directory.back() == '/') context.directory.pop_back();
  YAML::Node document;
  try {
    auto stream = walk_documents(text);
    if (stream.stuck)
      return unexpected(context.report.at(*stream.stuck, "this character cannot start a YAML value here; "
                                                         "remove it or quote the value"));
    if (stream.second)
      return unexpected(context.report.at(*stream.second, "the pipeline file must hold one YAML document; "
                                                          "remove the second one (after '---')"));
    document = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& exception) {
    return unexpected(context.report.at(exception.mark, detail::syntax_message(text, exception)));
  }
  return detail::read_pipeline(context, document);
}

Expected<Pipeline, Error> parse(std::string_view text, std::string_view file, std::string_view directory) {
  return parse(text, file, directory, Environment::current());
}

Expected<Pipeline, Error> load(const std::string& path) {
  std::error_code error;
  if (fs::is_directory(path, error))
    return unexpected(Error{path, 0, 0, "cannot read the pipeline file: it is a directory; name the YAML file"});
  auto size = fs::file_size(path, error);
  if (error) return unexpected(Error{path, 0, 0, "cannot read the pipeline file: " + error.message()});
  if (size > detail::kMaxFileSize)
    return unexpected(Error{path, 0, 0, "the pipeline file is " + std::to_string(size) +
                                            " bytes; at most 4 MiB is accepted"});
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected(Error{path, 0, 0, "cannot read the pipeline file: " + std::generic_category().message(errno)});
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) return unexpected(Error{path, 0, 0, "cannot read the pipeline file: I/O error"});
  fs::path absolute = fs::absolute(fs::path(path), error);
  return parse(text, path, absolute.parent_path().string());
}

}  // namespace cascade::pipeline
