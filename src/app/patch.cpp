#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "cascade/app.hpp"
#include "cascade/exposure.hpp"
#include "notifications.hpp"
#include "run_lock.hpp"

namespace cascade::app {

namespace {

// Runs work(i) for i in [0, n) on up to `threads` threads.
void parallel_each(std::size_t n, std::size_t threads, const std::function<void(std::size_t)>& work) {
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < n; i = next++) work(i);
  };
  std::vector<std::jthread> pool;
  for (std::size_t t = 1; t < std::min(threads, n); ++t) pool.emplace_back(worker);
  worker();
}

constexpr std::size_t kRegistryThreads = 8;

Expected<reference::Reference, Failure> parse_image(const std::string& text) {
  auto parsed = reference::parse(text);
  if (!parsed)
    return unexpected(Failure::bad_input("'" + text + "' is not an image reference: " + parsed.error().message));
  return std::move(parsed).value();
}

std::vector<std::string> platform_names(const registry::ImageInfo& info) {
  std::vector<std::string> names;
  for (const auto& manifest : info.platforms) names.push_back(manifest.platform);
  return names;
}

// What the registry says about the affected images, and the digests of the pinned bases.
// When a recipe declares platforms, the bases (pinned, or the trigger's external images at
// their new digest) are inspected rather than only resolved, for the platforms they have:
// the plan refuses a platform a base lacks before anything is built.
Expected<void, Failure> observe(Wiring& wiring, const plan::Origin& origin, const plan::Needs& needs,
                                std::map<std::string, plan::Observed>& observed,
                                std::map<std::string, std::string>& pinned) {
  auto fleet = wiring.fleet.get();  // one snapshot while it is read
  const auto& graph = fleet->graph;
  bool platforms_matter = std::any_of(graph.recipes().begin(), graph.recipes().end(),
                                      [](const graph::Recipe& recipe) { return !recipe.platforms.empty(); });
  std::vector<std::pair<graph::NodeId, std::string>> triggers;  // external start -> its new digest
  if (platforms_matter)
    for (const auto& [id, digest] : origin.digests)
      if (!graph.recipe_of(id)) triggers.emplace_back(id, digest);
  std::mutex mutex;
  std::optional<Failure> failure;
  std::size_t inspected = needs.inspect.size(), resolved = needs.resolve.size();
  parallel_each(inspected + resolved + triggers.size(), kRegistryThreads, [&](std::size_t i) {
    bool inspecting = i < inspected;
    bool resolving = !inspecting && i < inspected + resolved;
    graph::NodeId id = inspecting ? needs.inspect[i]
                       : resolving ? needs.resolve[i - inspected]
                                   : triggers[i - inspected - resolved].first;
    const std::string& image = graph.node(id).image;
    auto ref = reference::parse(image);
    if (!ref) return;
    if (inspecting) {
      auto info = wiring.registry->inspect(*ref);
      std::lock_guard lock(mutex);
      if (info) {
        auto revision = info->labels.find(executor::kLabelRevision);
        observed[image] = plan::Observed{info->digest, executor::built_on(info->labels),
                                         revision == info->labels.end() ? "" : revision->second, info->index,
                                         platform_names(*info)};
      }
      else if (info.error().kind == registry::ErrorKind::not_found) observed[image] = plan::Observed{};
      else failure = Failure::peer("cannot inspect " + image + ": " + info.error().str(), info.error().transient());
    } else if (resolving && !platforms_matter) {
      auto digest = wiring.registry->resolve_digest(*ref);
      std::lock_guard lock(mutex);
      if (digest) pinned[image] = *digest;
      else failure = Failure::peer("cannot resolve the base " + image + ": " + digest.error().str(),
                                   digest.error().transient());
    } else {
      // A base, for its digest (when pinned) and its platforms.
      reference::Reference at = *ref;
      if (!resolving) at.digest = triggers[i - inspected - resolved].second;
      auto info = wiring.registry->inspect(at);
      std::lock_guard lock(mutex);
      if (!info) {
        failure = Failure::peer("cannot inspect the base " + at.str() + ": " + info.error().str(), info.error().transient());
        return;
      }
      if (resolving) pinned[image] = info->digest;
      observed[image] = plan::Observed{info->digest, {}, "", info->index, platform_names(*info)};
    }
  });
  if (failure) return unexpected(*failure);
  return {};
}

