// Multi-platform images on buildah: one `buildah bud --platform` per platform into local
// storage, then a local manifest list of the built images, pushed with its images as one
// image index under the tag (`buildah manifest push --all`), then the list removed.
//
// Nothing reaches the registry before every platform has built: a RUN failing on one
// platform leaves the tag where it was. The per-platform images carry no tag (the tag names
// the index), so a concurrent build of the same image cannot swap one platform's image.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "internal.hpp"

namespace cascade::builder::detail {

/// `buildah --root R --runroot RR [--storage-driver D] [global args]`: the start of every
/// buildah command run with `options`.
std::vector<std::string> buildah_global_argv(const BuildahOptions& options);

/// `buildah ... bud ...` for the request (Buildah::bud_argv). With `platform`, that platform's
/// build: `--platform`, the request's labels overlaid with the platform's, and no `-t`.
std::vector<std::string> buildah_bud_argv(const BuildahOptions& options, const BuildRequest& request,
                                          const BuildahFiles& files, const PlatformBuild* platform = nullptr);

/// `buildah ... manifest create LIST`.
std::vector<std::string> manifest_create_argv(const BuildahOptions& options, const std::string& list);
/// `buildah ... manifest add LIST IMAGE_ID`: the image by id, from local storage.
std::vector<std::string> manifest_add_argv(const BuildahOptions& options, const std::string& list,
                                           const std::string& image_id);
/// `buildah ... manifest push --all ... LIST docker://<request.image>`: the list and every
/// image in it, the index's digest written to `digestfile`.
std::vector<std::string> manifest_push_argv(const BuildahOptions& options, const BuildRequest& request,
                                            const std::string& list, const std::string& digestfile);
/// `buildah ... manifest rm LIST`.
std::vector<std::string> manifest_rm_argv(const BuildahOptions& options, const std::string& list);

/// A local manifest list name no other build uses: "localhost/cascade-index-<16 hex digits>".
std::string local_list_name();

/// What a multi-platform build shares with the single-platform one (Buildah::build_and_push
/// has read the secrets, written the Dockerfile and the registries.conf by then).
struct PlatformsRun {
  const BuildahOptions& options;
  const WorkDir& work;        // the build's folder: per-platform image-id files go there
  std::string dockerfile;     // the Dockerfile written there
  const StepContext& context;
  std::map<std::string, std::string> bud_env;  // build args, secrets, CONTAINERS_REGISTRIES_CONF
  std::map<std::string, std::string> env;      // CONTAINERS_REGISTRIES_CONF, for the manifest commands
};

/// Builds every platform of the request, runs the request's tests in each platform's image,
/// then pushes them as one index (see the top of this file). The result's digest is the
/// index's, its image id the first platform's. Fails like the single build: Setup for a bad
/// platform list (empty, repeated) or a local manifest command that failed; a bud's failure
/// classified as buildah's (BuildFailed, PullFailed, RuntimeFailed), or a test's
/// (TestFailed, naming the platform), pushing nothing; the push's as PushFailed or PushRejected; Cancelled,
/// TimedOut. The local list is removed whatever happened once it was made.
Expected<BuildResult, Error> build_platforms(const PlatformsRun& run);

/// The Setup error of a backend that builds one platform, for a request with platforms.
Error one_platform_only(const BuildRequest& request, std::string_view worker, std::string_view why);

}  // namespace cascade::builder::detail
