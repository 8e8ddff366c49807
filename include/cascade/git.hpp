// Git repositories through libgit2: open local ones, clone/fetch remote ones into a
// cache, resolve refs, and read files straight from the object database at a commit
// (no checkout). A Repository is used by one thread at a time; open one per thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/util/expected.hpp"

struct git_repository;

namespace cascade::git {

struct Error {
  std::string message;  // names the repository (and ref or path) and what went wrong
};

/// Initializes libgit2 once per process; safe to call from any thread, any number of times.
void initialize();

/// True when `location` looks like a URL (scheme://, or scp-like user@host:path) rather than a path.
bool is_remote(std::string_view location);

/// The folder a remote URL is cloned to inside `cache_dir` (stable, readable, unique per URL).
std::string cache_path_for(std::string_view url, std::string_view cache_dir);

class Repository {
 public:
  /// Opens a local repository (work tree or bare); fails when there is none at `path`.
  static Expected<Repository, Error> open(const std::string& path);
  /// Clones `url` into the cache (bare), or fetches it when already cloned; then opens it.
  static Expected<Repository, Error> clone_or_fetch(const std::string& url, const std::string& cache_dir);

  Repository(Repository&&) noexcept;
  Repository& operator=(Repository&&) noexcept;
  ~Repository();

  /// The repository's path as opened.
  const std::string& path() const { return path_; }

  /// Resolves a branch, tag, "HEAD", full or abbreviated commit id (or remote branch
  /// "origin/x" in a cached clone) to a commit id (40 hex); fails naming the ref.
  Expected<std::string, Error> resolve(const std::string& ref) const;

  /// Every blob path (files and symlinks, '/'-separated) in the commit's tree, sorted.
  Expected<std::vector<std::string>, Error> list_files(const std::string& commit) const;

  /// The content of the blob at `path` in the commit; fails when missing or not a file.
  Expected<std::string, Error> read_file(const std::string& commit, const std::string& path) const;

  /// Writes the subtree `folder` ("" or "." for the root) of the commit into `destination`
  /// (created), with file modes and symlinks; fails when the folder is missing.
  Expected<void, Error> export_tree(const std::string& commit, const std::string& folder,
                                    const std::string& destination) const;

 private:
  Repository(git_repository* repo, std::string path);
  git_repository* repo_ = nullptr;
  std::string path_;
};

}  // namespace cascade::git
