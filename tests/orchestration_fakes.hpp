// Scripted in-process stand-ins for cascade's own interfaces, for stepping the orchestration
// logic (executor, app) in milliseconds, the way ninja tests its build loop with a fake
// command runner. They never replace the end-to-end tests against the real registry,
// buildah and podman (tests/patch_test.cpp, deploy_patch_test.cpp); they make the logic
// checkable without them. The registry and builder share one in-memory image store, so a
// child built after its parent sees the parent's pushed digest and labels as a real
// registry would.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cascade/builder.hpp"
#include "cascade/deploy.hpp"
#include "cascade/executor.hpp"
#include "cascade/registry.hpp"
#include "cascade/store.hpp"

namespace fakes {

using namespace cascade;

// ---- images ----------------------------------------------------------------------------

struct Image {
  std::string digest;
  std::map<std::string, std::string> labels;
};

/// What the fake registry holds: tag -> image. Thread-safe.
class Images {
 public:
  /// Stores a new image under `tag` with a fresh digest; returns the digest.
  std::string push(const std::string& tag, std::map<std::string, std::string> labels = {}) {
    std::lock_guard lock(mutex_);
    char hex[65];
    std::snprintf(hex, sizeof hex, "%064llx", static_cast<unsigned long long>(++pushes_));
    std::string digest = std::string("sha256:") + hex;
    tags_[tag] = Image{digest, std::move(labels)};
    return digest;
  }
  std::optional<Image> get(const std::string& tag) const {
    std::lock_guard lock(mutex_);
    auto found = tags_.find(tag);
    if (found == tags_.end()) return std::nullopt;
    return found->second;
  }
  /// Makes the registry unreachable (every call fails as a network error) or reachable.
  void set_down(bool down) { down_ = down; }
  bool down() const { return down_; }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Image> tags_;
  unsigned long long pushes_ = 0;
  std::atomic<bool> down_{false};
};

class Registry final : public registry::Registry {
 public:
  explicit Registry(Images& images) : images_(images) {}
  Expected<std::string, registry::Error> resolve_digest(const reference::Reference& image) override {
    auto info = inspect(image);
    if (!info) return unexpected(info.error());
    return info->digest;
  }
  Expected<registry::ImageInfo, registry::Error> inspect(const reference::Reference& image) override {
    ++calls;
    if (images_.down()) return unexpected(registry::Error{registry::ErrorKind::network, image.domain, "refused", "", 0});
    auto found = images_.get(image.str());
    if (!found) return unexpected(registry::Error{registry::ErrorKind::not_found, image.domain, image.str(), "", 404});
    registry::ImageInfo info;
    info.digest = info.image_digest = found->digest;
    info.labels = found->labels;
    return info;
  }
  Expected<std::vector<std::string>, registry::Error> list_tags(const reference::Reference&) override {
    return std::vector<std::string>{};
  }
  Expected<std::string, registry::Error> copy(const reference::Reference& from, const reference::Reference&) override {
    return unexpected(registry::Error{registry::ErrorKind::invalid, from.domain, "not scripted", "", 0});
  }
  std::atomic<int> calls{0};

 private:
  Images& images_;
};

// ---- builder ---------------------------------------------------------------------------

/// What one build attempt of an image does; unscripted attempts succeed.
enum class Attempt { ok, transient, broken, hold, unavailable };

class Builder final : public builder::Builder {
 public:
  explicit Builder(Images& images) : images_(images) {}
  std::string name() const override { return "fake"; }

  /// The next attempts of `image`, in order.
  void script(const std::string& image, std::vector<Attempt> attempts) {
    std::lock_guard lock(mutex_);
    for (auto attempt : attempts) scripts_[image].push_back(attempt);
  }

