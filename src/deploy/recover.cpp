// Recovery after a crash mid-rollout: every "<name>-cascade-old" container is a replica whose
// replacement was not finished. Keep the new container when it passes the gate, else put the
// old one back, so each workload ends on exactly one set of containers.
#include "internal.hpp"

namespace cascade::deploy {

using namespace detail;

namespace {

std::string first_name(const json& container) {
  auto names = container.value("Names", json::array());
  std::string name = names.empty() ? "" : names[0].get<std::string>();
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  return name;
}

}  // namespace

Expected<void, Error> DockerTarget::Impl::recover(const std::string& run_tag, const RolloutPolicy& policy,
                                                  const StepSink& sink) {
  auto listed = list_containers(*engine);
  if (!listed) return unexpected(listed.error());
  Recorder record(sink, "recover:" + run_tag);
  HealthGate gate{policy, options.poll_interval};
  std::map<std::string, json> by_name;
  for (const auto& container : *listed) by_name[first_name(container)] = container;
  for (const auto& [aside, old_container] : by_name) {
    if (aside.size() <= kOldSuffix.size() || aside.substr(aside.size() - kOldSuffix.size()) != kOldSuffix) continue;
    std::string name = aside.substr(0, aside.size() - kOldSuffix.size());
    std::string old_id = old_container.value("Id", "");
    std::string old_image = old_container.value("ImageID", "");
    auto found = by_name.find(name);
    if (found != by_name.end()) {
      std::string new_id = found->second.value("Id", "");
      std::string new_image = found->second.value("ImageID", "");
      std::optional<std::string> unhealthy = "not running";
      if (found->second.value("State", "") == "running") unhealthy = wait_healthy(*engine, new_id, gate, {});
      if (!unhealthy) {
        auto removed = remove_container(*engine, old_id, true);
        if (!removed) return unexpected(removed.error());
        record(name, old_image, new_image, StepState::healthy,
               "kept the healthy new container " + new_id.substr(0, 12) + ", removed the old one");
        continue;
      }
      auto failed = restore_old(*engine, old_id, name, new_id, true, gate);
      record(name, old_image, new_image, failed ? StepState::failed : StepState::rolled_back,
             failed ? "new container " + *unhealthy + "; restoring the old one failed: " + *failed
                    : "new container " + *unhealthy + "; back on the old container " + old_id.substr(0, 12));
      continue;
    }
    auto failed = restore_old(*engine, old_id, name, "", true, gate);
    record(name, old_image, "", failed ? StepState::failed : StepState::rolled_back,
           failed ? "no new container; restoring the old one failed: " + *failed
                  : "no new container; back on the old container " + old_id.substr(0, 12));
  }
  return {};
}

}  // namespace cascade::deploy
