// scan, and the package side of affected, plan and patch: which images and workloads
// carry a package (a NAME<VERSION constraint or OSV advisories), and the fix as one run.
#include <unistd.h>

#include <iostream>
#include <mutex>
#include <sstream>

#include "cascade/exposure.hpp"
#include "common.hpp"
#include "package_commands.hpp"
#include "render.hpp"
#include "signals.hpp"

namespace cascade::cli {

namespace {

using nlohmann::json;

// The state store, registry and deploy targets of the pipeline, without reading git: an
// exposure question is answered from the store.
std::optional<app::Wiring> wire_without_graph(const Common& common) {
  auto pipeline = load_pipeline(common);
  if (!pipeline) return std::nullopt;
  fleet::Fleet fleet;
  fleet.pipeline = std::move(*pipeline);
  auto wiring = app::wire(std::move(fleet));
  if (!wiring) {
    fail(wiring.error().message);
    return std::nullopt;
  }
  return std::move(wiring).value();
}

// Package names, versions and registry messages come from images and peers: every line is
// printed through terminal_safe, so none can drive the terminal.
void print_failed(const std::vector<app::Unjudged>& failed) {
  for (const auto& item : failed)
    std::cerr << terminal_safe("cascade: warning: " + item.subject + ": " + item.reason) << "\n";
}

std::string short_digest(const std::string& digest) { return digest.substr(0, std::min<std::size_t>(digest.size(), 19)); }

void print_exposures(std::ostream& out, const char* title, const std::vector<app::Exposure>& items) {
  out << title << " (" << items.size() << ")\n";
  for (const auto& item : items)
    out << "  " << item.subject << "  " << item.package.name << " " << item.package.version << "  ["
              << item.distro << "]  " << item.matched_by << (item.fixed ? ", fixed in " + *item.fixed : "")
              << "  enters at " << item.enters
              << (item.enters_role == store::ScanRole::external ? " (external base)" : " (own layers)") << "\n";
}

}  // namespace

std::string exposure_text(const app::ExposureReport& report) {
  std::ostringstream out;
  out << "question: " << report.question << "  (" << report.images_checked << " images, "
            << report.workloads_checked << " workloads checked)\n";
  print_exposures(out, "exposed images", report.images);
  print_exposures(out, "exposed workloads", report.workloads);
  for (const auto& base : report.bases)
    out << "external base " << base.image << " at " << short_digest(base.digest) << ": " << base.package
              << (base.exposed ? "  EXPOSED" + (base.fixed ? std::string(", fixed in ") + *base.fixed : "") : "  not affected")
              << "\n";
  for (const auto& item : report.unjudged) out << "not judged: " << item.subject << ": " << item.reason << "\n";
  return terminal_safe(out.str());
}

void add_package_options(CLI::App* command, PackageArgs& args) {
  command->add_option("--package", args.package, "NAME, or NAME<VERSION (also <=, =, >=, >), in each package's own ordering");
  command->add_option("--advisory", args.advisories, "OSV advisory files (osv.dev schema)")->expected(1, -1);
}

Expected<app::PackageQuestion, int> read_question(const PackageArgs& args) {
  if (!args.package.empty() && !args.advisories.empty()) {
    fail("give --package or --advisory, not both");
    return unexpected(kBadInput);
  }
  auto question = args.package.empty() ? app::advisory_question(args.advisories) : app::package_question(args.package);
  if (!question) {
    fail(question.error().message);
    return unexpected(exit_code_for(question.error().kind));
  }
  return std::move(question).value();
}

int scan_command(const Common& common) {
  auto wiring = wire_fleet(common);
  if (!wiring) return kBadInput;
  std::mutex mutex;
  bool terminal = isatty(2);
  auto progress = [&](std::size_t done, std::size_t total) {
    std::lock_guard lock(mutex);
    if (terminal) std::cerr << "\rscanned " << done << "/" << total << std::flush;
    else if (done == total || done % 100 == 0) std::cerr << "scanned " << done << "/" << total << "\n";
  };
  auto report = app::scan_fleet(*wiring, true, progress);
  if (terminal) std::cerr << "\n";
  if (!report) {
    fail(report.error().message);
    return exit_code_for(report.error().kind);
  }
  print_failed(report->failed);
  const auto& stats = report->stats;
  if (common.format == "json") {
    std::cout << json{{"images", report->images}, {"workloads", report->workloads},
                      {"failed", report->failed.size()}, {"layers_read", stats.layers_read},
                      {"layers_known", stats.layers_known}, {"manifests_read", stats.manifests_read},
                      {"bytes_read", stats.bytes_read}, {"seconds", report->seconds}}.dump(2)
              << "\n";
  } else {
    std::cout << "scanned " << report->images << " images and " << report->workloads << " workloads in "
              << report->seconds << " s: " << stats.layers_read << " layers read (" << stats.bytes_read
              << " bytes), " << stats.layers_known << " already indexed; " << report->failed.size() << " failed\n";
  }
  return report->failed.empty() ? kOk : kFailed;
}

int affected_package_command(const Common& common, const PackageArgs& args) {
  auto question = read_question(args);
  if (!question) return question.error();
  auto wiring = wire_without_graph(common);
  if (!wiring) return kBadInput;
  if (!wiring->fleet->pipeline.deploy.empty()) {  // what runs now, not what ran at the last scan
    auto running = app::scan_workloads(*wiring);
    if (!running) std::cerr << "cascade: warning: workloads not refreshed: " << running.error().message << "\n";
    else print_failed(running->failed);
  }
  auto report = app::exposure(*wiring->store, *question);
  if (!report) {
    fail(report.error().message);
    return exit_code_for(report.error().kind);
  }
  if (common.format == "json") std::cout << app::exposure_json(*report, *question).dump(2) << "\n";
  else std::cout << exposure_text(*report);
  return kOk;
}

Expected<FixPlan, int> plan_fix_command(const Common& common, const PackageArgs& args, bool deploy) {
  auto question = read_question(args);
  if (!question) return unexpected(question.error());
  if (question->constraint && question->constraint->op == advisory::Constraint::Op::any) {
    fail("--package '" + args.package + "': say which versions need the fix, e.g. '" + question->constraint->name +
         "<FIXED_VERSION'");
    return unexpected(kBadInput);
  }
  auto wiring = wire_fleet(common);
  if (!wiring) return unexpected(kBadInput);
  std::vector<std::string> unfixed;
  auto planned = app::plan_fix(*wiring, *question, deploy, unfixed);
  if (!planned) {
    fail(planned.error().message);
    return unexpected(exit_code_for(planned.error().kind));
  }
  for (const auto& line : unfixed) std::cerr << "cascade: not fixed upstream yet: " << line << "\n";
  return FixPlan{std::move(wiring).value(), std::move(planned).value(), std::move(unfixed)};
}

}  // namespace cascade::cli