  Expected<builder::BuildResult, builder::Error> build_and_push(const builder::BuildRequest& request,
                                                                const CancelToken& cancel) override {
    Attempt attempt = Attempt::ok;
    {
      std::lock_guard lock(mutex_);
      started_.push_back(request.image);
      dockerfiles_[request.image] = request.dockerfile_text;
      tests_[request.image] = request.tests.size();
      max_running_ = std::max(max_running_, ++running_);
      auto& script = scripts_[request.image];
      if (dead_) {
        attempt = Attempt::unavailable;
      } else if (!script.empty()) {
        attempt = script.front();
        script.pop_front();
      }
    }
    auto result = perform(attempt, request, cancel);
    std::lock_guard lock(mutex_);
    --running_;
    return result;
  }

  /// Every later attempt fails as a build engine that went away does (worker_unavailable).
  void kill() {
    std::lock_guard lock(mutex_);
    dead_ = true;
  }

  /// Lets held builds (Attempt::hold) go on and succeed.
  void release() {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    wake_.notify_all();
  }
  /// Waits until `n` builds are held.
  void wait_held(std::size_t n) {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [&] { return held_ >= n; });
  }

  std::vector<std::string> started() const {
    std::lock_guard lock(mutex_);
    return started_;
  }
  std::size_t builds_of(const std::string& image) const {
    auto all = started();
    return static_cast<std::size_t>(std::count(all.begin(), all.end(), image));
  }
  std::string dockerfile(const std::string& image) const {
    std::lock_guard lock(mutex_);
    auto found = dockerfiles_.find(image);
    return found == dockerfiles_.end() ? "" : found->second;
  }
  int max_running() const {
    std::lock_guard lock(mutex_);
    return max_running_;
  }
  /// How many `test:` commands the latest request for `image` carried.
  std::size_t tests_of(const std::string& image) const {
    std::lock_guard lock(mutex_);
    auto found = tests_.find(image);
    return found == tests_.end() ? 0 : found->second;
  }

 private:
  Expected<builder::BuildResult, builder::Error> perform(Attempt attempt, const builder::BuildRequest& request,
                                                         const CancelToken& cancel) {
    using K = builder::Error::Kind;
    if (attempt == Attempt::transient) return unexpected(builder::Error{K::push_failed, "push: connection refused"});
    if (attempt == Attempt::broken) return unexpected(builder::Error{K::build_failed, "RUN make: exit status 2"});
    if (attempt == Attempt::unavailable)
      return unexpected(builder::Error{K::worker_unavailable, "Cannot connect to the Docker daemon"});
    if (attempt == Attempt::hold) {
      std::unique_lock lock(mutex_);
      ++held_;
      wake_.notify_all();
      std::condition_variable_any& wake = wake_;
      bool released = wake.wait(lock, cancel, [this] { return released_; });
      --held_;
      if (!released) return unexpected(builder::Error{K::cancelled, "cancelled"});
    }
    builder::BuildResult result;
    result.digest = images_.push(request.image, request.labels);
    return result;
  }

  Images& images_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::map<std::string, std::deque<Attempt>> scripts_;
  std::vector<std::string> started_;
  std::map<std::string, std::string> dockerfiles_;
  std::map<std::string, std::size_t> tests_;
  int running_ = 0, max_running_ = 0;
  std::size_t held_ = 0;
  bool released_ = false;
  bool dead_ = false;
};

/// Every recipe's Dockerfile: one stage per base, the last one final.
class Workspace final : public executor::Workspace {
 public:
  Expected<executor::Prepared, std::string> prepare(const graph::Recipe& recipe, const std::string& into) override {
    std::string text;
    for (std::size_t i = 0; i < recipe.bases.size(); ++i) {
      text += "FROM " + recipe.bases[i] + (i + 1 < recipe.bases.size() ? " AS s" + std::to_string(i) : "") + "\n";
      text += "RUN true\n";
    }
    return executor::Prepared{into, text};
  }
};

// ---- deploy target ---------------------------------------------------------------------

