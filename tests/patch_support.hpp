// The example fleet in a real docker-registry on a free port, for `cascade patch` tests:
// examples/ made into git repositories naming that registry, and the pipeline beside them.
#pragma once

#include <nlohmann/json.hpp>

#include "builder_fixture.hpp"
#include "registry_fixture.hpp"
#include "support.hpp"

namespace cascade::test {

class PatchFleet {
 public:
  explicit PatchFleet(const RegistryAuth& auth = {}, std::optional<std::string> registry_host = std::nullopt,
                      const RegistryNotify& notify = {})
      : registry_(auth, std::nullopt, notify) {
    std::string host = registry_host.value_or(registry_.host());
    process::Options options;
    options.env["CASCADE_EXAMPLE_REGISTRY"] = host;
    auto made = test::run({"bash", (source_dir() / "scripts/make-example-repos.sh").string(), repos().string()}, options);
    if (made.exit_code != 0) throw std::runtime_error("make-example-repos.sh failed: " + made.err);
    std::string text = read_file(source_dir() / "pipelines/example.yaml");
    for (std::size_t at = text.find("127.0.0.1:5000"); at != std::string::npos; at = text.find("127.0.0.1:5000", at))
      text.replace(at, 14, host), at += host.size();
    write_file(pipeline(), text);
    prefix_ = host + "/";
  }

  std::string pipeline() const { return (dir_ / "pipelines/example.yaml").string(); }
  fs::path repos() const { return dir_ / "examples/.repos"; }
  const TempDir& dir() const { return dir_; }
  const DockerRegistry& registry() const { return registry_; }
  /// "platform/base:1" -> "<host>/platform/base:1"
  std::string image(const std::string& name) const { return prefix_ + name; }

  /// `cascade COMMAND -p PIPELINE args...`
  process::Result cascade(const std::string& command, std::vector<std::string> args,
                          const process::Options& options = {}) const {
    args.insert(args.begin(), {command, "-p", pipeline()});
    return test::cascade(args, options);
  }
  /// `cascade status RUN --format json`, parsed.
  nlohmann::json status(long long run) const {
    auto result = cascade("status", {std::to_string(run), "--format", "json"});
    if (result.exit_code != 0) throw std::runtime_error("cascade status failed: " + result.err);
    return nlohmann::json::parse(result.out);
  }
  /// The image's labels as pushed.
  std::map<std::string, std::string> labels(const std::string& image) const {
    auto info = skopeo_inspect(image);
    return info["Labels"].get<std::map<std::string, std::string>>();
  }

 private:
  TempDir dir_;
  DockerRegistry registry_;
  std::string prefix_;
};

/// The tasks of a run by image.
inline std::map<std::string, nlohmann::json> tasks_by_image(const nlohmann::json& run) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& task : run["tasks"]) out[task["image"]] = task;
  return out;
}

}  // namespace cascade::test
