// Dockerfile text -> stages and the external images a build depends on, following
// BuildKit's frontend (shared/reference/DOCKERFILE.md sections 1-10, 12, 13). Pure:
// text in, values out; no files, no network.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/reference.hpp"
#include "cascade/util/expected.hpp"

namespace cascade::dockerfile {

/// Resource bounds (README, "Resource bounds"). A Dockerfile past one fails to analyze
/// with an Error naming its line and the bound; none is reached by a real Dockerfile.
/// A physical line: BuildKit's own bound (bufio.MaxScanTokenSize - 1).
inline constexpr std::size_t kMaxLineLength = 65535;
/// A logical line, its continuation lines joined (BuildKit has no bound: 16 physical lines).
inline constexpr std::size_t kMaxLogicalLineLength = 16 * 65536;
/// ${...} nested in the operand of another ${...} (BuildKit has no bound; Go's stack grows).
inline constexpr int kMaxSubstitutionDepth = 64;
/// The text a word expands to, and all global ARG values together.
inline constexpr std::size_t kMaxExpandedLength = 16 * 65536;

/// How an image is used by the build.
enum class UseKind { from, copy_from, run_mount, onbuild_copy_from, onbuild_run_mount };
std::string_view to_string(UseKind kind);

struct Stage {
  int index = 0;                 // zero-based position in the file
  std::string name;              // lowercase alias after AS; empty when unnamed
  int line = 0;                  // 1-based physical line of the FROM instruction
  std::string base_text;         // the FROM word after ARG substitution
  std::string platform;          // the --platform value after substitution; empty when absent
  std::optional<int> base_stage; // index of the earlier stage it is built on
  bool scratch = false;          // FROM scratch
  std::optional<reference::Reference> base_image;  // set when built on an image
  bool needed = false;           // part of the selected target's build

  /// "name", or "stage-N" for an unnamed stage.
  std::string label() const;
};

/// One external image a needed stage pulls.
struct ImageUse {
  reference::Reference image;
  int stage = 0;   // index of the stage that uses it
  UseKind kind = UseKind::from;
  int line = 0;    // 1-based physical line of the instruction (an ONBUILD use: the ONBUILD line)
};

struct Analysis {
  std::vector<Stage> stages;      // every stage, in file order
  int target = 0;                 // index of the selected target stage
  std::vector<ImageUse> uses;     // external images used by needed stages, in file order
  std::vector<std::string> bases; // normalized uses, sorted and de-duplicated (the section 1 set)
  std::optional<reference::Reference> frontend;  // the `# syntax=` image, normalized
};

struct Options {
  std::map<std::string, std::string> build_args;  // --build-arg K=V
  std::optional<std::string> target;              // --target; the last stage when empty
};

struct Error {
  int line = 0;         // 1-based physical line; 0 when the error concerns the whole file or the
                        // options (empty file, no FROM, unknown --target, bad BUILDKIT_SYNTAX)
  std::string message;  // what is wrong and what to change
};

/// Analyzes a Dockerfile; fails with Error (naming the line) wherever BuildKit
/// would refuse the file before building.
Expected<Analysis, Error> analyze(std::string_view text, const Options& options = {});

/// Rewrites the Dockerfile so that each external image the build uses whose normalized
/// reference is a key of `pins` is named by its value instead (e.g. "repo@sha256:…"):
/// FROM lines are rewritten whole (ARG-templated ones included), COPY --from and
/// RUN --mount from= values in place; physical line numbers are kept. Fails when the
/// text does not analyze, a pin is not a valid reference, or a use cannot be rewritten;
/// the result is re-analyzed to prove every pinned use now names its pin.
Expected<std::string, Error> pin(std::string_view text, const Options& options,
                                 const std::map<std::string, std::string>& pins);

}  // namespace cascade::dockerfile