class Target final : public deploy::Target {
 public:
  explicit Target(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  Expected<std::vector<deploy::Workload>, deploy::Error> inventory(const std::optional<reference::Reference>&) override {
    return std::vector<deploy::Workload>{};
  }
  /// The gate of `workload`'s next rollouts fails.
  void fail_gate(const std::string& workload) {
    std::lock_guard lock(mutex_);
    failing_.insert(workload);
  }
  Expected<deploy::RolloutResult, deploy::Error> rollout(const deploy::Workload& workload,
                                                         const reference::Reference& new_image,
                                                         const deploy::RolloutPolicy&, const deploy::StepSink& record,
                                                         std::stop_token) override {
    bool fails;
    {
      std::lock_guard lock(mutex_);
      rolled_.push_back(workload.name + " -> " + new_image.str());
      fails = failing_.count(workload.name) > 0;
    }
    record(deploy::Step{workload.name, workload.name + "-1", "sha256:old", new_image.str(), deploy::StepState::updating,
                        "created"});
    deploy::RolloutResult result;
    if (fails) {
      result.outcome = deploy::RolloutResult::Outcome::rolled_back;
      result.reason = "unhealthy: exit 1";
    }
    return result;
  }
  Expected<void, deploy::Error> recover(const std::string&, const deploy::RolloutPolicy&, const deploy::StepSink&) override {
    return {};
  }
  std::vector<std::string> rolled() const {
    std::lock_guard lock(mutex_);
    return rolled_;
  }

 private:
  std::string name_;
  mutable std::mutex mutex_;
  std::set<std::string> failing_;
  std::vector<std::string> rolled_;
};

// ---- store -----------------------------------------------------------------------------

/// A real (temporary SQLite) store behind a switch: from its Nth write on, every write is
/// refused, as when the disk fills or the process dies there (nothing later is kept).
/// Reads always pass.
class FaultyStore final : public store::Store {
 public:
  explicit FaultyStore(store::Store& inner) : inner_(inner) {}
  /// Refuses writes from the `n`th one (1-based) on; 0: never.
  void refuse_from(std::size_t n) { refuse_from_ = n; }
  std::size_t writes() const { return writes_; }
  /// Builds that tried to start (a transition to building) once writes were refused.
  std::size_t refused_starts() const { return refused_starts_; }

#define CASCADE_FAKE_WRITE(call)                                                                   \
  if (refused()) return unexpected(store::Error{store::ErrorCode::io, "disk I/O error (fault injected)"}); \
  return inner_.call
#define CASCADE_FAKE_READ(call) return inner_.call

