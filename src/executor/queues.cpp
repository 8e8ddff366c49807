// The build and deploy queues of a run (see queues.hpp).
#include "queues.hpp"

#include <algorithm>
#include <filesystem>

namespace cascade::executor::detail {

BuildQueue::BuildQueue(const Services& services, const graph::Graph& graph, const plan::Plan& plan, store::RunId run,
                       std::string run_dir, std::map<std::string, store::Task> tasks,
                       const std::map<std::string, double>& durations)
    : services_(services),
      graph_(graph),
      plan_(plan),
      run_(run),
      run_dir_(std::move(run_dir)),
      tasks_(std::move(tasks)),
      scheduler_(plan, [&durations](const std::string& image) { return durations.at(image); }),
      reported_(plan.steps.size(), false) {}

StoreError BuildQueue::record_skips() {
  for (const auto& step : plan_.steps) {
    if (step.action != plan::Action::skip) continue;
    auto task = tasks_.find(step.image);
    if (task == tasks_.end() || task->second.state != store::TaskState::pending) continue;
    auto written = services_.store.transition_task(run_, step.image, store::TaskState::skipped, step.reason);
    if (!written) return "cannot record the skip of " + step.image + ": " + written.error().message;
    if (services_.progress) services_.progress({Progress::Kind::skipped, step.image, step.reason, 0});
  }
  return std::nullopt;
}

std::optional<StepInput> BuildQueue::start(
    const std::function<void(const std::string& image, const std::string& digest)>& pushed, WorkerPool& pool,
    StoreError& error) {
  for (bool again = true; again;) {
    again = false;
    for (std::size_t index : scheduler_.ready()) {  // the longest remaining path first
      if (finish_pushed_before(index, pushed, pool)) {
        again = true;  // its children may be ready now
        break;
      }
      const plan::Step& step = plan_.steps[index];
      const graph::WorkerChoice& choice = graph_.recipe_of(step.node)->worker;
      const BuildNeeds needs{!step.platforms.empty(), !graph_.recipe_of(step.node)->tests.empty()};
      if (auto worker = pool.take(choice, step.image, step.bases_built_in_run, needs)) {
        scheduler_.start(index);
        return input_for(index, *worker);
      }
      if (auto why = pool.unplaceable(choice, needs)) {
        if ((error = fail_unplaceable(index, *why))) return std::nullopt;
        again = true;
        break;
      }
      // Its workers are busy: a later ready step may have a free one.
    }
  }
  return std::nullopt;
}

bool BuildQueue::finish_pushed_before(
    std::size_t index, const std::function<void(const std::string& image, const std::string& digest)>& pushed,
    WorkerPool& pool) {
  const plan::Step& step = plan_.steps[index];
  auto task = tasks_.find(step.image);
  if (task == tasks_.end() || task->second.state != store::TaskState::pushed || !task->second.new_digest) return false;
  digest_of_[step.image] = *task->second.new_digest;
  if (!task->second.worker.empty()) pool.hold(task->second.worker, step.image);
  scheduler_.start(index);
  pushed(step.image, *task->second.new_digest);
  scheduler_.finished(index, true);
  return true;
}

StoreError BuildQueue::fail_unplaceable(std::size_t index, const std::string& why) {
  const plan::Step& step = plan_.steps[index];
  std::string reason = "no worker can build it: " + why;
  scheduler_.start(index);
  scheduler_.finished(index, false);
  any_failed_ = true;
  auto written = services_.store.transition_task(run_, step.image, store::TaskState::failed, reason);
  if (!written) return "cannot record the failure of " + step.image + ": " + written.error().message;
  if (services_.progress) services_.progress({Progress::Kind::failed, step.image, reason, 0});
  return record_blocked(index);
}

StepInput BuildQueue::input_for(std::size_t index, std::size_t worker) const {
  const plan::Step& step = plan_.steps[index];
  StepInput input;
  input.index = index;
  input.run = run_;
  input.step = &step;
  input.recipe = graph_.recipe_of(step.node);
  input.base_digests = step.base_digests;
  for (const auto& base : step.bases_built_in_run) input.base_digests[base] = digest_of_.at(base);
  std::string name = file_name_of(step.image);
  input.work_dir = (std::filesystem::path(run_dir_) / "work" / name).string();
  input.log_path = (std::filesystem::path(run_dir_) / "logs" / (name + ".log")).string();
  input.worker = worker;
  return input;
}

StoreError BuildQueue::complete(const StepInput& input, const StepResult& result) {
  if (result.succeeded) digest_of_[input.step->image] = result.digest;
  if (result.cancelled) cancelled_ = true;
  scheduler_.finished(input.index, result.succeeded);
  if (result.succeeded || result.cancelled || !result.store_error.empty()) return std::nullopt;
  any_failed_ = true;
  return record_blocked(input.index);
}

std::string BuildQueue::chain(std::size_t failed, std::size_t step) const {
  const auto& after = plan_.steps[step].after;
  if (std::find(after.begin(), after.end(), failed) != after.end())
    return plan_.steps[failed].image + " -> " + plan_.steps[step].image;
  for (auto dep : after)
    if (scheduler_.state(dep) == plan::Scheduler::State::blocked && scheduler_.blocked_by(dep) == failed)
      return chain(failed, dep) + " -> " + plan_.steps[step].image;
  return plan_.steps[failed].image + " -> " + plan_.steps[step].image;
}

StoreError BuildQueue::record_blocked(std::size_t failed) {
  for (std::size_t i = 0; i < plan_.steps.size(); ++i) {
    if (reported_[i] || scheduler_.state(i) != plan::Scheduler::State::blocked) continue;
    reported_[i] = true;
    const std::string& image = plan_.steps[i].image;
    std::string reason = "blocked by " + plan_.steps[failed].image + " (failed): " + chain(failed, i);
    auto written = services_.store.transition_task(run_, image, store::TaskState::blocked, reason);
    if (!written) return "cannot record the block of " + image + ": " + written.error().message;
    if (services_.progress) services_.progress({Progress::Kind::blocked, image, reason, 0});
  }
  return std::nullopt;
}

void DeployQueue::add(const std::string& image, const std::string& digest) {
  auto found = deployments_.find(image);
  if (found == deployments_.end()) return;
  for (const auto& deployment : found->second) {
    if (!deployment.held) {
      queue_.push_back({image, digest, &deployment});
    } else if (deployment.workload.digest != digest) {  // a held workload on the digest already: nothing to release
      held_.push_back({image, digest, &deployment});
    }
  }
}

std::optional<PendingDeploy> DeployQueue::start() {
  if (queue_.empty() || running_ >= max_parallel_) return std::nullopt;
  PendingDeploy next = std::move(queue_.front());
  queue_.pop_front();
  ++running_;
  return next;
}

void DeployQueue::complete(const executor::RolloutOutcome& outcome) {
  --running_;
  if (!outcome.healthy) any_failed_ = true;
}

}  // namespace cascade::executor::detail
