// fleet::scan: reads each source's recipes at its commit (in parallel), analyzes their
// Dockerfiles and builds the graph; a bad Dockerfile is a problem of the scan, or with
// Options::partial a broken recipe beside the graph of the others.
#include "cascade/fleet.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "cascade/dockerfile.hpp"
#include "cascade/git.hpp"

namespace cascade::fleet {

namespace {

// A recipe before its Dockerfile is read: where it came from and how to build it.
struct Candidate {
  std::string image;
  std::string dockerfile;
  std::string context;
  std::string target;
  std::map<std::string, std::string> build_args;
  std::string declared_at;  // pipeline file position of the entry that made it
  graph::WorkerChoice worker;  // the entry's `builder:`, else its source's; empty: any worker
  std::vector<std::string> platforms;  // the entry's `platforms:`, else its source's, else the fleet's
  std::vector<graph::TestCommand> tests;  // the entry's `test:`, else its source's, else the fleet's
};

struct SourceResult {
  SourceState state;
  std::vector<graph::Recipe> recipes;
  std::vector<std::string> declared_at;  // per recipe
  std::vector<Problem> problems;
  std::vector<Problem> warnings;
  std::vector<BrokenRecipe> broken;  // recipes whose Dockerfile is missing or invalid
};

std::string at(const pipeline::Pipeline& pipeline, const pipeline::Mark& mark) {
  return pipeline.file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
}

std::string folder_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

Expected<git::Repository, git::Error> open_source(const pipeline::Pipeline& pipeline, const pipeline::Source& source,
                                                  std::stop_token stop) {
  if (source.remote) return git::Repository::clone_or_fetch(source.git, pipeline.cache, std::move(stop));
  return git::Repository::open(source.git);
}

// The `builder:` that applies to an entry: its own, else its source's, else any worker.
graph::WorkerChoice worker_for(const std::optional<pipeline::WorkerChoice>& own, const pipeline::Source& source) {
  const auto& choice = own ? own : source.builder;
  if (!choice) return {};
  return graph::WorkerChoice{choice->name, choice->labels};
}

// The `platforms:` that apply to an entry: its own, else its source's, else the top level's;
// empty when none is declared (the plan then keeps the platforms the tag has). An explicit
// recipe for a file a discover rule also matches replaces the discovered one, rule and all,
// so a discover rule's list never reaches an explicit recipe.
std::vector<std::string> platforms_for(const std::optional<std::vector<std::string>>& own,
                                       const pipeline::Source& source, const pipeline::Pipeline& pipeline) {
  if (own) return *own;
  if (source.platforms) return *source.platforms;
  return pipeline.platforms.value_or(std::vector<std::string>{});
}

// The `test:` commands that apply to an entry, chosen as platforms_for chooses: its own,
// else its source's, else the top level's; `test: []` at any level means none from there down.
std::vector<graph::TestCommand> tests_for(const std::optional<std::vector<pipeline::TestCommand>>& own,
                                          const pipeline::Source& source, const pipeline::Pipeline& pipeline) {
  const auto& chosen = own ? own : source.tests ? source.tests : pipeline.tests;
  std::vector<graph::TestCommand> tests;
  if (!chosen) return tests;
  for (const auto& test : *chosen) tests.push_back(graph::TestCommand{test.argv, test.timeout});
  return tests;
}

void add_explicit(const pipeline::Pipeline& pipeline, const pipeline::Source& source, std::vector<Candidate>& out) {
  for (const auto& entry : source.images) {
    out.push_back(Candidate{entry.image, entry.dockerfile, entry.context.empty() ? folder_of(entry.dockerfile) : entry.context,
                            entry.target, entry.build_args, at(pipeline, entry.mark),
                            worker_for(entry.builder, source), platforms_for(entry.platforms, source, pipeline),
                            tests_for(entry.tests, source, pipeline)});
  }
}

// Expands the discover entries over the commit's files; problems go to `result`.
void add_discovered(const pipeline::Pipeline& pipeline, const pipeline::Source& source,
                    const std::vector<std::string>& files, std::vector<Candidate>& out, SourceResult& result) {
  std::set<std::string> explicit_files;
  for (const auto& entry : source.images) explicit_files.insert(entry.dockerfile);
  for (const auto& rule : source.discover) {
    std::string where = at(pipeline, rule.mark);
    std::map<std::string, std::string> image_to_file;
    std::size_t matched = 0;
    for (const auto& file : files) {
      if (!pipeline::glob_match(rule.dockerfiles, file)) continue;
      ++matched;
      if (explicit_files.count(file)) continue;
      auto image_text = pipeline::expand_template(rule.image_template, file, source.name);
      if (!image_text) {
        result.problems.push_back({where, "image template: " + image_text.error()});
        return;
      }
      auto image = reference::parse(*image_text);
      if (!image) {
        result.problems.push_back({where, "the image template gives '" + *image_text + "' for " + file +
                                              ", which is not a valid reference: " + image.error().message});
        continue;
      }
      std::string context = folder_of(file);
      if (!rule.context_template.empty()) {
        auto expanded = pipeline::expand_template(rule.context_template, file, source.name);
        if (!expanded) {
          result.problems.push_back({where, "context template: " + expanded.error()});
          return;
        }
        context = *expanded;
      }
      auto [slot, inserted] = image_to_file.emplace(image->str(), file);
      if (!inserted) {
        result.problems.push_back({where, "the image template gives " + image->str() + " for both " + slot->second +
                                              " and " + file + "; use a placeholder that tells them apart, e.g. {path}"});
        continue;
      }
      out.push_back(Candidate{image->str(), file, context, rule.target, rule.build_args, where,
                              worker_for(rule.builder, source), platforms_for(rule.platforms, source, pipeline),
                              tests_for(rule.tests, source, pipeline)});
    }
    if (matched == 0)
      result.warnings.push_back({where, "source '" + source.name + "': no file matches '" + rule.dockerfiles + "'"});
  }
}

SourceResult read_source(const pipeline::Pipeline& pipeline, const pipeline::Source& source, std::stop_token stop) {
  SourceResult result;
  result.state.name = source.name;
  std::string where = at(pipeline, source.mark);
  auto repo = open_source(pipeline, source, std::move(stop));
  if (!repo) {
    result.problems.push_back({where, "source '" + source.name + "': " + repo.error().message});
    return result;
  }
  auto commit = repo->resolve(source.ref);
  if (!commit) {
    result.problems.push_back({where, "source '" + source.name + "': " + commit.error().message});
    return result;
  }
  result.state.commit = *commit;
  std::vector<Candidate> candidates;
  add_explicit(pipeline, source, candidates);
  if (!source.discover.empty()) {
    auto matches_a_rule = [&source](std::string_view path, std::string_view) {
      for (const auto& rule : source.discover)
        if (pipeline::glob_match(rule.dockerfiles, path)) return true;
      return false;
    };
    auto files = repo->list_files(*commit, matches_a_rule);
    if (!files) {
      result.problems.push_back({where, "source '" + source.name + "': " + files.error().message});
      return result;
    }
    add_discovered(pipeline, source, *files, candidates, result);
  }
  std::string short_commit = commit->substr(0, 7);
  for (auto& candidate : candidates) {
    auto broken = [&](Problem problem) {
      result.broken.push_back({candidate.image, source.name, candidate.dockerfile, std::move(problem)});
    };
    auto text = repo->read_file(*commit, candidate.dockerfile);
    if (!text) {
      broken({candidate.declared_at, "source '" + source.name + "': " + text.error().message});
      continue;
    }
    dockerfile::Options options;
    options.build_args = candidate.build_args;
    if (!candidate.target.empty()) options.target = candidate.target;
    auto analysis = dockerfile::analyze(*text, options);
    std::string file_at = source.name + "@" + short_commit + ":" + candidate.dockerfile;
    if (!analysis) {
      const auto& error = analysis.error();
      broken({error.line > 0 ? file_at + ":" + std::to_string(error.line) : file_at,
              error.message + " (recipe for " + candidate.image + ", " + candidate.declared_at + ")"});
      continue;
    }
    graph::Recipe recipe;
    recipe.image = std::move(candidate.image);
    recipe.source = source.name;
    recipe.dockerfile = std::move(candidate.dockerfile);
    recipe.context = std::move(candidate.context);
    recipe.target = std::move(candidate.target);
    recipe.build_args = std::move(candidate.build_args);
    recipe.commit = *commit;
    recipe.worker = std::move(candidate.worker);
    recipe.platforms = std::move(candidate.platforms);
    recipe.tests = std::move(candidate.tests);
    recipe.bases = std::move(analysis->bases);
    if (analysis->frontend) recipe.frontend = analysis->frontend->str();
    result.recipes.push_back(std::move(recipe));
    result.declared_at.push_back(std::move(candidate.declared_at));
  }
  result.state.dockerfiles = result.recipes.size();
  return result;
}

std::vector<SourceResult> read_sources(const pipeline::Pipeline& pipeline, unsigned threads, std::stop_token stop) {
  std::vector<SourceResult> results(pipeline.sources.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < results.size(); i = next++) results[i] = read_source(pipeline, pipeline.sources[i], stop);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& thread : pool) thread.join();
  return results;
}

}  // namespace

