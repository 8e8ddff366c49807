// Shared declarations of the dockerfile module. The stages follow BuildKit's frontend:
// lexer.cpp (parser package: directives, logical lines, heredocs, node splitting),
// instructions.cpp (instructions package: flags, argument checks, stages),
// substitute.cpp + pattern.cpp (shell package: word expansion), analyze.cpp and
// sources.cpp (dockerfile2llb: ARGs, stage links, --from sources, target, triggers).
// Everything works on string_views into the caller's text; errors are plain values.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cascade/dockerfile.hpp"
#include "cascade/util/text.hpp"

namespace cascade::dockerfile::detail {

constexpr char kDefaultEscape = '\\';

// ---- text helpers (tokens.cpp) -------------------------------------------------------

/// Length of the Unicode space (Go's unicode.IsSpace) starting at `pos`, 0 when none.
std::size_t space_length_at(std::string_view text, std::size_t pos);
/// strings.TrimLeftFunc / TrimSpace with unicode.IsSpace.
std::string_view trim_left_space(std::string_view text);
std::string_view trim_space(std::string_view text);
/// Go's regexp `\s`: tab, newline, form feed, carriage return, space (no vertical tab).
bool is_regex_space(char c);
/// The separators of BuildKit's reWhitespace `[\t\v\f\r ]+`.
bool is_token_space(char c);
/// reWhitespace.Split(text, -1) for non-empty `text` without leading/trailing space.
std::vector<std::string_view> split_on_token_space(std::string_view text);

/// A JSON array as Go's json.Decoder reads it (trailing text ignored).
struct JsonArray {
  bool only_strings = true;          // false: an element was not a string (a hard error)
  std::vector<std::string> strings;  // the decoded elements when only_strings
};
/// nullopt when `text` does not start with a well-formed JSON array.
std::optional<JsonArray> parse_json_array(std::string_view text);

/// BuildKit's parseWords (ARG, ENV, LABEL): words split on unquoted spaces, quotes and
/// escape characters kept; each word is a slice of `text`.
std::vector<std::string_view> parse_words(std::string_view text, char escape);

/// One record of Go's encoding/csv reader; nullopt with the reason in `error` on failure.
std::optional<std::vector<std::string>> parse_csv_record(std::string_view text, std::string& error);

// ---- word expansion (substitute.cpp, pattern.cpp) ---------------------------------------

/// Variables visible to an expansion; a name maps to at most one value (later set wins).
class Variables {
 public:
  /// The value, or nullptr when the name is not defined (defined-but-empty is "").
  const std::string* find(std::string_view name) const;
  void set(std::string_view name, std::string value);

