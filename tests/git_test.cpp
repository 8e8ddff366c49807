// The git module against real repositories made with the git command in temporary folders.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <stop_token>
#include <thread>

#include "cascade/git.hpp"
#include "cascade/process.hpp"
#include "support.hpp"

namespace git = cascade::git;
namespace fs = std::filesystem;

namespace fixture = cascade::test;  // TempDir, make_repo, commit_files, git, read_file

using fixture::commit_files;
using fixture::make_repo;
using fixture::TempDir;

namespace {

std::string run_git(const fs::path& dir, std::vector<std::string> args) {
  std::string out = fixture::git(dir, std::move(args));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

git::Repository open_ok(const fs::path& path) {
  auto repo = git::Repository::open(path.string());
  REQUIRE_MESSAGE(repo.has_value(), (repo ? "" : repo.error().message));
  return std::move(repo).value();
}

template <typename T>
T value_of(cascade::Expected<T, git::Error> result) {
  REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
  return std::move(result).value();
}

template <typename T>
std::string error_of(const cascade::Expected<T, git::Error>& result) {
  REQUIRE_FALSE(result.has_value());
  return result.error().message;
}

std::string file_url(const fs::path& path) { return "file://" + path.string(); }

/// A repository with an executable script, a symlink, nested folders and a submodule entry.
std::string make_rich_repo(const fs::path& dir) {
  make_repo(dir, {{"Dockerfile", "FROM alpine\n"},
                  {"a/b/c.txt", "deep\n"},
                  {"a/Dockerfile", "FROM debian\n"},
                  {"a-b/x", "dash\n"},
                  {"a0", "zero\n"},
                  {"b.txt", "bee\n"},
                  {"tools/run.sh", "#!/bin/sh\necho hi\n"}});
  fs::permissions(dir / "tools/run.sh", fs::perms::owner_exec, fs::perm_options::add);
  fs::create_symlink("b.txt", dir / "link");
  fs::create_symlink("../b.txt", dir / "a/up");
  fs::create_symlink("../../outside", dir / "a/escape");
  commit_files(dir, {}, "rich");
  run_git(dir, {"update-index", "--add", "--cacheinfo", "160000,1111111111111111111111111111111111111111,sub"});
  run_git(dir, {"commit", "-q", "-m", "submodule"});  // no "add -A": it would drop the unpopulated submodule
  return run_git(dir, {"rev-parse", "HEAD"});
}

}  // namespace

TEST_CASE("git::Repository::open") {
  TempDir tmp;
  make_repo(tmp / "work", {{"README", "hi\n"}});

  SUBCASE("a work tree") {
    auto repo = open_ok(tmp / "work");
    CHECK(repo.path() == (tmp / "work").string());
  }
  SUBCASE("a work tree's .git folder") { open_ok(tmp / "work/.git"); }
  SUBCASE("a bare repository") {
    run_git(tmp.path(), {"clone", "-q", "--bare", (tmp / "work").string(), (tmp / "bare.git").string()});
    auto repo = open_ok(tmp / "bare.git");
    CHECK(repo.path() == (tmp / "bare.git").string());
  }
  SUBCASE("a missing path names the absolute path") {
    std::string message = error_of(git::Repository::open((tmp / "missing").string()));
    CHECK(message == "no git repository at " + (tmp / "missing").string() + " (the path does not exist)");
  }
  SUBCASE("a folder that is no repository, even inside one") {
    fs::create_directories(tmp / "work/sub");
    std::string message = error_of(git::Repository::open((tmp / "work/sub").string()));
    CHECK(message.find("no git repository at " + (tmp / "work/sub").string()) == 0);
  }
  SUBCASE("moving keeps the repository usable") {
    auto first = open_ok(tmp / "work");
    git::Repository second = std::move(first);
    CHECK(second.resolve("HEAD").has_value());
    auto third = open_ok(tmp / "work");
    third = std::move(second);
    CHECK(third.resolve("main").has_value());
  }
}

TEST_CASE("git::Repository::resolve") {
  TempDir tmp;
  fs::path dir = tmp / "repo";
  std::string first = make_repo(dir, {{"file", "one\n"}});
  run_git(dir, {"tag", "-a", "v1", "-m", "release one"});
  run_git(dir, {"tag", "light"});
  run_git(dir, {"branch", "dev"});
  std::string second = commit_files(dir, {{"file", "two\n"}});
  auto repo = open_ok(dir);

  SUBCASE("branches and HEAD") {
    CHECK(value_of(repo.resolve("main")) == second);
    CHECK(value_of(repo.resolve("refs/heads/main")) == second);
    CHECK(value_of(repo.resolve("dev")) == first);
    CHECK(value_of(repo.resolve("HEAD")) == second);
  }
  SUBCASE("an annotated tag is peeled to its commit") { CHECK(value_of(repo.resolve("v1")) == first); }
  SUBCASE("a lightweight tag") { CHECK(value_of(repo.resolve("light")) == first); }
  SUBCASE("full and abbreviated commit ids") {
    CHECK(value_of(repo.resolve(first)) == first);
    CHECK(value_of(repo.resolve(first.substr(0, 7))) == first);
  }
  SUBCASE("a revision expression") { CHECK(value_of(repo.resolve("main~1")) == first); }
  SUBCASE("a missing ref names the ref, the repository and the branches") {
    CHECK(error_of(repo.resolve("nope")) == "ref 'nope' not found in " + dir.string() + " (branches: dev, main)");
  }
  SUBCASE("at most 10 branches are listed") {
    for (int i = 0; i < 12; ++i) run_git(dir, {"branch", "b" + std::to_string(10 + i)});
    std::string message = error_of(repo.resolve("nope"));
    CHECK(message.find("(branches: b10, b11, b12, b13, b14, b15, b16, b17, b18, b19, and 4 more)") !=
          std::string::npos);
  }
  SUBCASE("a ref naming a tree is no commit") {
    CHECK(error_of(repo.resolve("main^{tree}")).find("names a tree, not a commit") != std::string::npos);
  }
  SUBCASE("an empty repository has no HEAD") {
    fs::create_directories(tmp / "empty");
    run_git(tmp / "empty", {"init", "-q", "-b", "main"});
    auto empty = open_ok(tmp / "empty");
    CHECK(error_of(empty.resolve("HEAD")) ==
          "ref 'HEAD' not found in " + (tmp / "empty").string() + " (the repository has no commits yet)");
  }
}

TEST_CASE("git::Repository::list_files") {
  TempDir tmp;
  std::string commit = make_rich_repo(tmp / "repo");
  auto repo = open_ok(tmp / "repo");

  SUBCASE("every file and symlink, sorted, without folders or submodules") {
    std::vector<std::string> expected = {"Dockerfile", "a-b/x",   "a/Dockerfile", "a/b/c.txt", "a/escape", "a/up",
                                         "a0",         "b.txt",   "link",         "tools/run.sh"};
    CHECK(value_of(repo.list_files(commit)) == expected);
  }
  SUBCASE("a filter keeps only the files it accepts") {
    auto dockerfiles = value_of(
        repo.list_files(commit, [](std::string_view, std::string_view name) { return git::is_dockerfile_name(name); }));
    CHECK(dockerfiles == std::vector<std::string>{"Dockerfile", "a/Dockerfile"});
    auto under_a = value_of(repo.list_files(commit, [](std::string_view path, std::string_view) {
      return path.starts_with("a/");
    }));
    CHECK(under_a == std::vector<std::string>{"a/Dockerfile", "a/b/c.txt", "a/escape", "a/up"});
  }
  SUBCASE("an abbreviated commit id") { CHECK(value_of(repo.list_files(commit.substr(0, 8))).size() == 10); }
  SUBCASE("an unknown commit is named") {
    CHECK(error_of(repo.list_files("0123456789abcdef0123456789abcdef01234567")) ==
          "commit 0123456789ab not found in " + (tmp / "repo").string());
  }
  SUBCASE("a ref is not a commit id") {
    CHECK(error_of(repo.list_files("main")).find("'main' is not a commit id") == 0);
  }
}

TEST_CASE("git::is_dockerfile_name") {
  for (const char* name : {"Dockerfile", "dockerfile", "Containerfile", "Dockerfile.prod", "api.Dockerfile",
                           "api.dockerfile", "Containerfile.arm64"}) {
    CHECK_MESSAGE(git::is_dockerfile_name(name), name);
  }
  for (const char* name : {"Dockerfiles", "MyDockerfile", "Dockerfile.", ".Dockerfile", "docker-compose.yml",
                           "README.md", ""}) {
    CHECK_FALSE_MESSAGE(git::is_dockerfile_name(name), name);
  }
}

TEST_CASE("git::Repository::read_file") {
  TempDir tmp;
  fs::path dir = tmp / "repo";
  std::string binary("a\0b\xff\n", 5);
  std::string first = make_repo(dir, {{"data.bin", binary}, {"dir/Dockerfile", "FROM alpine:3.18\n"}});
  fs::create_symlink("dir/Dockerfile", dir / "Dockerfile");
  std::string second = commit_files(dir, {{"dir/Dockerfile", "FROM alpine:3.19\n"}});
  std::string rich = make_rich_repo(tmp / "rich");
  auto repo = open_ok(dir);
  std::string where = " at commit " + second.substr(0, 12) + " in " + dir.string();

  SUBCASE("content byte for byte, NUL included") {
    std::string content = value_of(repo.read_file(second, "data.bin"));
    CHECK(content.size() == 5);
    CHECK(content == binary);
  }
  SUBCASE("an old commit gives the old content") {
    CHECK(value_of(repo.read_file(first, "dir/Dockerfile")) == "FROM alpine:3.18\n");
    CHECK(value_of(repo.read_file(second, "dir/Dockerfile")) == "FROM alpine:3.19\n");
  }
  SUBCASE("a symlink is followed inside the tree") {
    CHECK(value_of(repo.read_file(second, "Dockerfile")) == "FROM alpine:3.19\n");
    auto rich_repo = open_ok(tmp / "rich");
    CHECK(value_of(rich_repo.read_file(rich, "a/up")) == "bee\n");
    CHECK(error_of(rich_repo.read_file(rich, "a/escape")).find("outside the repository's tree") !=
          std::string::npos);
  }
  SUBCASE("a missing path names the path, the commit and the repository") {
    CHECK(error_of(repo.read_file(second, "nope/Dockerfile")) == "file 'nope/Dockerfile' not found" + where);
    CHECK(error_of(repo.read_file(first, "Dockerfile")).find("file 'Dockerfile' not found at commit " +
                                                             first.substr(0, 12)) == 0);
  }
  SUBCASE("a folder is not a file") {
    CHECK(error_of(repo.read_file(second, "dir")) == "file 'dir' is a folder, not a file" + where);
  }
  SUBCASE("a submodule is not a file") {
    auto rich_repo = open_ok(tmp / "rich");
    CHECK(error_of(rich_repo.read_file(rich, "sub")).find("file 'sub' is a submodule, not a file") == 0);
  }
}

TEST_CASE("git::Repository::export_tree") {
  TempDir tmp;
  std::string commit = make_rich_repo(tmp / "repo");
  auto repo = open_ok(tmp / "repo");

  SUBCASE("the whole tree, with modes, symlinks and submodule folders") {
    fs::path out = tmp / "out";
    REQUIRE_MESSAGE(repo.export_tree(commit, "", out.string()).has_value(), "export");
    CHECK(fixture::read_file(out / "Dockerfile") == "FROM alpine\n");
    CHECK(fixture::read_file(out / "a/b/c.txt") == "deep\n");
    struct stat script;
    REQUIRE(::stat((out / "tools/run.sh").c_str(), &script) == 0);
    CHECK((script.st_mode & S_IXUSR) != 0);
    struct stat plain;
    REQUIRE(::stat((out / "b.txt").c_str(), &plain) == 0);
    CHECK((plain.st_mode & S_IXUSR) == 0);
    CHECK(fs::is_symlink(out / "link"));
    CHECK(fs::read_symlink(out / "link") == "b.txt");
    CHECK(fixture::read_file(out / "a/up") == "bee\n");
    CHECK(fs::is_directory(out / "sub"));
    CHECK(fs::is_empty(out / "sub"));
  }
  SUBCASE("a subfolder, into an existing folder, twice") {
    fs::path out = tmp / "context";
    REQUIRE(repo.export_tree(commit, "a/", out.string()).has_value());
    REQUIRE(repo.export_tree(commit, "./a", out.string()).has_value());
    CHECK(fixture::read_file(out / "Dockerfile") == "FROM debian\n");
    CHECK(fixture::read_file(out / "b/c.txt") == "deep\n");
    CHECK(fs::read_symlink(out / "up") == "../b.txt");
    CHECK_FALSE(fs::exists(out / "a"));
  }
  SUBCASE("a missing folder is named") {
    CHECK(error_of(repo.export_tree(commit, "nope", (tmp / "out").string())) ==
          "cannot export folder 'nope' of commit " + commit.substr(0, 12) + " in " + (tmp / "repo").string() +
              ": the folder does not exist at that commit");
  }
  SUBCASE("a file is not a folder") {
    CHECK(error_of(repo.export_tree(commit, "b.txt", (tmp / "out").string())).ends_with(": it is not a folder"));
  }
}

TEST_CASE("git::is_remote") {
  for (const char* url : {"https://github.com/org/repo.git", "file:///srv/repo", "ssh://git@host/repo",
                          "git@github.com:org/repo.git", "host:repo"}) {
    CHECK_MESSAGE(git::is_remote(url), url);
  }
  for (const char* path : {"/srv/repo", "./repo", "repo", "../a:b", "C:/repo", ""}) {
    CHECK_FALSE_MESSAGE(git::is_remote(path), path);
  }
}

TEST_CASE("git::cache_path_for") {
  std::string path = git::cache_path_for("https://github.com/org/repo.git", "/cache");
  SUBCASE("readable, inside the cache folder, with a short hash") {
    CHECK(path.starts_with("/cache/github.com-org-repo-"));
    CHECK(path.size() == std::string("/cache/github.com-org-repo-").size() + 8);
    CHECK(git::cache_path_for("git@github.com:org/repo.git", "/cache").starts_with("/cache/github.com-org-repo-"));
  }
  SUBCASE("stable") { CHECK(git::cache_path_for("https://github.com/org/repo.git", "/cache") == path); }
  SUBCASE("distinct per URL") {
    CHECK(git::cache_path_for("https://github.com/org/repo", "/cache") != path);
    CHECK(git::cache_path_for("https://github.com/org/repo2.git", "/cache") != path);
    CHECK(git::cache_path_for("git@github.com:org/repo.git", "/cache") != path);
  }
  SUBCASE("credentials are left out") {
    std::string with_token = git::cache_path_for("https://me:s3cret@github.com/org/repo.git", "/cache");
    CHECK(with_token == path);
    CHECK(with_token.find("s3cret") == std::string::npos);
  }
}

TEST_CASE("git::Repository::clone_or_fetch") {
  TempDir tmp;
  fs::path upstream = tmp / "upstream";
  std::string first = make_repo(upstream, {{"Dockerfile", "FROM alpine:3.18\n"}});
  run_git(upstream, {"tag", "-a", "v1", "-m", "one"});
  run_git(upstream, {"branch", "old"});
  std::string cache = (tmp / "cache").string();
  std::string url = file_url(upstream);

  SUBCASE("clones, then fetches new commits, branches and tags, and prunes deleted ones") {
    auto clone = value_of(git::Repository::clone_or_fetch(url, cache));
    CHECK(clone.path() == git::cache_path_for(url, cache));
    CHECK(value_of(clone.resolve("main")) == first);
    CHECK(value_of(clone.resolve("HEAD")) == first);
    CHECK(value_of(clone.resolve("origin/main")) == first);
    CHECK(value_of(clone.resolve("v1")) == first);
    CHECK(value_of(clone.resolve("old")) == first);
    CHECK_FALSE(fs::exists(clone.path() + ".partial"));

    std::string second = commit_files(upstream, {{"Dockerfile", "FROM alpine:3.19\n"}});
    run_git(upstream, {"branch", "dev"});
    run_git(upstream, {"tag", "v2"});
    run_git(upstream, {"branch", "-D", "old"});
    auto fetched = value_of(git::Repository::clone_or_fetch(url, cache));
    CHECK(value_of(fetched.resolve("main")) == second);
    CHECK(value_of(fetched.resolve("HEAD")) == second);
    CHECK(value_of(fetched.resolve("refs/remotes/origin/main")) == second);
    CHECK(value_of(fetched.resolve("dev")) == second);
    CHECK(value_of(fetched.resolve("v2")) == second);
    CHECK_FALSE(fetched.resolve("old").has_value());
    CHECK(value_of(fetched.read_file(second, "Dockerfile")) == "FROM alpine:3.19\n");
    CHECK(value_of(fetched.read_file(first, "Dockerfile")) == "FROM alpine:3.18\n");
  }
  SUBCASE("HEAD follows the remote's default branch") {
    value_of(git::Repository::clone_or_fetch(url, cache));
    run_git(upstream, {"checkout", "-q", "-b", "trunk"});
    std::string trunk = commit_files(upstream, {{"trunk", "t\n"}});
    auto fetched = value_of(git::Repository::clone_or_fetch(url, cache));
    CHECK(value_of(fetched.resolve("HEAD")) == trunk);
  }
  SUBCASE("concurrent clones of one URL all succeed") {
    std::vector<std::string> results(4);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < results.size(); ++i) {
      threads.emplace_back([&, i] {
        auto repo = git::Repository::clone_or_fetch(url, cache);
        if (!repo) results[i] = "error: " + repo.error().message;
        else results[i] = repo->resolve("main") ? *repo->resolve("main") : "error: resolve";
      });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& result : results) CHECK(result == first);
  }
  SUBCASE("a missing upstream names the URL and leaves nothing behind") {
    std::string missing = file_url(tmp / "missing");
    std::string message = error_of(git::Repository::clone_or_fetch(missing, cache));
    CHECK(message.find("cannot clone " + missing + " into " + git::cache_path_for(missing, cache) + ": ") == 0);
    CHECK_FALSE(fs::exists(git::cache_path_for(missing, cache)));
    CHECK_FALSE(fs::exists(git::cache_path_for(missing, cache) + ".partial"));
  }
  SUBCASE("a stop ends a clone or a fetch at libgit2's next callback; a clone leaves nothing behind") {
    std::stop_source stop;
    stop.request_stop();
    std::string clone = error_of(git::Repository::clone_or_fetch(url, cache, stop.get_token()));
    CHECK(clone.find("cannot clone " + url) == 0);
    CHECK(clone.find("cancelled (cascade is stopping)") != std::string::npos);
    CHECK_FALSE(fs::exists(git::cache_path_for(url, cache)));
    CHECK_FALSE(fs::exists(git::cache_path_for(url, cache) + ".partial"));

    value_of(git::Repository::clone_or_fetch(url, cache));
    commit_files(upstream, {{"Dockerfile", "FROM alpine:3.20\n"}});
    std::string fetch = error_of(git::Repository::clone_or_fetch(url, cache, stop.get_token()));
    CHECK(fetch.find("cannot fetch " + url) == 0);
    CHECK(fetch.find("cancelled") != std::string::npos);
    CHECK(value_of(git::Repository::clone_or_fetch(url, cache)).resolve("main").has_value());
  }
  SUBCASE("credentials in the URL never reach the message") {
    std::string message =
        error_of(git::Repository::clone_or_fetch("http://me:s3cret@127.0.0.1:1/org/repo.git", cache));
    CHECK(message.find("cannot clone http://127.0.0.1:1/org/repo.git into ") == 0);
    CHECK(message.find("s3cret") == std::string::npos);
  }
}

