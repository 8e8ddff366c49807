// Internal to the pipeline module: the path and URL rules of the pipeline file.
#pragma once

#include <string>
#include <string_view>

#include "cascade/pipeline.hpp"

namespace cascade::pipeline::detail {

/// A local path made absolute and lexically normal: '~' and '~/...' expand to `env.home`,
/// a relative path resolves against `directory`. Fails when '~' cannot be expanded.
Expected<std::string, std::string> resolve_local(std::string_view path, std::string_view directory,
                                                 const Environment& env);

/// How a source's `git:` value is to be read.
enum class GitLocation { local, remote };

/// Classifies a `git:` value: a URL (https://, http://, ssh://, git://, file://, or scp-like
/// user@host:path, as git itself decides) is remote, anything else a local path. Fails on
/// another URL scheme or a URL that carries a password.
Expected<GitLocation, std::string> classify_git(std::string_view git);

/// A TCP port: 0-65535, digits only.
bool valid_port(std::string_view text);

/// A host name or IPv4 address: letters, digits, '.' and '-'.
bool valid_hostname(std::string_view host);

/// "host:port" or "[v6]:port".
bool valid_host_port(std::string_view text);

/// A path inside a repository, normalized: '.' and empty segments dropped, "" for the root.
/// Fails on an absolute path or a '..' segment.
Expected<std::string, std::string> repository_path(std::string_view path);

/// The folder of a repository path: "debian/Dockerfile" -> "debian", "Dockerfile" -> ".".
std::string folder_of(std::string_view path);

}  // namespace cascade::pipeline::detail
