// Scanning a fleet: pipeline sources -> git (resolve, list, read at a commit) ->
// Dockerfile analysis -> the image graph. Sources are read in parallel, one git
// repository handle per thread.
//
// Recipes: each explicit `images:` entry is one recipe; each file matched by a
// `discover:` glob is one recipe, except a file an explicit entry of the same source
// already names (the explicit entry wins, so it can override a discovered one).
#pragma once

#include <stop_token>
#include <string>
#include <vector>

#include "cascade/graph.hpp"
#include "cascade/pipeline.hpp"
#include "cascade/util/expected.hpp"

namespace cascade::fleet {

/// One thing wrong with the fleet, located as precisely as possible.
struct Problem {
  std::string where;    // "fleet.yaml:12:9" or "platform@1a2b3c4:services/x/Dockerfile:7"
  std::string message;  // what is wrong and what to change
  std::string str() const { return where.empty() ? message : where + ": " + message; }
};

struct SourceState {
  std::string name;
  std::string commit;           // the commit the ref resolved to
  std::size_t dockerfiles = 0;  // recipes read from it
};

/// A recipe whose Dockerfile could not be read or analyzed at the source's commit.
struct BrokenRecipe {
  std::string image;       // the image it would produce
  std::string source;      // the source's name
  std::string dockerfile;  // path in the source
  Problem problem;         // where (file and line when known) and what
};

struct Fleet {
  pipeline::Pipeline pipeline;
  std::vector<SourceState> sources;
  graph::Graph graph;
  std::vector<Problem> warnings;  // e.g. a discover glob that matched nothing
  std::vector<BrokenRecipe> broken;  // Options::partial only: recipes left out of the graph
};

struct Options {
  unsigned threads = 0;  // 0: one per hardware thread (at least 2, at most the sources)
  // A missing or invalid Dockerfile breaks only its recipe: it is listed in Fleet::broken
  // and left out of the graph (an image built on its image then counts it as external),
  // and the rest of the fleet scans. Off: every such recipe is a problem of the scan.
  bool partial = false;
  // Ends the clones and fetches of remote sources at libgit2's next callback (they fail
  // as "cancelled"): the daemon's stop.
  std::stop_token stop;
};

/// Reads every source and builds the graph; fails with every problem found (a missing
/// repository, ref or Dockerfile, an invalid Dockerfile, two recipes producing one image,
/// a cycle), each naming its source and place. With Options::partial a missing or invalid
/// Dockerfile is not a problem of the scan but a BrokenRecipe.
Expected<Fleet, std::vector<Problem>> scan(pipeline::Pipeline pipeline, const Options& options = {});

}  // namespace cascade::fleet
