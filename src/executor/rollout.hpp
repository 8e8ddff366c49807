// Rolling a pushed image out to one workload: quarantine check, the target's rollout with
// every step recorded, and quarantine of a digest whose health gate failed.
#pragma once

#include <stop_token>
#include <string>

#include "cascade/executor.hpp"

namespace cascade::executor::detail {

struct RolloutOutcome {
  bool healthy = false;
  std::string detail;  // why not, when not healthy
};

/// Rolls `deployment` to image@digest for run `run`; records every step in the store.
RolloutOutcome roll_out(const Services& services, store::RunId run, const std::string& image, const std::string& digest,
                        const Deployment& deployment, std::stop_token stop);

}  // namespace cascade::executor::detail
