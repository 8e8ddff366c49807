// Internal to the application layer: the rollback notifications of a rollout that failed its
// gate, from the executor's progress or a release pass.
#pragma once

#include <string>

#include "cascade/app.hpp"

namespace cascade::app::detail {

/// Stores the rolled-back event of `what` ("target/workload") and, unless the rollout was
/// cancelled or refused a quarantined digest, the quarantined event of image@digest.
void notify_rollback(Wiring& wiring, store::RunId run, const std::string& what, const std::string& image,
                     const std::string& digest, const std::string& reason);

}  // namespace cascade::app::detail
