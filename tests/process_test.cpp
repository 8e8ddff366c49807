// process::run against real children: output, stdin, environment, timeouts, cancellation.
#include <doctest/doctest.h>

#include "cascade/process.hpp"
#include "support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

using cascade::process::run;

TEST_CASE("process::run") {
  SUBCASE("captures stdout, stderr and the exit code") {
    auto result = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
    REQUIRE(result);
    CHECK(result->out == "out\n");
    CHECK(result->err == "err\n");
    CHECK(result->exit_code == 3);
  }
  SUBCASE("arguments are passed verbatim, never through a shell") {
    auto result = run({"printf", "%s|", "a b", "$HOME", "*"});
    REQUIRE(result);
    CHECK(result->out == "a b|$HOME|*|");
  }
  SUBCASE("feeds stdin and sets environment") {
    cascade::process::Options options;
    options.input = "hello";
    options.env = {{"CASCADE_X", "42"}, {"CASCADE_Y", "y"}, {"CASCADE_Z", "z z"}, {"HOME", "/nowhere"}};
    auto result = run({"sh", "-c", "cat; printf '%s|' \"$CASCADE_X\" \"$CASCADE_Y\" \"$CASCADE_Z\" \"$HOME\" \"$PATH\""},
                      options);
    REQUIRE(result);
    CHECK(result->out.rfind("hello42|y|z z|/nowhere|", 0) == 0);
    CHECK(result->out.size() > std::string("hello42|y|z z|/nowhere||").size());  // PATH inherited
  }
  SUBCASE("a missing program is an error naming it") {
    auto result = run({"cascade-no-such-program"});
    REQUIRE_FALSE(result);
    CHECK(result.error().find("cascade-no-such-program") != std::string::npos);
  }
  SUBCASE("a timeout kills the child") {
    cascade::process::Options options;
    options.timeout = std::chrono::milliseconds(200);
    auto result = run({"sleep", "10"}, options);
    REQUIRE(result);
    CHECK(result->timed_out);
    CHECK(result->exit_code != 0);
  }
}

