// Rolling a pushed image out to one workload (see rollout.hpp).
#include "rollout.hpp"
#include "step.hpp"

namespace cascade::executor {

using detail::tell;

namespace {

store::RolloutState state_of(deploy::StepState state) {
  switch (state) {
    case deploy::StepState::updating: return store::RolloutState::updating;
    case deploy::StepState::healthy: return store::RolloutState::healthy;
    case deploy::StepState::failed: return store::RolloutState::failed;
    case deploy::StepState::rolled_back: return store::RolloutState::rolled_back;
  }
  return store::RolloutState::failed;
}

}  // namespace

RolloutOutcome roll_out(const Services& services, store::RunId run, const std::string& image, const std::string& digest,
                        const Deployment& deployment, std::stop_token stop) {
  const deploy::Workload& workload = deployment.workload;
  std::string what = deployment.target->name() + "/" + workload.name;
  std::string store_error;  // the first write the store refused
  auto check = [&](const auto& written, const std::string& what_write) {
    if (!written && store_error.empty())
      store_error = "cannot record " + what_write + " of " + what + ": " + written.error().message;
  };
  auto done = [&](bool healthy, std::string detail) { return RolloutOutcome{healthy, std::move(detail), store_error}; };
  auto record = [&](store::RolloutState state, const std::string& detail) {
    store::RolloutStep step;
    step.run = run;
    step.target = deployment.target->name();
    step.workload = workload.name;
    step.image = image;
    step.from_digest = workload.digest;
    step.to_digest = digest;
    step.state = state;
    step.detail = detail;
    check(services.store.record_rollout_step(step), "a rollout step");
  };
  auto quarantined = services.store.is_quarantined(image, digest);
  if (!quarantined) {  // unknown whether this digest failed before: not rolled out
    store_error = "cannot read the quarantine for " + what + ": " + quarantined.error().message;
    return done(false, store_error);
  }
  if (*quarantined) {
    std::string detail = "not deployed: " + digest + " is quarantined (cascade quarantine clear)";
    record(store::RolloutState::failed, detail);
    tell(services, Progress::Kind::rolled_back, what, detail);
    return done(false, detail);
  }
  auto parsed = reference::parse(image);
  auto pinned = parsed ? reference::parse(parsed->repository() + "@" + digest) : parsed;
  if (!pinned) return done(false, "invalid image " + image + "@" + digest);
  tell(services, Progress::Kind::deploying, what, digest);
  auto sink = [&](const deploy::Step& step) {
    record(state_of(step.state), step.instance + ": " + step.detail);
  };
  auto result = deployment.target->rollout(workload, *pinned, deployment.policy, sink, stop);
  if (!result) {
    record(store::RolloutState::failed, result.error().str());
    tell(services, Progress::Kind::rolled_back, what, result.error().str());
    return done(false, result.error().str());
  }
  switch (result->outcome) {
    case deploy::RolloutResult::Outcome::healthy:
      record(store::RolloutState::healthy, "every instance runs " + digest);
      tell(services, Progress::Kind::deployed, what, digest);
      return done(true, "");
    case deploy::RolloutResult::Outcome::rolled_back:
      record(store::RolloutState::rolled_back, result->reason);
      if (result->reason != "cancelled")
        check(services.store.quarantine(image, digest, what + ": " + result->reason, run), "the quarantine");
      tell(services, Progress::Kind::rolled_back, what, result->reason);
      return done(false, "rolled back: " + result->reason);
    case deploy::RolloutResult::Outcome::failed:
      record(store::RolloutState::failed, result->reason);
      check(services.store.quarantine(image, digest, what + ": " + result->reason, run), "the quarantine");
      tell(services, Progress::Kind::rolled_back, what, result->reason);
      return done(false, "failed: " + result->reason);
  }
  return done(false, "unknown outcome");
}

}  // namespace cascade::executor