Expected<Fleet, std::vector<Problem>> scan(pipeline::Pipeline pipeline, const Options& options) {
  git::initialize();
  unsigned threads = options.threads ? options.threads : std::max(2u, std::thread::hardware_concurrency());
  threads = std::max(1u, std::min<unsigned>(threads, pipeline.sources.size()));
  auto results = read_sources(pipeline, threads, options.stop);

  Fleet fleet;
  std::vector<Problem> problems;
  std::vector<graph::Recipe> recipes;
  std::map<std::string, std::string> produced_at;  // image -> where its recipe was declared
  for (auto& result : results) {
    fleet.sources.push_back(result.state);
    problems.insert(problems.end(), result.problems.begin(), result.problems.end());
    fleet.warnings.insert(fleet.warnings.end(), result.warnings.begin(), result.warnings.end());
    for (auto& broken : result.broken) {
      if (options.partial) fleet.broken.push_back(std::move(broken));
      else problems.push_back(std::move(broken.problem));
    }
    for (std::size_t i = 0; i < result.recipes.size(); ++i) {
      auto& recipe = result.recipes[i];
      std::string here = result.declared_at[i] + " (" + recipe.source + ":" + recipe.dockerfile + ")";
      auto [slot, inserted] = produced_at.emplace(recipe.image, here);
      if (!inserted) {
        problems.push_back({result.declared_at[i], "two recipes produce " + recipe.image + ": " + slot->second + " and " +
                                                       here + "; give one of them another image name"});
        continue;
      }
      recipes.push_back(std::move(recipe));
    }
  }
  if (!problems.empty()) return unexpected(std::move(problems));
  auto graph = graph::Graph::build(std::move(recipes));
  if (!graph) return unexpected(std::vector<Problem>{{pipeline.file, graph.error().message}});
  fleet.graph = std::move(graph).value();
  fleet.pipeline = std::move(pipeline);
  return fleet;
}

}  // namespace cascade::fleet
