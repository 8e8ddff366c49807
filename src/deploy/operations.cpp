// Single-container calls (inspect, stop, start, rename, remove, list) and the step recorder.
#include "internal.hpp"

namespace cascade::deploy::detail {

void Recorder::operator()(const std::string& instance, const std::string& from, const std::string& to, StepState state,
                          const std::string& detail) {
  if (!sink_) return;
  std::lock_guard lock(mutex_);
  sink_(Step{workload_, instance, from, to, state, detail});
}

Expected<json, Error> inspect_container(Engine& engine, const std::string& id) {
  return engine.expect("GET", "/containers/" + util::percent_encode(id) + "/json", {200}, "inspect " + id);
}

Expected<void, Error> stop_container(Engine& engine, const std::string& id, const json& inspected,
                                     std::chrono::seconds fallback) {
  long long seconds = fallback.count();
  const json config = inspected.value("Config", json::object());
  if (config.contains("StopTimeout") && config["StopTimeout"].is_number_integer() && config["StopTimeout"].get<long long>() > 0)
    seconds = config["StopTimeout"].get<long long>();
  auto stopped = engine.expect("POST", "/containers/" + util::percent_encode(id) + "/stop?t=" + std::to_string(seconds), {204, 304},
                               "stop " + id);
  if (!stopped) return unexpected(stopped.error());
  return {};
}

Expected<void, Error> start_container(Engine& engine, const std::string& id) {
  auto started = engine.expect("POST", "/containers/" + util::percent_encode(id) + "/start", {204, 304}, "start " + id);
  if (!started) return unexpected(started.error());
  return {};
}

Expected<void, Error> rename_container(Engine& engine, const std::string& id, const std::string& name) {
  auto renamed = engine.expect("POST", "/containers/" + util::percent_encode(id) + "/rename?name=" + util::percent_encode(name), {204, 200},
                               "rename " + id + " to " + name);
  if (!renamed) return unexpected(renamed.error());
  return {};
}

Expected<void, Error> remove_container(Engine& engine, const std::string& id, bool force) {
  // v=false: the anonymous volumes may be in use by the other container of the pair.
  auto removed = engine.expect("DELETE", "/containers/" + util::percent_encode(id) + "?v=false&force=" + (force ? "true" : "false"),
                               {204, 200}, "remove " + id);
  if (!removed) return unexpected(removed.error());
  return {};
}

Expected<json, Error> list_containers(Engine& engine) {
  auto listed = engine.expect("GET", "/containers/json?all=true", {200}, "list containers");
  if (!listed) return unexpected(listed.error());
  if (!listed->is_array()) return unexpected(Error{ErrorKind::connection, "list containers: not a JSON array"});
  return listed;
}

}  // namespace cascade::deploy::detail
