#include <map>

#include "cascade/app.hpp"
#include "cascade/exposure.hpp"
#include "cascade/util/time.hpp"

namespace cascade::app {

using nlohmann::json;

namespace {

json optional_time(const std::optional<store::Time>& time) { return time ? json(util::iso_utc_ms(*time)) : json(nullptr); }

template <typename T>
json optional_value(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

json summary_json(const store::Summary& s) {
  return {{"total", s.total},     {"pending", s.pending}, {"building", s.building}, {"pushing", s.pushing},
          {"pushed", s.pushed},   {"skipped", s.skipped}, {"failed", s.failed},     {"blocked", s.blocked},
          {"vulnerable", s.vulnerable}};
}

json run_record_json(const store::Run& run) {
  return {{"id", run.id},
          {"state", store::to_string(run.state)},
          {"trigger",
           {{"kind", store::to_string(run.trigger.kind)},
            {"image", run.trigger.image},
            {"digest", optional_value(run.trigger.digest)},
            {"actor", run.trigger.actor},
            {"urgent", run.trigger.urgent}}},
          {"pipeline", run.pipeline_path},
          {"created_at", util::iso_utc_ms(run.created_at)},
          {"started_at", optional_time(run.started_at)},
          {"finished_at", optional_time(run.finished_at)},
          {"summary", summary_json(run.summary)}};
}

json task_json(const store::Task& task) {
  return {{"image", task.image},
          {"state", store::to_string(task.state)},
          {"reason", task.reason},
          {"old_digest", optional_value(task.old_digest)},
          {"new_digest", optional_value(task.new_digest)},
          {"base_digests", task.base_digests},
          {"after", task.dependencies},
          {"attempts", task.attempts},
          {"verdict", optional_value(task.verdict)},
          {"seconds", task.duration ? json(task.duration->count() / 1000.0) : json(nullptr)},
          {"started_at", optional_time(task.started_at)},
          {"finished_at", optional_time(task.finished_at)},
          {"build_log", optional_value(task.build_log)},
          {"worker", task.worker.empty() ? json(nullptr) : json(task.worker)},
          {"source", task.source},
          {"dockerfile", task.dockerfile},
          {"commit", task.commit}};
}

// What put a step in an advisory plan: the reasons of the start image its chain begins at.
json because_of(const PlannedPatch& planned, const plan::Step& step) {
  if (step.via.empty()) return json::array();
  auto found = planned.because.find(step.via.front());
  return found == planned.because.end() ? json::array() : json(found->second);
}

}  // namespace

json plan_json(const PlannedPatch& planned, const Wiring& wiring) {
  const plan::Plan& plan = planned.plan;
  std::map<std::string, json> workloads;
  for (const auto& item : planned.deployments)
    workloads[item.image].push_back({{"target", wiring.targets[item.target].config.name},
                                     {"workload", item.workload.name},
                                     {"instances", item.workload.instances.size()},
                                     {"digest", optional_value(item.workload.digest)}});
  json steps = json::array();
  for (const auto& step : plan.steps) {
    json after = json::array();
    for (auto dep : step.after) after.push_back(plan.steps[dep].image);
    steps.push_back({{"image", step.image},
                     {"after", after},
                     {"action", plan::to_string(step.action)},
                     {"reason", step.reason},
                     {"depth", step.depth},
                     {"via", step.via},
                     {"base_digests", step.base_digests},
                     {"bases_built_in_run", step.bases_built_in_run},
                     {"old_digest", optional_value(step.old_digest)},
                     {"no_cache", step.no_cache},
                     {"platforms", step.platforms},
                     {"because", because_of(planned, step)},
                     {"workloads", workloads.count(step.image) ? workloads[step.image] : json::array()}});
  }
  json out = {{"query", plan.query}, {"trigger", plan.trigger_digests}, {"steps", steps}};
  if (planned.question) out["question"] = question_json(*planned.question);
  return out;
}

Expected<json, Failure> run_json(store::Store& store, store::RunId id) {
  auto run = store.get_run(id);
  if (!run && run.error().code == store::ErrorCode::not_found)
    return unexpected(Failure::not_found(run.error().message));
  if (!run) return unexpected(Failure::failed(run.error().message));
  auto tasks = store.get_tasks(id);
  auto transitions = store.get_transitions(id);
  if (!tasks || !transitions) return unexpected(Failure::failed("cannot read run " + std::to_string(id)));
  json out = run_record_json(*run);
  out["tasks"] = json::array();
  for (const auto& task : *tasks) out["tasks"].push_back(task_json(task));
  out["rollouts"] = json::array();
  if (auto steps = store.get_rollout_steps(id)) {
    for (const auto& step : *steps)
      out["rollouts"].push_back({{"target", step.target},
                                 {"workload", step.workload},
                                 {"image", step.image},
                                 {"from_digest", optional_value(step.from_digest)},
                                 {"to_digest", step.to_digest},
                                 {"state", store::to_string(step.state)},
                                 {"detail", step.detail},
                                 {"at", util::iso_utc_ms(step.at)}});
  }
  // Release control: the held rollouts (the blast radius: which workload moves from which digest
  // to which) and the decisions people made on them.
  out["releases"] = json::array();
  if (auto releases = store.get_releases(id))
    for (const auto& release : *releases)
      out["releases"].push_back({{"id", release.id},
                                 {"target", release.target},
                                 {"workload", release.workload},
                                 {"image", release.image},
                                 {"from_digest", optional_value(release.from_digest)},
                                 {"to_digest", release.to_digest},
                                 {"wave", release.wave >= 0 ? json(release.wave) : json(nullptr)},
                                 {"policy", release.policy.empty() ? json(nullptr) : json(release.policy)},
                                 {"state", store::to_string(release.state)},
                                 {"detail", release.detail},
                                 {"created_at", util::iso_utc_ms(release.created_at)},
                                 {"updated_at", util::iso_utc_ms(release.updated_at)},
                                 {"finished_at", optional_time(release.finished_at)}});
  out["approvals"] = json::array();
  if (auto approvals = store.get_approvals(id))
    for (const auto& approval : *approvals)
      out["approvals"].push_back({{"actor", approval.actor},
                                  {"decision", approval.approved ? "approved" : "rejected"},
                                  {"target", approval.target.empty() ? json(nullptr) : json(approval.target)},
                                  {"comment", approval.comment},
                                  {"urgent", approval.urgent},
                                  {"at", util::iso_utc_ms(approval.at)}});
  if (run->trigger.action == store::TriggerAction::fix)  // its question, and the versions before and after
    if (auto plan = store.get_plan(id))
      if (auto question = stored_question(run->trigger, *plan)) {
        out["question"] = question_json(*question);
        auto versions = package_versions_json(store, *tasks, out["question"]["packages"]);
        if (versions) out["versions"] = std::move(*versions);
      }
  out["transitions"] = json::array();
  for (const auto& t : *transitions)
    out["transitions"].push_back({{"image", optional_value(t.image)},
                                  {"from", optional_value(t.from)},
                                  {"to", t.to},
                                  {"detail", t.detail},
                                  {"at", util::iso_utc_ms(t.at)}});
  return out;
}

Expected<json, Failure> quarantine_json(store::Store& store) {
  auto entries = store.list_quarantined();
  if (!entries) return unexpected(Failure::failed(entries.error().message));
  json out = json::array();
  for (const auto& entry : *entries)
    out.push_back({{"image", entry.image},
                   {"digest", entry.digest},
                   {"reason", entry.reason},
                   {"run", optional_value(entry.run)},
                   {"at", util::iso_utc_ms(entry.at)}});
  return json{{"quarantined", out}};
}

Expected<json, Failure> runs_json(store::Store& store, std::size_t limit) {
  auto runs = store.list_runs(limit);
  if (!runs) return unexpected(Failure::failed(runs.error().message));
  json out = json::array();
  for (const auto& run : *runs) out.push_back(run_record_json(run));
  return json{{"runs", out}};
}

}  // namespace cascade::app
