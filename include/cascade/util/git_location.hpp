// Where a git repository is: a URL or scp-like address to clone (remote) or a folder on
// this machine (local). One rule, git's own, for the pipeline file and the git module.
#pragma once

#include <string_view>

namespace cascade::util {

/// The scheme of a URL-shaped location, "https" for "https://host/repo": the text before
/// "://" when it is a valid RFC 3986 scheme (a letter, then letters, digits, '+', '-', '.').
/// Empty when `location` is not URL-shaped.
std::string_view url_scheme(std::string_view location);

/// True for a URL with any scheme (https://, http://, ssh://, git://, file://, ...) and for
/// git's scp-like address [user@]host:path (a ':' before the first '/', not at the start and
/// not a drive letter "C:"); false for a path ("/srv/repo", "./repo", "repo", "../a:b", "").
bool is_remote_git_location(std::string_view location);

}  // namespace cascade::util
