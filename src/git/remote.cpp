// Remote repositories: URL shapes, the clone cache's folder names, and clone-or-fetch with
// credentials scoped per host (credentials.hpp).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "cascade/process.hpp"
#include "cascade/util/git_location.hpp"
#include "credentials.hpp"
#include "internal.hpp"

namespace cascade::git {

namespace fs = std::filesystem;
using namespace detail;

namespace {

constexpr const char* kFetchRefspecs[] = {
    "+refs/heads/*:refs/remotes/origin/*",
    "+refs/tags/*:refs/tags/*",
    "+refs/heads/*:refs/heads/*",  // local branches mirror the remote's, so "main" is fresh
};

/// The parts of a URL this file needs: the text without userinfo, and the password
/// (to scrub it from libgit2's messages).
struct UrlParts {
  std::string without_userinfo;
  std::string password;
};

UrlParts split_userinfo(std::string_view url) {
  std::size_t scheme = url.find("://");
  std::size_t authority = scheme == std::string_view::npos ? 0 : scheme + 3;
  std::size_t authority_end = url.find_first_of("/?#", authority);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::size_t at = url.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos || at < authority) return {std::string(url), ""};
  std::string_view userinfo = url.substr(authority, at - authority);
  std::size_t colon = userinfo.find(':');
  std::string password = colon == std::string_view::npos ? "" : std::string(userinfo.substr(colon + 1));
  return {std::string(url.substr(0, authority)) + std::string(url.substr(at + 1)), password};
}

/// `text` with every occurrence of each secret replaced by "***".
std::string scrub(std::string text, const std::vector<std::string>& secrets) {
  for (std::string_view secret : secrets) {
    if (secret.empty()) continue;
    for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

/// FNV-1a: a hash that stays the same across runs, builds and machines.
std::uint64_t stable_hash(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

/// "host/org/repo" from a URL without userinfo: scheme, query, "/" and ".git" ends dropped.
std::string host_and_path(std::string_view url) {
  if (std::size_t scheme = url.find("://"); scheme != std::string_view::npos) {
    url.remove_prefix(scheme + 3);
  } else if (std::size_t at = url.find('@'); at != std::string_view::npos && at < url.find(':')) {
    url.remove_prefix(at + 1);  // scp-like user@host:path
  }
  url = url.substr(0, url.find_first_of("?#"));
  while (url.ends_with('/')) url.remove_suffix(1);
  if (url.ends_with(".git")) url.remove_suffix(4);
  return std::string(url);
}

/// Letters, digits, '.' and '_' kept; runs of anything else become one '-'; no '-' or '.'
/// at either end; at most 80 characters.
std::string readable_name(std::string_view text) {
  std::string name;
  for (unsigned char c : text) {
    bool keep = std::isalnum(c) || c == '.' || c == '_';
    if (keep) name += static_cast<char>(c);
    else if (!name.empty() && name.back() != '-') name += '-';
    if (name.size() >= 80) break;
  }
  auto trimmed = [](char c) { return c == '-' || c == '.'; };
  while (!name.empty() && trimmed(name.back())) name.pop_back();
  std::size_t start = 0;
  while (start < name.size() && trimmed(name[start])) ++start;
  name.erase(0, start);
  return name.empty() ? "repo" : name;
}

/// Holds an exclusive flock on a file while alive; serializes clones and fetches of one
/// URL across threads and processes (each holder opens the file itself).
class FileLock {
 public:
  static Expected<FileLock, std::string> acquire(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return unexpected("cannot open lock file " + path + ": " + errno_text(errno));
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      int error = errno;
      ::close(fd);
      return unexpected("cannot lock " + path + ": " + errno_text(error));
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  static std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }
  int fd_;
};

/// The credentials callback's state for one fetch: the ssh agent for ssh, and for https
/// what decide() chooses; each offered once, so a rejected credential ends in an
/// authentication error, not a loop. `secrets` collects what was sent, to scrub messages.
struct CredentialState {
  std::stop_token stop;  // asked between libgit2's network steps: a fetch ends at the next one
  bool tried_agent = false;
  Attempts attempts;
  bool helper_available = false;
  std::vector<std::string> secrets;
};

std::optional<std::string> environment_variable(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value ? std::optional<std::string>(value) : std::nullopt;
}

int refuse_credentials(const std::string& message) {
  git_error_set_str(GIT_ERROR_HTTP, message.c_str());
  return GIT_EAUTH;
}

int cancelled() {
  git_error_set_str(GIT_ERROR_NET, "cancelled (cascade is stopping)");
  return GIT_EUSER;
}

int check_stop(const git_indexer_progress*, void* payload) {
  return static_cast<CredentialState*>(payload)->stop.stop_requested() ? cancelled() : 0;
}

int check_stop_sideband(const char*, int, void* payload) { return check_stop(nullptr, payload); }

int check_stop_certificate(git_cert*, int, const char*, void* payload) {
  return check_stop(nullptr, payload) < 0 ? GIT_EUSER : GIT_PASSTHROUGH;
}

int offer_credentials(git_credential** out, const char* url, const char* username_from_url,
                      unsigned int allowed_types, void* payload) {
  auto* state = static_cast<CredentialState*>(payload);
  if (state->stop.stop_requested()) return cancelled();
  if ((allowed_types & GIT_CREDENTIAL_SSH_KEY) && !state->tried_agent) {
    state->tried_agent = true;
    return git_credential_ssh_key_from_agent(out, username_from_url ? username_from_url : "git");
  }
  if (!(allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT)) return GIT_PASSTHROUGH;
  std::string_view user_in_url = username_from_url ? username_from_url : "";
  for (;;) {
    Decision decision = decide(url ? url : "", user_in_url, state->attempts, environment_variable,
                               state->helper_available);
    if (decision.offer == Offer::refuse) return refuse_credentials(decision.message);
    if (decision.offer == Offer::token) {
      state->attempts.token = state->attempts.offered = true;
      std::string token = environment_variable(decision.variable).value_or("");
      state->secrets.push_back(token);
      return git_credential_userpass_plaintext_new(out, decision.username.c_str(), token.c_str());
    }
    state->attempts.helper = true;
    if (auto found = credential_from_helper(url ? url : "", user_in_url)) {
      state->attempts.offered = true;
      state->secrets.push_back(found->password);
      return git_credential_userpass_plaintext_new(out, found->username.c_str(), found->password.c_str());
    }
  }
}

/// Fetches every branch and tag of `url` into `repo`, prunes what is gone upstream, and
/// points HEAD at the remote's default branch. Returns libgit2's code (its error set).
/// The remote is an in-memory one: libgit2 1.5 leaks PCRE2 match data for every config
/// key a regex misses, and both git_remote_lookup and url.<x>.insteadOf rewriting (hence
/// skipped) run such regexes over the whole configuration.
int fetch_all(git_repository* repo, const std::string& url, CredentialState& credentials) {
  git_remote_create_options create = GIT_REMOTE_CREATE_OPTIONS_INIT;
  create.repository = repo;
  create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  git_remote* raw_remote = nullptr;
  int code = git_remote_create_with_opts(&raw_remote, url.c_str(), &create);
  if (code < 0) return code;
  RemotePtr remote(raw_remote);
  git_fetch_options options = GIT_FETCH_OPTIONS_INIT;
  options.callbacks.credentials = offer_credentials;
  options.callbacks.transfer_progress = check_stop;
  options.callbacks.sideband_progress = check_stop_sideband;
  options.callbacks.certificate_check = check_stop_certificate;
  options.callbacks.payload = &credentials;
  options.prune = GIT_FETCH_PRUNE;
  options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
  options.update_fetchhead = 0;
  options.proxy_opts.type = GIT_PROXY_AUTO;
  // The credentials callback sees the URL the remote was made with, not where a redirect
  // led: a redirect to another host would carry that host's credentials along.
  options.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
  git_strarray refspecs = {const_cast<char**>(kFetchRefspecs), std::size(kFetchRefspecs)};
  if ((code = git_remote_fetch(remote.get(), &refspecs, &options, "cascade: fetch")) < 0) return code;
  git_buf default_branch = GIT_BUF_INIT;
  if (git_remote_default_branch(&default_branch, remote.get()) == 0) {
    code = git_repository_set_head(repo, default_branch.ptr);
    git_buf_dispose(&default_branch);
    return code;
  }
  git_error_clear();
  return 0;  // an empty remote, or one that does not say: HEAD stays where it was
}

/// Makes a bare repository at `folder`, noting `stored_url` (without credentials) as
/// remote.origin.url so a person can tell which URL a cache folder holds.
int init_cache(const std::string& folder, const std::string& stored_url, RepositoryPtr& repo) {
  git_repository* raw_repo = nullptr;
  int code = git_repository_init(&raw_repo, folder.c_str(), /*is_bare=*/1);
  if (code < 0) return code;
  repo.reset(raw_repo);
  git_config* config = nullptr;
  if ((code = git_repository_config(&config, repo.get())) < 0) return code;
  code = git_config_set_string(config, "remote.origin.url", stored_url.c_str());
  git_config_free(config);
  return code;
}

}  // namespace

bool is_remote(std::string_view location) { return util::is_remote_git_location(location); }

std::string cache_path_for(std::string_view url, std::string_view cache_dir) {
  std::string plain_url = split_userinfo(url).without_userinfo;
  char hash[9];
  std::snprintf(hash, sizeof hash, "%08" PRIx32, static_cast<std::uint32_t>(stable_hash(plain_url) >> 32));
  std::string name = readable_name(host_and_path(plain_url)) + "-" + hash;
  return (fs::path(cache_dir) / name).string();
}

Expected<Repository, Error> Repository::clone_or_fetch(const std::string& url, const std::string& cache_dir,
                                                      std::stop_token stop) {
  initialize();
  UrlParts parts = split_userinfo(url);
  std::string folder = cache_path_for(url, cache_dir);
  CredentialState credentials;
  credentials.stop = std::move(stop);
  credentials.secrets.push_back(parts.password);
  auto failure = [&](const std::string& what, const std::string& detail) {
    return fail(scrub(what + " " + parts.without_userinfo + " into " + folder + ": " + detail, credentials.secrets));
  };
  if (auto http = parse_http_url(url); http && http->scheme == "http" && http->has_password)
    return failure("cannot clone", "the URL holds a password, which would go over plain http; cascade never sends "
                                   "git credentials unencrypted: use an https:// URL");
  credentials.helper_available = !process::find_executable("git").empty();
  std::error_code error;
  fs::create_directories(cache_dir, error);
  if (error) return failure("cannot clone", "cannot create the cache folder " + cache_dir + ": " + error.message());
  auto lock = FileLock::acquire(folder + ".lock");
  if (!lock) return failure("cannot clone", lock.error());

  if (fs::exists(folder, error)) {
    auto repo = open(folder);
    if (!repo) return failure("cannot fetch", repo.error().message + " (remove the folder to clone afresh)");
    if (int code = fetch_all(repo->repo_, url, credentials); code < 0) return failure("cannot fetch", last_error(code));
    return repo;
  }
  // Cloned beside the final folder and renamed into place, so no reader (nor a later run
  // after a crash) ever sees a half-made clone.
  std::string partial = folder + ".partial";
  fs::remove_all(partial, error);  // left by a crash: we hold the lock, so nobody is using it
  {
    RepositoryPtr repo;
    int code = init_cache(partial, parts.without_userinfo, repo);
    if (code >= 0) code = fetch_all(repo.get(), url, credentials);
    if (code < 0) {
      std::string message = last_error(code);
      repo.reset();
      fs::remove_all(partial, error);
      return failure("cannot clone", message);
    }
  }
  fs::rename(partial, folder, error);
  if (error) return failure("cannot clone", "cannot move " + partial + " into place: " + error.message());
  return open(folder);
}

}  // namespace cascade::git
