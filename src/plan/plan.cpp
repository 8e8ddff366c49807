// Plans as values: what a trigger affects (needs), build or skip per image with the reason
// and the digests to pin (make), and the scheduler that hands out ready builds longest
// remaining path first and blocks only a failure's descendants.
#include "cascade/plan.hpp"

#include <algorithm>
#include <set>

namespace cascade::plan {

std::string_view to_string(Action action) { return action == Action::build ? "build" : "skip"; }

std::optional<std::size_t> Plan::find(const std::string& image) const {
  for (std::size_t i = 0; i < steps.size(); ++i)
    if (steps[i].image == image) return i;
  return std::nullopt;
}

namespace {

// The nodes the run builds or skips: start nodes the fleet builds without a given digest,
// then everything downstream of the start, in build order.
struct Scope {
  std::vector<graph::NodeId> rebuilt_starts;
  std::vector<graph::Graph::Affected> downstream;
  std::set<graph::NodeId> members;  // every node that gets a step
};

Scope scope_of(const graph::Graph& graph, const Origin& origin) {
  Scope scope;
  for (auto id : origin.start)
    if (graph.recipe_of(id) && !origin.digests.count(id)) scope.rebuilt_starts.push_back(id);
  scope.downstream = graph.downstream(origin.start);
  for (auto id : scope.rebuilt_starts) scope.members.insert(id);
  for (const auto& item : scope.downstream) scope.members.insert(item.node);
  return scope;
}

// True when the image's labels say it was built on `base_image` at `digest`.
bool built_on(const Observed* current, const std::string& base_image, const std::string& digest) {
  if (!current || digest.empty()) return false;
  auto recorded = current->built_on.find(base_image);
  return recorded != current->built_on.end() && recorded->second == digest;
}

std::string short_digest(const std::string& digest) {
  auto colon = digest.find(':');
  return colon == std::string::npos ? digest : digest.substr(0, std::min(digest.size(), colon + 13));
}

// "linux/amd64, linux/arm64"
std::string listed(const std::vector<std::string>& platforms) {
  std::string out;
  for (const auto& platform : platforms) out += (out.empty() ? "" : ", ") + platform;
  return out;
}

// The entries of `wanted` that `have` lacks, in `wanted`'s order.
std::vector<std::string> missing_from(const std::vector<std::string>& have, const std::vector<std::string>& wanted) {
  std::vector<std::string> missing;
  for (const auto& platform : wanted)
    if (std::find(have.begin(), have.end(), platform) == have.end()) missing.push_back(platform);
  return missing;
}

// What a step builds: the recipe's declared platforms, else those of the tag's current index
// (a cascade never narrows what nodes pull), else none (the engine's own platform, one
// manifest, as a single-platform image always was).
std::vector<std::string> platforms_for(const graph::Recipe* recipe, const Observed* current) {
  if (recipe && !recipe->platforms.empty()) return recipe->platforms;
  if (current && current->index) return current->platforms;
  return {};
}

}  // namespace

Needs needs(const graph::Graph& graph, const Origin& origin) {
  Scope scope = scope_of(graph, origin);
  Needs out;
  std::set<graph::NodeId> start(origin.start.begin(), origin.start.end());
  std::set<graph::NodeId> resolve;
  for (auto id : scope.members) {
    out.inspect.push_back(id);
    for (auto base : graph.node(id).bases)
      if (!scope.members.count(base) && !start.count(base)) resolve.insert(base);
  }
  // A rebuilt start's own bases are pinned too (they are not part of the change).
  out.resolve.assign(resolve.begin(), resolve.end());
  return out;
}

// Whether the step builds, and why: forced, a rebuild, a rebuilt start image (skipped when
// built from its recipe's commit on the current digests of its bases), or its bases
// (skipped when `unchanged`: every base known and the image already built on it).
namespace {

void choose_action(Step& step, const graph::Graph& graph, const Origin& origin, bool is_rebuilt_start,
                   const Observed* current, bool unchanged, const std::string& changed) {
  if (auto forced = origin.forced.find(step.node); forced != origin.forced.end()) {
    step.action = Action::build;
    step.no_cache = true;
    step.reason = forced->second;
  } else if (origin.rebuild) {
    step.action = Action::build;
    step.reason = step.depth == 0 ? "rebuild requested" : "rebuilt after " + step.via.front();
  } else if (is_rebuilt_start) {
    const graph::Recipe* recipe = graph.recipe_of(step.node);
    bool same_inputs = current && current->digest && !recipe->commit.empty() && current->revision == recipe->commit &&
                       std::all_of(step.base_digests.begin(), step.base_digests.end(), [&](const auto& base) {
                         return built_on(current, base.first, base.second);
                       }) &&
                       step.base_digests.size() == graph.node(step.node).bases.size();
    step.action = same_inputs ? Action::skip : Action::build;
    step.reason = same_inputs ? "already built from commit " + recipe->commit.substr(0, 12) +
                                    " on the current digests of its bases"
                              : "patched image built by the fleet: rebuilt first";
  } else if (unchanged) {
    step.action = Action::skip;
    step.reason = "already built on the current digest of every base";
  } else {
    step.action = Action::build;
    step.reason = changed.empty() ? "no record of what it was built on" : changed;
  }
}

}  // namespace

namespace {

// The plan-time refusals of a multi-platform build (Plan::problems): a push that would drop
// platforms from the tag's index, and a platform one of its bases does not have.
void check_platforms(Plan& plan, const Step& step, const graph::Graph& graph,
                     const std::map<std::string, Observed>& observed,
                     const std::map<graph::NodeId, std::size_t>& step_of) {
  if (step.platforms.empty()) return;
  if (auto seen = observed.find(step.image); seen != observed.end() && seen->second.index) {
    if (auto dropped = missing_from(step.platforms, seen->second.platforms); !dropped.empty())
      plan.problems.push_back(step.image + ": its tag is an image index with " + listed(seen->second.platforms) +
                              ", and the build makes only " + listed(step.platforms) + ": pushing it would take " +
                              listed(dropped) + " away from every node that pulls the tag. Add " + listed(dropped) +
                              " to the recipe's platforms (or push under another tag)");
  }
  for (auto base : graph.node(step.node).bases) {
    const std::string& base_image = graph.node(base).image;
    std::vector<std::string> has;
    if (auto at = step_of.find(base); at != step_of.end() && plan.steps[at->second].action == Action::build) {
      has = plan.steps[at->second].platforms;  // what this run makes of it (empty: the engine's own, unknown here)
    } else if (auto seen = observed.find(base_image); seen != observed.end()) {
      has = seen->second.platforms;
    }
    if (has.empty()) continue;  // unknown until the build: the build checks it then
    if (auto lacking = missing_from(has, step.platforms); !lacking.empty())
      plan.problems.push_back(step.image + " is built for " + listed(lacking) + ", which its base " + base_image +
                              " does not have (it has " + listed(has) + "): build " + base_image + " for " +
                              listed(lacking) + " too, or leave " + listed(lacking) + " out of " + step.image +
                              "'s platforms");
  }
}

}  // namespace

Plan make(const graph::Graph& graph, const Origin& origin, const std::map<std::string, Observed>& observed,
          const std::map<std::string, std::string>& pinned) {
  Scope scope = scope_of(graph, origin);
  Plan plan;
  plan.query = origin.query;
  for (const auto& [id, digest] : origin.digests) plan.trigger_digests[graph.node(id).image] = digest;

  // Known digests: trigger digests, pins, and the current digest of every skipped step.
  std::map<graph::NodeId, std::string> known;
  for (const auto& [id, digest] : origin.digests) known[id] = digest;
  std::map<graph::NodeId, std::size_t> step_of;

  auto add_step = [&](graph::NodeId id, int depth, std::vector<graph::NodeId> via) {
    Step step;
    step.node = id;
    step.image = graph.node(id).image;
    step.depth = depth;
    for (auto v : via) step.via.push_back(graph.node(v).image);
    auto seen = observed.find(step.image);
    const Observed* current = seen == observed.end() ? nullptr : &seen->second;
    if (current) step.old_digest = current->digest;

    bool all_known_and_unchanged = current && current->digest.has_value();
    std::string changed;  // the first base that makes this step build
    for (auto base : graph.node(id).bases) {
      const std::string& base_image = graph.node(base).image;
      if (auto at = step_of.find(base); at != step_of.end() && plan.steps[at->second].action == Action::build) {
        step.after.push_back(at->second);
        step.bases_built_in_run.push_back(base_image);
        all_known_and_unchanged = false;
        if (changed.empty()) changed = base_image + " is rebuilt in this run";
        continue;
      }
      std::string digest;
      if (auto k = known.find(base); k != known.end()) digest = k->second;
      else if (auto p = pinned.find(base_image); p != pinned.end()) digest = p->second;
      if (!digest.empty()) step.base_digests[base_image] = digest;
      bool in_change = scope.members.count(base) || origin.digests.count(base);
      if (!in_change) continue;  // an unaffected base: pinned, not a reason to rebuild
      if (!built_on(current, base_image, digest)) {
        all_known_and_unchanged = false;
        if (changed.empty()) changed = "base " + base_image + " is now " + (digest.empty() ? "unknown" : short_digest(digest));
      }
    }
    bool is_rebuilt_start = std::find(scope.rebuilt_starts.begin(), scope.rebuilt_starts.end(), id) != scope.rebuilt_starts.end();
    choose_action(step, graph, origin, is_rebuilt_start, current, all_known_and_unchanged, changed);
    step.platforms = platforms_for(graph.recipe_of(id), current);
    if (step.action == Action::skip && current && !current->platforms.empty()) {
      // Built on the current bases, but not for every platform it must have now.
      if (auto added = missing_from(current->platforms, step.platforms); !added.empty()) {
        step.action = Action::build;
        step.reason = "adds platform " + listed(added) + " (the tag has " + listed(current->platforms) + ")";
      }
    }
    if (step.action == Action::build) check_platforms(plan, step, graph, observed, step_of);
    if (step.action == Action::skip) known[id] = *current->digest;
    step_of[id] = plan.steps.size();
    plan.steps.push_back(std::move(step));
  };

  for (auto id : scope.rebuilt_starts) add_step(id, 0, {id});
  for (const auto& item : scope.downstream) add_step(item.node, item.depth, item.via);
  return plan;
}

Scheduler::Scheduler(const Plan& plan, const std::function<double(const std::string&)>& expected) {
  std::size_t n = plan.steps.size();
  children_.resize(n);
  waiting_on_.assign(n, 0);
  states_.assign(n, State::waiting);
  blocked_by_.assign(n, std::nullopt);
  priority_.assign(n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (auto dep : plan.steps[i].after) {
      children_[dep].push_back(i);
      ++waiting_on_[i];
    }
  // Steps come in build order, so a reverse sweep sees children before their parents.
  for (std::size_t i = n; i-- > 0;) {
    double longest_child = 0;
    for (auto child : children_[i]) longest_child = std::max(longest_child, priority_[child]);
    double own = plan.steps[i].action == Action::build ? std::max(0.0, expected(plan.steps[i].image)) : 0.0;
    priority_[i] = own + longest_child;
  }
  // A skipped step is never waited for: make() lists only built steps in `after`.
  unfinished_ = n;
  for (std::size_t i = 0; i < n; ++i) {
    if (plan.steps[i].action == Action::skip) {
      states_[i] = State::skipped;
      --unfinished_;
    } else if (waiting_on_[i] == 0) {
      make_ready(i);
    }
  }
}

void Scheduler::make_ready(std::size_t step) {
  states_[step] = State::ready;
  ready_.push_back(step);
  std::push_heap(ready_.begin(), ready_.end(), by_priority());
}

std::optional<std::size_t> Scheduler::next() {
  if (ready_.empty()) return std::nullopt;
  std::size_t step = ready_.front();  // the heap's top
  start(step);
  return step;
}

std::vector<std::size_t> Scheduler::ready() const {
  std::vector<std::size_t> order = ready_;
  auto before = by_priority();
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return before(b, a); });
  return order;
}

