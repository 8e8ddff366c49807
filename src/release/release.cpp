// The release decision (see release.hpp): gates per held release (rejection, approvals and
// their timeout, windows, the urgent override), then the waves' order and soak.
#include <algorithm>
#include <map>
#include <set>

#include "cascade/cron.hpp"
#include "cascade/release.hpp"
#include "cascade/util/time.hpp"

namespace cascade::release {

namespace {

using State = store::ReleaseState;

const pipeline::DeployTarget* find_target(const pipeline::Pipeline& pipeline, const std::string& name) {
  for (const auto& target : pipeline.deploy)
    if (target.name == name) return &target;
  return nullptr;
}

bool bad(State state) {
  return state == State::failed || state == State::rejected || state == State::expired || state == State::stopped;
}

std::string wave_name(const pipeline::Pipeline& pipeline, int wave) {
  if (wave >= 0 && static_cast<std::size_t>(wave) < pipeline.waves.size()) return pipeline.waves[wave].name;
  return "wave-" + std::to_string(wave + 1);
}

std::string duration_text(std::chrono::milliseconds duration) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration).count();
  if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

// A policy Workload::policy may carry that cascade understands.
bool known_policy(const std::string& policy) {
  return policy.empty() || policy == "skip" || policy == "monitor" || policy == "hold";
}

class Decider {
 public:
  explicit Decider(const Input& input) : input_(input), pipeline_(*input.pipeline) {
    for (const auto& release : input.releases) local_.push_back(release);
  }

  Decision decide() {
    std::vector<std::size_t> passed;  // held releases whose own gates are open
    for (std::size_t i = 0; i < local_.size(); ++i)
      if (local_[i].state == State::held && gates(local_[i])) passed.push_back(i);
    // An earlier wave that failed stops every held release of the later ones, passed or not.
    for (auto& release : local_)
      if (release.state == State::held && release.wave > 0)
        if (auto failed = failed_wave_before(release.wave))
          set(release, State::stopped, "not rolled out: wave " + wave_name(pipeline_, *failed) + " failed");
    for (std::size_t i : passed) {
      store::Release& release = local_[i];
      if (release.state != State::held) continue;
      if (release.wave > 0 && !wave_ready(release)) continue;
      decision_.start.push_back(release.id);
    }
    decision_.finished = std::all_of(local_.begin(), local_.end(),
                                     [](const store::Release& release) { return store::is_final(release.state); });
    for (std::size_t i = 0; i < local_.size(); ++i) {
      const store::Release& before = input_.releases[i];
      const store::Release& after = local_[i];
      if (after.state != before.state || after.detail != before.detail)
        decision_.changes.push_back(Change{after.id, after.state, after.detail});
    }
    return std::move(decision_);
  }

 private:
  // The release's own gates; true when none holds it (it may still wait for its wave).
  bool gates(store::Release& release) {
    const pipeline::DeployTarget* target = find_target(pipeline_, release.target);
    if (!target) {
      set(release, State::failed, "deploy target " + release.target + " is no longer in the pipeline");
      return false;
    }
    if (release.policy == "monitor") {
      set(release, State::monitored, monitored_detail(release));
      return false;
    }
    if (auto rejection = rejected(release.target)) {
      set(release, State::rejected, *rejection);
      return false;
    }
    bool urgent = input_.urgent && target->urgent;
    // The approval: the target's (skipped by an allowed urgent run), and one more for a
    // workload held by its own policy (never skipped: its owners asked for a person).
    std::optional<pipeline::Approval> approval = approval_for(pipeline_, *target);
    bool needs_target_approval = approval.has_value();
    if (urgent) approval.reset();
    int required = approval ? approval->required : 0;
    bool held_by_policy = !release.policy.empty() && release.policy != "skip";
    if (held_by_policy) required = std::max(required, 1);
    int approvals = approvers(release.target);
    if (approvals < required) {
      std::optional<Time> deadline;
      if (approval) deadline = input_.waiting_since + approval->timeout;
      if (deadline && input_.now >= *deadline) {
        set(release, State::expired,
            "approval timed out after " + duration_text(approval->timeout) + " (" + std::to_string(approvals) +
                " of " + std::to_string(required) + "); the workload stays on its image");
        return false;
      }
      std::string why = "awaiting approval (" + std::to_string(approvals) + " of " + std::to_string(required) + ")";
      if (held_by_policy)
        why += known_policy(release.policy)
                   ? "; the workload's io.cascade.policy is hold"
                   : "; the workload's io.cascade.policy \"" + release.policy + "\" is not understood (skip, monitor or hold): held";
      set(release, State::held, why);
      decision_.awaiting_approval = true;
      if (deadline) wake(*deadline);
      return false;
    }
    if (!target->windows.empty()) {
      auto window = window_state(target->windows, input_.now);
      if (!window) {
        set(release, State::failed, "deploy target " + target->name + ": " + window.error());
        return false;
      }
      if (!window->open) {
        if (urgent) {
          decision_.urgent_used = true;
        } else {
          std::string when = window->opens ? "opens " + cron::format_local(std::chrono::floor<std::chrono::seconds>(
                                                                              *window->opens),
                                                                          target->windows.front().timezone)
                                           : "has no opening in the next 5 years";
          set(release, State::held, "outside the change window of " + target->name + "; it " + when);
          if (window->opens) wake(*window->opens);
          return false;
        }
      }
    }
    if (urgent && needs_target_approval && approvers(release.target) < 1) decision_.urgent_used = true;
    return true;
  }

