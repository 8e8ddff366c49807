// The rolling replacement (PROTOCOLS.md 5.9), stop-first, batch by batch: stop the old
// container, rename it aside ("<name>-cascade-old"), create its twin on the new image, start
// it and gate it. Old containers are kept until every replica passed, so a failure in any
// batch puts the whole workload back on its old containers.
#include <thread>

#include "internal.hpp"

namespace cascade::deploy {

using namespace detail;

namespace {

struct Replica {
  std::string old_id;
  std::string name;
  std::string old_image_id;
  json inspected;
  json old_image;
  // What the replacement reached, for the rollback:
  bool stopped = false;
  bool renamed = false;
  std::string new_id;
  std::optional<std::string> failure;
  Clock::time_point began{};
  std::chrono::milliseconds took{0};
};

std::chrono::milliseconds since(Clock::time_point begin) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin);
}

struct Context {
  Engine& engine;
  const DockerOptions& options;
  Recorder& record;
  HealthGate gate;
  std::string pinned;
  std::stop_token stop;
};

// Replaces one replica; leaves `replica.failure` set when any step or the gate failed.
void replace(Context& context, Replica& replica) {
  Engine& engine = context.engine;
  auto note = [&](StepState state, const std::string& detail) {
    context.record(replica.name, replica.old_image_id, context.pinned, state, detail);
  };
  replica.began = Clock::now();
  auto fail = [&](const std::string& why) {
    replica.failure = why;
    replica.took = since(replica.began);
    note(StepState::failed, why);
  };
  auto stopped = stop_container(engine, replica.old_id, replica.inspected, context.options.stop_timeout);
  if (!stopped) return fail(stopped.error().str());
  replica.stopped = true;
  note(StepState::updating, "stopped " + replica.old_id.substr(0, 12));
  std::string aside = replica.name + std::string(kOldSuffix);
  auto renamed = rename_container(engine, replica.old_id, aside);
  if (!renamed) return fail(renamed.error().str());
  replica.renamed = true;
  note(StepState::updating, "renamed to " + aside);
  json body = create_body(replica.inspected, replica.old_image, context.pinned, engine.version());
  auto created = engine.expect("POST", "/containers/create?name=" + util::percent_encode(replica.name), {201, 200},
                               "create " + replica.name, body);
  if (!created) return fail(created.error().str());
  replica.new_id = created->value("Id", "");
  note(StepState::updating, "created " + replica.new_id.substr(0, 12));
  auto started = start_container(engine, replica.new_id);
  if (!started) return fail(started.error().str());
  note(StepState::updating, "started " + replica.new_id.substr(0, 12));
  if (auto unhealthy = wait_healthy(engine, replica.new_id, context.gate, context.stop)) return fail(*unhealthy);
  replica.took = since(replica.began);
  note(StepState::updating, "passed the health gate in " + std::to_string(replica.took.count()) + " ms");
}

// Puts one replaced (or half-replaced) replica back on its old container.
std::optional<std::string> undo(Context& context, Replica& replica) {
  if (!replica.stopped) return std::nullopt;  // never touched
  auto failed = restore_old(context.engine, replica.old_id, replica.name, replica.new_id, replica.renamed, context.gate);
  context.record(replica.name, replica.old_image_id, context.pinned, failed ? StepState::failed : StepState::rolled_back,
                 failed ? "rollback failed: " + *failed : "rolled back to " + replica.old_id.substr(0, 12));
  return failed;
}

Expected<std::vector<Replica>, Error> plan(Engine& engine, const Workload& workload, const std::string& new_image_id,
                                          std::vector<InstanceResult>& unchanged) {
  std::vector<Replica> replicas;
  for (const auto& id : workload.instances) {
    auto inspected = inspect_container(engine, id);
    if (!inspected) return unexpected(inspected.error());
    Replica replica;
    replica.old_id = inspected->value("Id", id);
    replica.name = container_name(*inspected);
    replica.old_image_id = inspected->value("Image", "");
    if (replica.old_image_id == new_image_id) {
      unchanged.push_back({replica.name, replica.old_id, replica.old_id, InstanceOutcome::unchanged, "already on the image", {}});
      continue;
    }
    if (inspected->value("HostConfig", json::object()).value("AutoRemove", false))
      return unexpected(Error{ErrorKind::invalid, replica.name + " is removed when stopped (--rm): no rollback possible"});
    auto image = engine.expect("GET", "/images/" + replica.old_image_id + "/json", {200}, "inspect image of " + replica.name);
    replica.old_image = image ? *image : json::object();  // an image gone since: keep every setting
    if (engine.podman() && image && !(*image)["Config"].contains("Healthcheck")) {
      // podman's compatible image inspect leaves the HEALTHCHECK out; its own API has it.
      auto libpod = engine.call("GET", "/v4.0.0/libpod/images/" + replica.old_image_id + "/json", {}, {}, true);
      auto parsed = libpod && libpod->status == 200 ? json::parse(libpod->body, nullptr, false) : json();
      if (parsed.is_object() && parsed.contains("Healthcheck")) replica.old_image["Config"]["Healthcheck"] = parsed["Healthcheck"];
    }
    replica.inspected = std::move(*inspected);
    replicas.push_back(std::move(replica));
  }
  return replicas;
}

}  // namespace