void Scheduler::start(std::size_t step) {
  if (states_[step] != State::ready) return;
  if (ready_.front() == step) {  // the usual case: O(log n)
    std::pop_heap(ready_.begin(), ready_.end(), by_priority());
    ready_.pop_back();
  } else {
    ready_.erase(std::find(ready_.begin(), ready_.end(), step));
    std::make_heap(ready_.begin(), ready_.end(), by_priority());
  }
  states_[step] = State::running;
  ++running_;
}

void Scheduler::requeue(std::size_t step) {
  if (states_[step] != State::running) return;
  --running_;
  make_ready(step);
}

void Scheduler::finished(std::size_t step, bool succeeded) {
  if (states_[step] == State::running) --running_;
  if (states_[step] == State::ready) {
    ready_.erase(std::find(ready_.begin(), ready_.end(), step));
    std::make_heap(ready_.begin(), ready_.end(), by_priority());
  }
  states_[step] = succeeded ? State::done : State::failed;
  --unfinished_;
  if (!succeeded) {
    block_descendants(step);
    return;
  }
  for (auto child : children_[step])
    if (--waiting_on_[child] == 0 && states_[child] == State::waiting) make_ready(child);
}

void Scheduler::block_descendants(std::size_t failed) {
  std::vector<std::size_t> stack(children_[failed].begin(), children_[failed].end());
  while (!stack.empty()) {
    std::size_t step = stack.back();
    stack.pop_back();
    if (states_[step] != State::waiting) continue;
    states_[step] = State::blocked;
    blocked_by_[step] = failed;
    --unfinished_;
    stack.insert(stack.end(), children_[step].begin(), children_[step].end());
  }
}

}  // namespace cascade::plan
