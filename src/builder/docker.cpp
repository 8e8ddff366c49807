// The Docker Engine backend (work in progress: replaced by the real one).
#include "internal.hpp"

namespace cascade::builder {

DockerBuild::DockerBuild(DockerOptions options) : options_(std::move(options)) {}

Expected<BuildResult, Error> DockerBuild::build_and_push(const BuildRequest& request, const CancelToken&) {
  return unexpected(Error{Error::Kind::setup, request.image + ": the docker backend is not built yet"});
}

}  // namespace cascade::builder
