// Release passes: the held rollouts of an awaiting run, decided by the pure release module
// and carried out here (inventory, rollout, records), over and over until nothing can start.
// One process at a time per run (the run's lock); a release left rolling by a crash is held
// again and rolled again (a target's rollout leaves instances already on the digest alone).
#include <algorithm>
#include <set>
#include <thread>

#include "cascade/app.hpp"
#include "cascade/release.hpp"
#include "notifications.hpp"
#include "run_lock.hpp"

namespace cascade::app {

namespace {

using State = store::ReleaseState;

store::Time now_of(const RunOptions& options) {
  return options.clock ? options.clock()
                       : std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

const TargetEntry* entry_of(const Wiring& wiring, const std::string& name, std::size_t& index) {
  for (index = 0; index < wiring.targets.size(); ++index)
    if (wiring.targets[index].config.name == name) return &wiring.targets[index];
  return nullptr;
}

// The workload as the target runs it now (its instances may have changed since the build).
Expected<std::optional<deploy::Workload>, std::string> current_workload(const TargetEntry& entry,
                                                                      const store::Release& release) {
  if (entry.config.kind == pipeline::DeployKind::command)
    return std::optional<deploy::Workload>(
        deploy::Workload{entry.config.name, release.image, release.image, "", release.from_digest, {}});
  auto parsed = reference::parse(release.image);
  if (!parsed) return unexpected("invalid image " + release.image);
  auto workloads = entry.target->inventory(*parsed);
  if (!workloads) return unexpected(workloads.error().str());
  for (auto& workload : *workloads)
    if (workload.name == release.workload) return std::optional<deploy::Workload>(std::move(workload));
  return std::optional<deploy::Workload>();
}

std::string waiting_text(const std::vector<store::Release>& releases) {
  std::string text;
  for (const auto& release : releases) {
    if (release.state != State::held) continue;
    if (!text.empty()) text += "; ";
    text += release.target + "/" + release.workload + ": " + release.detail;
  }
  return text;
}

bool builds_failed(store::Store& store, store::RunId run) {
  auto stored = store.get_run(run);
  if (!stored) return true;
  const auto& summary = stored->summary;
  return summary.failed > 0 || summary.blocked > 0 || summary.vulnerable > 0;
}

class Releaser {
 public:
  Releaser(Wiring& wiring, store::RunId run, const RunOptions& options)
      : wiring_(wiring), run_(run), options_(options) {}

  Expected<RunResult, Failure> advance() {
    bool recovered = false;
    for (;;) {
      auto stored = wiring_.store->get_run(run_);
      if (!stored && stored.error().code == store::ErrorCode::not_found)
        return unexpected(Failure::not_found("no run " + std::to_string(run_)));
      if (!stored) return unexpected(Failure::failed(stored.error().message));
      if (stored->state != store::RunState::awaiting) return RunResult{run_, stored->state, false};
      auto releases = wiring_.store->get_releases(run_);
      auto approvals = wiring_.store->get_approvals(run_);
      if (!releases || !approvals) return unexpected(Failure::failed("cannot read the releases of run " + std::to_string(run_)));
      if (!recovered) {  // rolling after a crash: this process holds the run's lock, so nobody rolls it now
        recovered = true;
        for (auto& release : *releases)
          if (release.state == State::rolling) {
            CASCADE_TRY(write(wiring_.store->set_release_state(release.id, State::held, "rolled again after an interruption")));
            release.state = State::held;
          }
      }
      CASCADE_TRY(supersede(*releases));
      release::Input input;
      input.pipeline = &wiring_.fleet->pipeline;
      input.urgent = stored->trigger.urgent;
      input.waiting_since = stored->created_at;  // approvals time out from the first held release
      if (!releases->empty())
        input.waiting_since = std::min_element(releases->begin(), releases->end(), [](const auto& a, const auto& b) {
                                return a.created_at < b.created_at;
                              })->created_at;
      input.releases = *releases;
      input.approvals = *approvals;
      input.now = now_of(options_);
      auto decision = release::decide(input);
      for (const auto& change : decision.changes) {
        CASCADE_TRY(write(wiring_.store->set_release_state(change.release, change.state, change.detail)));
        if (change.state == State::rejected || change.state == State::expired || change.state == State::stopped ||
            change.state == State::monitored)
          tell(executor::Progress::Kind::held, *releases, change.release, std::string(store::to_string(change.state)) +
                                                                            ": " + change.detail);
      }
      if (decision.awaiting_approval) notify_awaiting(*releases);
      if (decision.start.empty()) {
        auto after = wiring_.store->get_releases(run_);
        if (!after) return unexpected(Failure::failed(after.error().message));
        if (decision.finished) return finish(*after);
        if (decision.wake && *decision.wake - input.now <= options_.release_wait && !options_.stop.stop_requested()) {
          sleep_until(*decision.wake);
          continue;
        }
        RunResult result{run_, store::RunState::awaiting, false, waiting_text(*after), decision.wake,
                         decision.awaiting_approval};
        return result;
      }
      CASCADE_TRY(roll(*releases, decision));
      if (options_.stop.stop_requested()) return RunResult{run_, store::RunState::awaiting, false, "stopped", {}, false};
    }
  }

 private:
  // A held release whose image a later run pushed again is superseded: rolling it out now
  // would move the workload to an older digest (or back from a newer one). It ends as not
  // rolled out; the later run's own release (or rollout) moves the workload.
  Expected<void, Failure> supersede(std::vector<store::Release>& releases) {
    for (auto& release : releases) {
      if (release.state != State::held) continue;
      auto latest = wiring_.store->latest_digest(release.image);
      if (!latest || !*latest) continue;
      const store::DigestRecord& newest = **latest;
      if (newest.digest == release.to_digest || newest.source != store::DigestSource::pushed || !newest.run ||
          *newest.run <= run_)
        continue;
      std::string detail = "superseded: run " + std::to_string(*newest.run) + " pushed " + release.image + " again (" +
                           newest.digest + "); not rolled out";
      CASCADE_TRY(write(wiring_.store->set_release_state(release.id, State::rejected, detail)));
      release.state = State::rejected;
      release.detail = detail;
    }
    return {};
  }

  static Expected<void, Failure> write(const Expected<void, store::Error>& written) {
    if (!written) return unexpected(Failure::failed(written.error().message));
    return {};
  }

  void tell(executor::Progress::Kind kind, const std::vector<store::Release>& releases, std::int64_t id,
            const std::string& detail) {
    if (!options_.progress) return;
    for (const auto& release : releases)
      if (release.id == id) options_.progress({kind, release.target + "/" + release.workload, detail, 0});
  }

  void sleep_until(store::Time at) {
    while (!options_.stop.stop_requested() && now_of(options_) < at)
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(at - now_of(options_), std::chrono::milliseconds(200)));
  }

  // Once per run: a daemon pass every second must not write the outbox every second (the
  // outbox would keep one copy anyway; the setting is a cheap read).
  void notify_awaiting(const std::vector<store::Release>& releases) {
    if (wiring_.fleet->pipeline.notify.empty()) return;
    std::string id = "run-" + std::to_string(run_) + "-awaiting-approval";
    if (auto told = wiring_.store->get_setting("notified." + id); !told || *told) return;
    nlohmann::json radius = nlohmann::json::array();
    std::vector<std::string> images;
    for (const auto& release : releases) {
      if (store::is_final(release.state)) continue;
      radius.push_back({{"target", release.target}, {"workload", release.workload}, {"image", release.image},
                        {"from_digest", release.from_digest ? nlohmann::json(*release.from_digest) : nlohmann::json()},
                        {"to_digest", release.to_digest}});
      if (std::find(images.begin(), images.end(), release.image) == images.end()) images.push_back(release.image);
    }
    std::string text = "cascade run " + std::to_string(run_) + " awaits approval to roll out " +
                       std::to_string(radius.size()) + " workload(s): cascade approve " + std::to_string(run_);
    if (notify_event(wiring_, id, "awaiting-approval", run_, text, images, {{"releases", radius}}))
      (void)wiring_.store->put_setting("notified." + id, "1");
  }

  Expected<RunResult, Failure> finish(const std::vector<store::Release>& releases) {
    auto state = release::final_state(releases, builds_failed(*wiring_.store, run_));
    std::size_t done = std::count_if(releases.begin(), releases.end(), [](const auto& r) { return r.state == State::done; });
    std::string detail = "released: " + std::to_string(done) + " of " + std::to_string(releases.size()) + " rolled out";
    CASCADE_TRY(write(wiring_.store->set_run_state(run_, state, detail)));
    notify_finished(wiring_, run_);
    return RunResult{run_, state, false};
  }

  // Rolls out the releases the decision starts, up to max_parallel_deploys at once.
  Expected<void, Failure> roll(const std::vector<store::Release>& releases, const release::Decision& decision) {
    if (auto connected = connect_targets(wiring_); !connected) return unexpected(connected.error());
    auto command_targets = run_targets(wiring_, run_);
    if (!command_targets) return unexpected(command_targets.error());
    struct Job {
      store::Release release;
      executor::Deployment deployment;
      bool urgent = false;  // started past its gates by the urgent override: said in its record
    };
    std::vector<Job> jobs;
    for (auto id : decision.start) {
      auto found = std::find_if(releases.begin(), releases.end(), [&](const auto& r) { return r.id == id; });
      if (found == releases.end()) continue;
      const store::Release& release = *found;
      std::size_t index = 0;
      const TargetEntry* entry = entry_of(wiring_, release.target, index);
      auto end = [&](State state, const std::string& detail) {
        return write(wiring_.store->set_release_state(release.id, state, detail));
      };
      if (!entry) {
        CASCADE_TRY(end(State::failed, "deploy target " + release.target + " is not connected"));
        continue;
      }
      auto workload = current_workload(*entry, release);
      if (!workload) {
        CASCADE_TRY(end(State::failed, "deploy target " + release.target + ": " + workload.error()));
        continue;
      }
      if (!*workload) {
        CASCADE_TRY(end(State::failed, "workload " + release.workload + " is no longer on " + release.target));
        continue;
      }
      if ((*workload)->digest == release.to_digest) {
        CASCADE_TRY(end(State::done, "already runs " + release.to_digest));
        continue;
      }
      deploy::Target* target = (*command_targets)[index] ? (*command_targets)[index].get() : entry->target.get();
      bool urgent = decision.urgent_used && stored_urgent() && urgent_skips(release);
      CASCADE_TRY(write(wiring_.store->set_release_state(
          release.id, State::rolling, urgent ? "urgent: rolling out past its approval and windows" : "rolling out")));
      jobs.push_back({release, executor::Deployment{target, std::move(**workload), rollout_policy(entry->config)}, urgent});
    }
    executor::Services services{{}, *wiring_.store, *wiring_.workspace, options_.progress};
    std::vector<executor::RolloutOutcome> outcomes(jobs.size());
    std::size_t parallel = std::max(1, wiring_.fleet->pipeline.max_parallel_deploys);
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
      for (std::size_t i = next++; i < jobs.size(); i = next++)
        outcomes[i] = executor::roll_out(services, run_, jobs[i].release.image, jobs[i].release.to_digest,
                                         jobs[i].deployment, options_.cancel);
    };
    {
      std::vector<std::jthread> pool;
      for (std::size_t t = 1; t < std::min(parallel, jobs.size()); ++t) pool.emplace_back(worker);
      worker();
    }
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      const auto& release = jobs[i].release;
      const auto& outcome = outcomes[i];
      CASCADE_TRY(write(wiring_.store->set_release_state(
          release.id, outcome.healthy ? State::done : State::failed,
          std::string(jobs[i].urgent ? "urgent (past its approval and windows): " : "") +
              (outcome.healthy ? "every instance runs " + release.to_digest : outcome.detail))));
      if (!outcome.healthy)
        detail::notify_rollback(wiring_, run_, release.target + "/" + release.workload, release.image,
                                release.to_digest, outcome.detail);
      if (!outcome.store_error.empty()) return unexpected(Failure::failed(outcome.store_error));
    }
    return {};
  }

