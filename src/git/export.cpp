// Writing a commit's subtree to a folder (a build context without a checkout).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "internal.hpp"

namespace cascade::git {

using namespace detail;

namespace {

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

/// A tree entry name that stays inside its folder ("..", "a/b" and the like do not).
bool is_safe_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

/// Writes one tree's entries under `folder` (which exists); fails with the offending path.
class TreeWriter {
 public:
  explicit TreeWriter(git_repository* repo) : repo_(repo) {}

  Expected<void, std::string> write(const git_tree* tree, const std::string& folder) {
    std::size_t count = git_tree_entrycount(tree);
    for (std::size_t i = 0; i < count; ++i) {
      const git_tree_entry* entry = git_tree_entry_byindex(tree, i);
      std::string_view name = git_tree_entry_name(entry);
      if (!is_safe_name(name)) return unexpected("unsafe entry name '" + std::string(name) + "' in " + folder);
      std::string path = folder + "/" + std::string(name);
      CASCADE_TRY(write_entry(entry, path));
    }
    return {};
  }

 private:
  Expected<void, std::string> write_entry(const git_tree_entry* entry, const std::string& path) {
    switch (git_tree_entry_filemode(entry)) {
      case GIT_FILEMODE_TREE: return write_folder(entry, path);
      case GIT_FILEMODE_COMMIT: return make_folder(path);
      case GIT_FILEMODE_LINK: return write_blob(entry, path, /*symlink=*/true, 0);
      case GIT_FILEMODE_BLOB_EXECUTABLE: return write_blob(entry, path, false, 0755);
      default: return write_blob(entry, path, false, 0644);
    }
  }

  Expected<void, std::string> make_folder(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) == 0) return {};
    int error = errno;
    struct stat status;
    if (error == EEXIST && ::lstat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode)) return {};
    if (error == EEXIST) return unexpected("cannot create folder " + path + ": something else is in the way");
    return unexpected("cannot create folder " + path + ": " + errno_text(error));
  }

  Expected<void, std::string> write_folder(const git_tree_entry* entry, const std::string& path) {
    CASCADE_TRY(make_folder(path));
    git_tree* subtree = nullptr;
    if (int code = git_tree_lookup(&subtree, repo_, git_tree_entry_id(entry)); code < 0) {
      return unexpected("cannot read the tree for " + path + ": " + last_error(code));
    }
    TreePtr owned(subtree);
    return write(subtree, path);
  }

  Expected<void, std::string> write_blob(const git_tree_entry* entry, const std::string& path, bool symlink,
                                         mode_t mode) {
    git_blob* raw_blob = nullptr;
    if (int code = git_blob_lookup(&raw_blob, repo_, git_tree_entry_id(entry)); code < 0) {
      return unexpected("cannot read the blob for " + path + ": " + last_error(code));
    }
    BlobPtr blob(raw_blob);
    const char* data = static_cast<const char*>(git_blob_rawcontent(blob.get()));
    auto size = static_cast<std::size_t>(git_blob_rawsize(blob.get()));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return unexpected("cannot replace " + path + ": " + errno_text(errno));
    }
    if (symlink) {
      if (::symlink(std::string(data, size).c_str(), path.c_str()) != 0) {
        return unexpected("cannot create symlink " + path + ": " + errno_text(errno));
      }
      return {};
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) return unexpected("cannot create " + path + ": " + errno_text(errno));
    while (size > 0) {
      ssize_t count = ::write(fd, data, size);
      if (count < 0 && errno == EINTR) continue;
      if (count < 0) {
        int error = errno;
        ::close(fd);
        return unexpected("cannot write " + path + ": " + errno_text(error));
      }
      data += count;
      size -= static_cast<std::size_t>(count);
    }
    if (::close(fd) != 0) return unexpected("cannot write " + path + ": " + errno_text(errno));
    return {};
  }

  git_repository* repo_;
};

}  // namespace

Expected<void, Error> Repository::export_tree(const std::string& commit, const std::string& folder,
                                              const std::string& destination) const {
  std::string shown_folder = folder.empty() ? "." : folder;
  std::string context = "cannot export folder '" + shown_folder + "' of commit " + short_id(commit) + " in " + path_;
  CASCADE_TRY_ASSIGN(auto root, commit_tree(repo_, path_, commit));
  std::string relative = std::filesystem::path(folder).lexically_normal().generic_string();
  while (relative.ends_with('/')) relative.pop_back();
  TreePtr subtree;
  if (relative.empty() || relative == ".") {
    subtree = std::move(root);
  } else {
    git_tree_entry* raw_entry = nullptr;
    int code = git_tree_entry_bypath(&raw_entry, root.get(), relative.c_str());
    if (code == GIT_ENOTFOUND) return fail(context + ": the folder does not exist at that commit");
    if (code < 0) return fail(context + ": " + last_error(code));
    TreeEntryPtr entry(raw_entry);
    if (git_tree_entry_type(entry.get()) != GIT_OBJECT_TREE) return fail(context + ": it is not a folder");
    git_tree* raw_tree = nullptr;
    if ((code = git_tree_lookup(&raw_tree, repo_, git_tree_entry_id(entry.get()))) < 0) {
      return fail(context + ": " + last_error(code));
    }
    subtree.reset(raw_tree);
  }
  std::error_code error;
  std::filesystem::create_directories(destination, error);
  if (error) return fail(context + ": cannot create " + destination + ": " + error.message());
  std::string target = destination;
  while (target.size() > 1 && target.ends_with('/')) target.pop_back();
  auto written = TreeWriter(repo_).write(subtree.get(), target);
  if (!written) return fail(context + " to " + destination + ": " + written.error());
  return {};
}

}  // namespace cascade::git
