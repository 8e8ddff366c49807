// approve, reject and release: a person's decision on a run that awaits its release, and a
// release pass run now (what `cascade serve` does on its own when a window opens).
#include <cstdlib>
#include <iostream>

#include "common.hpp"
#include "signals.hpp"

namespace cascade::cli {

namespace {

std::string default_actor() {
  const char* user = std::getenv("USER");
  return std::string("cli:") + (user && *user ? user : "unknown");
}

// Records the decision (unless `decide` is false), then runs release passes in this process.
int release_command(const Common& common, const ReleaseArgs& args, std::optional<bool> approved) {
  SignalStop signals;
  auto wiring = wire_fleet(common);
  if (!wiring) return kBadInput;
  if (approved) {
    app::ReleaseDecision decision{args.actor.empty() ? default_actor() : args.actor, args.target, *approved,
                                  args.comment, args.urgent};
    if (auto recorded = app::record_decision(*wiring, args.run, decision); !recorded) {
      fail(recorded.error().message);
      return exit_code_for(recorded.error().kind);
    }
    std::cerr << "cascade: run " << args.run << " " << (*approved ? "approved" : "rejected") << " by "
              << decision.actor << (args.target.empty() ? "" : " for target " + args.target) << "\n";
  }
  app::RunOptions options;
  options.stop = signals.stop();
  options.cancel = signals.cancel();
  options.progress = print_progress;
  options.release_wait = cli_release_wait(wiring->fleet->pipeline);
  auto released = app::advance_release(*wiring, args.run, options);
  if (!released && released.error().kind == app::Failure::Kind::conflict && approved) {
    // `cascade serve` (or another cascade) is releasing it now: it acts on the decision.
    std::cerr << "cascade: " << released.error().message << "; it acts on the decision\n";
    return report_run(*wiring, common, args.run);
  }
  if (!released) {
    fail(released.error().message);
    return exit_code_for(released.error().kind);
  }
  app::deliver_notifications(*wiring, options.cancel);
  return report_run(*wiring, common, args.run);
}

void add_common(CLI::App* command, Common& common, ReleaseArgs& args) {
  add_pipeline_option(command, common);
  add_format_option(command, common, {"text", "json"});
  command->add_option("RUN", args.run, "the run awaiting its release")->required()->check(CLI::PositiveNumber);
}

}  // namespace

void add_release_commands(CLI::App& app, Common& common, ReleaseCommandArgs& args, int& exit_code) {
  ReleaseArgs& approve_args = args.approve;
  ReleaseArgs& reject_args = args.reject;
  ReleaseArgs& release_args = args.release;
  auto* approve = app.add_subcommand("approve", "approve a run's held rollouts, then roll out what may go now");
  add_common(approve, common, approve_args);
  approve->add_option("--target", approve_args.target, "approve only the rollouts to this deploy target");
  approve->add_option("--as", approve_args.actor, "who approves (default cli:$USER); each person counts once");
  approve->add_option("--comment", approve_args.comment, "why, recorded with the approval");
  approve->add_flag("--urgent", approve_args.urgent,
                    "also mark the run urgent: it skips windows and approvals on targets with `urgent: true` (recorded)");
  approve->callback([&] { exit_code = release_command(common, approve_args, true); });

  auto* reject = app.add_subcommand("reject", "reject a run's held rollouts: the images stay pushed, nothing moves");
  add_common(reject, common, reject_args);
  reject->add_option("--target", reject_args.target, "reject only the rollouts to this deploy target");
  reject->add_option("--as", reject_args.actor, "who rejects (default cli:$USER)");
  reject->add_option("--comment", reject_args.comment, "why, recorded with the rejection");
  reject->callback([&] { exit_code = release_command(common, reject_args, false); });

  auto* release = app.add_subcommand("release", "roll out now what a waiting run's approvals, windows and waves allow");
  add_common(release, common, release_args);
  release->callback([&] { exit_code = release_command(common, release_args, std::nullopt); });
}

}  // namespace cascade::cli
