// Unit tests of the dockerfile module's parts: lexer (logical lines, heredocs, flags,
// JSON form), parser directives, word substitution and patterns, instruction errors.
#include <doctest/doctest.h>

#include <deque>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "../src/dockerfile/internal.hpp"
#include "cascade/dockerfile.hpp"

namespace {

namespace detail = cascade::dockerfile::detail;
using cascade::dockerfile::analyze;
using cascade::dockerfile::Error;
using cascade::dockerfile::Options;
using detail::Keyword;
using Strings = std::vector<std::string>;

// Lexed instructions are views into the text, so the texts of a test run stay alive.
std::string_view keep(std::string text) {
  static std::deque<std::string> texts;
  return texts.emplace_back(std::move(text));
}

detail::LexedFile lexed(const std::string& text) {
  auto result = detail::lex(keep(text));
  if (!result) FAIL_CHECK("line " << result.error().line << ": " << result.error().message);
  REQUIRE(result);
  return std::move(*result);
}

Error lex_error(const std::string& text) {
  auto result = detail::lex(text);
  REQUIRE_FALSE(result);
  return result.error();
}

Strings originals(const detail::LexedFile& file) {
  Strings out;
  for (const auto& instruction : file.instructions) out.emplace_back(instruction.original);
  return out;
}

std::vector<int> lines(const detail::LexedFile& file) {
  std::vector<int> out;
  for (const auto& instruction : file.instructions) out.push_back(instruction.line);
  return out;
}

std::size_t count(const std::string& text) { return lexed(text).instructions.size(); }

using Definitions = std::initializer_list<std::pair<const char*, const char*>>;

// The expansion of `word`, or "error: <reason>".
std::string expand(const std::string& word, Definitions definitions = {}, char escape = '\\') {
  detail::Variables variables;
  for (const auto& [name, value] : definitions) variables.set(name, value);
  auto result = detail::expand_word(word, variables, escape);
  return result ? *result : "error: " + result.error();
}

bool expands_to_error(const std::string& word, Definitions definitions = {}) {
  return expand(word, definitions).rfind("error: ", 0) == 0;
}

Error analyze_error(const std::string& text, const Options& options = {}) {
  auto result = analyze(text, options);
  REQUIRE_FALSE(result);
  return result.error();
}

std::string frontend_of(const std::string& text, const Options& options = {}) {
  auto result = analyze(text, options);
  if (!result) FAIL_CHECK("line " << result.error().line << ": " << result.error().message);
  REQUIRE(result);
  return result->frontend ? result->frontend->str() : "none";
}

}  // namespace