  // Whether the release's target lets an urgent run past gates it has (an approval or windows).
  bool urgent_skips(const store::Release& release) const {
    for (const auto& target : wiring_.fleet->pipeline.deploy)
      if (target.name == release.target)
        return target.urgent && (release::approval_for(wiring_.fleet->pipeline, target) || !target.windows.empty());
    return false;
  }

  bool stored_urgent() {
    auto stored = wiring_.store->get_run(run_);
    return stored && stored->trigger.urgent;
  }

  Wiring& wiring_;
  store::RunId run_;
  const RunOptions& options_;
};

// A run held before its build (`approval: {before: build}`): awaiting, no release stored, no
// task started. nullopt when `run` is not such a run.
struct BeforeBuild {
  enum class Outcome { waiting, ended, approved } outcome = Outcome::waiting;
  RunResult result;
};

std::optional<BeforeBuild> before_build(Wiring& wiring, const store::Run& run, const RunOptions& options) {
  const auto& approval = wiring.fleet->pipeline.approval;
  if (run.state != store::RunState::awaiting || !approval || !approval->before_build) return std::nullopt;
  auto releases = wiring.store->get_releases(run.id);
  auto tasks = wiring.store->get_tasks(run.id);
  if (!releases || !tasks || !releases->empty()) return std::nullopt;
  if (std::any_of(tasks->begin(), tasks->end(), [](const auto& task) { return task.state != store::TaskState::pending; }))
    return std::nullopt;
  auto approvals = wiring.store->get_approvals(run.id);
  if (!approvals) return std::nullopt;
  BeforeBuild gate;
  gate.result.run = run.id;
  gate.result.state = store::RunState::awaiting;
  std::set<std::string> approvers;
  for (const auto& decision : *approvals) {
    if (!decision.approved) {
      gate.outcome = BeforeBuild::Outcome::ended;
      gate.result.state = store::RunState::failed;
      gate.result.waiting = "rejected by " + decision.actor + " before the build" +
                            (decision.comment.empty() ? "" : ": " + decision.comment) + "; nothing was built";
      return gate;
    }
    approvers.insert(decision.actor);
  }
  // An urgent run skips it when every deploy target allows urgent runs past its gates.
  const auto& targets = wiring.fleet->pipeline.deploy;
  bool urgent = run.trigger.urgent && std::all_of(targets.begin(), targets.end(), [](const auto& t) { return t.urgent; });
  if (urgent || static_cast<int>(approvers.size()) >= approval->required) {
    gate.outcome = BeforeBuild::Outcome::approved;
    gate.result.waiting = urgent && static_cast<int>(approvers.size()) < approval->required
                              ? "urgent: built without the approval"
                              : "approved by " + std::to_string(approvers.size()) + " before the build";
    return gate;
  }
  store::Time deadline = run.created_at + approval->timeout;
  if (now_of(options) >= deadline) {
    gate.outcome = BeforeBuild::Outcome::ended;
    gate.result.state = store::RunState::failed;
    gate.result.waiting = "the approval before the build timed out; nothing was built";
    return gate;
  }
  gate.result.waiting = "awaiting approval (" + std::to_string(approvers.size()) + " of " +
                        std::to_string(approval->required) + ") before the build";
  gate.result.wake = deadline;
  gate.result.awaiting_approval = true;
  return gate;
}

}  // namespace

