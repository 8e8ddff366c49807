// What every subcommand shares: the pipeline file (-p or $CASCADE_PIPELINE), the one table of
// failure kinds to exit codes, the error line, loading and wiring the fleet, common options.
#include "common.hpp"
#include "render.hpp"

#include <cstdlib>
#include <iostream>

namespace cascade::cli {

namespace {

// The pipeline file from -p, or $CASCADE_PIPELINE.
std::string pipeline_path(const Common& common) {
  if (!common.pipeline_file.empty()) return common.pipeline_file;
  const char* env = std::getenv("CASCADE_PIPELINE");
  return env ? env : "";
}

}  // namespace

// The one table of failure kinds to exit codes.
int exit_code_for(app::Failure::Kind kind) {
  using Kind = app::Failure::Kind;
  switch (kind) {
    case Kind::bad_input: return kBadInput;
    case Kind::not_found: return kBadInput;    // "no run 7", "no deploy target runs ..."
    case Kind::conflict: return kBadInput;     // "run 1 is already succeeded", "... running in another process"
    case Kind::unavailable: return kFailed;    // a registry, engine or git away: try again later
    case Kind::failed: return kFailed;
  }
  return kFailed;
}

// Messages carry text from peers and files (registry errors, Dockerfile lines): escaped.
void fail(const std::string& message) { std::cerr << "cascade: " << terminal_safe(message) << "\n"; }

std::optional<std::string> pipeline_file(const Common& common) {
  std::string path = pipeline_path(common);
  if (path.empty()) {
    fail("no pipeline file: pass -p FILE (or set CASCADE_PIPELINE)");
    return std::nullopt;
  }
  return path;
}

std::optional<pipeline::Pipeline> load_pipeline(const Common& common) {
  auto path = pipeline_file(common);
  if (!path) return std::nullopt;
  auto pipeline = pipeline::load(*path);
  if (!pipeline) {
    fail(pipeline.error().str());
    return std::nullopt;
  }
  for (const auto& warning : pipeline::insecure_warnings(*pipeline))
    std::cerr << "cascade: warning: " << warning.str() << "\n";
  return std::move(pipeline).value();
}

std::optional<fleet::Fleet> load_fleet(const Common& common) {
  auto pipeline = load_pipeline(common);
  if (!pipeline) return std::nullopt;
  auto fleet = fleet::scan(std::move(*pipeline));
  if (!fleet) {
    for (const auto& problem : fleet.error()) fail(problem.str());
    return std::nullopt;
  }
  for (const auto& warning : fleet->warnings) std::cerr << "cascade: warning: " << warning.str() << "\n";
  return std::move(fleet).value();
}

std::optional<app::Wiring> wire_fleet(const Common& common) {
  auto fleet = load_fleet(common);
  if (!fleet) return std::nullopt;
  auto wiring = app::wire(std::move(fleet).value());
  if (!wiring) {
    fail(wiring.error().message);
    return std::nullopt;
  }
  return std::move(wiring).value();
}

void add_pipeline_option(CLI::App* command, Common& common) {
  command->add_option("-p,--pipeline", common.pipeline_file, "pipeline file (default: $CASCADE_PIPELINE)");
}

void add_format_option(CLI::App* command, Common& common, std::vector<std::string> formats) {
  std::string names;
  for (const auto& f : formats) names += (names.empty() ? "" : "|") + f;
  command->add_option("--format", common.format, "output format: " + names)
      ->check(CLI::IsMember(formats))
      ->capture_default_str();
}


}  // namespace cascade::cli