  using Id = store::RunId;
  Expected<Id, store::Error> create_run(const store::NewRun& run) override { CASCADE_FAKE_WRITE(create_run(run)); }
  Expected<void, store::Error> set_run_state(Id run, store::RunState state, const std::string& detail) override {
    CASCADE_FAKE_WRITE(set_run_state(run, state, detail));
  }
  Expected<void, store::Error> add_tasks(Id run, const std::vector<store::TaskSpec>& tasks) override {
    CASCADE_FAKE_WRITE(add_tasks(run, tasks));
  }
  Expected<store::Task, store::Error> transition_task(Id run, const std::string& image, store::TaskState state,
                                                      const std::string& detail, const store::TaskUpdate& update) override {
    if (refuse_from_ != 0 && writes_ + 1 >= refuse_from_ && state == store::TaskState::building) ++refused_starts_;
    CASCADE_FAKE_WRITE(transition_task(run, image, state, detail, update));
  }
  Expected<void, store::Error> set_task_verdict(Id run, const std::string& image, const std::string& verdict) override {
    CASCADE_FAKE_WRITE(set_task_verdict(run, image, verdict));
  }
  Expected<store::Run, store::Error> get_run(Id run) override { CASCADE_FAKE_READ(get_run(run)); }
  Expected<store::PlanRecord, store::Error> get_plan(Id run) override { CASCADE_FAKE_READ(get_plan(run)); }
  Expected<std::vector<store::Run>, store::Error> list_runs(std::size_t limit) override {
    CASCADE_FAKE_READ(list_runs(limit));
  }
  Expected<std::vector<store::Task>, store::Error> get_tasks(Id run) override { CASCADE_FAKE_READ(get_tasks(run)); }
  Expected<std::vector<store::Transition>, store::Error> get_transitions(Id run) override {
    CASCADE_FAKE_READ(get_transitions(run));
  }
  Expected<std::vector<store::Run>, store::Error> unfinished_runs() override { CASCADE_FAKE_READ(unfinished_runs()); }
  Expected<void, store::Error> record_digest(const std::string& image, const std::string& digest,
                                             store::DigestSource source, std::optional<Id> run) override {
    CASCADE_FAKE_WRITE(record_digest(image, digest, source, run));
  }
  Expected<std::optional<store::DigestRecord>, store::Error> latest_digest(const std::string& image) override {
    CASCADE_FAKE_READ(latest_digest(image));
  }
  Expected<void, store::Error> record_duration(const std::string& image, store::Duration duration,
                                               std::optional<Id> run) override {
    CASCADE_FAKE_WRITE(record_duration(image, duration, run));
  }
  Expected<std::optional<store::Duration>, store::Error> expected_duration(const std::string& image) override {
    CASCADE_FAKE_READ(expected_duration(image));
  }
  Expected<store::RecordedEvent, store::Error> record_event(const store::Event& event) override {
    CASCADE_FAKE_WRITE(record_event(event));
  }
  Expected<void, store::Error> attach_event(store::EventId event, Id run) override {
    CASCADE_FAKE_WRITE(attach_event(event, run));
  }
  Expected<std::vector<store::RecordedEvent>, store::Error> record_events(const std::vector<store::Event>& events) override {
    CASCADE_FAKE_WRITE(record_events(events));
  }
  Expected<void, store::Error> settle_event(store::EventId event, const std::string& outcome) override {
    CASCADE_FAKE_WRITE(settle_event(event, outcome));
  }
  Expected<std::vector<store::Event>, store::Error> pending_events() override { CASCADE_FAKE_READ(pending_events()); }
  Expected<std::vector<store::Event>, store::Error> recent_events(std::size_t limit) override {
    CASCADE_FAKE_READ(recent_events(limit));
  }
  Expected<void, store::Error> put_setting(const std::string& key, const std::string& value) override {
    CASCADE_FAKE_WRITE(put_setting(key, value));
  }
  Expected<std::optional<std::string>, store::Error> get_setting(const std::string& key) override {
    CASCADE_FAKE_READ(get_setting(key));
  }
  Expected<std::int64_t, store::Error> record_rollout_step(const store::RolloutStep& step) override {
    CASCADE_FAKE_WRITE(record_rollout_step(step));
  }
  Expected<std::vector<store::RolloutStep>, store::Error> get_rollout_steps(Id run) override {
    CASCADE_FAKE_READ(get_rollout_steps(run));
  }
  Expected<void, store::Error> quarantine(const std::string& image, const std::string& digest, const std::string& reason,
                                          std::optional<Id> run) override {
    CASCADE_FAKE_WRITE(quarantine(image, digest, reason, run));
  }
  Expected<bool, store::Error> clear_quarantine(const std::string& image, const std::string& digest) override {
    CASCADE_FAKE_WRITE(clear_quarantine(image, digest));
  }
  Expected<bool, store::Error> is_quarantined(const std::string& image, const std::string& digest) override {
    CASCADE_FAKE_READ(is_quarantined(image, digest));
  }
  Expected<std::vector<store::Quarantined>, store::Error> list_quarantined(const std::string& image) override {
    CASCADE_FAKE_READ(list_quarantined(image));
  }
  Expected<void, store::Error> add_releases(Id run, const std::vector<store::Release>& releases) override {
    CASCADE_FAKE_WRITE(add_releases(run, releases));
  }
  Expected<std::vector<store::Release>, store::Error> get_releases(Id run) override { CASCADE_FAKE_READ(get_releases(run)); }
  Expected<void, store::Error> set_release_state(std::int64_t release, store::ReleaseState state,
                                                 const std::string& detail) override {
    CASCADE_FAKE_WRITE(set_release_state(release, state, detail));
  }
  Expected<std::int64_t, store::Error> record_approval(const store::Approval& approval) override {
    CASCADE_FAKE_WRITE(record_approval(approval));
  }
  Expected<std::vector<store::Approval>, store::Error> get_approvals(Id run) override {
    CASCADE_FAKE_READ(get_approvals(run));
  }
  Expected<std::vector<store::Run>, store::Error> awaiting_runs() override { CASCADE_FAKE_READ(awaiting_runs()); }
  Expected<void, store::Error> set_run_urgent(Id run) override { CASCADE_FAKE_WRITE(set_run_urgent(run)); }
  Expected<void, store::Error> enqueue_notifications(const std::vector<store::Notification>& notifications) override {
    CASCADE_FAKE_WRITE(enqueue_notifications(notifications));
  }
  Expected<std::vector<store::Notification>, store::Error> due_notifications(store::Time now,
                                                                             std::size_t limit) override {
    CASCADE_FAKE_READ(due_notifications(now, limit));
  }
  Expected<std::vector<store::Notification>, store::Error> list_notifications(const std::string& destination) override {
    CASCADE_FAKE_READ(list_notifications(destination));
  }
  Expected<void, store::Error> mark_delivered(const std::string& destination, const std::string& event_id) override {
    CASCADE_FAKE_WRITE(mark_delivered(destination, event_id));
  }
  Expected<void, store::Error> mark_attempt_failed(const std::string& destination, const std::string& event_id,
                                                   store::Time next_at, const std::string& error) override {
    CASCADE_FAKE_WRITE(mark_attempt_failed(destination, event_id, next_at, error));
  }
  Expected<void, store::Error> put_layer_index(const packages::LayerIndex& layer) override {
    CASCADE_FAKE_WRITE(put_layer_index(layer));
  }
  Expected<std::vector<std::string>, store::Error> known_layers(const std::vector<std::string>& digests) override {
    CASCADE_FAKE_READ(known_layers(digests));
  }
  Expected<std::map<std::string, packages::LayerIndex>, store::Error> get_layer_indexes(
      const std::vector<std::string>& digests) override {
    CASCADE_FAKE_READ(get_layer_indexes(digests));
  }
  Expected<std::map<std::string, packages::LayerIndex>, store::Error> all_layer_indexes(
      const std::optional<std::vector<std::string>>& names) override {
    CASCADE_FAKE_READ(all_layer_indexes(names));
  }
  Expected<void, store::Error> put_image_layers(const store::ImageLayers& image) override {
    CASCADE_FAKE_WRITE(put_image_layers(image));
  }
  Expected<std::optional<store::ImageLayers>, store::Error> get_image_layers(const std::string& digest) override {
    CASCADE_FAKE_READ(get_image_layers(digest));
  }
  Expected<std::vector<store::ImageLayers>, store::Error> all_image_layers() override {
    CASCADE_FAKE_READ(all_image_layers());
  }
  Expected<void, store::Error> record_image_scan(const store::ImageScan& scan) override {
    CASCADE_FAKE_WRITE(record_image_scan(scan));
  }
  Expected<void, store::Error> record_image_scans(const std::vector<store::ImageScan>& scans) override {
    CASCADE_FAKE_WRITE(record_image_scans(scans));
  }
  Expected<void, store::Error> retain_image_scans(store::ScanRole role, const std::vector<std::string>& keep) override {
    CASCADE_FAKE_WRITE(retain_image_scans(role, keep));
  }
  Expected<std::vector<store::ImageScan>, store::Error> image_scans(bool history) override {
    CASCADE_FAKE_READ(image_scans(history));
  }
#undef CASCADE_FAKE_WRITE
#undef CASCADE_FAKE_READ

 private:
  bool refused() {
    std::size_t n = ++writes_;
    return refuse_from_ != 0 && n >= refuse_from_;
  }
  store::Store& inner_;
  std::atomic<std::size_t> refuse_from_{0};
  std::atomic<std::size_t> writes_{0};
  std::atomic<std::size_t> refused_starts_{0};
};

}  // namespace fakes
