// State names, the legal state changes and the duration estimate: the pure part of the
// store, shared by every backend.
#include <algorithm>
#include <array>
#include <utility>

#include "cascade/store.hpp"

namespace cascade::store {

namespace {

template <typename Enum, std::size_t N>
using Names = std::array<std::pair<Enum, std::string_view>, N>;

constexpr Names<TriggerKind, 4> kTriggerKinds{{
    {TriggerKind::cli, "cli"}, {TriggerKind::webhook, "webhook"},
    {TriggerKind::schedule, "schedule"}, {TriggerKind::api, "api"}}};

constexpr Names<TriggerAction, 4> kTriggerActions{{
    {TriggerAction::patch, "patch"}, {TriggerAction::rebuild, "rebuild"},
    {TriggerAction::fix, "fix"}, {TriggerAction::deploy, "deploy"}}};

constexpr Names<EventAction, 5> kEventActions{{
    {EventAction::patch, "patch"}, {EventAction::rebuild, "rebuild"}, {EventAction::refresh, "refresh"},
    {EventAction::scan, "scan"}, {EventAction::fix, "fix"}}};

constexpr Names<RunState, 6> kRunStates{{
    {RunState::planned, "planned"}, {RunState::running, "running"}, {RunState::succeeded, "succeeded"},
    {RunState::failed, "failed"}, {RunState::interrupted, "interrupted"}, {RunState::awaiting, "awaiting"}}};

constexpr Names<ReleaseState, 8> kReleaseStates{{
    {ReleaseState::held, "held"}, {ReleaseState::rolling, "rolling"}, {ReleaseState::done, "done"},
    {ReleaseState::failed, "failed"}, {ReleaseState::rejected, "rejected"}, {ReleaseState::expired, "expired"},
    {ReleaseState::stopped, "stopped"}, {ReleaseState::monitored, "monitored"}}};

constexpr Names<TaskState, 7> kTaskStates{{
    {TaskState::pending, "pending"}, {TaskState::building, "building"}, {TaskState::pushing, "pushing"},
    {TaskState::pushed, "pushed"}, {TaskState::skipped, "skipped"}, {TaskState::failed, "failed"},
    {TaskState::blocked, "blocked"}}};

constexpr Names<DigestSource, 2> kDigestSources{{
    {DigestSource::pushed, "pushed"}, {DigestSource::registry, "registry"}}};

constexpr Names<RolloutState, 4> kRolloutStates{{
    {RolloutState::updating, "updating"}, {RolloutState::healthy, "healthy"},
    {RolloutState::failed, "failed"}, {RolloutState::rolled_back, "rolled_back"}}};

constexpr Names<ScanRole, 3> kScanRoles{{
    {ScanRole::fleet, "fleet"}, {ScanRole::external, "external"}, {ScanRole::workload, "workload"}}};

template <typename Enum, std::size_t N>
std::string_view name_of(const Names<Enum, N>& names, Enum value) {
  for (const auto& [candidate, name] : names)
    if (candidate == value) return name;
  return "?";
}

template <typename Enum, std::size_t N>
std::optional<Enum> parse_name(const Names<Enum, N>& names, std::string_view text) {
  for (const auto& [value, name] : names)
    if (name == text) return value;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(TriggerKind kind) { return name_of(kTriggerKinds, kind); }
std::string_view to_string(TriggerAction action) { return name_of(kTriggerActions, action); }
std::string_view to_string(EventAction action) { return name_of(kEventActions, action); }
std::string_view to_string(RunState state) { return name_of(kRunStates, state); }
std::string_view to_string(TaskState state) { return name_of(kTaskStates, state); }
std::string_view to_string(DigestSource source) { return name_of(kDigestSources, source); }
std::string_view to_string(RolloutState state) { return name_of(kRolloutStates, state); }
std::string_view to_string(ReleaseState state) { return name_of(kReleaseStates, state); }

std::optional<TriggerKind> parse_trigger_kind(std::string_view text) { return parse_name(kTriggerKinds, text); }
std::optional<TriggerAction> parse_trigger_action(std::string_view text) { return parse_name(kTriggerActions, text); }
std::optional<EventAction> parse_event_action(std::string_view text) { return parse_name(kEventActions, text); }
std::optional<RunState> parse_run_state(std::string_view text) { return parse_name(kRunStates, text); }
std::optional<TaskState> parse_task_state(std::string_view text) { return parse_name(kTaskStates, text); }
std::optional<DigestSource> parse_digest_source(std::string_view text) { return parse_name(kDigestSources, text); }
std::optional<RolloutState> parse_rollout_state(std::string_view text) { return parse_name(kRolloutStates, text); }
std::optional<ReleaseState> parse_release_state(std::string_view text) { return parse_name(kReleaseStates, text); }
std::string_view to_string(ScanRole role) { return name_of(kScanRoles, role); }
std::optional<ScanRole> parse_scan_role(std::string_view text) { return parse_name(kScanRoles, text); }

bool can_transition(RunState from, RunState to) {
  using S = RunState;
  switch (from) {
    case S::planned:
      return to == S::running || to == S::awaiting || to == S::succeeded || to == S::failed || to == S::interrupted;
    case S::running: return to == S::awaiting || to == S::succeeded || to == S::failed || to == S::interrupted;
    case S::interrupted: return to == S::running || to == S::failed;
    case S::awaiting: return to == S::running || to == S::succeeded || to == S::failed;
    case S::succeeded:
    case S::failed: return false;
  }
  return false;
}

bool can_transition(TaskState from, TaskState to) {
  using S = TaskState;
  switch (from) {
    case S::pending: return to == S::building || to == S::skipped || to == S::blocked || to == S::failed;
    case S::building: return to == S::pushing || to == S::failed || to == S::pending;
    case S::pushing: return to == S::pushed || to == S::failed || to == S::pending;
    case S::failed:
    case S::blocked: return to == S::pending;
    case S::pushed:
    case S::skipped: return false;
  }
  return false;
}

bool is_final(TaskState state) { return state == TaskState::pushed || state == TaskState::skipped; }

bool is_final(ReleaseState state) { return state != ReleaseState::held && state != ReleaseState::rolling; }

// The median of the last few builds rather than a mean or an EWMA: one outlier (a cold
// cache, a build that hit every layer) does not move it, and it follows a lasting change
// once it is the majority of the window.
std::optional<Duration> estimate_duration(const std::vector<Duration>& oldest_first) {
  if (oldest_first.empty()) return std::nullopt;
  std::size_t count = std::min(oldest_first.size(), kRecentDurations);
  std::vector<Duration> recent(oldest_first.end() - static_cast<std::ptrdiff_t>(count), oldest_first.end());
  std::sort(recent.begin(), recent.end());
  if (count % 2 == 1) return recent[count / 2];
  return (recent[count / 2 - 1] + recent[count / 2]) / 2;
}

}  // namespace cascade::store
