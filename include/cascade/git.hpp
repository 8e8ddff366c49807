// Git repositories through libgit2: open local ones, clone/fetch remote ones into a
// cache, resolve refs, and read files straight from the object database at a commit
// (no checkout).
//
// Threads: libgit2 is thread-safe as long as each git_repository is used by one thread at
// a time. A Repository wraps one, so a Repository is used by one thread at a time; open
// one per thread (opening is cheap: about as cheap as reading a few files). Several
// Repository objects, in one process or several, may read the same folder at once.
// clone_or_fetch may run concurrently for the same URL, from threads or processes.
#pragma once

#include <functional>
#include <stop_token>
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
/// Every other function here calls it. Throws std::runtime_error when libgit2 cannot start.
void initialize();

/// True when `location` looks like a URL (scheme://, or scp-like user@host:path) rather than a path
/// (util::is_remote_git_location: the one rule, shared with the pipeline file).
bool is_remote(std::string_view location);

/// The folder a remote URL is cloned to inside `cache_dir` (stable, readable, unique per URL),
/// e.g. "<cache_dir>/github.com-org-repo-1a2b3c4d". Userinfo (user:token@) is left out of
/// both the name and the hash, so URLs differing only in credentials share a folder.
std::string cache_path_for(std::string_view url, std::string_view cache_dir);

/// True for the names container build files usually have: "Dockerfile", "Containerfile",
/// "Dockerfile.<x>", "<x>.Dockerfile" (and the same with Containerfile), in any letter case.
bool is_dockerfile_name(std::string_view name);

/// Chooses the files list_files returns: called once per file with its full path and its
/// last segment (`name`, a view into `path`); both views die when the call returns.
using FileFilter = std::function<bool(std::string_view path, std::string_view name)>;

class Repository {
 public:
  /// Opens a local repository (work tree or bare, or its .git folder); parent folders are
  /// not searched. Fails naming the absolute path when there is no repository there.
  static Expected<Repository, Error> open(const std::string& path);

  /// Clones `url` into the cache (bare), or fetches it when already cloned; then opens it.
  /// The cache mirrors the remote: refs/heads/* and refs/remotes/origin/* are the remote's
  /// branches, refs/tags/* its tags (branches and tags deleted upstream are pruned), and
  /// HEAD follows the remote's default branch. A first clone is made in a temporary folder
  /// and renamed into place; clones and fetches of one URL are serialized by a lock file
  /// (<cache folder>.lock). Credentials, only when the remote asks: ssh, the ssh agent;
  /// https, the token in CASCADE_GIT_TOKEN_<HOST> scoped to the URL's host (e.g.
  /// CASCADE_GIT_TOKEN_GITHUB_COM; user from the URL, else "x-access-token"), then the git
  /// credential helpers (`git credential fill`); each once. Plain http gets no credential
  /// ever: a password in an http URL, or an http remote asking for one, fails saying so.
  /// Redirects to another host are not followed. Fails naming the URL (without
  /// credentials) and the cache folder; no credential appears in a message. `stop` ends the
  /// clone or fetch at libgit2's next callback (a certificate check, a credential request,
  /// each batch of objects or server progress), failing with "cancelled"; a first clone
  /// cut short leaves no folder behind. libgit2 1.5 has no network timeout of its own: a
  /// server that sends nothing at all is only left when the process exits.
  static Expected<Repository, Error> clone_or_fetch(const std::string& url, const std::string& cache_dir,
                                                    std::stop_token stop = {});

  Repository(Repository&&) noexcept;
  Repository& operator=(Repository&&) noexcept;
  Repository(const Repository&) = delete;
  Repository& operator=(const Repository&) = delete;
  ~Repository();

  /// The repository's absolute path as opened (for a clone, its cache folder).
  const std::string& path() const { return path_; }

  /// Resolves a branch, tag (annotated ones peeled), "HEAD", full or abbreviated commit id,
  /// or any git revision expression ("main~2") to a commit id (40 hex). A name that matches
  /// nothing else falls back to the remote-tracking branch refs/remotes/origin/<ref>.
  /// Fails naming the ref and the repository, listing up to 10 branches when not found.
  Expected<std::string, Error> resolve(const std::string& ref) const;

  /// Every blob path (files and symlinks, '/'-separated, no folders, no submodules) in the
  /// commit's tree, sorted. `commit` is a commit id (full, or abbreviated and unambiguous).
  /// Fails naming the commit when it is missing or unreadable.
  Expected<std::vector<std::string>, Error> list_files(const std::string& commit) const;

  /// list_files keeping only the paths `keep` accepts; the fast path for scans, as paths
  /// are built in one reused buffer and only kept ones are copied. E.g. with
  /// [](auto, auto name) { return is_dockerfile_name(name); }.
  Expected<std::vector<std::string>, Error> list_files(const std::string& commit, const FileFilter& keep) const;

  /// The content of the file at `path` in the commit, byte for byte. A symlink is followed
  /// inside the commit's tree (relative targets, up to 8 hops), as a checkout would read it.
  /// Fails naming the path, the commit (short) and the repository when the path is
  /// missing, a folder or a submodule, or a symlink leads outside the tree or nowhere.
  Expected<std::string, Error> read_file(const std::string& commit, const std::string& path) const;

  /// Writes the subtree `folder` ("" or "." for the root) of the commit into `destination`
  /// (created; existing files with the same names are replaced), with executable bits and
  /// symlinks as in git; a submodule becomes an empty folder. Fails naming the folder when
  /// it is missing or not a folder, or when writing fails.
  Expected<void, Error> export_tree(const std::string& commit, const std::string& folder,
                                    const std::string& destination) const;

 private:
  Repository(git_repository* repo, std::string path);
  git_repository* repo_ = nullptr;  // owned; null only in a moved-from Repository
  std::string path_;
};

}  // namespace cascade::git
