// Opening local repositories, resolving refs, and reading files at a commit.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include "internal.hpp"
#include "cascade/util/text.hpp"

namespace cascade::git {

namespace fs = std::filesystem;
using namespace detail;

void initialize() {
  static std::once_flag once;
  std::call_once(once, [] {
    int code = git_libgit2_init();
    if (code < 0) throw std::runtime_error("cannot initialize libgit2: " + last_error(code));
    // libgit2 caches only trees under 4 KB by default; a scan reads many files under the
    // same large folders, which would be inflated and parsed again for every file.
    git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, static_cast<size_t>(1) << 20);
    git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_COMMIT, static_cast<size_t>(1) << 20);
    // Like git itself, trust the local object database instead of hashing every object read
    // again (a tenth of a scan's time); packs are still checked by zlib and their index.
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
  });
}

namespace detail {

std::string last_error(int code) {
  const git_error* error = git_error_last();
  if (error && error->message && *error->message) return error->message;
  return "libgit2 error " + std::to_string(code);
}

namespace {

bool is_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

}  // namespace

Expected<TreePtr, Error> commit_tree(git_repository* repo, const std::string& repo_path, const std::string& commit) {
  if (commit.size() < GIT_OID_MINPREFIXLEN || commit.size() > GIT_OID_HEXSZ || !is_hex(commit)) {
    return fail("'" + commit + "' is not a commit id (resolve the ref first) in " + repo_path);
  }
  git_oid oid;
  git_oid_fromstrn(&oid, commit.data(), commit.size());
  git_commit* raw_commit = nullptr;
  int code = commit.size() == GIT_OID_HEXSZ ? git_commit_lookup(&raw_commit, repo, &oid)
                                             : git_commit_lookup_prefix(&raw_commit, repo, &oid, commit.size());
  if (code == GIT_ENOTFOUND) return fail("commit " + short_id(commit) + " not found in " + repo_path);
  if (code < 0) return fail("cannot read commit " + short_id(commit) + " in " + repo_path + ": " + last_error(code));
  CommitPtr owned_commit(raw_commit);
  git_tree* tree = nullptr;
  code = git_commit_tree(&tree, owned_commit.get());
  if (code < 0) {
    return fail("cannot read the tree of commit " + short_id(commit) + " in " + repo_path + ": " + last_error(code));
  }
  return TreePtr(tree);
}

}  // namespace detail

namespace {

/// A name matching `stem`, `stem.<x>` or `<x>.stem`, ignoring letter case.
bool matches_stem(std::string_view name, std::string_view stem) {
  if (name.size() < stem.size()) return false;
  if (name.size() == stem.size()) return util::iequals(name, stem);
  if (name.size() > stem.size() + 1) {
    if (name[stem.size()] == '.' && util::iequals(name.substr(0, stem.size()), stem)) return true;
    std::size_t dot = name.size() - stem.size() - 1;
    if (name[dot] == '.' && util::iequals(name.substr(dot + 1), stem)) return true;
  }
  return false;
}

/// Up to 10 branch names for a "not found" message: local branches, else remote ones.
std::string branch_summary(git_repository* repo) {
  std::vector<std::string> names;
  for (git_branch_t kind : {GIT_BRANCH_LOCAL, GIT_BRANCH_REMOTE}) {
    git_branch_iterator* iterator = nullptr;
    if (git_branch_iterator_new(&iterator, repo, kind) < 0) break;
    git_reference* ref = nullptr;
    git_branch_t type;
    while (git_branch_next(&ref, &type, iterator) == 0) {
      const char* name = nullptr;
      if (git_branch_name(&name, ref) == 0 && !std::string_view(name).ends_with("/HEAD")) names.emplace_back(name);
      git_reference_free(ref);
    }
    git_branch_iterator_free(iterator);
    if (!names.empty()) break;
  }
  if (names.empty()) return "no branches";
  std::sort(names.begin(), names.end());
  std::string summary = "branches: ";
  std::size_t shown = std::min<std::size_t>(names.size(), 10);
  for (std::size_t i = 0; i < shown; ++i) summary += (i ? ", " : "") + names[i];
  if (names.size() > shown) summary += ", and " + std::to_string(names.size() - shown) + " more";
  return summary;
}

/// Walks a tree depth-first in git's entry order, which yields full paths in sorted order.
class FileLister {
 public:
  FileLister(git_repository* repo, const FileFilter* keep) : repo_(repo), keep_(keep) {}

