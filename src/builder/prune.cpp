// Pruning a backend's build storage (work in progress: replaced by the real one).
#include "internal.hpp"

namespace cascade::builder {

Expected<PruneReport, Error> Buildah::prune(const std::set<std::string>&, const CancelToken&) { return PruneReport{}; }
Expected<PruneReport, Error> DockerBuild::prune(const std::set<std::string>&, const CancelToken&) { return PruneReport{}; }

}  // namespace cascade::builder