namespace {

// True while a process whose command line contains `needle` exists.
bool process_running(const std::string& needle) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline(std::istreambuf_iterator<char>(in), {});
    for (auto& c : cmdline) if (c == '\0') c = ' ';
    if (cmdline.find(needle) != std::string::npos && cmdline.find("process_running") == std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("process::run stops and streams") {
  using namespace std::chrono_literals;
  std::string dir = (std::filesystem::temp_directory_path() / ("cascade-process-" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir);
  SUBCASE("a cancel from another thread stops the child and its children") {
    cascade::CancelSource source;
    cascade::process::Options options;
    options.cancel = source.get_token();
    std::thread canceller([&] {
      std::this_thread::sleep_for(300ms);
      source.request_stop();
    });
    auto start = std::chrono::steady_clock::now();
    auto result = run({"sh", "-c", "sleep 41.5 & sleep 41.6; echo never"}, options);
    canceller.join();
    REQUIRE(result);
    CHECK(result->cancelled);
    CHECK_FALSE(result->timed_out);
    CHECK(result->exit_code == 128 + SIGTERM);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK_FALSE(process_running("sleep 41.5"));  // the grandchild went with the group
    CHECK_FALSE(process_running("sleep 41.6"));
  }
  SUBCASE("a stop requested before the start starts nothing") {
    cascade::CancelSource source;
    source.request_stop();
    cascade::process::Options options;
    options.cancel = source.get_token();
    options.output_file = dir + "/never.log";
    auto result = run({"sh", "-c", "echo started > " + dir + "/started"}, options);
    REQUIRE(result);
    CHECK(result->cancelled);
    CHECK(result->exit_code == -1);
    CHECK_FALSE(std::filesystem::exists(dir + "/started"));
  }
  SUBCASE("a child ignoring SIGTERM is killed after the grace period") {
    cascade::process::Options options;
    options.timeout = 200ms;
    options.kill_grace = 300ms;
    auto start = std::chrono::steady_clock::now();
    auto result = run({"sh", "-c", "trap '' TERM; sleep 41.7; sleep 41.7"}, options);
    REQUIRE(result);
    CHECK(result->timed_out);
    CHECK(result->exit_code == 128 + SIGKILL);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK_FALSE(process_running("sleep 41.7"));
  }
  SUBCASE("output_file receives stdout and stderr in order, appended") {
    cascade::process::Options options;
    options.output_file = dir + "/out.log";
    std::ofstream(options.output_file) << "before\n";
    auto result = run({"sh", "-c", "echo one; echo two >&2; echo three"}, options);
    REQUIRE(result);
    CHECK(result->exit_code == 0);
    CHECK(result->out.empty());
    CHECK(result->err.empty());
    std::ifstream in(options.output_file);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "before\none\ntwo\nthree\n");
  }
  SUBCASE("an output file that cannot be opened is an error naming it") {
    cascade::process::Options options;
    options.output_file = dir + "/missing/folder/out.log";
    auto result = run({"true"}, options);
    REQUIRE_FALSE(result);
    CHECK(result.error().find("missing/folder/out.log") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

namespace {

// The child's environment as printenv prints it.
std::map<std::string, std::string> child_environment(const cascade::process::Options& options = {}) {
  auto result = run({"/usr/bin/printenv"}, options);
  REQUIRE(result);
  REQUIRE(result->exit_code == 0);
  std::map<std::string, std::string> variables;
  std::size_t start = 0;
  for (std::size_t end = result->out.find('\n'); end != std::string::npos; end = result->out.find('\n', start)) {
    std::string line = result->out.substr(start, end - start);
    if (std::size_t equals = line.find('='); equals != std::string::npos)
      variables[line.substr(0, equals)] = line.substr(equals + 1);
    start = end + 1;
  }
  return variables;
}

}  // namespace

TEST_CASE("process::run gives children an allowlisted environment, never the daemon's secrets") {
  cascade::test::ScopedVariable api("CASCADE_API_TOKEN", "api-s3cret");
  cascade::test::ScopedVariable git("CASCADE_GIT_TOKEN", "git-s3cret");
  cascade::test::ScopedVariable scoped_git("CASCADE_GIT_TOKEN_GITHUB_COM", "git-s3cret-2");
  cascade::test::ScopedVariable hook("HOOK_TOKEN", "hook-s3cret");
  cascade::test::ScopedVariable hmac("GITHUB_SECRET", "hmac-s3cret");
  cascade::test::ScopedVariable docker_password("DOCKER_PASSWORD", "docker-s3cret");  // an allowed prefix, a secret's name
  cascade::test::ScopedVariable unrelated("CASCADE_TEST_UNRELATED", "x");
  cascade::test::ScopedVariable docker_config("DOCKER_CONFIG", "/etc/cascade-test-docker");
  cascade::test::ScopedVariable registries("CONTAINERS_REGISTRIES_CONF", "/etc/cascade-test-registries.conf");
  cascade::test::ScopedVariable kubeconfig("KUBECONFIG", "/etc/cascade-test-kubeconfig");
  cascade::test::ScopedVariable lc_time("LC_TIME", "C.UTF-8");
  cascade::test::ScopedVariable proxy("https_proxy", "http://proxy.invalid:3128");

  cascade::process::Options options;
  options.env = {{"CASCADE_IMAGE", "registry.example.com/app:1"}, {"DEPLOY_TOKEN", "passed-on-purpose"}};
  auto seen = child_environment(options);
  for (std::string secret : {"CASCADE_API_TOKEN", "CASCADE_GIT_TOKEN", "CASCADE_GIT_TOKEN_GITHUB_COM", "HOOK_TOKEN",
                             "GITHUB_SECRET", "DOCKER_PASSWORD", "CASCADE_TEST_UNRELATED"}) {
    CAPTURE(secret);
    CHECK_FALSE(seen.count(secret));
  }
  CHECK(seen["PATH"] == std::getenv("PATH"));
  CHECK(seen["DOCKER_CONFIG"] == "/etc/cascade-test-docker");
  CHECK(seen["CONTAINERS_REGISTRIES_CONF"] == "/etc/cascade-test-registries.conf");
  CHECK(seen["KUBECONFIG"] == "/etc/cascade-test-kubeconfig");
  CHECK(seen["LC_TIME"] == "C.UTF-8");
  CHECK(seen["https_proxy"] == "http://proxy.invalid:3128");
  if (const char* home = std::getenv("HOME")) CHECK(seen["HOME"] == home);
  CHECK(seen["CASCADE_IMAGE"] == "registry.example.com/app:1");  // passed explicitly
  CHECK(seen["DEPLOY_TOKEN"] == "passed-on-purpose");
}

TEST_CASE("process::run passes a variable named in Options::inherit") {
  cascade::test::ScopedVariable ansible("ANSIBLE_CONFIG", "/etc/cascade-test-ansible.cfg");
  cascade::test::ScopedVariable hook("HOOK_TOKEN", "hook-s3cret");
  CHECK_FALSE(child_environment().count("ANSIBLE_CONFIG"));
  cascade::process::Options options;
  options.inherit = {"ANSIBLE_CONFIG", "NOT_SET_ANYWHERE"};
  auto seen = child_environment(options);
  CHECK(seen["ANSIBLE_CONFIG"] == "/etc/cascade-test-ansible.cfg");
  CHECK_FALSE(seen.count("NOT_SET_ANYWHERE"));
  CHECK_FALSE(seen.count("HOOK_TOKEN"));
}

TEST_CASE("process::inherited_by_default") {
  using cascade::process::inherited_by_default;
  for (std::string name : {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_TIME", "TZ", "TMPDIR",
                           "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "http_proxy", "HTTPS_PROXY", "no_proxy",
                           "SSL_CERT_FILE", "SSL_CERT_DIR", "CONTAINERS_REGISTRIES_CONF", "CONTAINERS_STORAGE_CONF",
                           "CONTAINER_HOST", "REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "DOCKER_HOST",
                           "DOCKER_CERT_PATH", "BUILDAH_ISOLATION", "BUILDKIT_HOST", "STORAGE_DRIVER", "KUBECONFIG",
                           "SSH_AUTH_SOCK", "GIT_CONFIG_GLOBAL", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS",
                           "TSAN_OPTIONS"}) {
    CAPTURE(name);
    CHECK(inherited_by_default(name));
  }
  for (std::string name : {"", "CASCADE_API_TOKEN", "CASCADE_GIT_TOKEN", "CASCADE_GIT_TOKEN_GITHUB_COM",
                           "HOOK_TOKEN", "GITHUB_SECRET", "DOCKERHUB_PATH_TOKEN", "DOCKER_PASSWORD",
                           "DOCKER_AUTH_TOKEN", "BUILDAH_SECRET_X", "CONTAINER_PASSPHRASE", "LC_SECRET", "XDG_token",
                           "AWS_SECRET_ACCESS_KEY", "CASCADE_STATE_DIR", "GIT_ASKPASS", "LD_PRELOAD",
                           "LD_LIBRARY_PATH", "LC_", "DOCKER_", "PATHX", "path"}) {
    CAPTURE(name);
    CHECK_FALSE(inherited_by_default(name));
  }
}

TEST_CASE("process::run: a child dies with the cascade that started it (kill -9 leaves no orphan build)") {
  // A forked copy of this test stands in for `cascade serve`: it runs a long child through
  // process::run and is killed with SIGKILL; the child must not outlive it.
  cascade::test::TempDir dir;
  std::string pid_file = (dir / "child.pid").string();
  pid_t runner = ::fork();
  REQUIRE(runner >= 0);
  if (runner == 0) {
    cascade::process::Options options;
    options.timeout = std::chrono::minutes(5);
    (void)cascade::process::run({"/bin/sh", "-c", "echo $$ > " + pid_file + "; exec sleep 300"}, options);
    ::_exit(0);
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string text;
  while ((text = std::filesystem::exists(pid_file) ? cascade::test::read_file(pid_file) : "").find('\n') == std::string::npos) {
    REQUIRE(std::chrono::steady_clock::now() < until);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_t child = std::stoi(text);
  REQUIRE(::kill(child, 0) == 0);
  ::kill(runner, SIGKILL);
  int status = 0;
  ::waitpid(runner, &status, 0);
  // The orphan, reparented, is reaped by init (or a subreaper) once it died: gone or a zombie.
  auto gone = [child] {
    if (::kill(child, 0) != 0) return true;
    std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
  };
  until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!gone() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  bool died = gone();
  if (!died) ::kill(child, SIGKILL);
  CHECK_MESSAGE(died, "the child outlived its cascade by 30 s");
}
