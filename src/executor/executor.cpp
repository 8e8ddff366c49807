// The executor's loop: start what the build and deploy queues allow, take one finished job,
// hand it back to its queue, again, until nothing runs. Builds and rollouts run on the
// crew's threads; everything else (the queues, the store's run-level writes) happens on the
// caller's thread. A stop starts nothing new; a refused store write stops the run the same
// way, leaves it interrupted (resumable once the store is writable) and says why.
#include "cascade/executor.hpp"

#include <algorithm>
#include <filesystem>
#include <variant>

#include "crew.hpp"
#include "queues.hpp"

namespace cascade::executor {

namespace {

using Clock = std::chrono::steady_clock;

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

std::map<std::string, store::Task> stored_tasks(store::Store& store, store::RunId run) {
  std::map<std::string, store::Task> tasks;
  if (auto stored = store.get_tasks(run))
    for (auto& task : *stored) tasks[task.image] = task;
  return tasks;
}

struct BuildDone {
  detail::StepInput input;
  detail::StepResult result;
};
struct VerifyDone {
  std::string image, digest;
  Verdict verdict;
};
struct DeployDone {
  RolloutOutcome outcome;
};
using Done = std::variant<BuildDone, VerifyDone, DeployDone>;

// One execution of a plan: the queues, the crew and the reasons to stop.
class Run {
 public:
  Run(const Services& services, const Options& options, const graph::Graph& graph, const plan::Plan& plan,
      store::RunId run, std::stop_token stop, std::stop_token cancel)
      : services_(services),
        options_(options),
        plan_(plan),
        run_(run),
        cancel_(std::move(cancel)),
        on_stop_(std::move(stop), [this] { stopping_.request_stop(); }),
        builds_(services, graph, plan, run,
                (std::filesystem::path(options.work_dir) / ("run-" + std::to_string(run))).string(),
                stored_tasks(services.store, run), expected_durations(services.store, plan)),
        deploys_(services.deployments, services.max_parallel_deploys),
        pool_(services.workers, options.worker_down_for, options.prefer_parent_worker) {}

  RunOutcome execute() {
    auto started = Clock::now();
    halt_on(builds_.record_skips());
    for (const auto& step : plan_.steps)  // workloads of a skipped image catch up with its digest
      if (step.action == plan::Action::skip && step.old_digest) deploys_.add(step.image, *step.old_digest);
    for (;;) {
      start_builds();
      start_deploys();
      if (crew_.running() == 0) break;  // done, stopping, or nothing else can start
      Done done = crew_.take();
      std::visit([this](auto& finished) { finish(finished); }, done);
    }
    return conclude(std::chrono::duration<double>(Clock::now() - started).count());
  }

 private:
  void start_builds() {
    auto pushed_before = [this](const std::string& image, const std::string& digest) { deploys_.add(image, digest); };
    std::size_t limit = std::min(options_.parallel, pool_.capacity());
    while (!stopping() && builds_.running() < limit) {
      detail::StoreError refused;
      auto input = builds_.start(pushed_before, pool_, refused);
      halt_on(refused);
      if (!input) return;
      crew_.start([this, input = std::move(*input)]() -> Done {
        return BuildDone{input, detail::run_step(services_, options_, input, stopping_.get_token(), cancel_)};
      });
    }
  }

  void start_deploys() {
    for (const auto& held : deploys_.take_held()) hold(held);
    while (!stopping()) {
      auto next = deploys_.start();
      if (!next) return;
      crew_.start([this, next = std::move(*next)]() -> Done {
        return DeployDone{roll_out(services_, run_, next.image, next.digest, *next.deployment, cancel_)};
      });
    }
  }

  // A gated rollout: stored as a held release for the application's release passes.
  void hold(const detail::PendingDeploy& pending) {
    const Deployment& deployment = *pending.deployment;
    store::Release release;
    release.run = run_;
    release.target = deployment.target->name();
    release.workload = deployment.workload.name;
    release.image = pending.image;
    release.from_digest = deployment.workload.digest;
    release.to_digest = pending.digest;
    release.wave = deployment.wave;
    release.policy = deployment.workload.policy;
    release.detail = "held for release";
    std::string what = release.target + "/" + release.workload;
    if (auto written = services_.store.add_releases(run_, {release}); !written) {
      halt_on("cannot record the held rollout of " + what + ": " + written.error().message);
      return;
    }
    ++held_;
    tell(Progress::Kind::held, what, pending.digest);
  }

