// Pure pieces of the Kubernetes target: rollout completion as `kubectl rollout status`
// judges it (PROTOCOLS.md 6.3), label selectors (6.5) and imageID digests.
#include "cascade/deploy_kubernetes.hpp"

namespace cascade::deploy {

namespace {

using json = nlohmann::json;
using State = RolloutStatus::State;

/// An integer at `pointer`, 0 when missing (as kubectl counts it).
long long count(const json& object, const char* pointer) {
  const json::json_pointer path(pointer);
  if (!object.contains(path) || !object.at(path).is_number_integer()) return 0;
  return object.at(path).get<long long>();
}

std::string text(const json& object, const char* pointer) {
  const json::json_pointer path(pointer);
  if (!object.contains(path) || !object.at(path).is_string()) return {};
  return object.at(path).get<std::string>();
}

RolloutStatus waiting(std::string message) { return {State::waiting, std::move(message)}; }

RolloutStatus deployment_status(const json& object) {
  if (count(object, "/metadata/generation") > count(object, "/status/observedGeneration"))
    return waiting("waiting for the deployment spec update to be observed");
  const json::json_pointer conditions_path("/status/conditions");
  if (object.contains(conditions_path) && object.at(conditions_path).is_array())
    for (const json& condition : object.at(conditions_path))
      if (condition.value("type", "") == "Progressing" && condition.value("reason", "") == "ProgressDeadlineExceeded")
        return {State::failed, "progress deadline exceeded: " + condition.value("message", "")};
  long long wanted = object.contains(json::json_pointer("/spec/replicas")) ? count(object, "/spec/replicas") : 1;
  long long updated = count(object, "/status/updatedReplicas");
  long long replicas = count(object, "/status/replicas");
  long long available = count(object, "/status/availableReplicas");
  if (updated < wanted)
    return waiting(std::to_string(updated) + " out of " + std::to_string(wanted) + " new replicas have been updated");
  if (replicas > updated)
    return waiting(std::to_string(replicas - updated) + " old replicas are pending termination");
  if (available < updated)
    return waiting(std::to_string(available) + " of " + std::to_string(updated) + " updated replicas are available");
  return {State::complete, "successfully rolled out"};
}

Expected<RolloutStatus, std::string> daemonset_status(const json& object) {
  if (text(object, "/spec/updateStrategy/type") == "OnDelete")
    return unexpected(std::string("rollout status is only available for the RollingUpdate strategy (OnDelete set)"));
  if (count(object, "/metadata/generation") > count(object, "/status/observedGeneration"))
    return waiting("waiting for the daemon set spec update to be observed");
  long long desired = count(object, "/status/desiredNumberScheduled");
  long long updated = count(object, "/status/updatedNumberScheduled");
  long long available = count(object, "/status/numberAvailable");
  if (updated < desired)
    return waiting(std::to_string(updated) + " out of " + std::to_string(desired) + " new pods have been updated");
  if (available < desired)
    return waiting(std::to_string(available) + " of " + std::to_string(desired) + " updated pods are available");
  return RolloutStatus{State::complete, "successfully rolled out"};
}

Expected<RolloutStatus, std::string> statefulset_status(const json& object) {
  if (text(object, "/spec/updateStrategy/type") == "OnDelete")
    return unexpected(std::string("rollout status is only available for the RollingUpdate strategy (OnDelete set)"));
  long long observed = count(object, "/status/observedGeneration");
  if (observed == 0 || count(object, "/metadata/generation") > observed)
    return waiting("waiting for the statefulset spec update to be observed");
  long long wanted = object.contains(json::json_pointer("/spec/replicas")) ? count(object, "/spec/replicas") : 1;
  long long ready = count(object, "/status/readyReplicas");
  if (ready < wanted)
    return waiting(std::to_string(wanted - ready) + " pods are not ready yet");
  const json::json_pointer rolling("/spec/updateStrategy/rollingUpdate");
  if (object.contains(rolling) && object.at(rolling).is_object()) {
    if (object.at(rolling).contains("partition")) {
      long long partition = count(object, "/spec/updateStrategy/rollingUpdate/partition");
      long long updated = count(object, "/status/updatedReplicas");
      if (updated < wanted - partition)
        return waiting(std::to_string(updated) + " out of " + std::to_string(wanted - partition) +
                       " new pods have been updated");
    }
    return RolloutStatus{State::complete, "partitioned roll out complete"};
  }
  if (text(object, "/status/updateRevision") != text(object, "/status/currentRevision"))
    return waiting("waiting for the statefulset rolling update to complete");
  return RolloutStatus{State::complete, "rolling update complete"};
}

}  // namespace

Expected<RolloutStatus, std::string> rollout_status(const json& object) {
  std::string kind = object.value("kind", "");
  if (kind == "Deployment") return deployment_status(object);
  if (kind == "DaemonSet") return daemonset_status(object);
  if (kind == "StatefulSet") return statefulset_status(object);
  return unexpected("no rollout status for kind '" + kind + "'");
}

Expected<std::string, std::string> label_selector(const json& selector) {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : ",") + part; };
  if (selector.contains("matchLabels") && selector["matchLabels"].is_object())
    for (const auto& [key, value] : selector["matchLabels"].items()) add(key + "=" + value.get<std::string>());
  if (selector.contains("matchExpressions") && selector["matchExpressions"].is_array()) {
    for (const json& expression : selector["matchExpressions"]) {
      std::string key = expression.value("key", "");
      std::string op = expression.value("operator", "");
      std::string values;
      if (expression.contains("values") && expression["values"].is_array())
        for (const json& value : expression["values"]) values += (values.empty() ? "" : ",") + value.get<std::string>();
      if (op == "In") add(key + " in (" + values + ")");
      else if (op == "NotIn") add(key + " notin (" + values + ")");
      else if (op == "Exists") add(key);
      else if (op == "DoesNotExist") add("!" + key);
      else return unexpected("unknown selector operator '" + op + "'");
    }
  }
  return out;
}

std::string image_id_digest(std::string_view image_id) {
  std::size_t at = image_id.rfind('@');
  if (at != std::string_view::npos) return std::string(image_id.substr(at + 1));
  // A bare "sha256:..." is the image's config digest, not a repository digest.
  return {};
}

}  // namespace cascade::deploy