// The run's workers: the pipeline's, or the implicit local one with the run's --parallel.
std::vector<executor::Worker> run_workers(const Wiring& wiring, std::size_t parallel) {
  std::vector<executor::Worker> workers;
  for (const auto& worker : wiring.workers)
    workers.push_back({worker.name, worker.builder.get(), worker.capacity ? worker.capacity : parallel, worker.labels,
                       worker.kind == pipeline::WorkerKind::buildah, worker.kind != pipeline::WorkerKind::buildkit});
  return workers;
}

executor::Options executor_options(const Wiring& wiring, const RunOptions& options) {
  executor::Options out;
  out.parallel = std::max<std::size_t>(1, options.parallel);
  // Declared workers bring their own capacities: every slot may be used.
  if (!wiring.fleet->pipeline.builders.workers.empty()) {
    std::size_t total = 0;
    for (const auto& worker : wiring.workers) total += worker.capacity;
    out.parallel = std::max<std::size_t>(1, total);
  }
  out.work_dir = wiring.state_dir + "/runs";
  // For bench/workers_bench.py: the same run without the parent-locality rule, to count the
  // base pulls it saves.
  if (const char* locality = std::getenv("CASCADE_PREFER_PARENT_WORKER"); locality && std::string(locality) == "0")
    out.prefer_parent_worker = false;
  return out;
}

// builders.prune: each worker's storage keeps what the last runs built or built on; told
// as progress, never failing the run.
void prune_after_run(Wiring& wiring, int keep_runs, const RunOptions& options) {
  auto tell = [&](const std::string& worker, const std::string& detail) {
    if (options.progress) options.progress({executor::Progress::Kind::pruned, "", detail, 0, worker});
  };
  auto keep = keep_set(*wiring.store, keep_runs);
  if (!keep) return tell("", "not pruned: " + keep.error().message);
  std::vector<std::pair<std::string, builder::Builder*>> workers;
  for (const auto& worker : wiring.workers) workers.emplace_back(worker.name, worker.builder.get());
  auto summary = prune_builders(workers, *keep, options.cancel);
  for (const auto& [name, report] : summary.workers) {
    if (!report) {
      tell(name, name + ": not pruned: " + report.error().message);
      continue;
    }
    std::string detail = name + ": removed " + std::to_string(report->removed) + " images, kept " +
                         std::to_string(report->kept);
    if (report->bytes_freed) detail += ", freed " + std::to_string(report->bytes_freed / (1024 * 1024)) + " MiB";
    for (const auto& problem : report->problems) detail += "; " + problem;
    tell(name, detail);
  }
}

// The executor's progress, with the rollback notifications of the rollouts it makes.
std::function<void(const executor::Progress&)> notifying(Wiring& wiring, const PlannedPatch& planned, store::RunId run,
                                                         const RunOptions& options) {
  if (wiring.fleet->pipeline.notify.empty()) return options.progress;
  std::map<std::string, std::string> image_of;  // "target/workload" -> the fleet image it runs
  for (const auto& item : planned.deployments)
    image_of[wiring.targets[item.target].config.name + "/" + item.workload.name] = item.image;
  return [&wiring, run, image_of, progress = options.progress](const executor::Progress& event) {
    if (event.kind == executor::Progress::Kind::rolled_back) {
      auto image = image_of.find(event.image);
      std::string digest;
      if (image != image_of.end())
        if (auto task = wiring.store->get_tasks(run))
          for (const auto& stored : *task)
            if (stored.image == image->second) digest = stored.new_digest.value_or(stored.old_digest.value_or(""));
      detail::notify_rollback(wiring, run, event.image, image == image_of.end() ? "" : image->second, digest,
                              event.detail);
    }
    if (progress) progress(event);
  };
}

