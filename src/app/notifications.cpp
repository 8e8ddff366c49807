// The events a run tells the pipeline's `notify:` destinations, stored in the outbox (the
// notify module delivers them, durably and with retries).
#include "cascade/app.hpp"
#include "cascade/notify.hpp"
#include "notifications.hpp"

namespace cascade::app {

Expected<void, Failure> notify_event(Wiring& wiring, const std::string& id, const std::string& kind, store::RunId run,
                                     const std::string& text, const std::vector<std::string>& images,
                                     const nlohmann::json& details) {
  const auto& destinations = wiring.fleet->pipeline.notify;
  if (destinations.empty()) return {};
  notify::Event event{id, kind, run, text, images, details};
  if (auto stored = notify::enqueue(*wiring.store, destinations, event); !stored)
    return unexpected(Failure::failed("cannot store the " + kind + " notification: " + stored.error().message));
  return {};
}

void notify_finished(Wiring& wiring, store::RunId run) {
  if (wiring.fleet->pipeline.notify.empty()) return;
  auto stored = wiring.store->get_run(run);
  auto tasks = wiring.store->get_tasks(run);
  auto releases = wiring.store->get_releases(run);
  auto steps = wiring.store->get_rollout_steps(run);
  if (!stored || !tasks || !releases || !steps) return;
  const auto& summary = stored->summary;
  int rolled_back = 0, behind = 0;
  for (const auto& step : *steps)
    if (step.state == store::RolloutState::rolled_back) ++rolled_back;
  nlohmann::json still_behind = nlohmann::json::array();
  for (const auto& release : *releases)
    if (release.state != store::ReleaseState::done) {
      ++behind;
      still_behind.push_back({{"target", release.target}, {"workload", release.workload}, {"image", release.image},
                              {"state", store::to_string(release.state)}, {"detail", release.detail}});
    }
  std::vector<std::string> images;
  for (const auto& task : *tasks) images.push_back(task.image);
  std::string state(store::to_string(stored->state));
  std::string text = "cascade run " + std::to_string(run) + " (" + stored->trigger.image + ") " + state + ": " +
                     std::to_string(summary.pushed) + " pushed, " + std::to_string(summary.skipped) + " skipped, " +
                     std::to_string(summary.failed) + " failed, " + std::to_string(summary.blocked) + " blocked, " +
                     std::to_string(rolled_back) + " rolled back, " + std::to_string(behind) + " workload(s) still behind";
  nlohmann::json details = {{"state", state},
                            {"summary",
                             {{"pushed", summary.pushed},
                              {"skipped", summary.skipped},
                              {"failed", summary.failed},
                              {"blocked", summary.blocked},
                              {"vulnerable", summary.vulnerable},
                              {"rolled_back", rolled_back},
                              {"behind", behind}}},
                            {"behind", still_behind},
                            {"urgent", stored->trigger.urgent}};
  (void)notify_event(wiring, "run-" + std::to_string(run) + "-finished", "run-finished", run, text, images, details);
}

namespace detail {

void notify_rollback(Wiring& wiring, store::RunId run, const std::string& what, const std::string& image,
                     const std::string& digest, const std::string& reason) {
  std::string prefix = "run-" + std::to_string(run) + "-";
  nlohmann::json details = {{"workload", what}, {"image", image}, {"digest", digest}, {"reason", reason}};
  (void)notify_event(wiring, prefix + "rolled-back-" + what, "rolled-back", run,
                     "cascade run " + std::to_string(run) + ": " + what + " rolled back from " + image + "@" + digest +
                         ": " + reason,
                     {image}, details);
  if (reason == "cancelled" || reason.starts_with("not deployed:")) return;
  (void)notify_event(wiring, prefix + "quarantined-" + digest, "quarantined", run,
                     "cascade quarantined " + image + "@" + digest + " (" + what + ": " + reason +
                         "); cascade quarantine clear lifts it",
                     {image}, details);
}

}  // namespace detail

void deliver_notifications(Wiring& wiring, std::stop_token stop) {
  const auto& destinations = wiring.fleet->pipeline.notify;
  if (destinations.empty()) return;
  notify::Deliverer deliverer(*wiring.store, destinations);
  (void)deliverer.deliver_due(stop);
}

}  // namespace cascade::app
