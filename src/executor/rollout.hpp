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
  std::string store_error;  // a rollout step or quarantine the store refused: the run stops
};

/// Rolls `deployment` to image@digest for run `run`; records every step in the store (a
/// refused write is kept in RolloutOutcome::store_error; the rollout itself goes on to its end).
RolloutOutcome roll_out(const Services& services, store::RunId run, const std::string& image, const std::string& digest,
                        const Deployment& deployment, std::stop_token stop);

}  // namespace cascade::executor::detail
