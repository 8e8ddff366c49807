// dockerfile::analyze: the pipeline of BuildKit's Dockerfile frontend up to the point
// where it would start pulling images: frontend directive, parse, instruction checks,
// global ARGs, FROM substitution and stage links, sources, target, triggers, report
// (DOCKERFILE.md sections 1, 7, 8, 10 and the suggested algorithm of section 12).
#include <algorithm>
#include <array>
#include <utility>

#include "internal.hpp"

namespace cascade::dockerfile {
namespace {

using detail::Build;
using detail::LexedFile;
using detail::Program;
using detail::SourceRef;
using detail::StageState;
using detail::Variables;

// The built-in platform variables for the static default platform linux/amd64 (8.3).
constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kPlatformVariables{{
    {"BUILDPLATFORM", "linux/amd64"},  {"BUILDOS", "linux"},  {"BUILDOSVERSION", ""},
    {"BUILDARCH", "amd64"},            {"BUILDVARIANT", ""},  {"TARGETPLATFORM", "linux/amd64"},
    {"TARGETOS", "linux"},             {"TARGETOSVERSION", ""}, {"TARGETARCH", "amd64"},
    {"TARGETVARIANT", ""},
}};
constexpr std::string_view kDefaultTargetStage = "default";
constexpr std::string_view kSyntaxArg = "BUILDKIT_SYNTAX";
constexpr std::string_view kBuiltinFrontend = "dockerfile.v0";

Unexpected<Error> fail_at(int line, std::string message) { return unexpected(Error{line, std::move(message)}); }

const std::string* build_arg(const Options& options, std::string_view name) {
  const auto found = options.build_args.find(std::string(name));
  return found == options.build_args.end() ? nullptr : &found->second;
}

bool has_target(const Options& options) { return options.target && !options.target->empty(); }

// The `# syntax=` frontend, or the BUILDKIT_SYNTAX build argument that overrides it.
Expected<std::optional<reference::Reference>, Error> frontend_of(std::string_view text, const Options& options) {
  std::string_view value;
  int line = 0;
  if (const std::string* override_value = build_arg(options, kSyntaxArg)) {
    value = detail::trim_space(*override_value);
    if (value.empty() || value.substr(0, value.find(' ')) == kBuiltinFrontend) {
      return std::optional<reference::Reference>();
    }
  } else if (const auto directive = detail::find_syntax_directive(text)) {
    value = directive->value;
    line = directive->line;
  } else {
    return std::optional<reference::Reference>();
  }
  const std::string_view image = value.substr(0, value.find(' '));
  auto parsed = reference::parse(image);
  if (!parsed) {
    return fail_at(line, "invalid frontend image \"" + std::string(image) + "\" in the syntax directive: " +
                          parsed.error().message);
  }
  return std::optional<reference::Reference>(std::move(*parsed));
}

// TARGETSTAGE: --target, else the name of the last stage, else "default".
std::string target_stage_variable(const Program& program, const Options& options) {
  if (has_target(options)) return *options.target;
  const std::string& last_name = program.stages.back().name;
  return last_name.empty() ? std::string(kDefaultTargetStage) : last_name;
}

// Built-ins, then the global ARGs in order, each item seeing those before it (8.2).
Expected<Variables, Error> global_variables(const Program& program, const Options& options, char escape) {
  Variables variables;
  for (const auto& [name, value] : kPlatformVariables) {
    const std::string* override_value = build_arg(options, name);
    variables.set(name, override_value ? *override_value : std::string(value));
  }
  const std::string* stage_override = build_arg(options, "TARGETSTAGE");
  variables.set("TARGETSTAGE", stage_override ? *stage_override : target_stage_variable(program, options));
  std::size_t expanded = 0;  // bytes of all expanded values: kMaxExpandedLength bounds them together
  for (const detail::Instruction* arg : program.meta_args) {
    for (std::string_view item : detail::parse_words(arg->rest, escape)) {
      const std::size_t equals = item.find('=');
      const std::string_view key = item.substr(0, equals);
      if (const std::string* given = build_arg(options, key)) {
        variables.set(key, *given);
      } else if (equals != std::string_view::npos) {
        auto value = detail::expand_word(item.substr(equals + 1), variables, escape);
        if (!value) return fail_at(arg->line, std::move(value).error());
        if ((expanded += value->size()) > kMaxExpandedLength) {
          return fail_at(arg->line, "the values of the global ARGs are longer together than the limit of " +
                                     std::to_string(kMaxExpandedLength) + " bytes");
        }
        variables.set(key, std::move(*value));
      }
    }
  }
  return variables;
}

Expected<std::string, Error> expand_platform(const detail::StageDecl& decl, const Variables& variables, char escape) {
  const int line = decl.from->line;
  auto platform = detail::expand_word(decl.platform_word, variables, escape);
  if (!platform) return fail_at(line, "failed to process arguments for platform: " + platform.error());
  if (platform->empty()) return fail_at(line, "empty platform value from expression " + std::string(decl.platform_word));
  if (auto invalid = detail::platform_error(*platform)) {
    return fail_at(line, "failed to parse platform " + std::string(decl.platform_word) + ": " + *invalid);
  }
  return std::move(*platform);
}

// FROM substitution and stage links, in file order (7, 8.4, 8.5, 13.1-13.5).
Expected<void, Error> resolve_bases(Build& build, const Program& program, const Variables& variables) {
  for (std::size_t index = 0; index < program.stages.size(); ++index) {
    const detail::StageDecl& decl = program.stages[index];
    Stage& stage = build.stages[index].stage;
    auto base = detail::expand_word(decl.base_word, variables, build.escape);
    if (!base) return fail_at(stage.line, std::move(base).error());
    if (base->empty()) return fail_at(stage.line, "base name (" + std::string(decl.base_word) + ") should not be blank");
    if (!decl.platform_word.empty()) {
      auto platform = expand_platform(decl, variables, build.escape);
      if (!platform) return unexpected(std::move(platform).error());
      stage.platform = std::move(*platform);
    }
    // The most recent stage above with exactly this (lowercase) name.
    for (std::size_t earlier = index; earlier-- > 0;) {
      if (build.stages[earlier].stage.name == *base) {
        stage.base_stage = static_cast<int>(earlier);
        break;
      }
    }
    stage.scratch = !stage.base_stage && *base == "scratch";
    stage.base_text = std::move(*base);
  }
  return {};
}

Expected<int, Error> select_target(const Build& build, const Options& options) {
  if (!has_target(options)) return static_cast<int>(build.stages.size()) - 1;
  const int index = build.last_stage_named(util::lowercase(*options.target));
  if (index < 0) return fail_at(0, "target stage \"" + *options.target + "\" could not be found");
  return index;
}

// Every stage's base reference is parsed, needed or not (13.34).
Expected<void, Error> parse_base_images(Build& build) {
  for (StageState& state : build.stages) {
    Stage& stage = state.stage;
    if (stage.base_stage || stage.scratch) continue;
    auto image = reference::parse(stage.base_text);
    if (!image) {
      return fail_at(stage.line, "invalid base image \"" + stage.base_text + "\": " + image.error().message);
    }
    stage.base_image = std::move(*image);
  }
  for (StageState& state : build.stages) {
    if (auto parsed = detail::parse_source_images(state.sources); !parsed) return parsed;
  }
  return {};
}

Build start_build(const Program& program, char escape) {
  Build build;
  build.escape = escape;
  build.stages.resize(program.stages.size());
  for (std::size_t index = 0; index < program.stages.size(); ++index) {
    StageState& state = build.stages[index];
    state.decl = &program.stages[index];
    state.stage.index = static_cast<int>(index);
    state.stage.name = state.decl->name;
    state.stage.line = state.decl->from->line;
  }
  return build;
}

void add_uses(const StageState& state, const std::vector<SourceRef>& sources, std::vector<ImageUse>& uses) {
  for (const SourceRef& source : sources) {
    if (source.image) uses.push_back({*source.image, state.stage.index, source.use, source.line});
  }
}

Analysis report(Build& build, std::optional<reference::Reference> frontend) {
  Analysis analysis;
  analysis.target = build.target;
  analysis.frontend = std::move(frontend);
  for (StageState& state : build.stages) {
    if (state.stage.needed) {
      if (state.stage.base_image) {
        analysis.uses.push_back({*state.stage.base_image, state.stage.index, UseKind::from, state.stage.line});
      }
      add_uses(state, state.triggered, analysis.uses);
      add_uses(state, state.sources, analysis.uses);
    }
    analysis.stages.push_back(std::move(state.stage));
  }
  std::stable_sort(analysis.uses.begin(), analysis.uses.end(),
                   [](const ImageUse& a, const ImageUse& b) { return a.line < b.line; });
  for (const ImageUse& use : analysis.uses) analysis.bases.push_back(use.image.str());
  std::sort(analysis.bases.begin(), analysis.bases.end());
  analysis.bases.erase(std::unique(analysis.bases.begin(), analysis.bases.end()), analysis.bases.end());
  return analysis;
}

Expected<Analysis, Error> analyze_program(const LexedFile& file, const Program& program, const Options& options,
                                          std::optional<reference::Reference> frontend,
                                          const std::function<void(const LexedFile&, const Build&)>& visit) {
  const char escape = file.escape;
  auto variables = global_variables(program, options, escape);
  if (!variables) return unexpected(std::move(variables).error());
  Build build = start_build(program, escape);
  if (auto resolved = resolve_bases(build, program, *variables); !resolved) return unexpected(resolved.error());
  auto target = select_target(build, options);
  if (!target) return unexpected(std::move(target).error());
  build.target = *target;
  if (auto collected = detail::collect_sources(build); !collected) return unexpected(collected.error());
  if (auto acyclic = detail::check_cycles(build); !acyclic) return unexpected(acyclic.error());
  if (auto parsed = parse_base_images(build); !parsed) return unexpected(parsed.error());
  if (auto needed = detail::mark_needed(build); !needed) return unexpected(needed.error());
  if (auto checked = detail::check_needed_stages(build); !checked) return unexpected(checked.error());
  if (visit) visit(file, build);
  return report(build, std::move(frontend));
}

}  // namespace

std::string_view to_string(UseKind kind) {
  switch (kind) {
    case UseKind::from: return "FROM";
    case UseKind::copy_from: return "COPY --from";
    case UseKind::run_mount: return "RUN --mount from";
    case UseKind::onbuild_copy_from: return "ONBUILD COPY --from";
    case UseKind::onbuild_run_mount: return "ONBUILD RUN --mount from";
  }
  return "unknown";
}

std::string Stage::label() const { return name.empty() ? "stage-" + std::to_string(index) : name; }

Expected<Analysis, Error> analyze(std::string_view text, const Options& options) {
  return detail::analyze_with(text, options, {});
}

Expected<Analysis, Error> detail::analyze_with(std::string_view text, const Options& options,
                                               const std::function<void(const LexedFile&, const Build&)>& visit) {
  if (text.empty()) return fail_at(0, "the Dockerfile is empty");
  auto frontend = frontend_of(text, options);
  if (!frontend) return unexpected(std::move(frontend).error());
  auto lexed = detail::lex(text);
  if (!lexed) return unexpected(std::move(lexed).error());
  auto program = detail::build_program(*lexed);
  if (!program) return unexpected(std::move(program).error());
  return analyze_program(*lexed, *program, options, std::move(*frontend), visit);
}

}  // namespace cascade::dockerfile
