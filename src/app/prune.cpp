// Pruning the build workers' storage after a run: what the recent runs built and built on
// stays (keep_set, from the store), everything else goes (Builder::prune on each worker).
#include "cascade/app.hpp"
#include "cascade/reference.hpp"

namespace cascade::app {

namespace {

// "repository@digest" and the bare digest, for an image reference as the store keeps it.
void keep_image(std::set<std::string>& keep, const std::string& image, const std::string& digest) {
  keep.insert(digest);
  auto parsed = reference::parse(image);
  keep.insert((parsed ? parsed->repository() : image) + "@" + digest);
}

}  // namespace

Expected<std::set<std::string>, Failure> keep_set(store::Store& store, int keep_runs) {
  if (keep_runs < 1)
    return unexpected(Failure::bad_input("keep_runs must be at least 1, not " + std::to_string(keep_runs)));
  auto runs = store.list_runs(static_cast<std::size_t>(keep_runs));
  if (!runs) return unexpected(Failure::failed("cannot read the runs to keep: " + runs.error().message));
  std::set<std::string> keep;
  for (const auto& run : *runs) {
    auto tasks = store.get_tasks(run.id);
    if (!tasks)
      return unexpected(Failure::failed("cannot read the tasks of run " + std::to_string(run.id) + ": " +
                                        tasks.error().message));
    for (const auto& task : *tasks) {
      if (task.new_digest) keep_image(keep, task.image, *task.new_digest);
      for (const auto& [base, digest] : task.base_digests) keep_image(keep, base, digest);
    }
  }
  return keep;
}

PruneSummary prune_builders(const std::vector<std::pair<std::string, builder::Builder*>>& workers,
                            const std::set<std::string>& keep, const CancelToken& cancel) {
  PruneSummary summary;
  for (const auto& [name, worker] : workers)
    if (worker) summary.workers.emplace(name, worker->prune(keep, cancel));
  return summary;
}

}  // namespace cascade::app