TEST_CASE("dockerfile::lexer") {
  SUBCASE("keywords are case-insensitive and leading blanks of the first line go") {
    const auto file = lexed("  fRoM alpine\n");
    REQUIRE(file.instructions.size() == 1);
    CHECK(file.instructions[0].keyword == Keyword::from);
    CHECK(file.instructions[0].word == "fRoM");
    CHECK(file.instructions[0].rest == "alpine");
  }
  SUBCASE("comments and blank lines between instructions are skipped; lines are physical") {
    const auto file = lexed("\n# a comment\nFROM a\n\n   # indented comment\nRUN b\n");
    CHECK(lines(file) == std::vector<int>{3, 6});
  }
  SUBCASE("continuation appends directly, keeping blanks before the escape and on the next line") {
    CHECK(originals(lexed("RUN a \\\n  b\\\nc\n")) == Strings{"RUN a   bc"});
  }
  SUBCASE("blanks after the escape character still continue the line") {
    CHECK(originals(lexed("RUN a \\  \t\nb\n")) == Strings{"RUN a b"});
  }
  SUBCASE("comment and blank lines inside a continuation are dropped, even ending in the escape") {
    const auto file = lexed("RUN a \\\n# note \\\n\n   \nb\nFROM c\n");
    CHECK(originals(file) == Strings{"RUN a b", "FROM c"});
    CHECK(lines(file) == std::vector<int>{1, 6});
  }
  SUBCASE("an escaped escape at the end does not continue") {
    CHECK(count("RUN echo \\\\\nFROM x\n") == 2);
  }
  SUBCASE("three escape characters at the end do not continue either") {
    CHECK(count("RUN echo \\\\\\\nFROM x\n") == 2);
  }
  SUBCASE("a line of only the escape character continues") {
    CHECK(originals(lexed("RUN a\\\n\\\nb\n")) == Strings{"RUN ab"});
  }
  SUBCASE("a continuation reaching the end of the file ends the instruction") {
    const auto file = lexed("FROM a \\\n");
    CHECK(file.instructions[0].rest == "a");
  }
  SUBCASE("CRLF line ends and a byte-order mark change nothing") {
    const auto file = lexed("\xEF\xBB\xBF" "FROM a \\\r\n  AS b\r\nRUN x\r\n");
    CHECK(originals(file) == Strings{"FROM a   AS b", "RUN x"});
    CHECK(lines(file) == std::vector<int>{1, 3});
  }
  SUBCASE("with escape=` the backtick continues and a trailing backslash is literal") {
    const auto file = lexed("# escape=`\nRUN dir c:\\\nFROM x `\n  AS y\n");
    CHECK(originals(file) == Strings{"RUN dir c:\\", "FROM x   AS y"});
    CHECK(file.escape == '`');
  }
  SUBCASE("a physical line longer than 65535 bytes is an error naming that line") {
    CHECK(count("FROM a\nRUN " + std::string(65531, 'x') + "\n") == 2);
    const Error error = lex_error("FROM a\nRUN " + std::string(65532, 'x') + "\n");
    CHECK(error.line == 2);
  }
  SUBCASE("a file of comments, blanks and directives has no instructions") {
    CHECK(lex_error("# syntax=docker/dockerfile:1\n\n# nothing\n").message == "file with no instructions");
  }
  SUBCASE("flags: quotes and backslash escapes are removed; a lone -- ends the flags") {
    const auto file = lexed("COPY --from=\"my stage\" --chown=a\\ b -- --x y\n");
    CHECK(file.instructions[0].flags == Strings{"--from=my stage", "--chown=a b"});
    CHECK(file.instructions[0].rest == "--x y");
  }
  SUBCASE("flags stop at the first word not starting with --") {
    const auto file = lexed("RUN --mount=type=cache,target=/x echo --no\n");
    CHECK(file.instructions[0].flags == Strings{"--mount=type=cache,target=/x"});
    CHECK(file.instructions[0].rest == "echo --no");
  }
  SUBCASE("JSON form needs a well-formed array; other text is shell form") {
    const auto file = lexed("RUN [\"echo\", \"a\\u0041\"]\nRUN [not json\nCMD [\"x\"] trailing text\n");
    CHECK(file.instructions[0].json);
    CHECK(file.instructions[0].json_values == Strings{"echo", "aA"});
    CHECK_FALSE(file.instructions[1].json);
    CHECK(file.instructions[2].json_values == Strings{"x"});
  }
  SUBCASE("a JSON array holding a non-string is an error") {
    const Error error = lex_error("FROM a\nRUN [\"echo\", 1]\n");
    CHECK(error.line == 2);
    CHECK(error.message.find("arrays must be comprised of strings only") != std::string::npos);
  }
  SUBCASE("ONBUILD keeps the instruction it stores") {
    const auto file = lexed("ONBUILD copy --from=x a b\n");
    REQUIRE(file.instructions[0].trigger);
    CHECK(file.instructions[0].trigger->keyword == Keyword::copy);
    CHECK(file.instructions[0].trigger->flags == Strings{"--from=x"});
  }
  SUBCASE("ENV and LABEL arguments are checked while parsing") {
    CHECK(lex_error("FROM a\nENV ONLYKEY\n").message == "ENV must have two arguments");
    CHECK(lex_error("FROM a\nLABEL a=1 b\n").line == 2);
    CHECK(count("FROM a\nENV A 1 2\nENV B=\"x y\" C=z\n") == 3);
  }
}

