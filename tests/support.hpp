// Helpers shared by the tests: temporary folders, files, real git repositories and the
// cascade binary, all run with argument vectors through cascade::process.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cascade/process.hpp"

namespace cascade::test {

namespace fs = std::filesystem;

/// A fresh folder under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "cascade-test-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  fs::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  fs::path path_;
};

/// Sets a variable of this process's environment while alive; puts the old value back after.
class ScopedVariable {
 public:
  ScopedVariable(std::string name, const std::string& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedVariable() {
    if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

inline void write_file(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Runs a program; throws when it cannot start (a test set-up failure, not a result).
inline process::Result run(const std::vector<std::string>& argv, const process::Options& options = {}) {
  auto result = process::run(argv, options);
  if (!result) throw std::runtime_error(result.error());
  return *result;
}

/// Runs a build (buildah bud, docker build) for a test's set-up, again up to twice when the
/// container runtime could not start a step: runc 1.1 copies itself into a sealed memfd per
/// container and, on a loaded machine, the seal fails now and then with EBUSY ("sealing memfd
/// copy: Device or resource busy"). The Dockerfile's command never ran, so running the build
/// again is what cascade's own builders do too (builder::Error::Kind::runtime_failed).
inline process::Result run_build(const std::vector<std::string>& argv, const process::Options& options = {}) {
  for (int attempt = 1;; ++attempt) {
    auto result = test::run(argv, options);
    std::string output = result.out + result.err;
    bool runtime = false;
    for (const char* phrase : {"sealing memfd copy", "runc create failed", "runc run failed", "OCI runtime"})
      runtime = runtime || output.find(phrase) != std::string::npos;
    if (result.exit_code == 0 || !runtime || attempt == 3) return result;
    std::this_thread::sleep_for(std::chrono::seconds(attempt));
  }
}

/// Runs git in `dir` with a fixed identity and dates, so commits are reproducible;
/// throws with git's stderr when it fails.
inline std::string git(const fs::path& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-C", dir.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  process::Options options;
  options.env = {{"GIT_AUTHOR_NAME", "cascade test"},      {"GIT_AUTHOR_EMAIL", "test@cascade.invalid"},
                 {"GIT_COMMITTER_NAME", "cascade test"},   {"GIT_COMMITTER_EMAIL", "test@cascade.invalid"},
                 {"GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z"}, {"GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z"},
                 {"GIT_CONFIG_NOSYSTEM", "1"},             {"HOME", dir.string()}};
  auto result = test::run(argv, options);
  if (result.exit_code != 0) throw std::runtime_error("git failed: " + result.err);
  return result.out;
}

/// Creates a git repository at `dir` holding `files` (path -> content) in one commit on
/// branch main; returns the commit id.
inline std::string make_repo(const fs::path& dir, const std::map<std::string, std::string>& files) {
  fs::create_directories(dir);
  git(dir, {"init", "-q", "-b", "main"});
  for (const auto& [path, content] : files) write_file(dir / path, content);
  git(dir, {"add", "-A"});
  git(dir, {"commit", "-q", "-m", "initial"});
  std::string head = git(dir, {"rev-parse", "HEAD"});
  return head.substr(0, 40);
}

/// Adds or changes `files` in the repository and commits; returns the new commit id.
inline std::string commit_files(const fs::path& dir, const std::map<std::string, std::string>& files,
                                const std::string& message = "change") {
  for (const auto& [path, content] : files) write_file(dir / path, content);
  git(dir, {"add", "-A"});
  git(dir, {"commit", "-q", "-m", message});
  return git(dir, {"rev-parse", "HEAD"}).substr(0, 40);
}

/// The cascade binary built with the tests ($CASCADE_BINARY overrides).
inline std::string cascade_binary() {
  const char* path = std::getenv("CASCADE_BINARY");
  return path ? path : CASCADE_BINARY_DEFAULT;
}

/// The project's source folder ($CASCADE_SOURCE_DIR overrides).
inline fs::path source_dir() {
  const char* path = std::getenv("CASCADE_SOURCE_DIR");
  return path ? path : CASCADE_SOURCE_DIR_DEFAULT;
}

/// Runs `cascade args...`.
inline process::Result cascade(std::vector<std::string> args, const process::Options& options = {}) {
  args.insert(args.begin(), cascade_binary());
  return test::run(args, options);
}

}  // namespace cascade::test