TEST_CASE("git::Repository in parallel, one per thread") {
  TempDir tmp;
  std::map<std::string, std::string> files;
  for (int i = 0; i < 50; ++i) files["svc" + std::to_string(i) + "/Dockerfile"] = "FROM base:" + std::to_string(i) + "\n";
  std::string commit = make_repo(tmp / "repo", files);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto repo = git::Repository::open((tmp / "repo").string());
      if (!repo) { ++mismatches; return; }
      for (int round = 0; round < 20; ++round) {
        auto paths = repo->list_files(commit);
        if (!paths || paths->size() != files.size()) ++mismatches;
        for (const auto& [path, content] : files) {
          auto read = repo->read_file(commit, path);
          if (!read || *read != content) ++mismatches;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(mismatches.load() == 0);
}

// Run with --no-skip: 100 bare clones of a packed repository holding 100 Dockerfiles among
// 1,000 files; each thread lists the Dockerfiles of its repositories and reads them.
TEST_CASE("git::benchmark" * doctest::skip()) {
  TempDir tmp;
  std::map<std::string, std::string> files;
  for (int i = 0; i < 1000; ++i) {
    std::string folder = "services/svc" + std::to_string(i / 10) + "/";
    if (i % 10 == 0) files[folder + "Dockerfile"] = "FROM registry.example.com/base:" + std::to_string(i) + "\nRUN true\n";
    else files[folder + "src/file" + std::to_string(i) + ".txt"] = std::string(200 + i, 'x');
  }
  std::string commit = make_repo(tmp / "origin", files);
  run_git(tmp / "origin", {"gc", "-q"});
  std::vector<std::string> repos;
  for (int i = 0; i < 100; ++i) {
    repos.push_back((tmp / ("r" + std::to_string(i) + ".git")).string());
    run_git(tmp.path(), {"clone", "-q", "--bare", "--no-local", (tmp / "origin").string(), repos.back()});
  }
  unsigned thread_count = std::max(2u, std::thread::hardware_concurrency());
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> bytes{0};
  std::atomic<int> failures{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < thread_count; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < repos.size(); i = next++) {
        auto repo = git::Repository::open(repos[i]);
        if (!repo) { ++failures; continue; }
        auto paths = repo->list_files(commit, [](std::string_view, std::string_view name) {
          return git::is_dockerfile_name(name);
        });
        if (!paths || paths->size() != 100) { ++failures; continue; }
        for (const auto& path : *paths) {
          auto content = repo->read_file(commit, path);
          if (content) bytes += content->size();
          else ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  CHECK(failures.load() == 0);
  MESSAGE("100 repos x (list 1,000 files, read 100 Dockerfiles) on " << thread_count << " threads: " << elapsed
                                                                     << " ms, " << bytes.load() << " bytes");
}