TEST_CASE("dockerfile::heredocs") {
  SUBCASE("bodies are skipped, even lines that look like instructions") {
    const auto file = lexed("FROM a\nRUN <<EOF\nFROM x\nEOF\nFROM y\n");
    CHECK(originals(file) == Strings{"FROM a", "RUN <<EOF", "FROM y"});
    CHECK(lines(file) == std::vector<int>{1, 2, 5});
  }
  SUBCASE("cat<<EOF is not a heredoc: the marker must start its word") {
    CHECK(count("RUN cat<<EOF\nFROM x\nEOF\n") == 3);
  }
  SUBCASE("<<- removes leading tabs, not spaces, before comparing the terminator") {
    CHECK(count("RUN <<-EOF\n\tbody\n\t\tEOF\nFROM x\n") == 2);
    CHECK(lex_error("RUN <<-EOF\nbody\n  EOF\n").message == "unterminated heredoc");
  }
  SUBCASE("blanks after << are allowed (1.16), but <<- EOF is not a heredoc") {
    CHECK(count("RUN << EOF\nFROM x\nEOF\n") == 1);
    CHECK(count("RUN <<- EOF\nFROM x\nEOF\n") == 3);
  }
  SUBCASE("<< -EOF waits for a terminator named -EOF") {
    CHECK(count("RUN << -EOF\nEOF\n-EOF\n") == 1);
  }
  SUBCASE("quoted markers: the name is the unquoted word") {
    CHECK(count("COPY <<\"EOF\" /a\nx\nEOF\n") == 1);
    CHECK(count("COPY <<E\"O\"F /a\nx\nEOF\n") == 1);
    CHECK(count("COPY <<'EOF' /a\nx\nEOF\n") == 1);
  }
  SUBCASE("a quoted <<EOF word is not a marker") {
    CHECK(count("RUN echo \"<<EOF\"\nFROM x\n") == 2);
    CHECK(count("RUN echo '<<EOF'\nFROM x\n") == 2);
  }
  SUBCASE("<<< is not a heredoc") {
    CHECK(count("RUN cat <<<EOF\nFROM x\n") == 2);
  }
  SUBCASE("a file descriptor may precede the marker") {
    CHECK(count("RUN 3<<EOF cat /dev/fd/3\nx\nEOF\n") == 1);
  }
  SUBCASE("several heredocs are read one after another, in order") {
    const auto file = lexed("COPY <<X <<Y /dest\nY\nX\nX\nY\nFROM a\n");
    CHECK(lines(file) == std::vector<int>{1, 6});
  }
  SUBCASE("the terminator must match exactly") {
    CHECK(lex_error("FROM a\nRUN <<EOF\nEOF \n").line == 2);
    CHECK(count("RUN <<EOF\r\nx\r\nEOF\r\n") == 1);
  }
  SUBCASE("JSON form never carries heredocs") {
    CHECK(count("RUN [\"cat\", \"<<EOF\"]\nFROM x\n") == 2);
  }
  SUBCASE("only RUN, COPY, ADD and ONBUILD of those carry heredocs") {
    CHECK(count("LABEL a=<<EOF\nFROM x\n") == 2);
    CHECK(count("ONBUILD RUN <<EOF\nFROM x\nEOF\n") == 1);
    CHECK(count("ADD <<EOF /x\nFROM x\nEOF\n") == 1);
  }
  SUBCASE("an unterminated heredoc names the instruction's line") {
    const Error error = lex_error("FROM a\nRUN <<EOF\nbody\n");
    CHECK(error.line == 2);
    CHECK(error.message == "unterminated heredoc");
  }
  SUBCASE("markers are searched after continuation lines are joined") {
    CHECK(count("RUN cat \\\n<<EOF\nbody\nEOF\n") == 1);
  }
  SUBCASE("markers of one line: names, chomp, quotes") {
    auto markers = detail::heredoc_markers("RUN <<A cat <<-'B' 2<<\"C\" <<$D");
    REQUIRE(markers);
    REQUIRE(markers->size() == 4);
    CHECK((*markers)[0].name == "A");
    CHECK((*markers)[1].name == "B");
    CHECK((*markers)[1].chomp);
    CHECK((*markers)[2].name == "C");
    CHECK((*markers)[3].name == "$D");
  }
  SUBCASE("a line the shell lexer cannot read has no heredocs") {
    CHECK(count("RUN echo \"unterminated <<EOF\nFROM x\n") == 2);
  }
}

