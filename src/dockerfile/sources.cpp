// The edges of the build (dockerfile2llb's toCommand, validateCircularDependency,
// allReachableStages, initOnBuildTriggers and the dispatch checks): what COPY --from and
// RUN --mount from= read, which stages the target needs, and ONBUILD triggers of parent
// stages running in needed children (DOCKERFILE.md sections 9, 10, 13.23-13.28, 13.35).
#include <cstdint>
#include <limits>

#include "internal.hpp"

namespace cascade::dockerfile::detail {
namespace {

// strconv.Atoi: optional sign and decimal digits within int64; nullopt otherwise.
std::optional<std::int64_t> parse_index(std::string_view text) {
  const bool negative = !text.empty() && text[0] == '-';
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const std::uint64_t limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + (negative ? 1 : 0);
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
    if (value > limit) return std::nullopt;
  }
  return negative ? static_cast<std::int64_t>(0 - value) : static_cast<std::int64_t>(value);
}

SourceRef named_source(const Build& build, std::string text, UseKind use) {
  SourceRef source;
  source.use = use;
  source.stage = build.last_stage_named(util::lowercase(text));
  if (source.stage >= 0) {
    source.kind = SourceRef::Kind::stage;
  } else {
    source.kind = text == "scratch" ? SourceRef::Kind::scratch : SourceRef::Kind::image;
  }
  source.text = std::move(text);
  return source;
}

// COPY --from=<value>: a stage name, a stage index, or an image; never a variable.
Expected<std::optional<SourceRef>, std::string> copy_source(const Build& build, const Instruction& copy,
                                                            char escape, UseKind use) {
  const std::optional<std::string_view> from = flag_value(copy, "from");
  if (!from || from->empty()) return std::optional<SourceRef>();
  auto expanded = expand_word(*from, no_variables(), escape);
  if (!expanded) return unexpected(std::move(expanded).error());
  if (*expanded != *from) {
    return unexpected(std::string("variable expansion is not supported for --from, define a new stage with FROM "
                                  "using ARG from global scope as a workaround"));
  }
  if (const auto index = parse_index(*from)) {
    if (*index < 0 || *index >= static_cast<std::int64_t>(build.stages.size())) {
      return unexpected("invalid stage index " + std::to_string(*index));
    }
    SourceRef source;
    source.kind = SourceRef::Kind::stage;
    source.stage = static_cast<int>(*index);
    source.text = std::string(*from);
    source.use = use;
    return std::optional<SourceRef>(std::move(source));
  }
  return std::optional<SourceRef>(named_source(build, std::string(*from), use));
}

// RUN --mount=...,from=<value>: a stage name or an image (no index). A mount without
// `from` reads the stage named "scratch" if the file has one.
std::vector<SourceRef> mount_sources_of(const Build& build, const Instruction& run, UseKind use) {
  std::vector<SourceRef> sources;
  for (std::string& from : mount_sources(run)) {
    if (!from.empty()) {
      sources.push_back(named_source(build, std::move(from), use));
    } else if (build.last_stage_named("scratch") >= 0) {
      sources.push_back(named_source(build, "scratch", use));
    }
  }
  return sources;
}

// toCommand: the sources one instruction reads.
Expected<std::vector<SourceRef>, std::string> sources_of(const Build& build, const Instruction& instruction,
                                                         char escape, bool in_trigger) {
  std::vector<SourceRef> sources;
  if (instruction.keyword == Keyword::copy) {
    auto source = copy_source(build, instruction, escape, in_trigger ? UseKind::onbuild_copy_from : UseKind::copy_from);
    if (!source) return unexpected(std::move(source).error());
    if (*source) sources.push_back(std::move(**source));
  } else if (instruction.keyword == Keyword::run) {
    sources = mount_sources_of(build, instruction, in_trigger ? UseKind::onbuild_run_mount : UseKind::run_mount);
  }
  for (SourceRef& source : sources) {
    source.instruction = &instruction;
    source.line = source.error_line = instruction.line;
  }
  return sources;
}

std::string_view trim_regex_space(std::string_view text) {
  while (!text.empty() && is_regex_space(text.front())) text.remove_prefix(1);
  return text;
}

// The stored trigger text: the ONBUILD line without `(?i)^\s*ONBUILD\s*`.
std::string_view trigger_expression(const Instruction& onbuild) {
  std::string_view text = trim_regex_space(onbuild.original);
  if (util::iequals(text.substr(0, 7), "onbuild")) text = trim_regex_space(text.substr(7));
  return text;
}

// initOnBuildTriggers for one trigger: parsed again on its own, with the default escape.
Expected<std::vector<SourceRef>, std::string> trigger_sources(const Build& build, const Instruction& onbuild,
                                                              int child_line) {
  const std::string_view expression = trigger_expression(onbuild);
  LexOptions options;
  options.read_heredoc_bodies = false;
  auto lexed = lex(expression, options);
  if (!lexed) return unexpected(std::move(lexed).error().message);
  if (lexed->instructions.size() != 1) return unexpected(std::string("onbuild trigger should be a single expression"));
  const Instruction& trigger = lexed->instructions.front();
  if (auto checked = check_instruction(trigger, kDefaultEscape); !checked) return unexpected(std::move(checked).error());
  if (trigger.keyword == Keyword::run) {
    if (auto mounts = check_mounts_for_build(trigger); !mounts) return unexpected(std::move(mounts).error());
  }
  auto sources = sources_of(build, trigger, kDefaultEscape, true);
  if (!sources) return sources;
  for (SourceRef& source : *sources) {
    source.instruction = &onbuild;
    source.line = onbuild.line;
    source.error_line = child_line;
  }
  return sources;
}

// Runs the ONBUILD triggers of `child`'s parent stage; true when they add sources.
Expected<bool, Error> read_triggers(Build& build, int child) {
  StageState& state = build.stages[child];
  state.triggers_read = true;
  const StageState& parent = build.stages[*state.stage.base_stage];
  const int child_line = state.stage.line;
  bool added = false;
  for (const Instruction* command : parent.decl->commands) {
    if (command->keyword != Keyword::onbuild) continue;
    auto sources = trigger_sources(build, *command, child_line);
    if (!sources) {
      return unexpected(Error{child_line, "ONBUILD trigger of stage " + parent.stage.label() + " (line " +
                                              std::to_string(command->line) + "): " + sources.error()});
    }
    if (auto parsed = parse_source_images(*sources); !parsed) return unexpected(std::move(parsed).error());
    added = added || !sources->empty();
    for (SourceRef& source : *sources) state.triggered.push_back(std::move(source));
  }
  return added;
}

void add_needed(Build& build, int index) {
  StageState& state = build.stages[index];
  if (state.stage.needed) return;
  state.stage.needed = true;
  if (state.stage.base_stage) add_needed(build, *state.stage.base_stage);
  for (const auto* list : {&state.sources, &state.triggered}) {
    for (const SourceRef& source : *list) {
      if (source.kind == SourceRef::Kind::stage) add_needed(build, source.stage);
    }
  }
}

// The first source reaching back to a stage on the current path: the instruction that
// closes the cycle.
const SourceRef* cycle_from(const Build& build, int index, std::vector<char>& state) {
  state[index] = 1;  // on the path
  for (const SourceRef& source : build.stages[index].sources) {
    if (source.kind != SourceRef::Kind::stage) continue;
    if (state[source.stage] == 1) return &source;
    if (state[source.stage] == 0) {
      if (const SourceRef* closing = cycle_from(build, source.stage, state)) return closing;
    }
  }
  state[index] = 2;  // done
  return nullptr;
}

Expected<void, Error> check_source_order(const Build& build, int index, const SourceRef& source) {
  if (source.kind != SourceRef::Kind::stage || source.stage <= index) return {};
  const std::string current = build.stages[index].stage.label();
  const std::string verb = source.use == UseKind::copy_from || source.use == UseKind::onbuild_copy_from ? "copy" : "mount";
  return unexpected(Error{source.error_line, "cannot " + verb + " from stage \"" + source.text +
                                                 "\", it needs to be defined before current stage \"" + current + "\""});
}

}  // namespace

