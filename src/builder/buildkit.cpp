// The BuildKit backend: `buildctl build` against a BuildKit daemon (local, remote over TCP
// with mutual TLS, or in Kubernetes). It builds and pushes in one command and reports the
// pushed digest in a --metadata-file.
//
// No standalone BuildKit daemon runs on the machines the tests run on: the argument vectors
// are tested exactly, the metadata parsing on BuildKit's documented shape, and the failure
// classification on its error lines. docs/builders.md says how to point cascade at a remote
// BuildKit worker.
#include <nlohmann/json.hpp>

#include <filesystem>

#include "internal.hpp"
#include "platforms.hpp"

namespace cascade::builder {

namespace fs = std::filesystem;
using detail::Clock;
using detail::append;

Expected<BuildResult, std::string> parse_buildkit_metadata(std::string_view json) {
  auto document = nlohmann::json::parse(json, nullptr, false);
  if (document.is_discarded() || !document.is_object()) return unexpected(std::string("the metadata file is not a JSON object"));
  auto digest_at = [&](const char* key) -> std::string {
    auto found = document.find(key);
    return found != document.end() && found->is_string() ? found->get<std::string>() : std::string();
  };
  BuildResult result;
  result.digest = digest_at("containerimage.digest");
  if (!detail::is_digest(result.digest)) return unexpected(std::string("the metadata has no containerimage.digest"));
  result.image_id = digest_at("containerimage.config.digest");
  if (!detail::is_digest(result.image_id))
    return unexpected(std::string("the metadata has no containerimage.config.digest"));
  return result;
}

namespace {

// The image exporter's settings: push to the registry, over plain http when it is insecure.
std::string image_output(const std::string& image, const std::set<std::string>& insecure) {
  std::string output = "type=image,name=" + image + ",push=true";
  if (insecure.count(registry_host(image))) output += ",registry.insecure=true";
  return output;
}

// Runs a BuildKit command that builds and pushes, then reads its metadata file.
Expected<BuildResult, Error> run_buildkit(const std::string& backend, const std::vector<std::string>& argv,
                                          const std::map<std::string, std::string>& env, const std::string& metadata_file,
                                          const BuildRequest& request, const CancelToken& cancel,
                                          Clock::time_point start, std::chrono::milliseconds kill_grace,
                                          const std::vector<std::string>& masked) {
  detail::append_log(request.log_path, "=== cascade " + backend + ": " + request.image + " (run " + request.run_id + ") ===\n");
  detail::StepContext context{request, cancel, detail::deadline_for(request, start), kill_grace, masked};
  auto ran = detail::run_step({backend + " build", argv, env}, context);
  if (!ran) return unexpected(ran.error());
  if (ran->exit_code != 0)
    return unexpected(detail::step_error(detail::classify_buildkit_failure(ran->output), backend + " build failed", request, *ran));
  auto result = parse_buildkit_metadata(detail::read_trimmed(metadata_file));
  if (!result) return unexpected(Error{Error::Kind::setup, request.image + ": " + backend + ": " + result.error()});
  result->build_seconds = ran->seconds;
  detail::append_log(request.log_path, "cascade: pushed " + request.image + "@" + result->digest + "\n");
  return std::move(*result);
}

}  // namespace

Buildctl::Buildctl(BuildctlOptions options) : options_(std::move(options)) {}

std::vector<std::string> Buildctl::argv(const BuildRequest& request, const BuildctlFiles& files) const {
  std::vector<std::string> argv = {options_.program};
  if (!options_.addr.empty()) append(argv, {"--addr", options_.addr});
  if (!options_.tls_server_name.empty()) append(argv, {"--tlsservername", options_.tls_server_name});
  if (!options_.tls_ca_cert.empty()) append(argv, {"--tlscacert", options_.tls_ca_cert});
  if (!options_.tls_cert.empty()) append(argv, {"--tlscert", options_.tls_cert});
  if (!options_.tls_key.empty()) append(argv, {"--tlskey", options_.tls_key});
  append(argv, options_.global_args);
  append(argv, {"build", "--progress", "plain", "--frontend", "dockerfile.v0",
                "--local", "context=" + request.context_dir, "--local", "dockerfile=" + files.dockerfile_dir,
                "--opt", "filename=" + files.dockerfile_name});
  if (!request.target.empty()) append(argv, {"--opt", "target=" + request.target});
  if (request.no_cache) argv.push_back("--no-cache");
  for (const auto& [key, value] : request.build_args) append(argv, {"--opt", "build-arg:" + key + "=" + value});
  for (const auto& [key, value] : request.labels) append(argv, {"--opt", "label:" + key + "=" + value});
  for (std::size_t i = 0; i < request.secrets.size(); ++i)
    append(argv, {"--secret", detail::secret_argument(request.secrets[i], i)});
  append(argv, {"--output", image_output(request.image, options_.insecure_registries),
                "--metadata-file", files.metadata_file});
  append(argv, options_.build_args);
  return argv;
}

Expected<BuildResult, Error> Buildctl::build_and_push(const BuildRequest& request, const CancelToken& cancel) {
  // BuildKit itself can export an index of several platforms, but this backend asks for one
  // image, and no BuildKit daemon runs where cascade is tested to check a multi-platform one.
  if (!request.platforms.empty())
    return unexpected(detail::one_platform_only(request, "buildctl", "this backend exports one image"));
  // BuildKit pushes from inside the daemon as the build ends: nothing here could run the
  // image between its build and its push.
  if (!request.tests.empty())
    return unexpected(Error{Error::Kind::setup,
                            request.image + ": test: needs a buildah or docker worker; this build went to a buildkit "
                                            "worker (buildctl" + (options_.addr.empty() ? "" : " at " + options_.addr) +
                                            "), which pushes from inside BuildKit, so the image cannot be tested "
                                            "before it is pushed: give the recipe a buildah or docker worker"});
  auto start = Clock::now();
  if (auto checked = detail::check_request(request); !checked) return unexpected(checked.error());
  auto secrets = detail::read_secrets(request);
  if (!secrets) return unexpected(secrets.error());
  auto work = detail::WorkDir::create(detail::work_root("", options_.state_dir, "buildctl"), request.run_id);
  if (!work) return unexpected(work.error());
  // The Dockerfile sits in a folder of its own, sent to the daemon as the "dockerfile" local.
  BuildctlFiles files{work->file("dockerfile"), "Dockerfile", work->file("metadata.json")};
  std::error_code ec;
  fs::create_directories(files.dockerfile_dir, ec);
  if (auto written = detail::write_text(files.dockerfile_dir + "/Dockerfile", request.dockerfile_text); !written)
    return unexpected(written.error());
  std::map<std::string, std::string> env = secrets->env;
  if (!options_.docker_config_dir.empty()) env["DOCKER_CONFIG"] = options_.docker_config_dir;
  return run_buildkit("buildctl", argv(request, files), env, files.metadata_file, request, cancel, start,
                      options_.kill_grace, secrets->masked);
}

}  // namespace cascade::builder