TEST_CASE("dockerfile::directives") {
  SUBCASE("escape=` selects the backtick") {
    CHECK(lexed("# escape=`\nFROM a\n").escape == '`');
    CHECK(lexed("#escape=\\\nFROM a\n").escape == '\\');
  }
  SUBCASE("spellings: #syntax=, # syntax = , tab and uppercase key") {
    for (const char* line : {"#syntax=img/x:1", "# syntax = img/x:1", "#\t SYNTAX=img/x:1", "# syntax=img/x:1  "}) {
      CAPTURE(line);
      const auto directive = detail::find_syntax_directive(keep(std::string(line) + "\nFROM a\n"));
      REQUIRE(directive);
      CHECK(directive->value == "img/x:1");
      CHECK(directive->line == 1);
    }
  }
  SUBCASE("values are case-sensitive") {
    CHECK(analyze_error("# syntax=docker/Dockerfile:1\nFROM a\n").line == 1);
    CHECK(frontend_of("# SYNTAX=Docker/dockerfile:1\nFROM a\n") == "Docker/dockerfile:1");
  }
  SUBCASE("a repeated directive is an error") {
    const Error error = analyze_error("# escape=\\\n# escape=`\nFROM a\n");
    CHECK(error.line == 2);
    CHECK(error.message == "only one escape parser directive can be used");
    CHECK(analyze_error("# check=skip=all\n# CHECK=error=true\nFROM a\n").line == 2);
    CHECK(analyze_error("# syntax=a/b\n# syntax=c/d\nFROM a\n").line == 2);
  }
  SUBCASE("an escape value other than \\ or ` is an error") {
    CHECK(analyze_error("# escape=x\nFROM a\n").line == 1);
  }
  SUBCASE("a blank line, a plain comment or an unknown key ends the block") {
    CHECK(lexed("\n# escape=`\nFROM a\n").escape == '\\');
    CHECK(lexed("# Build file\n# escape=`\nFROM a\n").escape == '\\');
    CHECK(lexed("# foo=bar\n# escape=`\nFROM a\n").escape == '\\');
    CHECK(frontend_of("# foo=bar\n# syntax=a/b\nFROM a\n") == "none");
  }
  SUBCASE("a shebang line ends the block for escape, not for the syntax search") {
    const std::string text = "#!/usr/bin/env buildctl\n# syntax=docker/dockerfile:1\n# escape=`\nFROM a\n";
    CHECK(lexed(text).escape == '\\');
    CHECK(frontend_of(text) == "docker.io/docker/dockerfile:1");
    CHECK(detail::find_syntax_directive(text)->line == 2);
  }
  SUBCASE("indented directives count for escape but not for the syntax search") {
    const std::string text = "  # escape=`\n  # syntax=x/y\nFROM a\n";
    CHECK(lexed(text).escape == '`');
    CHECK(frontend_of(text) == "none");
  }
  SUBCASE("the first word of syntax is the image; the rest are frontend options") {
    CHECK(frontend_of("# syntax=docker/dockerfile:1.9 foo=bar\nFROM a\n") == "docker.io/docker/dockerfile:1.9");
  }
  SUBCASE("check names no image") {
    CHECK(frontend_of("# check=skip=all;error=true\nFROM a\n") == "none");
  }
  SUBCASE("directive-like lines after the block are comments") {
    CHECK(frontend_of("# syntax=a/b\nFROM x\n# syntax=c/d\n# escape=`\n") == "docker.io/a/b:latest");
  }
  SUBCASE("a directive cannot be continued") {
    CHECK(frontend_of("# syntax=a/b \\\nFROM x\n") == "docker.io/a/b:latest");
  }
  SUBCASE("BUILDKIT_SYNTAX overrides the directive; dockerfile.v0 is the built-in frontend") {
    Options options;
    options.build_args["BUILDKIT_SYNTAX"] = "tonistiigi/dockerfile:v0 opt";
    CHECK(frontend_of("# syntax=a/b\nFROM x\n", options) == "docker.io/tonistiigi/dockerfile:v0");
    options.build_args["BUILDKIT_SYNTAX"] = "dockerfile.v0";
    CHECK(frontend_of("# syntax=a/b\nFROM x\n", options) == "none");
  }
  SUBCASE("an invalid frontend reference is an error at the directive's line") {
    const Error error = analyze_error("# escape=`\n# syntax=docker/dockerfile:\nFROM a\n");
    CHECK(error.line == 2);
  }
}

