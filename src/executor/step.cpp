// One build step of a run (see step.hpp): inputs from git, bases pinned to this run's
// digests, build and push with retries, every transition recorded and checked.
#include "step.hpp"

#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "cascade/dockerfile.hpp"

namespace cascade::executor::detail {

void tell(const Services& services, Progress::Kind kind, const std::string& image, const std::string& detail,
          double seconds, const std::string& worker) {
  if (services.progress) services.progress(Progress{kind, image, detail, seconds, worker});
}

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

const std::string& worker_name(const Services& services, const StepInput& input) {
  return services.workers.at(input.worker).name;
}

// Records a task transition; false (with StepResult::store_error set) when the store refused it.
bool transition(const Services& services, const StepInput& input, store::TaskState state, const std::string& detail,
                StepResult& result, const store::TaskUpdate& update = {}) {
  auto done = services.store.transition_task(input.run, input.step->image, state, detail, update);
  if (!done) result.store_error = "cannot record " + input.step->image + " " + std::string(store::to_string(state)) +
                                  ": " + done.error().message;
  return bool(done);
}

// "repo@digest" for every base: what the Dockerfile is rewritten to.
std::map<std::string, std::string> pins_for(const std::map<std::string, std::string>& base_digests) {
  std::map<std::string, std::string> pins;
  for (const auto& [base, digest] : base_digests) {
    auto parsed = reference::parse(base);
    if (parsed) pins[base] = parsed->repository() + "@" + digest;
  }
  return pins;
}

// The image the target stage is built on (following FROM <stage> links), when it is one.
std::optional<std::string> final_base(const std::string& dockerfile_text, const dockerfile::Options& options) {
  auto analysis = dockerfile::analyze(dockerfile_text, options);
  if (!analysis) return std::nullopt;
  const dockerfile::Stage* stage = &analysis->stages[analysis->target];
  while (stage->base_stage) stage = &analysis->stages[*stage->base_stage];
  if (!stage->base_image) return std::nullopt;
  return stage->base_image->str();
}

std::map<std::string, std::string> labels_for(const StepInput& input, const std::string& dockerfile_text,
                                              const dockerfile::Options& options) {
  std::map<std::string, std::string> labels;
  labels[kLabelBases] = nlohmann::json(input.base_digests).dump();
  labels[kLabelRun] = std::to_string(input.run);
  labels[kLabelRecipe] = input.recipe->source + ":" + input.recipe->dockerfile;
  labels[kLabelRevision] = input.recipe->commit;
  if (auto base = final_base(dockerfile_text, options)) {
    if (auto digest = input.base_digests.find(*base); digest != input.base_digests.end()) {
      labels[kLabelBaseName] = *base;
      labels[kLabelBaseDigest] = digest->second;
    }
  }
  return labels;
}

// Waits `delay` unless a stop comes first; true when it waited the whole time.
bool wait_for(std::chrono::milliseconds delay, std::stop_token stop) {
  std::mutex mutex;
  std::condition_variable_any wake;
  std::unique_lock lock(mutex);
  return !wake.wait_for(lock, stop, delay, [] { return false; }) && !stop.stop_requested();
}

// The request a build makes, or an error message when the inputs cannot be made.
Expected<builder::BuildRequest, std::string> make_request(const Services& services, const StepInput& input) {
  const graph::Recipe& recipe = *input.recipe;
  auto prepared = services.workspace.prepare(recipe, input.work_dir);
  if (!prepared) return unexpected(prepared.error());
  dockerfile::Options options;
  options.build_args = recipe.build_args;
  if (!recipe.target.empty()) options.target = recipe.target;
  auto pinned = dockerfile::pin(prepared->dockerfile_text, options, pins_for(input.base_digests));
  if (!pinned) {
    return unexpected(recipe.source + ":" + recipe.dockerfile + ":" + std::to_string(pinned.error().line) +
                      ": cannot pin the bases: " + pinned.error().message);
  }
  builder::BuildRequest request;
  request.run_id = std::to_string(input.run);
  request.image = input.step->image;
  request.context_dir = prepared->context_dir;
  request.dockerfile_text = *pinned;
  request.target = recipe.target;
  request.no_cache = input.step->no_cache;
  request.build_args = recipe.build_args;
  request.labels = labels_for(input, prepared->dockerfile_text, options);  // names as written, before pinning
  if (!input.step->platforms.empty()) {
    auto platforms = platform_builds(services, input, final_base(prepared->dockerfile_text, options));
    if (!platforms) return unexpected(input.step->image + ": " + platforms.error());
    request.platforms = std::move(platforms).value();
    request.labels[kLabelBaseIndexes] = nlohmann::json(input.base_digests).dump();
  }
  request.log_path = input.log_path;
  request.secrets = services.secrets;
  // Run in the built image before the push; a failing one is test_failed, which is not
  // transient: the task fails at once with the test's output and its descendants are blocked.
  for (const graph::TestCommand& test : recipe.tests) request.tests.push_back({test.argv, test.timeout});
  return request;
}

}  // namespace