Expected<RunResult, Failure> advance_release(Wiring& wiring, store::RunId run, const RunOptions& options) {
  {
    auto lock = RunLock::try_acquire(run_lock_path(wiring.state_dir, run));
    if (!lock)
      return unexpected(Failure::conflict("run " + std::to_string(run) + " is being run or released by another process"));
    auto stored = wiring.store->get_run(run);
    auto gate = stored ? before_build(wiring, *stored, options) : std::nullopt;
    if (!gate) return Releaser(wiring, run, options).advance();
    if (gate->outcome == BeforeBuild::Outcome::waiting) return gate->result;
    if (gate->outcome == BeforeBuild::Outcome::ended) {
      if (auto ended = wiring.store->set_run_state(run, gate->result.state, gate->result.waiting); !ended)
        return unexpected(Failure::failed(ended.error().message));
      notify_finished(wiring, run);
      return gate->result;
    }
    if (auto started = wiring.store->set_run_state(run, store::RunState::running, gate->result.waiting); !started)
      return unexpected(Failure::failed(started.error().message));
  }
  return resume(wiring, run, options);  // approved: built now (outside the lock, which resume takes itself)
}

Expected<void, Failure> record_decision(Wiring& wiring, store::RunId run, const ReleaseDecision& decision) {
  auto stored = wiring.store->get_run(run);
  if (!stored && stored.error().code == store::ErrorCode::not_found)
    return unexpected(Failure::not_found("no run " + std::to_string(run)));
  if (!stored) return unexpected(Failure::failed(stored.error().message));
  if (stored->state != store::RunState::awaiting)
    return unexpected(Failure::conflict("run " + std::to_string(run) + " is " +
                                        std::string(store::to_string(stored->state)) + ", not awaiting a release"));
  if (decision.actor.empty()) return unexpected(Failure::bad_input("a decision needs the name of who made it"));
  if (!decision.target.empty()) {
    auto releases = wiring.store->get_releases(run);
    if (!releases) return unexpected(Failure::failed(releases.error().message));
    if (std::none_of(releases->begin(), releases->end(), [&](const auto& r) { return r.target == decision.target; }))
      return unexpected(Failure::not_found("run " + std::to_string(run) + " holds no rollout to target '" +
                                           decision.target + "'"));
  }
  if (decision.urgent && !stored->trigger.urgent)
    if (auto marked = wiring.store->set_run_urgent(run); !marked) return unexpected(Failure::failed(marked.error().message));
  store::Approval approval;
  approval.run = run;
  approval.target = decision.target;
  approval.actor = decision.actor;
  approval.approved = decision.approved;
  approval.comment = decision.comment;
  approval.urgent = decision.urgent;
  if (auto recorded = wiring.store->record_approval(approval); !recorded)
    return unexpected(Failure::failed(recorded.error().message));
  return {};
}

}  // namespace cascade::app
