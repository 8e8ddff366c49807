// plan, patch and status: planning a cascade, running it (or resuming one), and reading
// past runs from the state store.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <iterator>
#include <mutex>

#include "cascade/app.hpp"
#include "cascade/trigger.hpp"
#include "cascade/daemon.hpp"
#include "common.hpp"
#include "package_commands.hpp"
#include "render.hpp"
#include "signals.hpp"

namespace cascade::cli {

namespace {

std::optional<app::Wiring> wire(const Common& common) { return wire_fleet(common); }

}  // namespace

// "[03:04:05] pushed  127.0.0.1:5000/apps/shop:1  sha256:1234…  2.1 s" on stderr.
void print_progress(const executor::Progress& progress) {
  static std::mutex mutex;
  static const char* names[] = {"build",    "retry",    "pushed",   "FAILED",   "blocked",    "skip",
                                "stopping", "deploy",   "deployed", "ROLLBACK", "verified", "VULNERABLE",
                                "STORE",    "pruned",   "held"};
  static_assert(std::size(names) == static_cast<std::size_t>(executor::Progress::Kind::held) + 1);
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char clock[16];
  std::strftime(clock, sizeof clock, "%H:%M:%S", &local);
  std::lock_guard lock(mutex);
  // Images and details carry build output and registry text: escaped for the terminal.
  std::fprintf(stderr, "[%s] %-8s %s", clock, names[static_cast<int>(progress.kind)],
               terminal_safe(progress.image).c_str());
  if (!progress.detail.empty()) std::fprintf(stderr, "  %s", terminal_safe(progress.detail).c_str());
  if (progress.seconds > 0) std::fprintf(stderr, "  (%.1f s)", progress.seconds);
  std::fprintf(stderr, "\n");
}

std::chrono::milliseconds cli_release_wait(const pipeline::Pipeline& pipeline) {
  std::chrono::milliseconds longest{0};
  for (const auto& wave : pipeline.waves) longest = std::max(longest, wave.soak);
  return longest + std::chrono::seconds(1);
}

int report_run(app::Wiring& wiring, const Common& common, store::RunId run) {
  auto detail = app::run_json(*wiring.store, run);
  if (!detail) {
    fail(detail.error().message);
    return exit_code_for(detail.error().kind);
  }
  if (common.format == "json") std::cout << detail->dump(2) << "\n";
  else std::cout << run_text(*detail);
  std::string state = (*detail)["state"];
  if (state == "awaiting")
    std::cerr << "cascade: run " << run << " awaits its release (cascade status " << run
              << " says what each rollout waits for): cascade approve|reject " << run
              << " decides; cascade serve rolls out as windows open and waves soak\n";
  return state == "succeeded" || state == "awaiting" ? kOk : kFailed;
}

namespace {

void print_plan(const Common& common, const app::PlannedPatch& planned, const app::Wiring& wiring) {
  if (common.format == "json") std::cout << app::plan_json(planned, wiring).dump(2) << "\n";
  else std::cout << plan_text(app::plan_json(planned, wiring));
}

int plan_command(const Common& common, const std::string& image, const PackageArgs& package) {
  if (image.empty() == !package.given()) {
    fail("plan needs exactly one of IMAGE, --package NAME<VERSION or --advisory FILE...");
    return kBadInput;
  }
  if (package.given()) {
    auto fix = plan_fix_command(common, package, true);
    if (!fix) return fix.error();
    print_plan(common, fix->planned, fix->wiring);
    return kOk;
  }
  auto wiring = wire(common);
  if (!wiring) return kBadInput;
  auto planned = app::plan_patch(*wiring, image);
  if (!planned) {
    fail(planned.error().message);
    return exit_code_for(planned.error().kind);
  }
  if (common.format == "json") std::cout << app::plan_json(*planned, *wiring).dump(2) << "\n";
  else std::cout << plan_text(app::plan_json(*planned, *wiring));
  return kOk;
}

int fix_command(const Common& common, const PatchArgs& args, const PackageArgs& package);

int patch_command(const Common& common, const PatchArgs& args, const PackageArgs& package) {
  if (package.given()) return fix_command(common, args, package);
  if (args.resume == 0 && args.image.empty()) {
    fail("patch needs an IMAGE, --package NAME<VERSION, --advisory FILE... or --resume RUN");
    return kBadInput;
  }
  if (!args.server.empty()) return remote_patch(common, args);
  SignalStop signals;  // first: every thread started later (registry client, builds) inherits the mask
  auto wiring = wire(common);
  if (!wiring) return kBadInput;
  app::RunOptions options;
  options.parallel = args.parallel;
  options.deploy = !args.no_deploy;
  options.stop = signals.stop();
  options.cancel = signals.cancel();
  options.progress = print_progress;
  options.urgent = args.urgent;
  options.release_wait = cli_release_wait(wiring->fleet->pipeline);
  if (args.dry_run && args.resume == 0) {  // the plan only: no trigger is handled
    auto planned = app::plan_patch(*wiring, args.image, {}, !args.no_deploy);
    if (!planned) {
      fail(planned.error().message);
      return exit_code_for(planned.error().kind);
    }
    if (common.format == "json") std::cout << app::plan_json(*planned, *wiring).dump(2) << "\n";
    else std::cout << plan_text(app::plan_json(*planned, *wiring));
    return kOk;
  }
  app::Trigger trigger;  // a person's patch: planned as asked; or the resume of a run
  trigger.source = store::TriggerKind::cli;
  trigger.actor = "cli";
  if (args.resume != 0) {
    trigger.action = app::Trigger::Action::resume;
    trigger.run = args.resume;
  } else {
    trigger.image = args.image;
    trigger.exact = true;
  }
  app::HandleOptions handle;
  handle.run = options;
  handle.deploy = !args.no_deploy;
  handle.finishing = [](store::RunId run) {
    std::cerr << "cascade: finishing run " << run << ", an unfinished cascade of the same image\n";
  };
  handle.note = [](const std::string& note) { std::cerr << "cascade: " << terminal_safe(note) << "\n"; };
  auto handled = app::handle(*wiring, trigger, handle);
  if (!handled) {
    fail(handled.error().message);
    return exit_code_for(handled.error().kind);
  }
  const auto& result = handled->run;
  app::deliver_notifications(*wiring, options.cancel);
  int code = report_run(*wiring, common, result->run);
  if (result->state == store::RunState::interrupted)
    std::cerr << "cascade: run " << result->run << " interrupted; finish it with: cascade patch --resume "
              << result->run << "\n";
  return code;
}

// `patch --package|--advisory`: the fix as one run; exit 1 when a base has no fix upstream yet
// or a pushed image is still vulnerable.
int fix_command(const Common& common, const PatchArgs& args, const PackageArgs& package) {
  if (!args.image.empty() || args.resume != 0 || !args.server.empty()) {
    fail("patch --package/--advisory takes no IMAGE, --resume or --server");
    return kBadInput;
  }
  SignalStop signals;
  auto fix = plan_fix_command(common, package, !args.no_deploy);
  if (!fix) return fix.error();
  auto& [wiring, planned, unfixed] = *fix;
  int unfixed_code = unfixed.empty() ? kOk : kFailed;  // a base with no fix upstream: the exposure stays
  if (args.dry_run || planned.plan.steps.empty()) {
    print_plan(common, planned, wiring);
    if (planned.plan.steps.empty()) std::cerr << "cascade: nothing to rebuild for " << planned.origin.query << "\n";
    return unfixed_code;
  }
  app::RunOptions options;
  options.parallel = args.parallel;
  options.deploy = !args.no_deploy;
  options.stop = signals.stop();
  options.cancel = signals.cancel();
  options.progress = print_progress;
  options.actor = "cli:" + planned.origin.query;
  options.urgent = args.urgent;
  options.release_wait = cli_release_wait(wiring.fleet->pipeline);
  auto result = app::run_patch(wiring, planned, options);
  if (!result) {
    fail(result.error().message);
    return exit_code_for(result.error().kind);
  }
  app::deliver_notifications(wiring, options.cancel);
  int code = report_run(wiring, common, result->run);
  return code == kOk ? unfixed_code : code;
}

int status_command(const Common& common, long long run, const std::string& server) {
  if (!server.empty()) return remote_status(common, server, run);
  auto wiring = wire(common);
  if (!wiring) return kBadInput;
  if (run != 0) {
    int code = report_run(*wiring, common, run);
    return code == kBadInput ? kBadInput : kOk;
  }
  auto runs = app::runs_json(*wiring->store, 20);
  if (!runs) {
    fail(runs.error().message);
    return exit_code_for(runs.error().kind);
  }
  if (common.format == "json") {
    (*runs)["schedule"] = daemon::schedule_status(wiring->fleet->pipeline, *wiring->store)["schedule"];
    std::cout << runs->dump(2) << "\n";
  } else {
    std::cout << runs_text(*runs);
    print_schedule(common, wiring->fleet->pipeline, *wiring->store);
  }
  return kOk;
}

int deploy_command(const Common& common, const std::string& image, std::size_t parallel) {
  SignalStop signals;  // before any thread starts
  auto wiring = wire(common);
  if (!wiring) return kBadInput;
  app::RunOptions options;
  options.parallel = parallel;
  options.stop = signals.stop();
  options.cancel = signals.cancel();
  options.progress = print_progress;
  options.release_wait = cli_release_wait(wiring->fleet->pipeline);
  auto result = app::deploy_image(*wiring, image, options);
  if (!result) {
    fail(result.error().message);
    return exit_code_for(result.error().kind);
  }
  app::deliver_notifications(*wiring, options.cancel);
  return report_run(*wiring, common, result->run);
}

int inventory_command(const Common& common) {
  auto wiring = wire(common);
  if (!wiring) return kBadInput;
  auto inventory = app::inventory_json(*wiring);
  if (!inventory) {
    fail(inventory.error().message);
    return exit_code_for(inventory.error().kind);
  }
  if (common.format == "json") {
    std::cout << inventory->dump(2) << "\n";
    return kOk;
  }
  for (const auto& target : (*inventory)["targets"]) {
    std::cout << target["name"].get<std::string>() << " (" << target["kind"].get<std::string>() << ")\n";
    if (target["workloads"].empty()) std::cout << "  no workload runs an image of the fleet\n";
    for (const auto& workload : target["workloads"]) {
      std::string digest = workload["digest"].is_string() ? workload["digest"].get<std::string>().substr(0, 19) : "?";
      std::cout << "  " << workload["workload"].get<std::string>() << "  " << workload["image"].get<std::string>() << "  "
                << digest << "  " << workload["instances"].size() << " running"
                << (workload["behind"].get<bool>() ? "  BEHIND: newest is " +
                                                         workload["newest_digest"].get<std::string>().substr(0, 19)
                                                   : "")
                << "\n";
    }
  }
  return kOk;
}

int quarantine_command(const Common& common, const std::string& action, const std::string& image) {
  auto path = pipeline_file(common);
  if (!path) return kBadInput;
  auto pipeline = pipeline::load(*path);
  if (!pipeline) {
    fail(pipeline.error().str());
    return kBadInput;
  }
  auto store = store::open_sqlite(pipeline->state);
  if (!store) {
    fail(store.error().message);
    return kFailed;
  }
  if (action == "clear") {
    auto ref = reference::parse(image);
    if (!ref || ref->digest.empty()) {
      fail("quarantine clear needs IMAGE@DIGEST, e.g. registry.example.com/app:1@sha256:...");
      return kBadInput;
    }
    auto cleared = (*store)->clear_quarantine(ref->without_digest().str(), ref->digest);
    if (!cleared) {
      fail(cleared.error().message);
      return kFailed;
    }
    if (!*cleared) {
      fail(image + " is not quarantined (cascade quarantine list shows what is)");
      return kBadInput;
    }
    std::cout << "cleared: " << image << " may be deployed again\n";
    return kOk;
  }
  auto listed = app::quarantine_json(**store);
  if (!listed) {
    fail(listed.error().message);
    return exit_code_for(listed.error().kind);
  }
  if (common.format == "json") {
    std::cout << listed->dump(2) << "\n";
    return kOk;
  }
  if ((*listed)["quarantined"].empty()) std::cout << "nothing is quarantined\n";
  for (const auto& entry : (*listed)["quarantined"])
    std::cout << entry["image"].get<std::string>() << "@" << entry["digest"].get<std::string>() << "  "
              << entry["reason"].get<std::string>() << "\n";
  return kOk;
}

}  // namespace

void add_patch_commands(CLI::App& app, Common& common, PatchCommandArgs& args, int& exit_code) {
  std::string& plan_image = args.plan_image;
  auto* plan = app.add_subcommand("plan", "show what a patch of IMAGE would do, doing nothing");
  add_pipeline_option(plan, common);
  add_format_option(plan, common, {"text", "json"});
  plan->add_option("IMAGE", plan_image, "IMAGE or IMAGE@DIGEST");
  add_package_options(plan, args.plan_package);
  plan->callback([&] { exit_code = plan_command(common, plan_image, args.plan_package); });

  PatchArgs& patch_args = args.patch;
  auto* patch = app.add_subcommand("patch", "rebuild and push everything downstream of IMAGE, in order");
  add_pipeline_option(patch, common);
  add_format_option(patch, common, {"text", "json"});
  patch->add_option("IMAGE", patch_args.image, "IMAGE or IMAGE@DIGEST (no digest: resolved in its registry)");
  patch->add_flag("--dry-run", patch_args.dry_run, "print the plan and stop");
  patch->add_flag("--no-deploy", patch_args.no_deploy, "build and push only; roll nothing out");
  patch->add_flag("--urgent", patch_args.urgent,
                  "an emergency: skip approvals and change windows on the deploy targets with `urgent: true` (recorded)");
  patch->add_option("--parallel", patch_args.parallel, "builds at once")->check(CLI::Range(1, 256))->capture_default_str();
  patch->add_option("--resume", patch_args.resume, "finish run RUN after a crash or an interruption")
      ->check(CLI::PositiveNumber);
  patch->add_option("--server", patch_args.server,
                    "URL of a `cascade serve` daemon to run the patch (bearer token from $CASCADE_API_TOKEN)");
  add_package_options(patch, args.patch_package);
  patch->callback([&] { exit_code = patch_command(common, patch_args, args.patch_package); });

  auto* deploy = app.add_subcommand("deploy", "roll an already-pushed image out to every workload that runs it");
  add_pipeline_option(deploy, common);
  add_format_option(deploy, common, {"text", "json"});
  deploy->add_option("IMAGE", args.deploy_image, "IMAGE or IMAGE@DIGEST (no digest: the tag's digest now)")->required();
  deploy->callback([&] { exit_code = deploy_command(common, args.deploy_image, args.patch.parallel); });

  auto* inventory = app.add_subcommand("inventory", "what runs where, and which workloads are behind their image");
  add_pipeline_option(inventory, common);
  add_format_option(inventory, common, {"text", "json"});
  inventory->callback([&] { exit_code = inventory_command(common); });

  auto* quarantine = app.add_subcommand("quarantine", "digests whose rollout failed: list them, or clear one");
  add_pipeline_option(quarantine, common);
  add_format_option(quarantine, common, {"text", "json"});
  quarantine->add_option("ACTION", args.quarantine_action, "list (default) or clear")
      ->check(CLI::IsMember({"list", "clear"}));
  quarantine->add_option("IMAGE", args.quarantine_image, "IMAGE@DIGEST to clear");
  quarantine->callback([&] { exit_code = quarantine_command(common, args.quarantine_action, args.quarantine_image); });

  long long& status_run = args.status_run;
  auto* status = app.add_subcommand("status", "past runs, or one run in detail");
  add_pipeline_option(status, common);
  add_format_option(status, common, {"text", "json"});
  status->add_option("RUN", status_run, "a run id")->check(CLI::PositiveNumber);
  status->add_option("--server", args.status_server, "URL of a `cascade serve` daemon to ask instead of the state file");
  status->callback([&] { exit_code = status_command(common, status_run, args.status_server); });
}

}  // namespace cascade::cli
