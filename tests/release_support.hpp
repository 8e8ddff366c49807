// Release control end to end: a small fleet in a real git repository (`base` from scratch
// with Debian's static busybox, `app` on it, `tool` on `app`), a real docker-registry, real
// buildah, and real podman API services as deploy targets, each with its own storage (so
// two of them are two separate engines: a canary and production). The deploy targets and
// release keys are appended to the pipeline by each test.
#pragma once

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "patch_support.hpp"
#include "podman_fixture.hpp"

namespace cascade::test {

/// A container of `image` that stops at once on SIGTERM, with `labels`.
inline nlohmann::json sleeper(const std::string& image, const std::map<std::string, std::string>& labels = {}) {
  nlohmann::json body = {{"Image", image},
                         {"Cmd", {"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"}},
                         {"Labels", nlohmann::json::object()},
                         {"StopTimeout", 1},
                         {"HostConfig", {{"NetworkMode", "none"}}}};
  for (const auto& [key, value] : labels) body["Labels"][key] = value;
  return body;
}

class ReleaseFleet {
 public:
  /// `app_extra`: lines appended to app's Dockerfile; `app_yaml`: extra keys of app's `images:`
  /// entry (indented by 8 spaces, e.g. "        test:\n          - run: [...]\n").
  explicit ReleaseFleet(const std::string& app_extra = "", const std::string& app_yaml = "") {
    std::map<std::string, std::string> files{
        {"base/Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
                            "ENV PATH=/bin\nRUN echo 1 > /version\n"},
        {"base/busybox", read_file("/usr/bin/busybox")},
        {"app/Dockerfile", "FROM " + image("base:1") + "\nRUN echo app > /app\n" + app_extra},
        {"tool/Dockerfile", "FROM " + image("app:1") + "\nRUN echo tool > /tool\n"}};
    (void)make_repo(repo(), files);
    std::filesystem::permissions(repo() / "base/busybox", std::filesystem::perms::owner_exec, std::filesystem::perm_options::add);
    (void)commit_files(repo(), {}, "busybox is executable");
    base_yaml_ = "version: 1\nregistries:\n  - host: " + registry_.host() + "\n    insecure: true\nsources:\n" +
                 "  - name: fleet\n    git: repo\n    images:\n" +
                 "      - image: " + image("base:1") + "\n        dockerfile: base/Dockerfile\n" +
                 "      - image: " + image("app:1") + "\n        dockerfile: app/Dockerfile\n" + app_yaml +
                 "      - image: " + image("tool:1") + "\n        dockerfile: tool/Dockerfile\n";
    write_file(pipeline(), base_yaml_);
  }

  std::string image(const std::string& name) const { return registry_.host() + "/" + name; }
  std::string pipeline() const { return (dir_.path() / "pipeline.yaml").string(); }
  std::filesystem::path repo() const { return dir_.path() / "repo"; }
  const DockerRegistry& registry() const { return registry_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  /// The pipeline as first written, plus `yaml` (deploy targets, release keys).
  void configure(const std::string& yaml) const { write_file(pipeline(), base_yaml_ + yaml); }

  /// `cascade COMMAND -p PIPELINE args...` with `env` added.
  process::Result cascade(const std::string& command, std::vector<std::string> args,
                          const std::map<std::string, std::string>& env = {}) const {
    args.insert(args.begin(), {command, "-p", pipeline()});
    process::Options options;
    options.env = env;
    options.timeout = std::chrono::minutes(5);
    return test::cascade(args, options);
  }
  nlohmann::json status(long long run) const {
    auto result = cascade("status", {std::to_string(run), "--format", "json"});
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    return nlohmann::json::parse(result.out);
  }

  /// A new base: every image of the fleet is rebuilt by the next `patch base:1`.
  void change_base() {
    ++version_;
    (void)commit_files(repo(), {{"base/Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\n"
                                                    "RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
                                                    "ENV PATH=/bin\nRUN echo " + std::to_string(version_) +
                                                        " > /version\n"}},
                       "base " + std::to_string(version_));
  }
  /// The digest the registry serves for `name` now ("" when it has none).
  std::string digest(const std::string& name) const {
    auto result = run({"skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://" + image(name)});
    return result.exit_code == 0 ? trimmed(result.out) : "";
  }

  /// The first build of the fleet, nothing deployed (a deploy target may be configured later).
  void build() const {
    auto built = cascade("patch", {image("base:1"), "--no-deploy"});
    REQUIRE_MESSAGE(built.exit_code == 0, built.err);
  }

 private:
  static std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
  }
  TempDir dir_;
  DockerRegistry registry_;
  std::string base_yaml_;
  int version_ = 1;
};

/// Pulls app:1 into the engine and runs a sleeper of it per (name, labels); their ids by name.
inline std::map<std::string, std::string> run_app(
    EngineApi& api, const ReleaseFleet& fleet,
    const std::vector<std::pair<std::string, std::map<std::string, std::string>>>& containers) {
  api.pull(fleet.image("app"), "1");
  std::map<std::string, std::string> ids;
  for (const auto& [name, labels] : containers) ids[name] = api.run(name, sleeper(fleet.image("app:1"), labels));
  return ids;
}

/// "2026-12-06T08:01:02.345Z" -> milliseconds since the epoch.
inline long long millis(const std::string& iso) {
  std::tm tm{};
  REQUIRE_MESSAGE(strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr, iso);
  long long seconds = timegm(&tm);
  return seconds * 1000 + (iso.size() > 23 && iso[19] == '.' ? std::stoi(iso.substr(20, 3)) : 0);
}

/// When the run's first rollout step on `target` was recorded (ms since the epoch); 0 for none.
inline long long first_step_at(const nlohmann::json& run, const std::string& target) {
  for (const auto& step : run["rollouts"])
    if (step["target"] == target) return millis(step["at"]);
  return 0;
}

/// A deploy target entry for a podman service, with `extra` keys (indented by 4 spaces).
inline std::string podman_target(const std::string& name, const PodmanService& podman, const std::string& extra = "") {
  return "  - name: " + name + "\n    kind: docker\n    endpoint: " + podman.endpoint() +
         "\n    rollout: {batch: 1, max_unavailable: 1, health_timeout: 20s, stable_for: 1s}\n" + extra;
}

/// The digest a podman container runs: the repo digest of its image.
inline std::string running_digest(EngineApi& api, const std::string& container) {
  auto inspected = api.inspect(container);
  std::string image_id = inspected["Image"];
  auto image = api.call("GET", "/images/" + image_id + "/json").body;
  for (const auto& entry : image["RepoDigests"]) {
    std::string text = entry;
    auto at = text.find('@');
    if (at != std::string::npos) return text.substr(at + 1);
  }
  return "";
}

/// The run's releases by "target/workload".
inline std::map<std::string, nlohmann::json> releases_of(const nlohmann::json& run) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& release : run["releases"])
    out[release["target"].get<std::string>() + "/" + release["workload"].get<std::string>()] = release;
  return out;
}

/// Waits (up to `timeout`) until `check` holds, polling every 250 ms.
template <typename Check>
bool eventually(Check check, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return check();
}

}  // namespace cascade::test