  void finish(BuildDone& done) {
    const auto& result = done.result;
    const std::string& image = done.input.step->image;
    pool_.release(done.input.worker);
    if (!result.store_error.empty()) halt_on(result.store_error);
    if (result.worker_unavailable && result.store_error.empty()) {
      // Not the Dockerfile's fault: the worker is left alone for a while and the build goes
      // to another one (or fails saying why, when none is left).
      const std::string& worker = services_.workers[done.input.worker].name;
      pool_.mark_down(done.input.worker, result.error);
      if (services_.progress)
        services_.progress({Progress::Kind::retrying, image,
                            "worker " + worker + " unavailable (" + result.error + "); building it on another worker", 0,
                            worker});
      builds_.requeue(done.input);
      return;
    }
    halt_on(builds_.complete(done.input, result));
    if (!result.succeeded) return;
    if (!services_.verify) {
      deploys_.add(image, result.digest);
      return;
    }
    // The scan of the pushed image runs off the worker's slot: the next build starts now.
    crew_.start([this, image, digest = result.digest]() -> Done {
      return VerifyDone{image, digest, services_.verify(image, digest)};
    });
  }

  void finish(VerifyDone& done) {
    if (verified(done.image, done.verdict)) deploys_.add(done.image, done.digest);
  }

  void finish(DeployDone& done) {
    deploys_.complete(done.outcome);
    if (!done.outcome.store_error.empty()) halt_on(done.outcome.store_error);
  }

  // Stores the pushed image's verdict and tells; false when it must not be rolled out.
  bool verified(const std::string& image, const Verdict& verdict) {
    if (auto written = services_.store.set_task_verdict(run_, image, verdict.detail); !written) {
      halt_on("cannot record the verdict of " + image + ": " + written.error().message);
      return false;
    }
    tell(verdict.clean ? Progress::Kind::verified : Progress::Kind::vulnerable, image, verdict.detail);
    if (!verdict.clean) vulnerable_ = true;  // pushed, but still vulnerable: not rolled out
    return verdict.clean;
  }

  // A refused store write: tell it, start nothing more (the first one is the run's reason).
  void halt_on(const detail::StoreError& error) {
    if (!error) return;
    tell(Progress::Kind::store_error, "", *error);
    if (store_error_.empty()) store_error_ = *error;
    stopping_.request_stop();
  }

  RunOutcome conclude(double seconds) {
    RunOutcome outcome;
    outcome.seconds = seconds;
    std::string detail;
    if (!store_error_.empty()) {
      outcome.state = store::RunState::interrupted;
      detail = "stopped: the state store refused a write (" + store_error_ + "); resume the run once it is writable";
    } else if (!builds_.done() || builds_.cancelled() || deploys_.waiting()) {
      outcome.state = store::RunState::interrupted;
    } else if (held_ > 0) {
      outcome.state = store::RunState::awaiting;  // the release passes decide the final state
    } else if (builds_.any_failed() || vulnerable_ || deploys_.any_failed()) {
      outcome.state = store::RunState::failed;
    }
    outcome.detail = detail;
    if (outcome.state == store::RunState::interrupted)
      tell(Progress::Kind::interrupted, "", detail.empty() ? "stopped on request" : detail);
    // The run's final state: asked twice (a busy database), then told; never left "running" unsaid.
    if (!services_.store.set_run_state(run_, outcome.state, detail))
      (void)written_or_told(services_, services_.store.set_run_state(run_, outcome.state, detail), "",
                            "the run's final state");
    return outcome;
  }

  bool stopping() const { return stopping_.stop_requested(); }
  void tell(Progress::Kind kind, const std::string& image, const std::string& detail) {
    if (services_.progress) services_.progress({kind, image, detail, 0});
  }

  const Services& services_;
  const Options& options_;
  const plan::Plan& plan_;
  store::RunId run_;
  std::stop_token cancel_;
  std::stop_source stopping_;  // the caller's stop, or a refused store write
  std::stop_callback<std::function<void()>> on_stop_;
  detail::BuildQueue builds_;
  detail::DeployQueue deploys_;
  detail::WorkerPool pool_;
  std::string store_error_;
  bool vulnerable_ = false;
  std::size_t held_ = 0;  // rollouts stored as held releases
  detail::Crew<Done> crew_;  // last: its threads are joined before anything they use goes
};

}  // namespace

RunOutcome Executor::execute(const graph::Graph& graph, const plan::Plan& plan, store::RunId run, std::stop_token stop,
                          std::stop_token cancel) {
  return Run(services_, options_, graph, plan, run, std::move(stop), std::move(cancel)).execute();
}

}  // namespace cascade::executor