TEST_CASE("dockerfile::substitute") {
  const Definitions vars = {{"A", "1"}, {"EMPTY", ""}, {"I", "alpine AS x"}};
  SUBCASE("$NAME and ${NAME}; undefined is empty") {
    CHECK(expand("x$A-${A}", vars) == "x1-1");
    CHECK(expand("x$UNSET-${UNSET}y", vars) == "x-y");
  }
  SUBCASE("a name is letters, digits and _, so it stops at other characters") {
    CHECK(expand("$A.b $A_B", vars) == "1.b ");
  }
  SUBCASE("$ before a character that cannot start a name stays literal") {
    CHECK(expand("a$ b$/c$", vars) == "a$ b$/c$");
  }
  SUBCASE("positional and special parameters expand to empty") {
    CHECK(expand("[$1abc][$@][$$][${1}][${#}][$0x]", vars) == "[abc][][][][][x]");
  }
  SUBCASE("${NAME:-word} and ${NAME-word}") {
    CHECK(expand("${UNSET:-d} ${EMPTY:-d} ${A:-d}", vars) == "d d 1");
    CHECK(expand("${UNSET-d} ${EMPTY-d} ${A-d}", vars) == "d  1");
  }
  SUBCASE("${NAME:+word} and ${NAME+word}") {
    CHECK(expand("[${UNSET:+w}][${EMPTY:+w}][${A:+w}]", vars) == "[][][w]");
    CHECK(expand("[${UNSET+w}][${EMPTY+w}][${A+w}]", vars) == "[][w][w]");
  }
  SUBCASE("${NAME:?msg} and ${NAME?msg}") {
    CHECK(expand("${A:?no}", vars) == "1");
    CHECK(expand("${EMPTY?no}", vars).empty());
    CHECK(expand("${EMPTY:?must be set}", vars) == "error: failed to process \"${EMPTY:?must be set}\": EMPTY: must be set");
    CHECK(expand("${UNSET?}", vars).find("UNSET: is not allowed to be unset") != std::string::npos);
    CHECK(expand("${EMPTY:?}", vars).find("EMPTY: is not allowed to be empty") != std::string::npos);
  }
  SUBCASE("operands may hold variables, nested to any depth") {
    CHECK(expand("${UNSET:-${EMPTY:-${A}}}", vars) == "1");
    CHECK(expand("${A:+pre-$A-post}", vars) == "pre-1-post");
  }
  SUBCASE("single quotes are literal, double quotes expand; both are removed") {
    CHECK(expand("'$A'\"$A\"", vars) == "$A1");
    CHECK(expand("\"a b\"", vars) == "a b");
  }
  SUBCASE("the escape character escapes the next character and is removed") {
    CHECK(expand("alpine\\:3 \\$A \\\\", vars) == "alpine:3 $A \\");
    CHECK(expand("\"a\\b\" \"a\\\"b\" \"\\$A\"", vars) == "a\\b a\"b $A");
  }
  SUBCASE("with the backtick escape a backslash is an ordinary character") {
    CHECK(expand("C:\\x `$A", vars, '`') == "C:\\x $A");
  }
  SUBCASE("expanded text is not split again") {
    CHECK(expand("$I", vars) == "alpine AS x");
  }
  SUBCASE("syntax errors") {
    for (const char* word : {"${}", "${:x}", "${A:#p}", "${A:%p}", "${A=x}", "${A", "${A:-x", "'open", "\"open",
                             "${A/x", "${{A}}", "${A:=x}"}) {
      CAPTURE(word);
      CHECK(expands_to_error(word, vars));
    }
    CHECK(expand("${}", vars).find("bad substitution") != std::string::npos);
    CHECK(expand("${A", vars).find("missing '}'") != std::string::npos);
  }
}

