// Paths in the pipeline file: '~' expanded from HOME, local paths resolved against the file's
// folder, a source's git location classified (remote URL or local repository) and checked,
// host:port forms.
#include "paths.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "cascade/util/git_location.hpp"

namespace cascade::pipeline::detail {

namespace fs = std::filesystem;

namespace {

Expected<std::string, std::string> expand_home(std::string_view path, const Environment& env) {
  if (path.empty() || path.front() != '~') return std::string(path);
  if (path.size() > 1 && path[1] != '/')
    return unexpected(std::string("'~user' paths are not supported: write the full path"));
  if (env.home.empty()) return unexpected(std::string("cannot expand '~': HOME is not set; write the full path"));
  return env.home + std::string(path.substr(1));
}

std::string without_trailing_slash(std::string text) {
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

}  // namespace

Expected<std::string, std::string> resolve_local(std::string_view path, std::string_view directory,
                                                 const Environment& env) {
  CASCADE_TRY_ASSIGN(auto expanded, expand_home(path, env));
  fs::path resolved = fs::path(expanded);
  if (resolved.is_relative()) resolved = fs::path(directory) / resolved;
  return without_trailing_slash(resolved.lexically_normal().string());
}

Expected<GitLocation, std::string> classify_git(std::string_view git) {
  if (std::string_view scheme = util::url_scheme(git); !scheme.empty()) {
    if (scheme != "https" && scheme != "http" && scheme != "ssh" && scheme != "git" && scheme != "file")
      return unexpected("unsupported URL scheme '" + std::string(scheme) +
                        "': use https://, ssh://, git://, file://, user@host:path or a local path");
    std::string_view authority = git.substr(scheme.size() + 3);
    authority = authority.substr(0, authority.find('/'));
    std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos)
      return unexpected(std::string("the URL carries a password: remove it and use a git credential helper "
                                    "or an SSH key; secrets do not belong in the pipeline file"));
  }
  return util::is_remote_git_location(git) ? GitLocation::remote : GitLocation::local;
}

bool valid_port(std::string_view text) {
  bool digits = !text.empty() && text.size() <= 5 &&
                std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  return digits && std::stoul(std::string(text)) <= 65535;
}

bool valid_hostname(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-';
  });
}

bool valid_host_port(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return false;
    std::string_view v6 = text.substr(1, close - 1);
    bool valid_v6 = v6.find(':') != std::string_view::npos && std::all_of(v6.begin(), v6.end(), [](char ch) {
                      return std::isxdigit(static_cast<unsigned char>(ch)) || ch == ':' || ch == '.';
                    });
    return valid_v6 && valid_port(text.substr(close + 2));
  }
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  return valid_hostname(text.substr(0, colon)) && valid_port(text.substr(colon + 1));
}

Expected<std::string, std::string> repository_path(std::string_view path) {
  if (!path.empty() && path.front() == '/')
    return unexpected(std::string("must be relative to the repository root: remove the leading '/'"));
  std::string normalized;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    std::string_view segment = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment == "..") return unexpected(std::string("must stay inside the repository: remove the '..'"));
    if (!segment.empty() && segment != ".") {
      if (!normalized.empty()) normalized += '/';
      normalized += segment;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return normalized;
}

std::string folder_of(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string(".") : std::string(path.substr(0, slash));
}

}  // namespace cascade::pipeline::detail