  /// Appends the kept blob paths under `tree`; a negative libgit2 code (error set) on failure.
  int walk(const git_tree* tree, int depth = 0) {
    if (depth > kMaxDepth) {
      git_error_set_str(GIT_ERROR_INVALID, "the tree is nested more than 1000 folders deep");
      return -1;
    }
    std::size_t count = git_tree_entrycount(tree);
    for (std::size_t i = 0; i < count; ++i) {
      const git_tree_entry* entry = git_tree_entry_byindex(tree, i);
      std::string_view name = git_tree_entry_name(entry);
      std::size_t parent_size = path_.size();
      path_.append(name);
      int code = 0;
      switch (git_tree_entry_type(entry)) {
        case GIT_OBJECT_BLOB: keep(parent_size); break;
        case GIT_OBJECT_TREE: code = descend(entry, depth); break;
        default: break;  // a submodule: its files live in another repository
      }
      path_.resize(parent_size);
      if (code < 0) return code;
    }
    return 0;
  }

  std::vector<std::string> take() { return std::move(paths_); }

 private:
  static constexpr int kMaxDepth = 1000;

  void keep(std::size_t parent_size) {
    std::string_view path = path_;
    if (!keep_ || (*keep_)(path, path.substr(parent_size))) paths_.push_back(path_);
  }

  int descend(const git_tree_entry* entry, int depth) {
    git_tree* subtree = nullptr;
    int code = git_tree_lookup(&subtree, repo_, git_tree_entry_id(entry));
    if (code < 0) return code;
    TreePtr owned(subtree);
    path_.push_back('/');
    return walk(subtree, depth + 1);
  }

  git_repository* repo_;
  const FileFilter* keep_;
  std::string path_;  // the current entry's path, reused for every entry
  std::vector<std::string> paths_;
};

/// `path` without "./" prefixes and with "." / ".." segments applied; empty when it
/// leaves the root.
std::optional<std::string> normalize(std::string_view path) {
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    std::size_t slash = path.find('/');
    std::string_view segment = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (segments.empty()) return std::nullopt;
      segments.pop_back();
    } else {
      segments.push_back(segment);
    }
  }
  std::string joined;
  for (std::string_view segment : segments) (joined.empty() ? joined : joined += '/') += segment;
  return joined;
}

}  // namespace

bool is_dockerfile_name(std::string_view name) {
  return matches_stem(name, "Dockerfile") || matches_stem(name, "Containerfile");
}

Repository::Repository(git_repository* repo, std::string path) : repo_(repo), path_(std::move(path)) {}

Repository::Repository(Repository&& other) noexcept
    : repo_(std::exchange(other.repo_, nullptr)), path_(std::move(other.path_)) {}

