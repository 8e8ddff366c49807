#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "cascade/executor.hpp"
#include "rollout.hpp"
#include "step.hpp"

namespace cascade::executor {

namespace {

using Clock = std::chrono::steady_clock;

struct Completion {
  std::size_t worker;  // the thread that posted it, joined when it is taken
  std::size_t step;
  detail::StepResult result;
  bool deploy = false;  // a rollout finished (result unused), healthy or not
  bool healthy = false;
};

// A rollout waiting for a deploy slot.
struct PendingDeploy {
  std::string image;
  std::string digest;
  const Deployment* deployment;
};

// Completions from worker threads, taken by the executor's loop one at a time.
class Mailbox {
 public:
  void post(Completion completion) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(completion));
    }
    ready_.notify_one();
  }
  Completion take() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return !queue_.empty(); });
    Completion completion = std::move(queue_.front());
    queue_.pop_front();
    return completion;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Completion> queue_;
};

// Expected seconds per image from past builds; unknown ones get the median of the known
// ones in this plan (1 when none is known), so they neither starve nor jump the queue.
std::map<std::string, double> expected_durations(store::Store& store, const plan::Plan& plan) {
  std::map<std::string, double> known;
  std::vector<double> values;
  for (const auto& step : plan.steps) {
    auto expected = store.expected_duration(step.image);
    if (expected && *expected) {
      double seconds = std::chrono::duration<double>(**expected).count();
      known[step.image] = seconds;
      values.push_back(seconds);
    }
  }
  double fallback = 1;
  if (!values.empty()) {
    std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
    fallback = values[values.size() / 2];
  }
  for (const auto& step : plan.steps) known.emplace(step.image, fallback);
  return known;
}

}  // namespace