 private:
  std::map<std::string, std::string, std::less<>> entries_;  // thousands of ARGs stay fast
};

/// Expands `word` like BuildKit's shell lexer (ProcessWord): $VAR, ${VAR...} forms,
/// quotes removed, `escape` escapes the next character. Fails with BuildKit's reason.
Expected<std::string, std::string> expand_word(std::string_view word, const Variables& variables,
                                               char escape);

struct HeredocMarker {
  std::string name;    // the terminator line to wait for
  bool chomp = false;  // `<<-`: leading tabs are removed before comparing
};
/// The heredoc markers of a logical line, in order (BuildKit's heredocsFromLine);
/// fails when a marker word cannot be lexed.
Expected<std::vector<HeredocMarker>, std::string> heredoc_markers(std::string_view line);

/// Shell patterns of ${VAR#pat} ${VAR%pat} ${VAR/pat/rep}: `*`, `?`, `\` escapes.
Expected<std::string, std::string> trim_pattern_prefix(std::string_view value, std::string_view pattern,
                                                       bool longest);
Expected<std::string, std::string> trim_pattern_suffix(std::string_view value, std::string_view pattern,
                                                       bool longest);
Expected<std::string, std::string> replace_pattern(std::string_view value, std::string_view pattern,
                                                   std::string_view replacement, bool all);

// ---- lexer (lexer.cpp) -----------------------------------------------------------------

enum class Keyword {
  unknown, add, arg, cmd, copy, entrypoint, env, expose, from, healthcheck, label,
  maintainer, onbuild, run, shell, stopsignal, user, volume, workdir,
};

/// One logical instruction: continuation lines joined, comments dropped, heredoc
/// bodies consumed. Mirrors BuildKit's parser.Node.
struct Instruction {
  Keyword keyword = Keyword::unknown;
  std::string_view word;           // the keyword as written ("from", "From")
  std::string_view original;       // the whole logical line (Node.Original)
  std::vector<std::string> flags;  // leading "--name=value" words, quotes and escapes removed
  std::string_view rest;           // the text after the flags, trimmed
  bool json = false;               // exec form: rest (HEALTHCHECK: its command) is a JSON array
  std::vector<std::string> json_values;  // the array's strings when json
  std::unique_ptr<Instruction> trigger;  // ONBUILD: the instruction it stores; else null
  int line = 0;                    // 1-based physical line where the instruction starts
  int end_line = 0;                // physical line where its text ends (heredoc bodies follow)
};

struct LexedFile {
  char escape = kDefaultEscape;           // from the escape directive
  std::vector<Instruction> instructions;  // in file order
  std::deque<std::string> joined_lines;   // storage of logical lines spanning several lines
};

struct LexOptions {
  bool read_heredoc_bodies = true;  // false for ONBUILD triggers, whose bodies are not inline
};

/// HEALTHCHECK's arguments split into the type word and the command text after it.
std::pair<std::string_view, std::string_view> split_healthcheck(std::string_view rest);

/// Reads directives, logical lines and heredocs; fails at the first syntax error.
Expected<LexedFile, Error> lex(std::string_view text, LexOptions options = {});

/// The `# syntax=` directive as BuildKit's DetectSyntax finds it (a leading `#!` line is
/// skipped, leading blanks are not); `value` is the whole directive value.
struct SyntaxDirective {
  std::string_view value;
  int line = 0;
};
std::optional<SyntaxDirective> find_syntax_directive(std::string_view text);

// ---- instructions (instructions.cpp) ----------------------------------------------------

/// The value of flag `--name=value` (the last one), nullopt when absent.
std::optional<std::string_view> flag_value(const Instruction& instruction, std::string_view name);
/// Every value of a repeatable flag (`--mount`), in order.
std::vector<std::string_view> flag_values(const Instruction& instruction, std::string_view name);

/// Checks one instruction as BuildKit's instructions.ParseInstruction does (flags,
/// argument counts, FROM shape, ONBUILD trigger, RUN --mount from=).
Expected<void, std::string> check_instruction(const Instruction& instruction, char escape);

/// The `from=` of each --mount of a RUN (empty when a mount has none).
std::vector<std::string> mount_sources(const Instruction& run);
/// The checks BuildKit makes on a needed stage's mounts while converting it (mount type,
/// `from` on a secret mount); values holding variables are not judged.
Expected<void, std::string> check_mounts_for_build(const Instruction& run);

struct StageDecl {
  const Instruction* from = nullptr;        // the FROM instruction
  std::string name;                         // lowercase alias, empty when unnamed
  std::string_view base_word;               // the image word before substitution
  std::string_view platform_word;           // --platform value before substitution; "" when absent
  std::vector<const Instruction*> commands; // the instructions of the stage, in order
};

struct Program {
  std::vector<const Instruction*> meta_args;  // ARGs before the first FROM
  std::vector<StageDecl> stages;
};

/// Groups checked instructions into stages (instructions.Parse).
Expected<Program, Error> build_program(const LexedFile& file);

/// containerd's platforms.Parse; nullopt when valid, else the reason.
std::optional<std::string> platform_error(std::string_view platform);

// ---- analysis (analyze.cpp, sources.cpp) ------------------------------------------------

/// What a COPY --from, a RUN --mount from= (or one inside an ONBUILD trigger) reads.
struct SourceRef {
  enum class Kind { stage, image, scratch };
  Kind kind = Kind::scratch;
  int stage = -1;                             // Kind::stage: the stage index
  std::string text;                           // the --from / from= value as written
  std::optional<reference::Reference> image;  // Kind::image, once parsed
  UseKind use = UseKind::copy_from;
  const Instruction* instruction = nullptr;   // the instruction naming it (in the stage or trigger)
  int line = 0;        // where the use is written (a trigger's ONBUILD line)
  int error_line = 0;  // where BuildKit reports its errors (a trigger's: the child's FROM)
};

struct StageState {
  const StageDecl* decl = nullptr;
  Stage stage;                       // the reported values, filled as the analysis goes
  std::vector<SourceRef> sources;    // from the stage's own instructions, in order
  std::vector<SourceRef> triggered;  // from the ONBUILD triggers of its parent stage
  bool triggers_read = false;
};

struct Build {
  char escape = kDefaultEscape;
  std::vector<StageState> stages;
  int target = 0;

  /// The last stage named `lowercase_name` in the whole file (COPY --from lookup), or -1.
  int last_stage_named(std::string_view lowercase_name) const;
};

/// toCommand for every stage: the sources of COPY --from and RUN --mount.
Expected<void, Error> collect_sources(Build& build);
/// validateCircularDependency over the COPY/RUN sources of all stages.
Expected<void, Error> check_cycles(const Build& build);
/// Parses the image of every image source (all stages, like BuildKit).
Expected<void, Error> parse_source_images(std::vector<SourceRef>& sources);
/// Marks the stages the target needs, running parents' ONBUILD triggers in needed
/// children until no new dependency appears.
Expected<void, Error> mark_needed(Build& build);
/// The checks made while converting needed stages: sources defined earlier, mounts.
Expected<void, Error> check_needed_stages(const Build& build);

/// analyze(), letting `visit` see the lexed file and the finished build (whose pointers
/// die when analyze_with returns) before the report is made.
Expected<Analysis, Error> analyze_with(std::string_view text, const Options& options,
                                       const std::function<void(const LexedFile&, const Build&)>& visit);

/// The empty variable set, for words that are read without any.
inline const Variables& no_variables() {
  static const Variables empty;
  return empty;
}

}  // namespace cascade::dockerfile::detail