Expected<RolloutResult, Error> DockerTarget::Impl::rollout(const Workload& workload, const reference::Reference& new_image,
                                                           const RolloutPolicy& policy, const StepSink& sink,
                                                           std::stop_token stop) {
  if (policy.max_unavailable < 1 || policy.batch < 1)
    return unexpected(Error{ErrorKind::invalid, "batch and max_unavailable must be at least 1 (replacement is stop-first)"});
  if (new_image.digest.empty())
    return unexpected(Error{ErrorKind::invalid, "the new image must be pinned by digest: " + new_image.str()});
  Recorder record(sink, workload.name);
  std::string pinned = new_image.repository() + "@" + new_image.digest;
  auto new_image_id = pull_image(*engine, new_image, options.credentials);
  if (!new_image_id) {
    record("", workload.image_id, pinned, StepState::failed, new_image_id.error().str());
    return unexpected(new_image_id.error());
  }
  record("", workload.image_id, pinned, StepState::updating, "pulled " + new_image_id->substr(0, 19));
  RolloutResult result;
  result.new_image_id = *new_image_id;
  auto replicas = plan(*engine, workload, *new_image_id, result.instances);
  if (!replicas) return unexpected(replicas.error());

  Context context{*engine, options, record, HealthGate{policy, options.poll_interval}, pinned, stop};
  std::size_t width = static_cast<std::size_t>(std::min(policy.batch, policy.max_unavailable));
  std::size_t done = 0;
  std::optional<std::string> failure;
  while (done < replicas->size() && !failure) {
    if (stop.stop_requested()) {
      failure = "cancelled";
      break;
    }
    std::size_t end = std::min(replicas->size(), done + width);
    {
      std::vector<std::jthread> workers;
      for (std::size_t i = done; i < end; ++i) workers.emplace_back([&context, &replica = (*replicas)[i]] { replace(context, replica); });
    }
    for (std::size_t i = done; i < end; ++i)
      if ((*replicas)[i].failure && !failure) failure = (*replicas)[i].name + ": " + *(*replicas)[i].failure;
    done = end;
  }

  if (!failure) {
    for (auto& replica : *replicas) {
      auto removed = remove_container(*engine, replica.old_id, true);
      record(replica.name, replica.old_image_id, pinned, StepState::healthy,
             removed ? "on " + replica.new_id.substr(0, 12) + ", old container removed"
                     : "on " + replica.new_id.substr(0, 12) + ", old container left: " + removed.error().str());
      result.instances.push_back({replica.name, replica.old_id, replica.new_id, InstanceOutcome::updated, "", replica.took});
    }
    return result;
  }

  result.reason = *failure;
  result.outcome = RolloutResult::Outcome::rolled_back;
  for (std::size_t i = 0; i < done; ++i) {
    Replica& replica = (*replicas)[i];
    InstanceResult instance{replica.name, replica.old_id, replica.new_id, InstanceOutcome::failed,
                            replica.failure.value_or(""), replica.took};
    if (!policy.rollback) {
      result.outcome = RolloutResult::Outcome::failed;
      instance.outcome = replica.failure ? InstanceOutcome::failed : InstanceOutcome::updated;
    } else if (auto undo_failed = undo(context, replica)) {
      result.outcome = RolloutResult::Outcome::failed;
      instance.detail = (instance.detail.empty() ? "" : instance.detail + "; ") + "rollback failed: " + *undo_failed;
    } else {
      instance.outcome = InstanceOutcome::rolled_back;
      instance.new_id = replica.old_id;
    }
    result.instances.push_back(std::move(instance));
  }
  for (std::size_t i = done; i < replicas->size(); ++i)
    result.instances.push_back({(*replicas)[i].name, (*replicas)[i].old_id, (*replicas)[i].old_id,
                                InstanceOutcome::unchanged, "not reached", {}});
  return result;
}

}  // namespace cascade::deploy

namespace cascade::deploy::detail {

std::optional<std::string> restore_old(Engine& engine, const std::string& old_id, const std::string& name,
                                       const std::string& new_id, bool renamed, const HealthGate& gate) {
  if (!new_id.empty()) {
    auto removed = remove_container(engine, new_id, true);
    if (!removed && removed.error().kind != ErrorKind::not_found) return removed.error().str();
  }
  if (renamed) {
    auto back = rename_container(engine, old_id, name);
    if (!back) return back.error().str();
  }
  auto started = start_container(engine, old_id);
  if (!started) return started.error().str();
  return wait_healthy(engine, old_id, gate, {});
}

}  // namespace cascade::deploy::detail