TEST_CASE("dockerfile::patterns") {
  const Definitions vars = {{"V", "ghcr.io/acme/api:2.4.1-rc1"}, {"X", "a*b*c"}, {"W", "ab"},
                            {"U", "h\xC3\xA9llo"}, {"N", "a\nb"}};
  SUBCASE("# and ## remove the shortest and longest matching prefix") {
    CHECK(expand("${V#*/}", vars) == "acme/api:2.4.1-rc1");
    CHECK(expand("${V##*/}", vars) == "api:2.4.1-rc1");
    CHECK(expand("${V#nomatch}", vars) == "ghcr.io/acme/api:2.4.1-rc1");
  }
  SUBCASE("% and %% remove the shortest and longest matching suffix") {
    CHECK(expand("${V%-*}", vars) == "ghcr.io/acme/api:2.4.1");
    CHECK(expand("${V%%.*}", vars) == "ghcr");
    CHECK(expand("${V%:*}", vars) == "ghcr.io/acme/api");
  }
  SUBCASE("? is one character, a dot is just a dot") {
    CHECK(expand("${V#gh?r}", vars) == ".io/acme/api:2.4.1-rc1");
    CHECK(expand("${V#ghcr.}", vars) == "io/acme/api:2.4.1-rc1");
    CHECK(expand("${V#ghcrX}", vars) == "ghcr.io/acme/api:2.4.1-rc1");
    CHECK(expand("${U#h?}", vars) == "llo");
  }
  SUBCASE("a backslash escapes * ? and itself; other escapes are errors") {
    CHECK(expand("${X#a\\*}", vars) == "b*c");
    CHECK(expand("${X%\\**}", vars) == "a*b");
    CHECK(expand("${X%%\\**}", vars) == "a");
    CHECK(expands_to_error("${V#\\.}", vars));
  }
  SUBCASE("/ replaces the first match, // every match; runs are greedy") {
    CHECK(expand("${V/a/A}", vars) == "ghcr.io/Acme/api:2.4.1-rc1");
    CHECK(expand("${V//a/A}", vars) == "ghcr.io/Acme/Api:2.4.1-rc1");
    CHECK(expand("${V/a*i/X}", vars) == "ghcr.io/X:2.4.1-rc1");
    CHECK(expand("${V/ghcr.io/mirror.acme.dev}", vars) == "mirror.acme.dev/acme/api:2.4.1-rc1");
    CHECK(expand("${V/nomatch/x}", vars) == "ghcr.io/acme/api:2.4.1-rc1");
  }
  SUBCASE("an empty pattern matches between characters") {
    CHECK(expand("${W///-}", vars) == "-a-b-");
    CHECK(expands_to_error("${W//}", vars));
  }
  SUBCASE("runs and ? do not cross a newline, like Go's `.`") {
    CHECK(expand("${N#*b}", vars) == "a\nb");
    CHECK(expand("${N#a?}", vars) == "a\nb");
  }
  SUBCASE("unset variables give empty values") {
    CHECK(expand("${UNSET#x}${UNSET/x/y}", vars).empty());
  }
}

