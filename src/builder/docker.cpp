// The Docker Engine backend: `DOCKER_BUILDKIT=1 docker build` on an engine (a local socket,
// or tcp:// with TLS client certificates) through the Debian client, which speaks BuildKit's
// session itself (no buildx plugin); then the request's `test:` commands, each in a
// `docker run --rm` of the built image id (tests.cpp); then `docker push` of the tag; then a
// look-up that the digest the push printed names the image this build made.
//
// Why the look-up: `docker push` pushes a tag, and another build tagging the same name on the
// same engine between this build and its push would have its image pushed instead (buildah
// pushes by image id and cannot mix them up). The engine records the pushed digest for the
// image it pushed, so `docker image inspect REPO@DIGEST` must answer with this build's id.
//
// Pull policy: bases are pinned by digest, so an image the engine already holds under that
// digest is exactly the pinned base; "always" adds --pull, "missing" and "never" nothing
// (docker 20.10's build has no flag to forbid a pull).
//
// The engine's own failures (cannot connect, TLS, the daemon dying mid-build) are
// WorkerUnavailable, told apart from a registry's refusal by the client's own error line
// (detail::docker_engine_unavailable); the message names the engine's endpoint.
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "internal.hpp"
#include "platforms.hpp"

namespace cascade::builder {

namespace fs = std::filesystem;
using detail::Clock;
using detail::append;

namespace {

// "127.0.0.1:5000/apps/shop:1" -> {"127.0.0.1:5000/apps/shop", "1"}; without a tag, "latest".
std::pair<std::string, std::string> split_tag(const std::string& image) {
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return {image, "latest"};
  return {image.substr(0, colon), image.substr(colon + 1)};
}

// The engine the client talks to, for messages and for telling its failures apart.
std::string engine_endpoint(const DockerOptions& options) {
  if (!options.host.empty()) return options.host;
  const char* from_env = std::getenv("DOCKER_HOST");
  return from_env && *from_env ? from_env : "unix:///var/run/docker.sock";
}

}  // namespace

DockerBuild::DockerBuild(DockerOptions options) : options_(std::move(options)) {}

std::vector<std::string> DockerBuild::global_argv() const {
  std::vector<std::string> argv = {options_.program};
  if (!options_.host.empty()) append(argv, {"-H", options_.host});
  if (!options_.tls_ca_cert.empty() || !options_.tls_cert.empty() || !options_.tls_key.empty())
    argv.push_back("--tlsverify");
  if (!options_.tls_ca_cert.empty()) append(argv, {"--tlscacert", options_.tls_ca_cert});
  if (!options_.tls_cert.empty()) append(argv, {"--tlscert", options_.tls_cert});
  if (!options_.tls_key.empty()) append(argv, {"--tlskey", options_.tls_key});
  return argv;
}

std::vector<std::string> DockerBuild::build_argv(const BuildRequest& request, const DockerFiles& files) const {
  std::vector<std::string> argv = global_argv();
  append(argv, {"build", "--progress", "plain", "-f", files.dockerfile});
  if (!request.target.empty()) append(argv, {"--target", request.target});
  if (request.no_cache) argv.push_back("--no-cache");
  if (options_.pull == PullPolicy::always) argv.push_back("--pull");
  if (!options_.network.empty()) append(argv, {"--network", options_.network});
  for (const auto& [key, value] : request.build_args) append(argv, {"--build-arg", detail::build_arg_argument(key, value)});
  for (const auto& [key, value] : request.labels) append(argv, {"--label", key + "=" + value});
  for (std::size_t i = 0; i < request.secrets.size(); ++i)
    append(argv, {"--secret", detail::secret_argument(request.secrets[i], i)});
  append(argv, {"--iidfile", files.iidfile, "-t", request.image});
  append(argv, options_.build_args);
  argv.push_back(request.context_dir);
  return argv;
}

std::vector<std::string> DockerBuild::push_argv(const BuildRequest& request) const {
  std::vector<std::string> argv = global_argv();
  append(argv, {"push", request.image});
  return argv;
}

Expected<BuildResult, Error> DockerBuild::build_and_push(const BuildRequest& request, const CancelToken& cancel) {
  // `docker build --platform` makes one image; an index of several takes buildx, which
  // Debian's docker 20.10 client does not have.
  if (!request.platforms.empty())
    return unexpected(detail::one_platform_only(request, "docker", "Debian's docker 20.10 has no buildx"));
  auto start = Clock::now();
  if (auto checked = detail::check_request(request); !checked) return unexpected(checked.error());
  if (auto checked = detail::check_tests(request); !checked) return unexpected(checked.error());
  for (const std::string* file : {&options_.tls_ca_cert, &options_.tls_cert, &options_.tls_key}) {
    std::error_code ec;
    if (!file->empty() && !fs::is_regular_file(*file, ec))
      return unexpected(Error{Error::Kind::setup, request.image + ": docker: " + *file + " is not a readable file"});
  }
  auto secrets = detail::read_secrets(request);
  if (!secrets) return unexpected(secrets.error());
  auto work = detail::WorkDir::create(detail::work_root("", options_.state_dir, "docker"), request.run_id);
  if (!work) return unexpected(work.error());
  DockerFiles files{work->file("Dockerfile"), work->file("image-id")};
  if (auto written = detail::write_text(files.dockerfile, request.dockerfile_text); !written)
    return unexpected(written.error());

  const std::string endpoint = engine_endpoint(options_);
  std::map<std::string, std::string> env = {{"DOCKER_BUILDKIT", "1"}};
  if (!options_.docker_config_dir.empty()) env["DOCKER_CONFIG"] = options_.docker_config_dir;
  // Build-arg and secret values go in the client's environment, not its argv (ps shows argv).
  std::map<std::string, std::string> build_env = detail::build_arg_environment(request);
  for (const auto& [key, value] : secrets->env) build_env[key] = value;
  for (const auto& [key, value] : env) build_env[key] = value;

  detail::append_log(request.log_path, "=== cascade docker: " + request.image + " on " + endpoint + " (run " +
                                           request.run_id + ") ===\n");
  detail::StepContext context{request, cancel, detail::deadline_for(request, start), options_.kill_grace,
                              secrets->masked};
  auto failure = [&](Error::Kind kind, const std::string& step, const detail::StepRun& run) {
    std::string what = kind == Error::Kind::worker_unavailable
                           ? step + " failed: the Docker Engine at " + endpoint + " is unavailable"
                           : step + " failed";
    return unexpected(detail::step_error(kind, what, request, run, detail::last_line(run.output)));
  };

  auto built = detail::run_step({"docker build", build_argv(request, files), build_env}, context);
  if (!built) return unexpected(built.error());
  if (built->exit_code != 0)
    return failure(detail::classify_docker_build_failure(built->output, endpoint), "docker build", *built);
  BuildResult result;
  result.build_seconds = built->seconds;
  result.image_id = detail::read_trimmed(files.iidfile);
  if (!detail::is_digest(result.image_id))
    return unexpected(Error{Error::Kind::setup, request.image + ": docker build wrote no image id to " + files.iidfile});
  // The tests run in the built image by id, before the push: a failing one pushes nothing.
  if (!request.tests.empty()) {
    detail::DockerTestEngine engine{global_argv(), options_.network, endpoint, env};
    CASCADE_TRY_ASSIGN(double tested, detail::run_docker_tests(engine, context, result.image_id));
    result.build_seconds += tested;
  }

  auto pushed = detail::run_step({"docker push", push_argv(request), env}, context);
  if (!pushed) return unexpected(pushed.error());
  if (pushed->exit_code != 0)
    return failure(detail::classify_docker_push_failure(pushed->output, endpoint), "docker push", *pushed);
  auto [repository, tag] = split_tag(request.image);
  result.digest = detail::parse_docker_push_digest(pushed->output, tag);
  if (result.digest.empty())
    return unexpected(Error{Error::Kind::setup, request.image + ": docker push printed no \"" + tag +
                                                    ": digest: sha256:... size: N\" line (see " + request.log_path + ")"});

  std::vector<std::string> inspect = global_argv();
  append(inspect, {"image", "inspect", "--format", "{{.Id}}", repository + "@" + result.digest});
  auto looked = detail::run_step({"docker image inspect", inspect, env}, context);
  if (!looked) return unexpected(looked.error());
  if (looked->exit_code != 0)
    return failure(detail::classify_docker_push_failure(looked->output, endpoint), "docker image inspect", *looked);
  if (std::string pushed_id = detail::last_line(looked->output); pushed_id != result.image_id)
    return unexpected(Error{Error::Kind::push_failed,
                            request.image + ": the tag was moved while it was pushed: " + result.digest + " is image " +
                                pushed_id + ", this build made " + result.image_id});
  result.push_seconds = pushed->seconds + looked->seconds;
  detail::append_log(request.log_path, "cascade: pushed " + request.image + "@" + result.digest + "\n");
  return result;
}

}  // namespace cascade::builder
