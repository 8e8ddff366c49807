// A cascade plan: what a patch of one image does to the fleet, as a printable value, and
// the scheduler that hands its builds out. Pure: no I/O; the executor feeds it what the
// registry says and steps it as builds finish (tests step it by hand).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cascade/graph.hpp"

namespace cascade::plan {

/// What the registry says about an image the fleet builds: its pushed digest and the
/// base digests recorded in its labels when cascade built it.
struct Observed {
  std::optional<std::string> digest;             // empty: never pushed
  std::map<std::string, std::string> built_on;   // base image -> digest it was built on
  std::string revision{};                        // the source commit it was built from, when labelled
  bool index = false;                            // the tag names an image index
  std::vector<std::string> platforms{};          // the platforms the tag has ("linux/amd64", ...)
};

/// The start of a cascade: the images the trigger names and, for each one that is not
/// rebuilt in the run, the digest its children must build on.
struct Origin {
  std::string query;                     // as given: "debian:12", "x@sha256:..."
  std::vector<graph::NodeId> start;      // nodes matched by the query
  std::map<graph::NodeId, std::string> digests;  // start node -> its new digest (external or given)
  bool rebuild = false;  // build every step even when already built on its bases (scheduled rebuilds
                         // pick up package updates in derived layers)
  // Fleet images (start or downstream) always built, without build cache, for the reason
  // given ("installs bash 5.2.26-r0 itself (x_EXAMPLE-1): rebuilt without cache"): an
  // advisory fix that enters in the image's own layers.
  std::map<graph::NodeId, std::string> forced;
};

enum class Action { build, skip };
std::string_view to_string(Action action);

struct Step {
  std::string image;                  // normalized reference the step produces
  graph::NodeId node = 0;
  Action action = Action::build;
  std::string reason;                 // why: "base debian:12 changed to sha256:…", "already built on …"
  int depth = 0;                      // 0 for a rebuilt start image, 1 for its children, …
  std::vector<std::size_t> after;     // steps (indexes) this one waits for
  std::vector<std::string> via;       // the chain from the trigger to this image
  std::map<std::string, std::string> base_digests;  // bases whose digest is known at plan time
  std::vector<std::string> bases_built_in_run;      // bases whose digest comes from this run
  std::optional<std::string> old_digest;            // the image's digest before the run
  bool no_cache = false;                            // build without any build cache (Origin::forced)
  // The platforms the build makes, pushed as one image index: the recipe's declared ones, else
  // those of the image's current index; empty: one image for the engine's own platform.
  std::vector<std::string> platforms;
};

struct Plan {
  std::string query;
  std::map<std::string, std::string> trigger_digests;  // start image -> digest
  std::vector<Step> steps;                              // in build order
  // Why the plan must not run, each naming the images and platforms to change: a build that
  // would narrow a multi-platform tag, a platform a base lacks. Empty: the plan may run.
  std::vector<std::string> problems;
  std::optional<std::size_t> find(const std::string& image) const;
};

/// Images whose digest a plan needs before it can decide: the affected images (their
/// labels) and the bases of affected images that are not themselves affected (pins).
struct Needs {
  std::vector<graph::NodeId> inspect;  // affected images: digest and labels
  std::vector<graph::NodeId> resolve;  // unaffected bases: digest only
};
Needs needs(const graph::Graph& graph, const Origin& origin);

/// Makes the plan: every image downstream of the trigger (and the start images the fleet
/// builds itself, when the trigger gave no digest for them), in build order. A step is
/// skipped when every base's digest is known now and the image was already built on it;
/// a start image the fleet builds is skipped when it was also built from its recipe's commit.
/// `observed` holds what `needs().inspect` found; `pinned` the digests of `needs().resolve`.
/// A build step makes its platforms (Step::platforms); a base's platforms come from its step,
/// else from `observed` (which may hold the resolved bases too, for their platforms only).
/// A build that would narrow its tag's index, or needs a platform a base lacks, is listed in
/// Plan::problems: the caller must not run such a plan.
Plan make(const graph::Graph& graph, const Origin& origin, const std::map<std::string, Observed>& observed,
          const std::map<std::string, std::string>& pinned);

/// Hands out the plan's builds: at most as many as the caller runs at once, always the
/// ready step with the longest remaining path (by expected durations) first. A failed
/// step blocks only its descendants.
class Scheduler {
 public:
  enum class State { waiting, ready, running, done, failed, blocked, skipped };

  /// `expected` gives a step's expected duration in seconds (1 when unknown).
  Scheduler(const Plan& plan, const std::function<double(const std::string& image)>& expected);

  /// The ready step with the longest remaining path, now Running; nullopt when none is ready.
  std::optional<std::size_t> next();
  /// The ready steps, the longest remaining path first (the order next() takes them in).
  std::vector<std::size_t> ready() const;
  /// Makes a ready step Running (when the first ready one cannot start yet: its workers are busy).
  void start(std::size_t step);
  /// Makes a Running step ready again (its worker went away before it finished).
  void requeue(std::size_t step);
  /// Records a finished step; on failure its descendants become Blocked (by this step).
  void finished(std::size_t step, bool succeeded);
  /// Marks a step Done without running it (e.g. found already built when it became ready).
  void mark_done(std::size_t step) { finished(step, true); }

  bool done() const { return unfinished_ == 0; }
  std::size_t running() const { return running_; }
  State state(std::size_t step) const { return states_[step]; }
  /// The failed step that blocked `step`, when it is Blocked.
  std::optional<std::size_t> blocked_by(std::size_t step) const { return blocked_by_[step]; }
  /// Expected seconds from the start of `step` to the end of its longest downstream chain.
  double remaining_path(std::size_t step) const { return priority_[step]; }

 private:
  void make_ready(std::size_t step);
  /// Heap order: the longest remaining path first; ties go to the earlier step.
  auto by_priority() const {
    return [this](std::size_t a, std::size_t b) {
      return priority_[a] < priority_[b] || (priority_[a] == priority_[b] && a > b);
    };
  }
  void block_descendants(std::size_t failed);

  std::vector<std::vector<std::size_t>> children_;
  std::vector<std::size_t> waiting_on_;   // unfinished dependencies per step
  std::vector<State> states_;
  std::vector<std::optional<std::size_t>> blocked_by_;
  std::vector<double> priority_;
  std::vector<std::size_t> ready_;        // a heap on priority_
  std::size_t unfinished_ = 0;
  std::size_t running_ = 0;
};

}  // namespace cascade::plan