  bool wave_ready(store::Release& release) {
    // The nearest earlier wave with releases in this run: all final (none bad: checked), then its soak.
    for (int wave = release.wave - 1; wave >= 0; --wave) {
      bool any = false, pending = false;
      std::optional<Time> last;
      for (const auto& other : local_) {
        if (other.wave != wave) continue;
        any = true;
        if (!store::is_final(other.state)) pending = true;
        if (other.finished_at) last = last ? std::max(*last, *other.finished_at) : *other.finished_at;
      }
      if (!any) continue;
      if (pending) {
        set(release, State::held, "after wave " + wave_name(pipeline_, wave) + " (rolling out)");
        return false;
      }
      auto soak = static_cast<std::size_t>(wave) < pipeline_.waves.size() ? pipeline_.waves[wave].soak
                                                                          : std::chrono::milliseconds{0};
      Time until = (last ? *last : input_.now) + soak;
      if (input_.now < until) {
        set(release, State::held,
            "after wave " + wave_name(pipeline_, wave) + " (healthy; soaking until " + util::iso_utc_ms(until) + ")");
        wake(until);
        return false;
      }
      return true;
    }
    return true;
  }

  std::optional<int> failed_wave_before(int wave) const {
    for (const auto& other : local_)
      if (other.wave >= 0 && other.wave < wave && bad(other.state)) return other.wave;
    return std::nullopt;
  }

  std::optional<std::string> rejected(const std::string& target) const {
    for (const auto& approval : input_.approvals)
      if (!approval.approved && (approval.target.empty() || approval.target == target))
        return "rejected by " + approval.actor + (approval.comment.empty() ? "" : ": " + approval.comment) +
               "; the workload stays on its image";
    return std::nullopt;
  }

  int approvers(const std::string& target) const {
    std::set<std::string> actors;
    for (const auto& approval : input_.approvals)
      if (approval.approved && (approval.target.empty() || approval.target == target)) actors.insert(approval.actor);
    return static_cast<int>(actors.size());
  }

  static std::string monitored_detail(const store::Release& release) {
    return "monitor: would move from " + release.from_digest.value_or("an unknown digest") + " to " +
           release.to_digest + "; not touched (io.cascade.policy is monitor)";
  }

  void set(store::Release& release, State state, std::string detail) {
    release.state = state;
    release.detail = std::move(detail);
    if (store::is_final(state) && !release.finished_at) release.finished_at = input_.now;
  }

  void wake(Time at) { decision_.wake = decision_.wake ? std::min(*decision_.wake, at) : at; }

  const Input& input_;
  const pipeline::Pipeline& pipeline_;
  std::vector<store::Release> local_;
  Decision decision_;
};

}  // namespace

std::optional<pipeline::Approval> approval_for(const pipeline::Pipeline& pipeline, const pipeline::DeployTarget& target) {
  // A top-level approval given before the build (`before: build`) is for the whole run: the
  // decision recorded then counts for the rollouts too.
  return target.approval ? target.approval : pipeline.approval;
}

int wave_of(const pipeline::Pipeline& pipeline, const std::string& target) {
  for (std::size_t i = 0; i < pipeline.waves.size(); ++i) {
    const auto& targets = pipeline.waves[i].targets;
    if (std::find(targets.begin(), targets.end(), target) != targets.end()) return static_cast<int>(i);
  }
  return -1;
}

bool gated(const pipeline::Pipeline& pipeline, const pipeline::DeployTarget& target, const std::string& policy) {
  if (!policy.empty() && policy != "skip") return true;
  return approval_for(pipeline, target).has_value() || !target.windows.empty() || wave_of(pipeline, target.name) >= 0;
}

Decision decide(const Input& input) { return Decider(input).decide(); }

store::RunState final_state(const std::vector<store::Release>& releases, bool builds_failed) {
  if (builds_failed) return store::RunState::failed;
  for (const auto& release : releases)
    if (release.state == State::failed || release.state == State::expired || release.state == State::stopped)
      return store::RunState::failed;
  return store::RunState::succeeded;
}

}  // namespace cascade::release
