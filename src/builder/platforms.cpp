// Multi-platform builds on buildah (see platforms.hpp): a bud per platform, the `test:`
// commands in each platform's image, a local manifest list of the images, one
// `manifest push --all` of it, the list removed.
//
// Foreign platforms build under emulation: with qemu-user-static registered in binfmt_misc,
// `bud --platform linux/arm64` pulls each base's arm64 child and runs RUN steps through
// qemu, with no configuration of cascade's own. Without emulation such a RUN fails with
// "exec format error": a build failure of that platform, and nothing is pushed.
#include "platforms.hpp"

#include <cstdint>
#include <random>
#include <set>

namespace cascade::builder::detail {

namespace {

// The registry's answer formats for `manifest push --format`: docker's manifest list beside
// docker-format images (what BuildahOptions::format "docker" keeps), else an OCI index.
std::string_view index_format(const BuildahOptions& options) { return options.format == "docker" ? "v2s2" : "oci"; }

// Empty or repeated platforms would make an index buildah cannot push or a client cannot choose from.
Expected<void, Error> check_platform_list(const BuildRequest& request) {
  std::set<std::string> seen;
  for (const auto& platform : request.platforms) {
    if (platform.platform.empty())
      return unexpected(Error{Error::Kind::setup, request.image + ": a platform of the build is empty"});
    if (!seen.insert(platform.platform).second)
      return unexpected(Error{Error::Kind::setup, request.image + ": platform " + platform.platform + " is listed twice"});
  }
  return {};
}

std::string platform_list(const BuildRequest& request) {
  std::string text;
  for (const auto& platform : request.platforms) text += (text.empty() ? "" : ", ") + platform.platform;
  return text;
}

// Builds one platform into local storage; returns its image id.
Expected<std::string, Error> build_one(const PlatformsRun& run, std::size_t index, BuildResult& result) {
  const BuildRequest& request = run.context.request;
  const PlatformBuild& platform = request.platforms[index];
  append_log(request.log_path, "=== cascade buildah: " + request.image + " for " + platform.platform + " (platform " +
                                   std::to_string(index + 1) + " of " + std::to_string(request.platforms.size()) +
                                   ") ===\n");
  BuildahFiles files{run.dockerfile, run.work.file("image-id-" + std::to_string(index)), ""};
  std::string step = "buildah bud --platform " + platform.platform;
  auto built = run_step({step, buildah_bud_argv(run.options, request, files, &platform), run.bud_env}, run.context);
  if (!built) return unexpected(built.error());
  if (built->exit_code != 0)
    return unexpected(step_error(classify_build_failure(built->output), step + " failed", request, *built));
  result.build_seconds += built->seconds;
  std::string image_id = read_trimmed(files.iidfile);
  if (!is_digest(image_id))
    return unexpected(Error{Error::Kind::setup, request.image + ": " + step + " wrote no image id to " + files.iidfile});
  return image_id;
}

// A local command on the list (create, add): its failure is cascade's set-up, not the build's.
Expected<void, Error> run_local(const PlatformsRun& run, const std::string& name, std::vector<std::string> argv,
                                BuildResult& result) {
  auto ran = run_step({name, std::move(argv), run.env}, run.context);
  if (!ran) return unexpected(ran.error());
  if (ran->exit_code != 0) return unexpected(step_error(Error::Kind::setup, name + " failed", run.context.request, *ran));
  result.build_seconds += ran->seconds;
  return {};
}

// Makes the list `list` of the built images and pushes it; returns the index digest.
Expected<std::string, Error> push_list(const PlatformsRun& run, const std::string& list,
                                       const std::vector<std::string>& image_ids, BuildResult& result) {
  const BuildRequest& request = run.context.request;
  CASCADE_TRY(run_local(run, "buildah manifest create", manifest_create_argv(run.options, list), result));
  for (const auto& image_id : image_ids)
    CASCADE_TRY(run_local(run, "buildah manifest add", manifest_add_argv(run.options, list, image_id), result));
  std::string digestfile = run.work.file("digest");
  auto pushed = run_step({"buildah manifest push", manifest_push_argv(run.options, request, list, digestfile), run.env},
                         run.context);
  if (!pushed) return unexpected(pushed.error());
  if (pushed->exit_code != 0)
    return unexpected(step_error(classify_push_failure(pushed->output), "buildah manifest push failed", request, *pushed));
  result.push_seconds = pushed->seconds;
  std::string digest = read_trimmed(digestfile);
  if (!is_digest(digest))
    return unexpected(Error{Error::Kind::setup, request.image + ": buildah manifest push wrote no digest to " + digestfile});
  return digest;
}

// Removes the local list even when the build was cancelled or ran out of time (its own short
// deadline then): a list left behind would pin its images in storage. Best effort, logged.
void remove_list(const PlatformsRun& run, const std::string& list) {
  static const CancelToken never{};
  const StepContext& build = run.context;
  StepContext cleanup{build.request, never, Clock::now() + std::chrono::seconds(60), build.kill_grace, build.masked};
  auto removed = run_step({"buildah manifest rm", manifest_rm_argv(run.options, list), run.env}, cleanup);
  if (!removed || removed->exit_code != 0)
    append_log(build.request.log_path, "cascade: the local manifest list " + list + " was not removed\n");
}

}  // namespace

std::vector<std::string> manifest_create_argv(const BuildahOptions& options, const std::string& list) {
  std::vector<std::string> argv = buildah_global_argv(options);
  append(argv, {"manifest", "create", list});
  return argv;
}

std::vector<std::string> manifest_add_argv(const BuildahOptions& options, const std::string& list,
                                           const std::string& image_id) {
  std::vector<std::string> argv = buildah_global_argv(options);
  append(argv, {"manifest", "add", list, image_id});
  return argv;
}

std::vector<std::string> manifest_push_argv(const BuildahOptions& options, const BuildRequest& request,
                                            const std::string& list, const std::string& digestfile) {
  std::vector<std::string> argv = buildah_global_argv(options);
  append(argv, {"manifest", "push", "--all", "--format", std::string(index_format(options))});
  if (!options.auth_file.empty()) append(argv, {"--authfile", options.auth_file});
  if (options.insecure_registries.count(registry_host(request.image))) argv.push_back("--tls-verify=false");
  // No --retry: buildah 1.28's `manifest push` has no such flag (its `push` has); a failed
  // push is PushFailed, which the executor tries again.
  append(argv, {"--digestfile", digestfile});
  append(argv, options.push_args);
  append(argv, {list, "docker://" + request.image});
  return argv;
}

std::vector<std::string> manifest_rm_argv(const BuildahOptions& options, const std::string& list) {
  std::vector<std::string> argv = buildah_global_argv(options);
  append(argv, {"manifest", "rm", list});
  return argv;
}

std::string local_list_name() {
  // Random rather than derived from the run: two builds of the same run and image share a
  // storage, and `manifest create` of an existing name fails.
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::uint64_t value = generator();
  std::string name = "localhost/cascade-index-";
  for (int shift = 60; shift >= 0; shift -= 4) name += hex[(value >> shift) & 15];
  return name;
}

Expected<BuildResult, Error> build_platforms(const PlatformsRun& run) {
  const BuildRequest& request = run.context.request;
  CASCADE_TRY(check_platform_list(request));
  BuildResult result;
  std::vector<std::string> image_ids;
  for (std::size_t i = 0; i < request.platforms.size(); ++i) {
    CASCADE_TRY_ASSIGN(auto image_id, build_one(run, i, result));
    image_ids.push_back(std::move(image_id));
  }
  result.image_id = image_ids.front();
  // Each platform's image passes the tests (a foreign one under emulation) before any push.
  if (!request.tests.empty()) {
    for (std::size_t i = 0; i < request.platforms.size(); ++i) {
      CASCADE_TRY_ASSIGN(double tested, run_buildah_tests(run.options, run.context, run.env, image_ids[i],
                                                          request.platforms[i].platform));
      result.build_seconds += tested;
    }
  }

  append_log(request.log_path, "=== cascade buildah: " + request.image + " as one index of " + platform_list(request) +
                                   " ===\n");
  // A build stopped before `manifest create` made no list to remove.
  bool list_made = !run.context.cancel.stop_requested() && Clock::now() < run.context.deadline;
  std::string list = local_list_name();
  auto digest = push_list(run, list, image_ids, result);
  if (list_made) remove_list(run, list);
  if (!digest) return unexpected(digest.error());
  result.digest = std::move(*digest);
  append_log(request.log_path, "cascade: pushed " + request.image + "@" + result.digest + " (" + platform_list(request) +
                                   ")\n");
  return result;
}

Error one_platform_only(const BuildRequest& request, std::string_view worker, std::string_view why) {
  return Error{Error::Kind::setup, request.image + ": the " + std::string(worker) + " worker builds one platform, and " +
                                       "this image is for " + platform_list(request) +
                                       ": multi-platform images need a buildah worker (" + std::string(why) + ")"};
}

}  // namespace cascade::builder::detail
