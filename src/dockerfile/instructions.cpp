// BuildKit's instructions package: each instruction's flags and arguments are checked
// (ParseInstruction), then instructions are grouped into stages, with the ARGs before
// the first FROM kept apart as global ARGs (instructions.Parse). Also the --mount
// reading that RUN needs and containerd's platform check for FROM --platform.
#include <array>
#include <span>

#include "internal.hpp"

namespace cascade::dockerfile::detail {
namespace {

enum class FlagType { boolean, string, strings };

struct FlagSpec {
  std::string_view name;
  FlagType type;
};

constexpr std::array<FlagSpec, 1> kFromFlags{{{"platform", FlagType::string}}};
constexpr std::array<FlagSpec, 6> kCopyFlags{{{"from", FlagType::string}, {"chown", FlagType::string},
                                              {"chmod", FlagType::string}, {"link", FlagType::boolean},
                                              {"parents", FlagType::boolean}, {"exclude", FlagType::strings}}};
constexpr std::array<FlagSpec, 7> kAddFlags{{{"chown", FlagType::string}, {"chmod", FlagType::string},
                                             {"link", FlagType::boolean}, {"keep-git-dir", FlagType::boolean},
                                             {"checksum", FlagType::string}, {"exclude", FlagType::strings},
                                             {"unpack", FlagType::boolean}}};
constexpr std::array<FlagSpec, 4> kRunFlags{{{"mount", FlagType::strings}, {"network", FlagType::string},
                                             {"security", FlagType::string}, {"device", FlagType::strings}}};
constexpr std::array<FlagSpec, 5> kHealthcheckFlags{{{"interval", FlagType::string},
                                                     {"timeout", FlagType::string},
                                                     {"start-period", FlagType::string},
                                                     {"start-interval", FlagType::string},
                                                     {"retries", FlagType::string}}};

using Check = Expected<void, std::string>;

Check fail(std::string message) { return unexpected(std::move(message)); }

// BFlags.Parse: `--name=value` words against the flags an instruction knows.
Check check_flags(const Instruction& instruction, std::span<const FlagSpec> known) {
  std::array<bool, 8> used{};
  for (const std::string& flag : instruction.flags) {
    const std::string_view body = std::string_view(flag).substr(2);
    const std::size_t equals = body.find('=');
    const std::string_view name = body.substr(0, equals);
    const std::string_view value = equals == std::string_view::npos ? std::string_view() : body.substr(equals + 1);
    std::size_t index = 0;
    while (index < known.size() && known[index].name != name) ++index;
    if (index == known.size()) return fail("unknown flag: " + std::string(name));
    const FlagType type = known[index].type;
    if (used[index] && type != FlagType::strings) return fail("duplicate flag specified: " + std::string(name));
    used[index] = true;
    if (type != FlagType::boolean) {
      if (equals == std::string_view::npos) return fail("missing a value on flag: " + std::string(name));
      continue;
    }
    if (equals != std::string_view::npos && value.empty()) return fail("missing a value on flag: " + std::string(name));
    const std::string lower = util::lowercase(value);
    if (!lower.empty() && lower != "true" && lower != "false") {
      return fail("expecting boolean value for flag " + std::string(name) + ", not: " + std::string(value));
    }
  }
  return {};
}

// The arguments BuildKit's node carries: the JSON strings, or the whitespace-split text.
std::size_t list_argument_count(const Instruction& instruction) {
  if (instruction.json) return instruction.json_values.size();
  return instruction.rest.empty() ? 0 : split_on_token_space(instruction.rest).size();
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

Check exactly_one_argument(const Instruction& instruction, std::string_view name) {
  if (instruction.rest.empty()) return fail(std::string(name) + " requires exactly one argument");
  return {};
}

Check at_least_one_argument(bool present, std::string_view name) {
  if (!present) return fail(std::string(name) + " requires at least one argument");
  return {};
}

// parseKvps of ENV and LABEL: `KEY=value` words need a key.
Check check_key_values(const Instruction& instruction, char escape, std::string_view name) {
  const std::vector<std::string_view> words = parse_words(instruction.rest, escape);
  if (words.empty()) return fail(std::string(name) + " requires at least one argument");
  if (words[0].find('=') == std::string_view::npos) return {};
  for (std::string_view word : words) {
    if (word.front() == '=') return fail(std::string(name) + " names can not be blank");
  }
  return {};
}

Check check_arg(const Instruction& instruction, char escape) {
  const std::vector<std::string_view> words = parse_words(instruction.rest, escape);
  if (words.empty()) return fail("ARG requires at least one argument");
  for (std::string_view word : words) {
    if (word.front() == '=') return fail("ARG names can not be blank");
  }
  return {};
}

bool is_stage_name(std::string_view name) {
  if (name.empty() || name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// parseBuildStageName, then the --platform flag.
Check check_from(const Instruction& instruction) {
  const auto words = instruction.rest.empty() ? std::vector<std::string_view>() : split_on_token_space(instruction.rest);
  if (words.size() == 3 && util::iequals(words[1], "as")) {
    if (!is_stage_name(util::lowercase(words[2]))) {
      return fail("invalid name for build stage: \"" + std::string(words[2]) +
                  "\", name can't start with a number or contain symbols");
    }
  } else if (words.size() != 1) {
    return fail("FROM requires either one or three arguments");
  }
  return check_flags(instruction, kFromFlags);
}

Check check_onbuild(const Instruction& instruction) {
  if (!instruction.trigger) return fail("ONBUILD requires at least one argument");
  if (auto flags = check_flags(instruction, {}); !flags) return flags;
  const std::string trigger = upper(instruction.trigger->word);
  if (trigger == "ONBUILD") return fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (trigger == "MAINTAINER" || trigger == "FROM") return fail(trigger + " isn't allowed as an ONBUILD trigger");
  return {};
}

// The parse-time part of parseMount: CSV fields, and no variables in `from=`.
Check check_mount(std::string_view value) {
  std::string error;
  const auto fields = parse_csv_record(value, error);
  if (!fields) return fail("failed to parse csv mounts: " + error);
  for (const std::string& field : *fields) {
    const std::size_t equals = field.find('=');
    if (equals == std::string::npos || util::lowercase(std::string_view(field).substr(0, equals)) != "from") continue;
    const std::size_t dollar = field.find('$', equals + 1);
    if (dollar != std::string::npos && dollar != field.size() - 1) {
      return fail("'from' doesn't support variable expansion, define alias stage instead");
    }
  }
  return {};
}

Check check_run(const Instruction& instruction) {
  if (auto flags = check_flags(instruction, kRunFlags); !flags) return flags;
  for (std::string_view mount : flag_values(instruction, "mount")) {
    if (auto checked = check_mount(mount); !checked) return checked;
  }
  return {};
}

Check check_healthcheck(const Instruction& instruction) {
  if (instruction.rest.empty()) return fail("HEALTHCHECK requires at least one argument");
  const auto [type_word, command] = split_healthcheck(instruction.rest);
  const std::string type = upper(type_word);
  if (type == "NONE") {
    if (!command.empty()) return fail("HEALTHCHECK NONE takes no arguments");
    return {};
  }
  if (auto flags = check_flags(instruction, kHealthcheckFlags); !flags) return flags;
  if (type != "CMD") return fail("Unknown type \"" + type + "\" in HEALTHCHECK (try CMD)");
  const bool has_command = instruction.json ? !instruction.json_values.empty() : !command.empty();
  if (!has_command) return fail("Missing command after HEALTHCHECK CMD");
  return {};
}

Check check_volume(const Instruction& instruction) {
  if (auto present = at_least_one_argument(list_argument_count(instruction) > 0, "VOLUME"); !present) return present;
  if (auto flags = check_flags(instruction, {}); !flags) return flags;
  for (const std::string& volume : instruction.json_values) {
    if (trim_space(volume).empty()) return fail("VOLUME specified can not be an empty string");
  }
  return {};
}

Check check_shell(const Instruction& instruction) {
  if (auto flags = check_flags(instruction, {}); !flags) return flags;
  const bool empty = instruction.json ? instruction.json_values.empty() : instruction.rest.empty();
  if (empty) return fail("SHELL requires at least one argument");
  if (!instruction.json) return fail("SHELL requires the arguments to be in JSON form");
  return {};
}

Check check_copy_like(const Instruction& instruction, std::span<const FlagSpec> flags, std::string_view name) {
  if (list_argument_count(instruction) < 2) {
    return fail(std::string(name) +
                " requires at least two arguments, but only one was provided. Destination could not be determined.");
  }
  return check_flags(instruction, flags);
}

Check then_flags(Check checked, const Instruction& instruction) {
  if (!checked) return checked;
  return check_flags(instruction, {});
}

bool is_known_os(std::string_view os) {
  static constexpr std::array<std::string_view, 17> kSystems{
      "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
      "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos"};
  for (std::string_view known : kSystems) {
    if (os == known) return true;
  }
  return os == "wasip1";
}

bool is_known_architecture(std::string_view arch) {
  static constexpr std::array<std::string_view, 23> kArchitectures{
      "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips", "mipsle",
      "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "ppc64", "ppc64le", "riscv", "riscv64",
      "s390", "s390x", "sparc", "sparc64"};
  for (std::string_view known : kArchitectures) {
    if (arch == known) return true;
  }
  return arch == "wasm";
}

std::string normalize_architecture(std::string_view arch) {
  std::string lower = util::lowercase(arch);
  if (lower == "i386") return "386";
  if (lower == "x86_64" || lower == "x86-64") return "amd64";
  if (lower == "aarch64") return "arm64";
  if (lower == "armhf" || lower == "armel") return "arm";
  return lower;
}

bool all_chars(std::string_view text, std::string_view extra) {
  if (text.empty()) return false;
  for (char c : text) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && extra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

// `os[(version)]` of the first platform component.
bool is_os_component(std::string_view part) {
  const std::size_t open = part.find('(');
  if (open == std::string_view::npos) return all_chars(part, "_-");
  if (part.back() != ')') return false;
  const std::string_view version = part.substr(open + 1, part.size() - open - 2);
  return all_chars(part.substr(0, open), "_-") && (version.empty() || all_chars(version, "_.-"));
}

}  // namespace

std::optional<std::string_view> flag_value(const Instruction& instruction, std::string_view name) {
  std::optional<std::string_view> value;
  for (const std::string& flag : instruction.flags) {
    const std::string_view body = std::string_view(flag).substr(2);
    if (body.size() > name.size() && body.substr(0, name.size()) == name && body[name.size()] == '=') {
      value = body.substr(name.size() + 1);
    }
  }
  return value;
}

std::vector<std::string_view> flag_values(const Instruction& instruction, std::string_view name) {
  std::vector<std::string_view> values;
  for (const std::string& flag : instruction.flags) {
    const std::string_view body = std::string_view(flag).substr(2);
    if (body.size() > name.size() && body.substr(0, name.size()) == name && body[name.size()] == '=') {
      values.push_back(body.substr(name.size() + 1));
    }
  }
  return values;
}

Expected<void, std::string> check_instruction(const Instruction& instruction, char escape) {
  switch (instruction.keyword) {
    case Keyword::env: return then_flags(check_key_values(instruction, escape, "ENV"), instruction);
    case Keyword::label: return then_flags(check_key_values(instruction, escape, "LABEL"), instruction);
    case Keyword::maintainer: return then_flags(exactly_one_argument(instruction, "MAINTAINER"), instruction);
    case Keyword::add: return check_copy_like(instruction, kAddFlags, "ADD");
    case Keyword::copy: return check_copy_like(instruction, kCopyFlags, "COPY");
    case Keyword::from: return check_from(instruction);
    case Keyword::onbuild: return check_onbuild(instruction);
    case Keyword::workdir: return then_flags(exactly_one_argument(instruction, "WORKDIR"), instruction);
    case Keyword::run: return check_run(instruction);
    case Keyword::cmd: case Keyword::entrypoint: return check_flags(instruction, {});
    case Keyword::healthcheck: return check_healthcheck(instruction);
    case Keyword::expose:
      return then_flags(at_least_one_argument(!instruction.rest.empty(), "EXPOSE"), instruction);
    case Keyword::user: return then_flags(exactly_one_argument(instruction, "USER"), instruction);
    case Keyword::volume: return check_volume(instruction);
    case Keyword::stopsignal: return exactly_one_argument(instruction, "STOPSIGNAL");
    case Keyword::arg: return check_arg(instruction, escape);
    case Keyword::shell: return check_shell(instruction);
    case Keyword::unknown: break;
  }
  return fail("unknown instruction: " + upper(instruction.word));
}

std::vector<std::string> mount_sources(const Instruction& run) {
  std::vector<std::string> sources;
  for (std::string_view mount : flag_values(run, "mount")) {
    std::string error, source;
    for (const std::string& field : parse_csv_record(mount, error).value_or(std::vector<std::string>())) {
      const std::size_t equals = field.find('=');
      if (equals != std::string::npos && util::lowercase(std::string_view(field).substr(0, equals)) == "from") {
        source = field.substr(equals + 1);
      }
    }
    sources.push_back(std::move(source));
  }
  return sources;
}

Expected<void, std::string> check_mounts_for_build(const Instruction& run) {
  for (std::string_view mount : flag_values(run, "mount")) {
    std::string error, type = "bind", from;
    for (const std::string& field : parse_csv_record(mount, error).value_or(std::vector<std::string>())) {
      const std::size_t equals = field.find('=');
      if (equals == std::string::npos) continue;
      const std::string key = util::lowercase(std::string_view(field).substr(0, equals));
      const std::string value = field.substr(equals + 1);
      if (key == "from") from = value;
      if (key != "type") continue;
      if (value.find('$') != std::string::npos) {
        type.clear();  // decided by a variable: not judged here
        continue;
      }
      type = util::lowercase(value);
      if (type != "bind" && type != "cache" && type != "tmpfs" && type != "secret" && type != "ssh") {
        return fail("unsupported mount type \"" + value + "\"");
      }
    }
    if (type == "secret" && !from.empty()) return fail("secret mount should not have a from");
  }
  return {};
}

Expected<Program, Error> build_program(const LexedFile& file) {
  Program program;
  for (const Instruction& instruction : file.instructions) {
    if (auto checked = check_instruction(instruction, file.escape); !checked) {
      return unexpected(Error{instruction.line, std::move(checked).error()});
    }
    if (instruction.keyword == Keyword::from) {
      const auto words = split_on_token_space(instruction.rest);
      StageDecl stage;
      stage.from = &instruction;
      stage.base_word = words[0];
      if (words.size() == 3) stage.name = util::lowercase(words[2]);
      stage.platform_word = flag_value(instruction, "platform").value_or(std::string_view());
      program.stages.push_back(std::move(stage));
    } else if (program.stages.empty() && instruction.keyword == Keyword::arg) {
      program.meta_args.push_back(&instruction);
    } else if (program.stages.empty()) {
      return unexpected(Error{instruction.line, "no build stage in current context: " + upper(instruction.word) +
                                                    " must come after FROM (only ARG may precede it)"});
    } else {
      program.stages.back().commands.push_back(&instruction);
    }
  }
  if (program.stages.empty()) return unexpected(Error{0, "the Dockerfile has no FROM: no stages to build"});
  return program;
}

std::optional<std::string> platform_error(std::string_view platform) {
  if (platform.find('*') != std::string_view::npos) return "\"" + std::string(platform) + "\": wildcards not yet supported";
  const std::vector<std::string_view> parts = [&] {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (std::size_t slash; (slash = platform.find('/', start)) != std::string_view::npos; start = slash + 1) {
      out.push_back(platform.substr(start, slash - start));
    }
    out.push_back(platform.substr(start));
    return out;
  }();
  if (!is_os_component(parts[0])) return "\"" + std::string(parts[0]) + "\" is an invalid OS component of \"" + std::string(platform) + "\"";
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (!all_chars(parts[i], "_.-")) return "\"" + std::string(parts[i]) + "\" is an invalid component of \"" + std::string(platform) + "\"";
  }
  if (parts.size() > 3) return "\"" + std::string(platform) + "\": cannot parse platform specifier";
  if (parts.size() > 1) return std::nullopt;
  const std::string os = util::lowercase(parts[0].substr(0, parts[0].find('(')));
  if (is_known_os(os == "macos" ? "darwin" : os) || is_known_architecture(normalize_architecture(parts[0]))) {
    return std::nullopt;
  }
  return "\"" + std::string(platform) + "\": unknown operating system or architecture";
}

}  // namespace cascade::dockerfile::detail
