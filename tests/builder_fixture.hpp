// Helpers for the builder tests: a private buildah storage per test, a busybox build context,
// skopeo inspection of what was pushed, and a look for processes a build left behind. The
// registry itself is registry_fixture.hpp's DockerRegistry (a real docker-registry).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cascade/builder.hpp"
#include "registry_fixture.hpp"
#include "support.hpp"

namespace cascade::test {

/// A private buildah storage (root, runroot, work folder) and a scratch folder for one test;
/// everything is removed on destruction.
class BuildahSandbox {
 public:
  BuildahSandbox() { fs::create_directories(dir_ / "logs"); }
  ~BuildahSandbox() {
    // Working containers a stopped build left behind (TempDir then removes the folders).
    test::run({"buildah", "--root", (dir_ / "root").string(), "--runroot", (dir_ / "runroot").string(),
               "--storage-driver", "vfs", "rm", "--all"});
  }
  BuildahSandbox(const BuildahSandbox&) = delete;
  BuildahSandbox& operator=(const BuildahSandbox&) = delete;

  /// Buildah options on this sandbox's storage, speaking plain http to `insecure` hosts,
  /// without retries (a failure shows at once) and a short kill grace.
  builder::BuildahOptions options(std::set<std::string> insecure) const {
    builder::BuildahOptions options;
    options.root = (dir_ / "root").string();
    options.runroot = (dir_ / "runroot").string();
    options.work_dir = (dir_ / "work").string();
    options.insecure_registries = std::move(insecure);
    options.retries = 0;
    options.kill_grace = std::chrono::milliseconds(1500);
    return options;
  }

  /// A build context holding /usr/bin/busybox and `files` (path -> content).
  std::string context(const std::string& name, const std::map<std::string, std::string>& files = {}) const {
    fs::path context = dir_ / name;
    fs::create_directories(context);
    fs::copy_file("/usr/bin/busybox", context / "busybox", fs::copy_options::overwrite_existing);
    for (const auto& [path, content] : files) write_file(context / path, content);
    return context.string();
  }

  std::string log(const std::string& name) const { return (dir_ / "logs" / (name + ".log")).string(); }
  const fs::path& path() const { return dir_.path(); }

 private:
  TempDir dir_;
};

/// A Dockerfile for an image with busybox and a shell, built from nothing.
inline std::string busybox_dockerfile(const std::string& more = "") {
  return "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n" + more;
}

/// `skopeo inspect` of docker://<reference>, or with `config` the image's config blob as
/// stored (`--config --raw`: without --raw skopeo converts it to OCI, dropping Healthcheck).
inline nlohmann::json skopeo_inspect(const std::string& reference, bool config = false) {
  std::vector<std::string> argv = {"skopeo", "inspect", "--tls-verify=false"};
  if (config) argv.insert(argv.end(), {"--config", "--raw"});
  argv.push_back("docker://" + reference);
  auto result = run(argv);
  if (result.exit_code != 0) throw std::runtime_error("skopeo inspect " + reference + " failed: " + result.err);
  return nlohmann::json::parse(result.out);
}

/// Processes whose command line mentions `needle` or whose root folder lies under it (a
/// chrooted RUN step), other than this test program.
inline std::vector<std::string> processes_mentioning(const std::string& needle) {
  std::vector<std::string> found;
  std::string self = std::to_string(::getpid());
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid == self) continue;
    std::string cmdline = read_file(entry.path() / "cmdline");
    for (auto& c : cmdline) if (c == '\0') c = ' ';
    std::error_code ec;
    std::string root = fs::read_symlink(entry.path() / "root", ec).string();
    if (cmdline.find(needle) != std::string::npos || (!ec && root.rfind(needle, 0) == 0))
      found.push_back(pid + " " + cmdline);
  }
  return found;
}

/// Waits up to `limit` for `path` to contain `text`.
inline bool wait_for_text(const fs::path& path, const std::string& text, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (read_file(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

/// One build through `backend`, run again up to twice when the container runtime could not
/// start a step (runtime_failed: runc's sealed-memfd copy fails with EBUSY now and then on a
/// loaded machine, see run_build). The executor retries it the same way; a test of a backend
/// asserts what the backend does, not that the machine never hiccups.
inline Expected<builder::BuildResult, builder::Error> build_retrying(builder::Builder& backend,
                                                              const builder::BuildRequest& request) {
  auto built = backend.build_and_push(request, {});
  for (int retry = 0; retry < 2 && !built && built.error().kind == builder::Error::Kind::runtime_failed; ++retry)
    built = backend.build_and_push(request, {});
  return built;
}

/// A registry and a busybox base image buildah pushed to it as base:1: what the builder
/// tests build on (one per test file, made on first use).
struct RegistryWithBase {
  DockerRegistry registry;
  BuildahSandbox sandbox;
  std::string base_digest;

  RegistryWithBase() {
    builder::Buildah buildah(sandbox.options({registry.host()}));
    builder::BuildRequest request;
    request.run_id = "test-base";
    request.image = registry.host() + "/base:1";
    request.context_dir = sandbox.context("base");
    request.dockerfile_text = busybox_dockerfile("RUN echo one > /v1\n");
    request.log_path = sandbox.log("base");
    request.timeout = std::chrono::seconds(120);
    auto built = build_retrying(buildah, request);
    if (!built) throw std::runtime_error("cannot build the shared base image: " + built.error().message);
    base_digest = built->digest;
  }
  std::string host() const { return registry.host(); }
  std::string pinned_base() const { return host() + "/base@" + base_digest; }
};

}  // namespace cascade::test
