// Release control, decided: which of a run's held rollouts may start now, which wait and why
// (an approval, a change window, an earlier wave or its soak), and which end (rejected, the
// approval timed out, an earlier wave failed). Pure: the pipeline's gates, the stored
// releases and decisions, and the time in; a decision out. The application layer applies it
// (app/release.cpp): it rolls out what may start and stores the rest.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cascade/pipeline.hpp"
#include "cascade/store.hpp"
#include "cascade/util/expected.hpp"

namespace cascade::release {

using Time = store::Time;

/// Where a set of change windows stands at an instant.
struct WindowState {
  bool open = false;
  std::optional<Time> closes;  // open: when the window open now ends (the latest of overlapping ones)
  std::optional<Time> opens;   // closed: the next opening; nullopt when none within 5 years
};

/// The windows at `now`: open when some window's latest start at or before `now` is less than
/// its duration ago. Fails naming the window whose cron or zone is invalid (the pipeline parser
/// checks them first, so only a hand-made value fails).
Expected<WindowState, std::string> window_state(const std::vector<pipeline::Window>& windows, Time now);

/// The approval that applies to `target`: its own, else the pipeline's; nullopt when none.
std::optional<pipeline::Approval> approval_for(const pipeline::Pipeline& pipeline, const pipeline::DeployTarget& target);
/// The index of the wave `target` is in; -1 when none.
int wave_of(const pipeline::Pipeline& pipeline, const std::string& target);
/// Whether rollouts to `target` are held rather than started as soon as the image is pushed: it
/// needs an approval, has windows, or is in a wave; or the workload's policy is hold or monitor
/// (any non-empty policy but skip).
bool gated(const pipeline::Pipeline& pipeline, const pipeline::DeployTarget& target, const std::string& policy = "");

struct Input {
  const pipeline::Pipeline* pipeline = nullptr;
  bool urgent = false;      // the run was marked urgent
  Time waiting_since{};     // when the run began to wait (its first release): approvals time out from it
  std::vector<store::Release> releases;
  std::vector<store::Approval> approvals;
  Time now{};
};

struct Change {
  std::int64_t release = 0;
  store::ReleaseState state = store::ReleaseState::held;  // held (a new detail) or a final state
  std::string detail;
};

struct Decision {
  std::vector<std::int64_t> start;  // held releases to roll out now (set them rolling first)
  std::vector<Change> changes;      // releases whose state or detail changes (only real changes)
  // The earliest instant at which the clock alone may change the decision (a window opens, a
  // soak ends, an approval times out); nullopt when only a person or a running rollout can.
  std::optional<Time> wake;
  bool awaiting_approval = false;   // some held release waits for an approval
  bool finished = false;            // every release is final (after `changes`)
  bool urgent_used = false;         // the urgent override let something start that would have waited
};

/// Decides. Rules, per held release, in this order:
/// - a rejection (of the run, or of its target) ends it rejected;
/// - its target needs approvals (approval_for; a `hold` policy needs one even without) and the
///   run has fewer distinct approving actors (for the run or its target) than required: it
///   waits, or ends expired once `timeout` has passed since waiting_since;
/// - its target has windows and none is open: it waits for the next opening;
/// - an urgent run skips both of the above on targets with `urgent: true` (urgent_used);
/// - its wave > 0: it waits until every release of the earlier waves is final, each done or
///   monitored (a failed, rejected, expired or stopped one there ends it stopped, naming the
///   wave), and then until the previous wave's soak has passed since its last release finished.
/// Releases in state rolling are left alone (a pass that finds them after a crash sets them
/// held again before deciding).
Decision decide(const Input& input);

/// A held release's detail says what it waits for, e.g. "awaiting approval (0 of 2)", "window
/// opens 2026-12-07T09:00:00+01:00", "after wave canary (soak until ...)".
///
/// The final state of a run whose releases are all final: failed when any failed or expired (or
/// `builds_failed`), else succeeded.
store::RunState final_state(const std::vector<store::Release>& releases, bool builds_failed);

}  // namespace cascade::release
