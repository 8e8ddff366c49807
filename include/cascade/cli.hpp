// The `cascade` command line: subcommands in one table over the library modules.
#pragma once

namespace cascade::cli {

/// Runs `cascade argv...`; returns the exit code (0 ok, 1 operation failed, 2 bad input).
int run(int argc, char** argv);

}  // namespace cascade::cli
