// The subcommand table and the handlers. Each handler returns an exit code:
// 0 success, 1 the operation failed, 2 bad input or usage.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

#include "cascade/app.hpp"
#include "cascade/cli.hpp"
#include "cascade/util/edit_distance.hpp"
#include "common.hpp"
#include "package_commands.hpp"
#include "render.hpp"

namespace cascade::cli {

namespace {

int graph_command(const Common& common) {
  auto fleet = load_fleet(common);
  if (!fleet) return kBadInput;
  if (common.format == "json") std::cout << graph_json(*fleet);
  else if (common.format == "dot") std::cout << graph_dot(*fleet);
  else if (common.format == "mermaid") std::cout << graph_mermaid(*fleet);
  else std::cout << graph_text(*fleet);
  return kOk;
}

// Up to three fleet images whose familiar name is close to the query, or contains its
// last path component.
std::vector<std::string> suggestions(const graph::Graph& graph, const reference::Reference& query) {
  std::string wanted = query.familiar();
  std::string last = query.path.substr(query.path.rfind('/') + 1);
  std::multimap<std::size_t, std::string> ranked;
  for (const auto& node : graph.nodes()) {
    std::string name = familiar(node.image);
    std::size_t distance = util::edit_distance(wanted, name);
    bool contains = name.find(last) != std::string::npos;
    if (distance <= std::max<std::size_t>(3, wanted.size() / 3) || contains) ranked.emplace(distance, name);
  }
  std::vector<std::string> out;
  for (const auto& [distance, name] : ranked) {
    if (out.size() == 3) break;
    out.push_back(name);
  }
  return out;
}

int affected_command(const Common& common, const std::string& image) {
  auto query = reference::parse(image);
  if (!query) {
    fail("'" + image + "' is not an image reference: " + query.error().message);
    return kBadInput;
  }
  auto fleet = load_fleet(common);
  if (!fleet) return kBadInput;
  AffectedReport report;
  report.query = image;
  report.matched = fleet->graph.match(*query);
  report.affected = fleet->graph.downstream(report.matched);
  if (report.matched.empty()) report.suggestions = suggestions(fleet->graph, *query);
  std::optional<app::Wiring> wiring;
  if (!fleet->pipeline.deploy.empty() && !report.affected.empty()) {
    auto wired = app::wire(std::move(fleet).value());
    if (!wired) {
      fail(wired.error().message);
      return exit_code_for(wired.error().kind);
    }
    wiring = std::move(wired).value();
  }
  const graph::Graph& graph = wiring ? wiring->fleet->graph : fleet->graph;
  if (wiring) {  // the running workloads of each affected image; the images alone when targets are down
    std::vector<std::string> images;
    for (const auto& item : report.affected) images.push_back(graph.node(item.node).image);
    auto deployments = app::plan_deployments(*wiring, images);
    if (!deployments) std::cerr << "cascade: warning: workloads not shown: " << deployments.error().message << "\n";
    else
      for (const auto& item : *deployments)
        report.workloads[item.image].push_back(wiring->targets[item.target].config.name + "/" + item.workload.name);
  }
  if (common.format == "json") std::cout << affected_json(graph, report).dump(2) << "\n";
  else if (report.matched.empty()) std::cerr << affected_text(graph, report);
  else std::cout << affected_text(graph, report);
  return kOk;
}

// Which storage driver the local buildah worker will use and why; empty without one.
std::string buildah_storage_line(const pipeline::Pipeline& pipeline) {
  const auto& workers = pipeline.builders.workers;
  bool local_buildah = workers.empty() || std::any_of(workers.begin(), workers.end(), [](const auto& worker) {
                         return worker.kind == pipeline::WorkerKind::buildah;
                       });
  if (!local_buildah) return {};
  if (!pipeline.builders.storage_driver.empty())
    return pipeline.builders.storage_driver + ": builders.storage_driver in " + pipeline.file;
  builder::BuildahOptions options;  // the storage root wire() gives buildah
  options.state_dir = std::filesystem::path(pipeline.state).parent_path().string();
  return builder::choose_storage_driver(builder::Buildah(options).options().root).reason;
}

// "build workers: local (buildah, --parallel at once)" or each declared worker.
std::string build_workers_line(const pipeline::Pipeline& pipeline) {
  const auto& workers = pipeline.builders.workers;
  if (workers.empty()) return "build workers: local (buildah on this host, --parallel builds at once)";
  static const char* kinds[] = {"buildah", "docker", "buildkit"};
  std::string line = "build workers:";
  for (const auto& worker : workers) {
    line += "\n  " + worker.name + " (" + kinds[static_cast<int>(worker.kind)];
    if (!worker.endpoint.empty()) line += " at " + worker.endpoint + (worker.tls ? " with TLS" : "");
    line += ", " + std::to_string(worker.capacity) + " at once";
    for (const auto& [key, value] : worker.labels) line += ", " + key + "=" + value;
    line += ")";
  }
  return line;
}

int validate_command(const Common& common) {
  auto fleet = load_fleet(common);
  if (!fleet) return kBadInput;
  std::cout << "ok: " << fleet->pipeline.file << ": " << fleet->sources.size() << " sources, "
            << fleet->graph.recipes().size() << " images, " << fleet->graph.external().size() << " external bases\n";
  if (std::string storage = buildah_storage_line(fleet->pipeline); !storage.empty())
    std::cout << "buildah storage driver: " << storage << "\n";
  std::cout << build_workers_line(fleet->pipeline) << "\n";
  return kOk;
}

struct DockerfileArgs {
  std::string path;
  std::vector<std::string> build_args;
  std::string target;
};

int dockerfile_command(const Common& common, const DockerfileArgs& args) {
  std::string text;
  if (args.path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(args.path, std::ios::binary);
    if (!in) {
      fail("cannot read " + args.path);
      return kBadInput;
    }
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  dockerfile::Options options;
  for (const auto& pair : args.build_args) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      fail("--build-arg '" + pair + "': expected NAME=VALUE");
      return kBadInput;
    }
    options.build_args[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  if (!args.target.empty()) options.target = args.target;
  auto analysis = dockerfile::analyze(text, options);
  if (!analysis) {
    const auto& error = analysis.error();
    fail(args.path + (error.line > 0 ? ":" + std::to_string(error.line) : "") + ": " + error.message);
    return kBadInput;
  }
  if (common.format == "json") std::cout << dockerfile_json(args.path, *analysis).dump(2) << "\n";
  else std::cout << dockerfile_text(args.path, *analysis);
  return kOk;
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"cascade: keeps a fleet of container images patched"};
  app.set_version_flag("--version", "cascade 0.1.0");
  app.require_subcommand(1);
  Common common;
  int exit_code = kOk;

  auto* graph = app.add_subcommand("graph", "print the image graph of the fleet");
  add_pipeline_option(graph, common);
  add_format_option(graph, common, {"text", "json", "dot", "mermaid"});
  graph->callback([&] { exit_code = graph_command(common); });

  std::string image;
  PackageArgs affected_package;
  auto* affected = app.add_subcommand(
      "affected", "every image downstream of IMAGE in build order; or every image and workload carrying a package");
  add_pipeline_option(affected, common);
  add_format_option(affected, common, {"text", "json"});
  affected->add_option("IMAGE", image, "image in any spelling: debian:12, docker.io/library/debian, ...");
  add_package_options(affected, affected_package);
  affected->callback([&] {
    if (image.empty() == !affected_package.given()) {
      fail("affected needs exactly one of IMAGE, --package NAME[OP VERSION] or --advisory FILE...");
      exit_code = kBadInput;
    } else {
      exit_code = image.empty() ? affected_package_command(common, affected_package) : affected_command(common, image);
    }
  });

  auto* scan = app.add_subcommand("scan", "index the packages of every fleet image, external base and running workload");
  add_pipeline_option(scan, common);
  add_format_option(scan, common, {"text", "json"});
  scan->callback([&] { exit_code = scan_command(common); });

  auto* validate = app.add_subcommand("validate", "check a pipeline file, its sources and their Dockerfiles");
  add_pipeline_option(validate, common);
  validate->callback([&] { exit_code = validate_command(common); });

  DockerfileArgs dockerfile_args;
  auto* dockerfile = app.add_subcommand("dockerfile", "show what cascade understands of a Dockerfile");
  dockerfile->add_option("PATH", dockerfile_args.path, "the Dockerfile ('-' for stdin)")->required();
  dockerfile->add_option("--build-arg", dockerfile_args.build_args, "NAME=VALUE (repeatable)");
  dockerfile->add_option("--target", dockerfile_args.target, "the stage to build (default: the last)");
  add_format_option(dockerfile, common, {"text", "json"});
  dockerfile->callback([&] { exit_code = dockerfile_command(common, dockerfile_args); });

  PatchCommandArgs patch_args;
  add_patch_commands(app, common, patch_args, exit_code);
  ReleaseCommandArgs release_args;
  add_release_commands(app, common, release_args, exit_code);
  add_serve_command(app, common, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kBadInput;
  }
  return exit_code;
}

}  // namespace cascade::cli
