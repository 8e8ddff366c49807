// Runs programs with an argument vector (never a shell), capturing their output.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cascade/util/expected.hpp"

namespace cascade::process {

struct Options {
  std::string working_dir;                     // empty: the current directory
  std::map<std::string, std::string> env;      // added to (or replacing in) the inherited environment
  std::optional<std::string> input;            // written to the child's stdin, then closed
  std::optional<std::chrono::milliseconds> timeout;  // the child is killed when it runs longer
};

struct Result {
  int exit_code = -1;    // the child's exit code; 128+N when killed by signal N
  std::string out;       // everything the child wrote to stdout
  std::string err;       // everything the child wrote to stderr
  bool timed_out = false;
};

/// Finds `program` on PATH (or takes it as a path when it contains '/'); empty when not found.
std::string find_executable(const std::string& program);

/// Runs argv[0] with the arguments argv[1..]; fails (with a message naming the program)
/// only when it cannot be started. A non-zero exit is a Result, not a failure.
Expected<Result, std::string> run(const std::vector<std::string>& argv, const Options& options = {});

}  // namespace cascade::process