int Build::last_stage_named(std::string_view lowercase_name) const {
  for (int index = static_cast<int>(stages.size()) - 1; index >= 0; --index) {
    if (stages[index].stage.name == lowercase_name) return index;
  }
  return -1;
}

Expected<void, Error> collect_sources(Build& build) {
  for (StageState& state : build.stages) {
    for (const Instruction* command : state.decl->commands) {
      auto sources = sources_of(build, *command, build.escape, false);
      if (!sources) return unexpected(Error{command->line, std::move(sources).error()});
      for (SourceRef& source : *sources) state.sources.push_back(std::move(source));
    }
  }
  return {};
}

Expected<void, Error> check_cycles(const Build& build) {
  std::vector<char> state(build.stages.size(), 0);
  for (std::size_t index = 0; index < build.stages.size(); ++index) {
    if (state[index] != 0) continue;
    if (const SourceRef* closing = cycle_from(build, static_cast<int>(index), state)) {
      return unexpected(Error{closing->line, "circular dependency detected on stage: " +
                                                 build.stages[index].stage.label()});
    }
  }
  return {};
}

Expected<void, Error> parse_source_images(std::vector<SourceRef>& sources) {
  for (SourceRef& source : sources) {
    if (source.kind != SourceRef::Kind::image) continue;
    auto image = reference::parse(source.text);
    if (!image) {
      return unexpected(Error{source.error_line, "invalid image reference \"" + source.text + "\": " +
                                                     image.error().message});
    }
    source.image = std::move(*image);
  }
  return {};
}

Expected<void, Error> mark_needed(Build& build) {
  bool added = true;
  while (added) {
    added = false;
    for (StageState& state : build.stages) state.stage.needed = false;
    add_needed(build, build.target);
    for (std::size_t index = 0; index < build.stages.size(); ++index) {
      const StageState& state = build.stages[index];
      if (!state.stage.needed || !state.stage.base_stage || state.triggers_read) continue;
      auto read = read_triggers(build, static_cast<int>(index));
      if (!read) return unexpected(std::move(read).error());
      added = added || *read;
    }
  }
  return {};
}

Expected<void, Error> check_needed_stages(const Build& build) {
  for (std::size_t index = 0; index < build.stages.size(); ++index) {
    const StageState& state = build.stages[index];
    if (!state.stage.needed) continue;
    for (const SourceRef& source : state.triggered) {
      if (auto ordered = check_source_order(build, static_cast<int>(index), source); !ordered) return ordered;
    }
    std::size_t next_source = 0;
    for (const Instruction* command : state.decl->commands) {
      if (command->keyword == Keyword::run) {
        if (auto mounts = check_mounts_for_build(*command); !mounts) {
          return unexpected(Error{command->line, std::move(mounts).error()});
        }
      }
      for (; next_source < state.sources.size() && state.sources[next_source].instruction == command; ++next_source) {
        auto ordered = check_source_order(build, static_cast<int>(index), state.sources[next_source]);
        if (!ordered) return ordered;
      }
    }
  }
  return {};
}

}  // namespace cascade::dockerfile::detail
