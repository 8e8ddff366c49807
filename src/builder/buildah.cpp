// The buildah backend: `buildah bud` into buildah's own storage, then the request's `test:`
// commands in containers of the built image (tests.cpp), then `buildah push` of the built
// image id to the registry. Daemonless; the default. A request with platforms takes
// the multi-platform path of platforms.cpp (a bud per platform, one index pushed).
//
// Pull policy: the caller pins every base as repo@sha256:<digest>, and a digest names exactly
// one manifest, so an image already in local storage under that digest is byte for byte what
// the registry would serve. "missing" therefore builds on exactly the pinned base while
// sparing a registry round trip per base and per build (and keeps building while the base's
// registry is briefly unreachable). "always" adds nothing for pinned bases; it is there for
// Dockerfiles that still name a base by tag.
#include <filesystem>
#include <system_error>

#include "platforms.hpp"

namespace cascade::builder {

namespace fs = std::filesystem;
using detail::Clock;
using detail::append;

namespace {

std::string_view pull_flag(PullPolicy policy) {
  switch (policy) {
    case PullPolicy::always: return "--pull=always";
    case PullPolicy::never: return "--pull=never";
    case PullPolicy::missing: break;
  }
  return "--pull=missing";
}

std::string state_path(const BuildahOptions& options, const std::string& given, const char* name) {
  if (!given.empty()) return given;
  std::string state = options.state_dir.empty() ? default_state_dir() : options.state_dir;
  return (fs::path(state) / "buildah" / name).string();
}

// registries.conf text: `base` plus an insecure [[registry]] for each host it does not name.
std::string registries_conf_text(const std::string& base, const std::set<std::string>& insecure) {
  std::string text = base;
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += "\n# Added by cascade for its insecure registries.\n";
  for (const auto& host : insecure) {
    if (base.find("\"" + host + "\"") != std::string::npos) continue;  // configured there already
    text += "[[registry]]\nlocation = \"" + host + "\"\ninsecure = true\n\n";
  }
  return text;
}

}  // namespace

Buildah::Buildah(BuildahOptions options) : options_(std::move(options)) {
  options_.root = state_path(options_, options_.root, "root");
  options_.runroot = state_path(options_, options_.runroot, "runroot");
  options_.work_dir = detail::work_root(options_.work_dir, options_.state_dir, "buildah");
}

std::vector<std::string> detail::buildah_global_argv(const BuildahOptions& options) {
  std::vector<std::string> argv = {options.program, "--root", options.root, "--runroot", options.runroot};
  if (!options.storage_driver.empty()) append(argv, {"--storage-driver", options.storage_driver});
  append(argv, options.global_args);
  return argv;
}

std::vector<std::string> Buildah::global_argv() const { return detail::buildah_global_argv(options_); }

std::vector<std::string> detail::buildah_bud_argv(const BuildahOptions& options, const BuildRequest& request,
                                                  const BuildahFiles& files, const PlatformBuild* platform) {
  std::vector<std::string> argv = buildah_global_argv(options);
  append(argv, {"bud", "--isolation", options.isolation, "--format", options.format, std::string(pull_flag(options.pull))});
  if (!options.auth_file.empty()) append(argv, {"--authfile", options.auth_file});
  if (options.retries) append(argv, {"--retry", std::to_string(*options.retries)});
  if (!options.retry_delay.empty()) append(argv, {"--retry-delay", options.retry_delay});
  append(argv, {"-f", files.dockerfile});
  // One platform's image stays untagged: the tag goes to the pushed index alone.
  if (platform) append(argv, {"--platform", platform->platform});
  else append(argv, {"-t", request.image});
  if (!request.target.empty()) append(argv, {"--target", request.target});
  if (request.no_cache) argv.push_back("--no-cache");
  for (const auto& [key, value] : request.build_args) append(argv, {"--build-arg", detail::build_arg_argument(key, value)});
  std::map<std::string, std::string> labels = request.labels;
  if (platform)
    for (const auto& [key, value] : platform->labels) labels[key] = value;
  for (const auto& [key, value] : labels) append(argv, {"--label", key + "=" + value});
  for (std::size_t i = 0; i < request.secrets.size(); ++i)
    append(argv, {"--secret", detail::secret_argument(request.secrets[i], i)});
  append(argv, {"--iidfile", files.iidfile});
  append(argv, options.bud_args);
  argv.push_back(request.context_dir);
  return argv;
}

std::vector<std::string> Buildah::bud_argv(const BuildRequest& request, const BuildahFiles& files) const {
  return detail::buildah_bud_argv(options_, request, files);
}

std::vector<std::string> Buildah::push_argv(const BuildRequest& request, const std::string& image_id,
                                            const BuildahFiles& files) const {
  std::vector<std::string> argv = global_argv();
  argv.push_back("push");
  if (!options_.auth_file.empty()) append(argv, {"--authfile", options_.auth_file});
  if (options_.insecure_registries.count(registry_host(request.image))) argv.push_back("--tls-verify=false");
  if (options_.retries) append(argv, {"--retry", std::to_string(*options_.retries)});
  if (!options_.retry_delay.empty()) append(argv, {"--retry-delay", options_.retry_delay});
  append(argv, {"--digestfile", files.digestfile});
  append(argv, options_.push_args);
  // The image id, not the tag: another build tagging the same name meanwhile cannot swap it.
  append(argv, {image_id, "docker://" + request.image});
  return argv;
}

Expected<BuildResult, Error> Buildah::build_and_push(const BuildRequest& request, const CancelToken& cancel) {
  auto start = Clock::now();
  if (auto checked = detail::check_request(request); !checked) return unexpected(checked.error());
  if (auto checked = detail::check_tests(request); !checked) return unexpected(checked.error());
  for (const std::string* file : {&options_.registries_conf, &options_.auth_file}) {
    std::error_code ec;
    if (!file->empty() && !fs::is_regular_file(*file, ec))
      return unexpected(Error{Error::Kind::setup, request.image + ": buildah: " + *file + " is not a readable file"});
  }
  auto secrets = detail::read_secrets(request);
  if (!secrets) return unexpected(secrets.error());
  auto work = detail::WorkDir::create(options_.work_dir, request.run_id);
  if (!work) return unexpected(work.error());
  BuildahFiles files{work->file("Dockerfile"), work->file("image-id"), work->file("digest")};
  if (auto written = detail::write_text(files.dockerfile, request.dockerfile_text); !written)
    return unexpected(written.error());

  std::map<std::string, std::string> env;
  if (!options_.insecure_registries.empty()) {
    std::string base = options_.registries_conf.empty() ? "/etc/containers/registries.conf" : options_.registries_conf;
    std::string conf = work->file("registries.conf");
    auto written = detail::write_text(conf, registries_conf_text(detail::read_trimmed(base), options_.insecure_registries));
    if (!written) return unexpected(written.error());
    env["CONTAINERS_REGISTRIES_CONF"] = conf;
  } else if (!options_.registries_conf.empty()) {
    env["CONTAINERS_REGISTRIES_CONF"] = options_.registries_conf;
  }

  detail::append_log(request.log_path, "=== cascade buildah: " + request.image + " (run " + request.run_id + ") ===\n");
  detail::StepContext context{request, cancel, detail::deadline_for(request, start), options_.kill_grace,
                              secrets->masked};
  // Build-arg and secret values go in bud's environment, not its argv (visible to every user in ps).
  std::map<std::string, std::string> bud_env = detail::build_arg_environment(request);
  for (const auto& [key, value] : env) bud_env[key] = value;
  for (const auto& [key, value] : secrets->env) bud_env[key] = value;
  if (!request.platforms.empty())
    return detail::build_platforms({options_, *work, files.dockerfile, context, std::move(bud_env), std::move(env)});
  auto built = detail::run_step({"buildah bud", bud_argv(request, files), bud_env}, context);
  if (!built) return unexpected(built.error());
  if (built->exit_code != 0)
    return unexpected(detail::step_error(detail::classify_build_failure(built->output), "buildah bud failed", request, *built));
  BuildResult result;
  result.build_seconds = built->seconds;
  result.image_id = detail::read_trimmed(files.iidfile);
  if (!detail::is_digest(result.image_id))
    return unexpected(Error{Error::Kind::setup, request.image + ": buildah bud wrote no image id to " + files.iidfile});
  // The tests run in the built image by id, before the push: a failing one pushes nothing.
  if (!request.tests.empty()) {
    CASCADE_TRY_ASSIGN(double tested, detail::run_buildah_tests(options_, context, env, result.image_id));
    result.build_seconds += tested;
  }

  auto pushed = detail::run_step({"buildah push", push_argv(request, result.image_id, files), env}, context);
  if (!pushed) return unexpected(pushed.error());
  if (pushed->exit_code != 0)
    return unexpected(detail::step_error(detail::classify_push_failure(pushed->output), "buildah push failed", request, *pushed));
  result.push_seconds = pushed->seconds;
  result.digest = detail::read_trimmed(files.digestfile);
  if (!detail::is_digest(result.digest))
    return unexpected(Error{Error::Kind::setup, request.image + ": buildah push wrote no digest to " + files.digestfile});
  detail::append_log(request.log_path, "cascade: pushed " + request.image + "@" + result.digest + "\n");
  return result;
}

}  // namespace cascade::builder
