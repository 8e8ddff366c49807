// Shared by the git module's sources: owning handles for libgit2 objects, error text,
// and looking up a commit's tree.
#pragma once

#include <git2.h>

#include <memory>
#include <string>
#include <string_view>

#include "cascade/git.hpp"

namespace cascade::git::detail {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* handle) const { Free(handle); }
};

using BlobPtr = std::unique_ptr<git_blob, Deleter<git_blob_free>>;
using CommitPtr = std::unique_ptr<git_commit, Deleter<git_commit_free>>;
using ObjectPtr = std::unique_ptr<git_object, Deleter<git_object_free>>;
using ReferencePtr = std::unique_ptr<git_reference, Deleter<git_reference_free>>;
using RemotePtr = std::unique_ptr<git_remote, Deleter<git_remote_free>>;
using RepositoryPtr = std::unique_ptr<git_repository, Deleter<git_repository_free>>;
using TreeEntryPtr = std::unique_ptr<git_tree_entry, Deleter<git_tree_entry_free>>;
using TreePtr = std::unique_ptr<git_tree, Deleter<git_tree_free>>;

/// libgit2's message for the last failure on this thread, or "libgit2 error <code>".
std::string last_error(int code);

inline Unexpected<Error> fail(std::string message) { return unexpected(Error{std::move(message)}); }

/// The first 12 characters of a commit id, for messages.
inline std::string short_id(std::string_view commit) { return std::string(commit.substr(0, 12)); }

/// The root tree of `commit` (a commit id, full or abbreviated); fails naming the commit
/// and `repo_path`.
Expected<TreePtr, Error> commit_tree(git_repository* repo, const std::string& repo_path, const std::string& commit);

}  // namespace cascade::git::detail