Outcome Executor::execute(const graph::Graph& graph, const plan::Plan& plan, store::RunId run, std::stop_token stop,
                          std::stop_token cancel) {
  auto started = Clock::now();
  store::Store& store = services_.store;
  std::map<std::string, store::Task> tasks;
  if (auto stored = store.get_tasks(run)) {
    for (auto& task : *stored) tasks[task.image] = task;
  }
  auto durations = expected_durations(store, plan);
  plan::Scheduler scheduler(plan, [&](const std::string& image) { return durations.at(image); });

  for (const auto& step : plan.steps) {
    if (step.action != plan::Action::Skip) continue;
    auto task = tasks.find(step.image);
    if (task != tasks.end() && task->second.state == store::TaskState::pending) {
      (void)written_or_told(services_, store.transition_task(run, step.image, store::TaskState::skipped, step.reason),
                            step.image, "the skip");
      if (services_.progress) services_.progress({Progress::Kind::Skipped, step.image, step.reason, 0});
    }
  }

  std::map<std::string, std::string> digest_of;  // image -> digest pushed in this run
  std::vector<bool> reported(plan.steps.size(), false);
  bool interrupted = false;
  bool any_failed = false;
  Mailbox mailbox;
  std::map<std::size_t, std::jthread> workers;  // running threads by id; each posts once, then ends
  std::size_t next_worker = 0;
  std::string run_dir = (std::filesystem::path(options_.work_dir) / ("run-" + std::to_string(run))).string();

  auto start_step = [&](std::size_t index) {
    const plan::Step& step = plan.steps[index];
    detail::StepInput input;
    input.run = run;
    input.step = &step;
    input.recipe = graph.recipe_of(step.node);
    input.base_digests = step.base_digests;
    for (const auto& base : step.bases_built_in_run) input.base_digests[base] = digest_of.at(base);
    input.work_dir = run_dir + "/work/" + file_name_of(step.image);
    input.log_path = run_dir + "/logs/" + file_name_of(step.image) + ".log";
    std::size_t id = next_worker++;
    workers.emplace(id, std::jthread([this, &mailbox, id, index, input, stop, cancel] {
      detail::StepResult result = detail::run_step(services_, options_, input, stop, cancel);
      if (result.succeeded && services_.verify) result.verdict = services_.verify(input.step->image, result.digest);
      mailbox.post({id, index, std::move(result)});
    }));
  };

  // "failed -> child -> ... -> step": how the failure reaches a blocked step.
  std::function<std::string(std::size_t, std::size_t)> chain = [&](std::size_t failed, std::size_t step) {
    const auto& after = plan.steps[step].after;
    if (std::find(after.begin(), after.end(), failed) != after.end())
      return plan.steps[failed].image + " -> " + plan.steps[step].image;
    for (auto dep : after)
      if (scheduler.state(dep) == plan::Scheduler::State::Blocked && scheduler.blocked_by(dep) == failed)
        return chain(failed, dep) + " -> " + plan.steps[step].image;
    return plan.steps[failed].image + " -> " + plan.steps[step].image;
  };
  std::deque<PendingDeploy> deploy_queue;
  std::size_t deploys_running = 0;
  bool any_deploy_failed = false;
  auto enqueue_deploys = [&](const std::string& image, const std::string& digest) {
    auto found = services_.deployments.find(image);
    if (found == services_.deployments.end()) return;
    for (const auto& deployment : found->second) deploy_queue.push_back({image, digest, &deployment});
  };
  auto start_deploys = [&] {
    while (!stop.stop_requested() && !deploy_queue.empty() &&
           deploys_running < std::max<std::size_t>(1, services_.max_parallel_deploys)) {
      PendingDeploy next = deploy_queue.front();
      deploy_queue.pop_front();
      ++deploys_running;
      std::size_t id = next_worker++;
      workers.emplace(id, std::jthread([this, &mailbox, id, run, next, cancel] {
        auto outcome = detail::roll_out(services_, run, next.image, next.digest, *next.deployment, cancel);
        mailbox.post({id, 0, {}, true, outcome.healthy});
      }));
    }
  };
  for (const auto& step : plan.steps)
    if (step.action == plan::Action::Skip && step.old_digest) enqueue_deploys(step.image, *step.old_digest);

  // Stores the pushed image's verdict and tells; false when it must not be rolled out.
  auto record_verdict = [&](const std::string& image, const detail::StepResult& result) {
    if (!result.verdict) return true;
    (void)store.set_task_verdict(run, image, result.verdict->detail);  // a lost verdict costs a detail, not the run
    auto kind = result.verdict->clean ? Progress::Kind::Verified : Progress::Kind::Vulnerable;
    if (services_.progress) services_.progress({kind, image, result.verdict->detail, 0});
    return result.verdict->clean;
  };
  auto record_blocked = [&](std::size_t failed) {
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      if (reported[i] || scheduler.state(i) != plan::Scheduler::State::Blocked) continue;
      reported[i] = true;
      std::string reason = "blocked by " + plan.steps[failed].image + " (failed): " + chain(failed, i);
      (void)written_or_told(services_, store.transition_task(run, plan.steps[i].image, store::TaskState::blocked, reason),
                            plan.steps[i].image, "the block");
      if (services_.progress) services_.progress({Progress::Kind::Blocked, plan.steps[i].image, reason, 0});
    }
  };

  while (!scheduler.done() || deploys_running > 0 || (!deploy_queue.empty() && !stop.stop_requested())) {
    while (!stop.stop_requested() && scheduler.running() < options_.parallel) {
      auto next = scheduler.next();
      if (!next) break;
      const plan::Step& step = plan.steps[*next];
      auto task = tasks.find(step.image);
      if (task != tasks.end() && task->second.state == store::TaskState::pushed && task->second.new_digest) {
        digest_of[step.image] = *task->second.new_digest;  // pushed before a resume
        enqueue_deploys(step.image, *task->second.new_digest);
        scheduler.finished(*next, true);
        continue;
      }
      start_step(*next);
    }
    start_deploys();
    if (scheduler.running() == 0 && deploys_running == 0) break;  // stopping, or nothing else can start
    Completion completion = mailbox.take();
    workers.erase(completion.worker);  // joins a thread that has posted its last word
    if (completion.deploy) {
      --deploys_running;
      if (!completion.healthy) any_deploy_failed = true;
      continue;
    }
    const auto& result = completion.result;
    if (result.succeeded) {
      const std::string& image = plan.steps[completion.step].image;
      digest_of[image] = result.digest;
      if (!record_verdict(image, result)) any_failed = true;  // pushed, but still vulnerable: not rolled out
      else enqueue_deploys(image, result.digest);
    }
    if (result.cancelled) interrupted = true;
    // A cancelled step leaves its descendants pending in the store, for a resume.
    scheduler.finished(completion.step, result.succeeded);
    if (!result.succeeded && !result.cancelled) {
      any_failed = true;
      record_blocked(completion.step);
    }
  }
  workers.clear();  // joins

  Outcome outcome;
  outcome.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (!scheduler.done() || interrupted || !deploy_queue.empty()) outcome.state = store::RunState::interrupted;
  else if (any_failed || any_deploy_failed) outcome.state = store::RunState::failed;
  if (outcome.state == store::RunState::interrupted && services_.progress)
    services_.progress({Progress::Kind::Interrupted, "", "stopped on request", 0});
  // The run's final state: asked twice (a busy database), then told; never left "running" unsaid.
  if (!store.set_run_state(run, outcome.state))
    (void)written_or_told(services_, store.set_run_state(run, outcome.state), "", "the run's final state");
  return outcome;
}

}  // namespace cascade::executor