Expected<RunResult, Failure> execute_locked(Wiring& wiring, const PlannedPatch& planned, store::RunId run,
                                            const RunOptions& options, bool resumed) {
  auto lock = RunLock::try_acquire(run_lock_path(wiring.state_dir, run));
  if (!lock) return unexpected(Failure::conflict("run " + std::to_string(run) + " is running in another process"));
  if (options.on_run) options.on_run(run, planned);
  if (!resumed) {
    std::vector<std::string> images;
    for (const auto& step : planned.plan.steps) images.push_back(step.image);
    (void)notify_event(wiring, "run-" + std::to_string(run) + "-started", "run-started", run,
                       "cascade run " + std::to_string(run) + " started (" + planned.origin.query + "): " +
                           std::to_string(planned.plan.steps.size()) + " image(s) affected" +
                           (options.urgent ? ", urgent" : ""),
                       images, {{"trigger", planned.origin.query}, {"urgent", options.urgent}});
  }
  auto command_targets = run_targets(wiring, run);
  if (!command_targets) return unexpected(command_targets.error());
  auto run_options = executor_options(wiring, options);
  executor::Services services{run_workers(wiring, run_options.parallel), *wiring.store, *wiring.workspace,
                              notifying(wiring, planned, run, options)};
  if (options.deploy) services.deployments = deployments_for(wiring, planned.deployments, *command_targets);
  services.max_parallel_deploys = static_cast<std::size_t>(wiring.fleet->pipeline.max_parallel_deploys);
  for (const auto& secret : wiring.fleet->pipeline.builders.secrets)
    services.secrets.push_back({secret.id, secret.env, secret.file});
  services.platforms_of = [&wiring](const std::string& image) -> Expected<std::vector<registry::PlatformManifest>, std::string> {
    auto ref = reference::parse(image);
    if (!ref) return unexpected(ref.error().message);
    auto info = wiring.registry->inspect(*ref);
    if (!info) return unexpected(info.error().str());
    return info->platforms;
  };
  if (wiring.scanner)  // every pushed image is scanned; with a question, judged before its rollouts
    services.verify = [&wiring, question = planned.question](const std::string& image, const std::string& digest) {
      return verify_pushed(wiring, question.get(), image, digest);
    };
  executor::Executor executor(services, run_options);
  auto outcome = executor.execute(wiring.fleet->graph, planned.plan, run, options.stop, options.cancel);
  if (auto keep_runs = wiring.fleet->pipeline.builders.prune_keep_runs)
    prune_after_run(wiring, *keep_runs, options);
  if (planned.question && options.deploy && !wiring.fleet->pipeline.deploy.empty())
    (void)scan_workloads(wiring);  // what the workloads run now, for the next exposure question; best effort
  return RunResult{run, outcome.state, resumed};
}

// Executes the run; then, when it holds rollouts, the first release passes (outside the run's
// lock, which advance_release takes itself); a final run tells its notify destinations.
Expected<RunResult, Failure> execute(Wiring& wiring, const PlannedPatch& planned, store::RunId run,
                                     const RunOptions& options, bool resumed) {
  auto result = execute_locked(wiring, planned, run, options, resumed);
  if (!result) return result;
  if (result->state == store::RunState::awaiting) {
    auto released = advance_release(wiring, run, options);
    if (!released) return unexpected(released.error());
    released->resumed = resumed;
    return released;
  }
  if (result->state != store::RunState::interrupted) notify_finished(wiring, run);
  return result;
}