Repository& Repository::operator=(Repository&& other) noexcept {
  if (this != &other) {
    git_repository_free(repo_);
    repo_ = std::exchange(other.repo_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Repository::~Repository() { git_repository_free(repo_); }

Expected<Repository, Error> Repository::open(const std::string& path) {
  initialize();
  std::error_code ignored;
  fs::path absolute = fs::absolute(path.empty() ? "." : path, ignored).lexically_normal();
  std::string shown = absolute.string();
  if (shown.size() > 1 && shown.ends_with('/')) shown.pop_back();
  git_repository* repo = nullptr;
  int code = git_repository_open_ext(&repo, shown.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
  if (code == GIT_ENOTFOUND) {
    std::string reason = !fs::exists(absolute, ignored)      ? "the path does not exist"
                         : !fs::is_directory(absolute, ignored) ? "the path is not a folder"
                                                                : "the folder is neither a work tree nor a bare repository";
    return fail("no git repository at " + shown + " (" + reason + ")");
  }
  if (code < 0) return fail("cannot open the git repository at " + shown + ": " + last_error(code));
  return Repository(repo, std::move(shown));
}

Expected<std::string, Error> Repository::resolve(const std::string& ref) const {
  if (ref.empty()) return fail("empty ref given for " + path_);
  git_object* object = nullptr;
  int code = git_revparse_single(&object, repo_, ref.c_str());
  if (code == GIT_ENOTFOUND) {
    std::string remote_branch = "refs/remotes/origin/" + ref;
    if (git_revparse_single(&object, repo_, remote_branch.c_str()) == 0) code = 0;
  }
  if (code == GIT_ENOTFOUND || code == GIT_EUNBORNBRANCH) {
    if (ref == "HEAD" && git_repository_head_unborn(repo_) == 1) {
      return fail("ref 'HEAD' not found in " + path_ + " (the repository has no commits yet)");
    }
    return fail("ref '" + ref + "' not found in " + path_ + " (" + branch_summary(repo_) + ")");
  }
  if (code == GIT_EAMBIGUOUS) return fail("ref '" + ref + "' is ambiguous in " + path_ + ": " + last_error(code));
  if (code < 0) return fail("cannot resolve ref '" + ref + "' in " + path_ + ": " + last_error(code));
  ObjectPtr owned(object);
  git_object* commit = nullptr;
  code = git_object_peel(&commit, owned.get(), GIT_OBJECT_COMMIT);
  if (code < 0) {
    std::string kind = git_object_type2string(git_object_type(owned.get()));
    return fail("ref '" + ref + "' in " + path_ + " names a " + kind + ", not a commit");
  }
  ObjectPtr owned_commit(commit);
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, git_object_id(commit));
  return std::string(hex);
}

Expected<std::vector<std::string>, Error> Repository::list_files(const std::string& commit) const {
  return list_files(commit, FileFilter());
}

Expected<std::vector<std::string>, Error> Repository::list_files(const std::string& commit,
                                                                 const FileFilter& keep) const {
  CASCADE_TRY_ASSIGN(auto tree, commit_tree(repo_, path_, commit));
  FileLister lister(repo_, keep ? &keep : nullptr);
  if (int code = lister.walk(tree.get()); code < 0) {
    return fail("cannot list the files of commit " + short_id(commit) + " in " + path_ + ": " + last_error(code));
  }
  std::vector<std::string> paths = lister.take();
  if (!std::is_sorted(paths.begin(), paths.end())) std::sort(paths.begin(), paths.end());  // a malformed tree
  return paths;
}

Expected<std::string, Error> Repository::read_file(const std::string& commit, const std::string& path) const {
  CASCADE_TRY_ASSIGN(auto tree, commit_tree(repo_, path_, commit));
  std::string where = " at commit " + short_id(commit) + " in " + path_;
  std::optional<std::string> current = normalize(path);
  if (!current || current->empty()) return fail("'" + path + "' is not a file path" + where);
  constexpr int kMaxSymlinkHops = 8;
  for (int hop = 0; hop <= kMaxSymlinkHops; ++hop) {
    git_tree_entry* raw_entry = nullptr;
    int code = git_tree_entry_bypath(&raw_entry, tree.get(), current->c_str());
    std::string named = hop == 0 ? "file '" + path + "'" : "file '" + path + "' (a symlink to '" + *current + "')";
    if (code == GIT_ENOTFOUND) return fail(named + " not found" + where);
    if (code < 0) return fail("cannot read " + named + where + ": " + last_error(code));
    TreeEntryPtr entry(raw_entry);
    git_filemode_t mode = git_tree_entry_filemode(entry.get());
    if (mode == GIT_FILEMODE_TREE) return fail(named + " is a folder, not a file" + where);
    if (mode == GIT_FILEMODE_COMMIT) return fail(named + " is a submodule, not a file" + where);
    git_blob* raw_blob = nullptr;
    code = git_blob_lookup(&raw_blob, repo_, git_tree_entry_id(entry.get()));
    if (code < 0) return fail("cannot read " + named + where + ": " + last_error(code));
    BlobPtr blob(raw_blob);
    std::string content(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                        static_cast<std::size_t>(git_blob_rawsize(blob.get())));
    if (mode != GIT_FILEMODE_LINK) return content;
    std::size_t slash = current->rfind('/');
    std::string folder = slash == std::string::npos ? "" : current->substr(0, slash);
    std::optional<std::string> target = content.starts_with('/') ? std::nullopt : normalize(folder + "/" + content);
    if (!target || target->empty()) {
      return fail(named + " is a symlink to '" + content + "', outside the repository's tree" + where);
    }
    current = std::move(target);
  }
  return fail("file '" + path + "' is a chain of more than 8 symlinks" + where);
}

}  // namespace cascade::git