namespace {

// " (an index of linux/amd64 sha256:..., linux/arm64 sha256:...)": what a multi-platform push
// made, read back from the registry for the run's record; empty for one platform.
std::string pushed_platforms(const Services& services, const StepInput& input, const builder::BuildResult& built) {
  if (input.step->platforms.empty() || !services.platforms_of) return "";
  auto parsed = reference::parse(input.step->image);
  if (!parsed) return "";
  auto found = services.platforms_of(parsed->repository() + "@" + built.digest);
  if (!found) return " (an index; its platforms could not be read back: " + found.error() + ")";
  std::string out;
  for (const auto& manifest : *found) out += (out.empty() ? "" : ", ") + manifest.platform + " " + manifest.digest;
  return " (an index of " + out + ")";
}

// A build that pushed: pushing, pushed (with the digest), the digest and duration recorded.
StepResult& record_pushed(const Services& services, const StepInput& input, const builder::BuildResult& built,
                          Clock::time_point started, StepResult& result) {
  const std::string& image = input.step->image;
  result.seconds = seconds_since(started);
  char timing[96];
  std::snprintf(timing, sizeof timing, "built in %.3f s, pushed in %.3f s", built.build_seconds, built.push_seconds);
  store::TaskUpdate pushed;
  pushed.new_digest = built.digest;
  if (!transition(services, input, store::TaskState::pushing, timing, result) ||
      !transition(services, input, store::TaskState::pushed, "pushed " + built.digest + pushed_platforms(services, input, built),
                  result, pushed))
    return result;
  if (auto recorded = services.store.record_digest(image, built.digest, store::DigestSource::pushed, input.run); !recorded) {
    result.store_error = "cannot record the pushed digest of " + image + ": " + recorded.error().message;
    return result;
  }
  // The duration only feeds the next runs' estimates: a lost one is told, the run goes on.
  (void)written_or_told(services,
                        services.store.record_duration(
                            image, std::chrono::milliseconds(static_cast<long>(result.seconds * 1000)), input.run),
                        image, "the build's duration");
  result.succeeded = true;
  result.digest = built.digest;
  tell(services, Progress::Kind::pushed, image, built.digest, result.seconds, worker_name(services, input));
  return result;
}

StepResult& record_failed(const Services& services, const StepInput& input, std::string error,
                          Clock::time_point started, StepResult& result) {
  result.seconds = seconds_since(started);
  result.error = std::move(error);
  if (transition(services, input, store::TaskState::failed, result.error, result))
    tell(services, Progress::Kind::failed, input.step->image, result.error, result.seconds, worker_name(services, input));
  return result;
}

}  // namespace

StepResult run_step(const Services& services, const Options& options, const StepInput& input, std::stop_token stop,
                    std::stop_token cancel) {
  StepResult result;
  const std::string& image = input.step->image;
  auto started = Clock::now();
  const Worker& worker = services.workers.at(input.worker);
  store::TaskUpdate start_update;
  start_update.base_digests = input.base_digests;
  start_update.build_log = input.log_path;
  start_update.worker = worker.name;
  if (!transition(services, input, store::TaskState::building, "building on " + worker.name, result, start_update))
    return result;
  tell(services, Progress::Kind::started, image, "on " + worker.name, 0, worker.name);

  std::error_code ignored;
  fs::remove_all(input.work_dir, ignored);
  fs::create_directories(fs::path(input.log_path).parent_path(), ignored);
  auto request = make_request(services, input);
  if (!request) return record_failed(services, input, request.error(), started, result);
  request->timeout = options.build_timeout;

  auto delay = options.retry_delay;
  for (int attempt = 1;; ++attempt) {
    auto built = worker.builder->build_and_push(*request, cancel);
    if (built) {
      record_pushed(services, input, *built, started, result);
      if (result.succeeded) fs::remove_all(input.work_dir, ignored);
      return result;
    }
    const builder::Error& error = built.error();
    if (error.kind == builder::Error::Kind::cancelled) {
      result.cancelled = true;
      (void)transition(services, input, store::TaskState::pending, "cancelled; a resumed run builds it again", result);
      return result;
    }
    if (error.kind == builder::Error::Kind::worker_unavailable && services.workers.size() > 1) {
      // The engine failed, not the Dockerfile: the executor marks it down and places the
      // build on another worker (with one worker, it is retried here like any transient error).
      result.worker_unavailable = true;
      result.error = error.message;
      (void)transition(services, input, store::TaskState::pending, "worker " + worker.name + " unavailable: " +
                       error.message, result);
      return result;
    }
    if (!error.transient() || attempt >= options.attempts || stop.stop_requested())
      return record_failed(services, input, std::string(builder::kind_name(error.kind)) + ": " + error.message, started,
                           result);
    if (!transition(services, input, store::TaskState::pending, "retrying: " + error.message, result)) return result;
    tell(services, Progress::Kind::retrying, image, error.message, 0, worker.name);
    if (!wait_for(delay, stop)) {
      result.cancelled = true;  // stopped while waiting: stays pending
      return result;
    }
    delay *= 2;
    if (!transition(services, input, store::TaskState::building, "building (attempt " + std::to_string(attempt + 1) + ")",
                    result))
      return result;
  }
}

}  // namespace cascade::executor::detail