std::vector<store::TaskSpec> task_specs(const Wiring& wiring, const plan::Plan& plan) {
  std::vector<store::TaskSpec> specs;
  for (const auto& step : plan.steps) {
    const graph::Recipe* recipe = wiring.fleet->graph.recipe_of(step.node);
    store::TaskSpec spec;
    spec.image = step.image;
    spec.source = recipe->source;
    spec.dockerfile = recipe->dockerfile;
    spec.commit = recipe->commit;
    for (auto dep : step.after) spec.dependencies.push_back(plan.steps[dep].image);
    spec.old_digest = step.old_digest;
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace

// Observes the registry for the trigger's plan and makes it, with its deployments.
Expected<PlannedPatch, Failure> plan_trigger(Wiring& wiring, PlannedPatch planned, bool deploy) {
  auto fleet = wiring.fleet.get();  // one snapshot while it is read
  const auto& graph = fleet->graph;
  std::map<std::string, plan::Observed> observed;
  std::map<std::string, std::string> pinned;
  if (auto seen = observe(wiring, planned.origin, plan::needs(graph, planned.origin), observed, pinned); !seen)
    return unexpected(seen.error());
  planned.plan = plan::make(graph, planned.origin, observed, pinned);
  if (!planned.plan.problems.empty()) {
    std::string message = "the plan cannot run; nothing was built or pushed:";
    for (const auto& problem : planned.plan.problems) message += "\n  " + problem;
    return unexpected(Failure::bad_input(message));
  }
  if (deploy && !wiring.fleet->pipeline.deploy.empty()) {
    std::vector<std::string> images;
    for (const auto& step : planned.plan.steps) images.push_back(step.image);
    auto deployments = plan_deployments(wiring, images);
    if (!deployments) return unexpected(deployments.error());
    planned.deployments = std::move(deployments).value();
  }
  return planned;
}

namespace {

// The plan of a stored run's trigger, as its action says: a rebuild of its globs, a fix of
// its question, or a patch (or deploy) of its query.
Expected<PlannedPatch, Failure> plan_again(Wiring& wiring, store::RunId run, const store::TriggerRecord& trigger,
                                           const store::PlanRecord& plan,
                                           const std::map<graph::NodeId, std::string>& given, bool deploy);

// A fix asked again: the package constraint of its trigger, or the advisories its plan kept.
Expected<PlannedPatch, Failure> plan_fix_again(Wiring& wiring, store::RunId run, const store::TriggerRecord& trigger,
                                               const store::PlanRecord& plan, bool deploy) {
  if (!trigger.package && plan.advisory_documents.empty())
    return unexpected(Failure::bad_input("run " + std::to_string(run) + " kept no question to ask again"));
  auto question = stored_question(trigger, plan);
  if (!question) return unexpected(question.error());
  std::vector<std::string> unfixed;
  return plan_fix(wiring, *question, deploy, unfixed);
}

// The run's record of `planned`: what resume needs to plan it again.
store::PlanRecord plan_record(const PlannedPatch& planned) {
  store::PlanRecord record;
  record.query = planned.plan.query;
  record.trigger_digests = planned.plan.trigger_digests;
  for (const auto& step : planned.plan.steps)
    if (step.depth == 0) record.rebuilt_starts.push_back(step.image);
  if (planned.question) record.advisory_documents = planned.question->documents;
  return record;
}

}  // namespace

Expected<PlannedPatch, Failure> plan_patch(Wiring& wiring, const std::string& query,
                                           const std::map<graph::NodeId, std::string>& given, bool deploy) {
  auto ref = parse_image(query);
  if (!ref) return unexpected(ref.error());
  auto fleet = wiring.fleet.get();  // one snapshot while it is read
  const auto& graph = fleet->graph;
  PlannedPatch planned;
  planned.origin.query = query;
  planned.origin.start = graph.match(*ref);
  if (planned.origin.start.empty())
    return unexpected(Failure::bad_input("no image in the fleet matches " + query + " (cascade graph lists them)"));
  for (auto id : planned.origin.start) {
    if (auto digest = given.find(id); digest != given.end()) {
      planned.origin.digests[id] = digest->second;
    } else if (!ref->digest.empty()) {
      planned.origin.digests[id] = ref->digest;
    } else if (!graph.recipe_of(id)) {
      auto digest = wiring.registry->resolve_digest(*reference::parse(graph.node(id).image));
      if (!digest) return unexpected(Failure::peer("cannot resolve " + graph.node(id).image + ": " + digest.error().str(),
                                                    digest.error().transient()));
      planned.origin.digests[id] = *digest;
    }
  }
  return plan_trigger(wiring, std::move(planned), deploy);
}

Expected<PlannedPatch, Failure> plan_rebuild(Wiring& wiring, const std::vector<std::string>& globs, bool deploy) {
  auto fleet = wiring.fleet.get();  // one snapshot while it is read
  const auto& graph = fleet->graph;
  std::set<graph::NodeId> selected;
  for (const auto& recipe : graph.recipes()) {
    auto id = graph.find(recipe.image);
    auto ref = reference::parse(recipe.image);
    if (!id || !ref) continue;
    bool wanted = globs.empty() || std::any_of(globs.begin(), globs.end(), [&](const std::string& glob) {
                    return pipeline::glob_match(glob, ref->repository());
                  });
    if (wanted) selected.insert(*id);
  }
  if (selected.empty()) return unexpected(Failure::bad_input("no fleet image matches the rebuild selection"));
  PlannedPatch planned;
  planned.action = store::TriggerAction::rebuild;
  planned.globs = globs;
  planned.origin.query = "rebuild:";  // the run's name ("rebuild:a/*,b/*"); resume() reads the globs
  for (std::size_t i = 0; i < globs.size(); ++i) planned.origin.query += (i ? "," : "") + globs[i];
  if (globs.empty()) planned.origin.query += "*";
  planned.origin.rebuild = true;
  // Start from the selected images no other selected image leads to: the rest is downstream.
  auto downstream = graph.downstream(std::vector<graph::NodeId>(selected.begin(), selected.end()));
  for (auto id : selected)
    if (std::none_of(downstream.begin(), downstream.end(), [&](const auto& item) { return item.node == id; }))
      planned.origin.start.push_back(id);
  return plan_trigger(wiring, std::move(planned), deploy);
}

Expected<RunResult, Failure> run_patch(Wiring& wiring, const PlannedPatch& planned, const RunOptions& options) {
  store::NewRun new_run;
  new_run.trigger.kind = options.kind;
  new_run.trigger.image = planned.origin.query;
  if (planned.origin.digests.size() == 1) new_run.trigger.digest = planned.origin.digests.begin()->second;
  new_run.trigger.actor = options.actor;
  new_run.trigger.action = planned.action;
  new_run.trigger.globs = planned.globs;
  new_run.trigger.urgent = options.urgent;
  if (planned.question) {
    for (const auto& item : planned.question->advisories) new_run.trigger.advisories.push_back(item.id);
    if (planned.question->constraint) new_run.trigger.package = advisory::to_string(*planned.question->constraint);
  }
  new_run.pipeline_path = wiring.fleet->pipeline.file;
  new_run.plan = plan_record(planned);
  auto run = wiring.store->create_run(new_run);
  if (!run) return unexpected(Failure::failed(run.error().message));
  if (auto added = wiring.store->add_tasks(*run, task_specs(wiring, planned.plan)); !added)
    return unexpected(Failure::failed(added.error().message));
  // `approval: {before: build}`: the run waits for its approval before anything is built
  // (an urgent run goes on where every deploy target allows it); advance_release builds it then.
  const auto& approval = wiring.fleet->pipeline.approval;
  if (approval && approval->before_build && !planned.plan.steps.empty()) {
    if (auto held = wiring.store->set_run_state(*run, store::RunState::awaiting, "awaiting approval before the build");
        !held)
      return unexpected(Failure::failed(held.error().message));
    std::vector<std::string> images;
    for (const auto& step : planned.plan.steps) images.push_back(step.image);
    (void)notify_event(wiring, "run-" + std::to_string(*run) + "-awaiting-approval", "awaiting-approval", *run,
                       "cascade run " + std::to_string(*run) + " (" + planned.origin.query + ") awaits approval before "
                       "building " + std::to_string(images.size()) + " image(s): cascade approve " + std::to_string(*run),
                       images, {{"before", "build"}});
    if (options.on_run) options.on_run(*run, planned);
    RunOptions later = options;  // told once: an urgent run built at once is not a second start
    later.on_run = nullptr;
    return advance_release(wiring, *run, later);  // an urgent run may go on at once
  }
  if (auto started = wiring.store->set_run_state(*run, store::RunState::running); !started)
    return unexpected(Failure::failed(started.error().message));
  return execute(wiring, planned, *run, options, false);
}

namespace {

// Recovers every deploy target after a crash mid-rollout of run `run`, recording each step.
Expected<void, Failure> recover_rollouts(Wiring& wiring, store::RunId run) {
  if (auto connected = connect_targets(wiring); !connected) return unexpected(connected.error());
  for (const auto& entry : wiring.targets) {
    std::string unrecorded;  // the first recovery step the store refused
    auto sink = [&](const deploy::Step& step) {
      store::RolloutStep record;
      record.run = run;
      record.target = entry.config.name;
      record.workload = step.workload;
      record.to_digest = step.to;
      record.state = step.state == deploy::StepState::healthy       ? store::RolloutState::healthy
                     : step.state == deploy::StepState::rolled_back ? store::RolloutState::rolled_back
                     : step.state == deploy::StepState::failed      ? store::RolloutState::failed
                                                                    : store::RolloutState::updating;
      record.detail = step.instance + ": " + step.detail;
      if (auto recorded = wiring.store->record_rollout_step(record); !recorded && unrecorded.empty())
        unrecorded = recorded.error().message;
    };
    if (auto recovered = entry.target->recover("run-" + std::to_string(run), rollout_policy(entry.config), sink);
        !recovered)
      return unexpected(Failure::failed("deploy target '" + entry.config.name + "': " + recovered.error().str()));
    if (!unrecorded.empty())
      return unexpected(
          Failure::failed("cannot record the recovery of deploy target '" + entry.config.name + "': " + unrecorded));
  }
  return {};
}

}  // namespace

Expected<RunResult, Failure> resume(Wiring& wiring, store::RunId run, const RunOptions& options) {
  auto stored = wiring.store->get_run(run);
  if (!stored && stored.error().code == store::ErrorCode::not_found)
    return unexpected(Failure::not_found("no run " + std::to_string(run) + " in " + wiring.fleet->pipeline.state));
  if (!stored) return unexpected(Failure::failed(stored.error().message));
  if (stored->state == store::RunState::succeeded || stored->state == store::RunState::failed)
    return unexpected(
        Failure::conflict("run " + std::to_string(run) + " is already " + std::string(store::to_string(stored->state))));
  if (stored->state == store::RunState::awaiting)  // its builds are done (or wait for an approval): nothing to resume
    return unexpected(Failure::conflict("run " + std::to_string(run) + " awaits its release: cascade approve, reject or "
                                        "release " + std::to_string(run) + " moves it on"));
  auto probe = RunLock::try_acquire(run_lock_path(wiring.state_dir, run));
  if (!probe) return unexpected(Failure::conflict("run " + std::to_string(run) + " is running in another process"));
  probe.reset();

  // A rollout cut short by the crash: every workload back on exactly one set of containers.
  // (before planning: the inventory must see the containers where recovery leaves them)
  if (options.deploy)
    if (auto recovered = recover_rollouts(wiring, run); !recovered) return unexpected(recovered.error());

  // The start digests of the run: those it was triggered with, and start images it pushed.
  auto fleet = wiring.fleet.get();  // one snapshot while it is read
  const auto& graph = fleet->graph;
  std::map<graph::NodeId, std::string> given;
  auto stored_plan = wiring.store->get_plan(run);
  if (!stored_plan) return unexpected(Failure::failed(stored_plan.error().message));
  for (const auto& [image, digest] : stored_plan->trigger_digests)
    if (auto id = graph.find(image)) given[*id] = digest;
  auto tasks = wiring.store->get_tasks(run);
  if (!tasks) return unexpected(Failure::failed(tasks.error().message));
  // images the run rebuilt first (depth 0)
  std::set<std::string> rebuilt_starts(stored_plan->rebuilt_starts.begin(), stored_plan->rebuilt_starts.end());
  for (const auto& task : *tasks)
    if (task.state == store::TaskState::pushed && task.new_digest && rebuilt_starts.count(task.image))
      if (auto id = graph.find(task.image)) given[*id] = *task.new_digest;

  auto planned = plan_again(wiring, run, stored->trigger, *stored_plan, given, options.deploy);
  if (!planned) return unexpected(planned.error());

  // Requeue what a crash or an interruption left half done, and what failed before.
  std::set<std::string> known;
  for (const auto& task : *tasks) {
    known.insert(task.image);
    using S = store::TaskState;
    if (task.state == S::building || task.state == S::pushing || task.state == S::failed || task.state == S::blocked)
      if (auto requeued = wiring.store->transition_task(run, task.image, S::pending,
                                                        "resumed: was " + std::string(store::to_string(task.state)));
          !requeued)
        return unexpected(Failure::failed("cannot requeue " + task.image + ": " + requeued.error().message));
  }
  std::vector<store::TaskSpec> missing;
  for (auto& spec : task_specs(wiring, planned->plan))
    if (!known.count(spec.image)) missing.push_back(std::move(spec));
  if (!missing.empty())
    if (auto added = wiring.store->add_tasks(run, missing); !added)
      return unexpected(
          Failure::failed("cannot add the new tasks of run " + std::to_string(run) + ": " + added.error().message));
  if (stored->state != store::RunState::running)
    if (auto started = wiring.store->set_run_state(run, store::RunState::running, "resumed"); !started)
      return unexpected(Failure::failed(started.error().message));
  return execute(wiring, *planned, run, options, true);
}

namespace {
Expected<PlannedPatch, Failure> plan_again(Wiring& wiring, store::RunId run, const store::TriggerRecord& trigger,
                                           const store::PlanRecord& plan,
                                           const std::map<graph::NodeId, std::string>& given, bool deploy) {
  switch (trigger.action) {
    case store::TriggerAction::rebuild: return plan_rebuild(wiring, trigger.globs, deploy);
    case store::TriggerAction::fix: return plan_fix_again(wiring, run, trigger, plan, deploy);
    case store::TriggerAction::patch:
    case store::TriggerAction::deploy: break;  // planned again as a patch, as before actions were stored
  }
  return plan_patch(wiring, plan.query, given, deploy);
}
}  // namespace

std::optional<store::RunId> unfinished_run_for(Wiring& wiring, const PlannedPatch& planned) {
  auto runs = wiring.store->list_runs(50);
  if (!runs) return std::nullopt;
  std::optional<std::string> digest;
  if (planned.origin.digests.size() == 1) digest = planned.origin.digests.begin()->second;
  for (const auto& run : *runs) {
    if (run.state != store::RunState::running && run.state != store::RunState::interrupted) continue;
    if (run.trigger.image != planned.origin.query || run.trigger.digest != digest) continue;
    if (RunLock::try_acquire(run_lock_path(wiring.state_dir, run.id))) return run.id;
  }
  return std::nullopt;
}

}  // namespace cascade::app