TEST_CASE("dockerfile::instruction errors name their line") {
  SUBCASE("an empty file and a file without instructions") {
    CHECK(analyze_error("").line == 0);
    CHECK(analyze_error("# comment\n\n").message == "file with no instructions");
  }
  SUBCASE("only ARGs: no stage to build") {
    CHECK(analyze_error("ARG A=1\nARG B\n").line == 0);
  }
  SUBCASE("any instruction but ARG before the first FROM") {
    CHECK(analyze_error("ARG A=1\nRUN true\nFROM a\n").line == 2);
  }
  SUBCASE("an unknown instruction") {
    const Error error = analyze_error("FROM a\n\nFORM b\n");
    CHECK(error.line == 3);
    CHECK(error.message == "unknown instruction: FORM");
  }
  SUBCASE("FROM takes one or three words, the middle one AS") {
    for (const char* text : {"FROM\n", "FROM a b\n", "FROM a AS\n", "FROM a as b c\n", "FROM a TO b\n"}) {
      CAPTURE(text);
      CHECK(analyze_error(text).line == 1);
    }
  }
  SUBCASE("stage names start with a letter; letters, digits, '.', '_' and '-' follow") {
    CHECK(analyze_error("FROM a AS 1x\n").message.find("invalid name for build stage") != std::string::npos);
    CHECK(analyze_error("FROM a AS b/c\n").line == 1);
    auto analysis = analyze("FROM a AS My_Stage.1-x\n");
    REQUIRE(analysis);
    CHECK(analysis->stages[0].name == "my_stage.1-x");
  }
  SUBCASE("flags: unknown, missing value, repeated, boolean") {
    CHECK(analyze_error("FROM --foo=bar a\n").message == "unknown flag: foo");
    CHECK(analyze_error("FROM a\nCOPY --from src dst\n").message == "missing a value on flag: from");
    CHECK(analyze_error("FROM --platform linux/amd64 a\n").message == "FROM requires either one or three arguments");
    CHECK(analyze_error("FROM --platform=a --platform=b x\n").message == "duplicate flag specified: platform");
    CHECK(analyze_error("FROM a\nADD --from=b x y\n").message == "unknown flag: from");
    CHECK(analyze_error("FROM a\nCOPY --link=maybe x y\n").line == 2);
    CHECK(analyze_error("FROM a\nCOPY --link= x y\n").line == 2);
    CHECK(analyze_error("FROM a\nRUN --network true\n").line == 2);
    CHECK(analyze_error("FROM a\nENV --x=1 A=1\n").line == 2);
    CHECK(analyze("FROM a\nCOPY --link --chmod=644 --exclude=*.md --exclude=*.txt x y\n"));
    CHECK(analyze("FROM a\nRUN --mount=type=cache,target=/a --mount=type=tmpfs,target=/b true\n"));
    CHECK(analyze("FROM a\nSTOPSIGNAL --ignored=1 SIGTERM\n"));
  }
  SUBCASE("argument counts") {
    for (const char* line : {"COPY onlyone", "COPY [\"a\"]", "ADD x", "WORKDIR", "USER", "ENV", "LABEL",
                             "ARG =x", "ARG", "SHELL /bin/sh -c", "SHELL []", "HEALTHCHECK NONE x", "HEALTHCHECK CMD",
                             "HEALTHCHECK FOO x", "VOLUME [\"\"]", "VOLUME", "EXPOSE", "ONBUILD", "MAINTAINER",
                             "STOPSIGNAL"}) {
      CAPTURE(line);
      CHECK(analyze_error(std::string("FROM a\n") + line + "\n").line == 2);
    }
  }
  SUBCASE("ONBUILD cannot store FROM, MAINTAINER or ONBUILD") {
    CHECK(analyze_error("FROM a\nONBUILD FROM b\n").line == 2);
    CHECK(analyze_error("FROM a\nONBUILD maintainer me\n").line == 2);
    CHECK(analyze_error("FROM a\nONBUILD ONBUILD RUN x\n").message.find("Chaining ONBUILD") != std::string::npos);
  }
  SUBCASE("RUN --mount: from= takes no variables; the value must be one CSV record") {
    CHECK(analyze_error("FROM a\nRUN --mount=from=$X,target=/x true\n").message.find(
              "'from' doesn't support variable expansion") != std::string::npos);
    CHECK(analyze_error("FROM a\nRUN --mount=type=cache,\\\"target=/x true\n").line == 2);
    CHECK(analyze_error("FROM a\nRUN --mount= true\n").line == 2);
    CHECK(analyze("FROM a\nRUN --mount=type=cache,\\\"target=/x,y\\\" true\n"));
  }
}
