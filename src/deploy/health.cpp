// The health gate of a new container (PROTOCOLS.md 5.7): its HEALTHCHECK (run on demand on
// podman, which runs none without systemd; State.Health on dockerd; exec of the test as a
// fallback), or an HTTP probe, or "running and not restarting for a while". An exit or a
// restart fails at once, whatever the mode.
#include <thread>

#include "internal.hpp"

namespace cascade::deploy::detail {

namespace {

struct Observation {
  bool running = false;
  bool restarting = false;
  int restart_count = 0;
  std::string started_at;
  int exit_code = 0;
  std::string health;  // State.Health.Status, empty without one
  int failing_streak = 0;     // State.Health.FailingStreak: the engine's checks failed in a row
  std::string health_output;  // "exit N: output" of the engine's last check, empty before the first
};

std::string printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text)
    if (c >= 32 && c < 127) out += static_cast<char>(c);
    else if (c == '\n' && !out.empty() && out.back() != ' ') out += ' ';
  if (out.size() > 200) out = out.substr(0, 200) + "...";
  return out;
}

Observation observe(const json& container) {
  const json state = container.value("State", json::object());
  Observation seen;
  seen.running = state.value("Running", false);
  seen.restarting = state.value("Restarting", false);
  seen.restart_count = container.value("RestartCount", 0);
  seen.started_at = state.value("StartedAt", "");
  seen.exit_code = state.value("ExitCode", 0);
  if (state.contains("Health") && state["Health"].is_object()) {
    seen.health = state["Health"].value("Status", "");
    seen.failing_streak = state["Health"].value("FailingStreak", 0);
    auto log = state["Health"].value("Log", json::array());
    if (log.is_array() && !log.empty() && log.back().is_object())
      seen.health_output = "exit " + std::to_string(log.back().value("ExitCode", -1)) + ": " +
                           printable(log.back().value("Output", ""));
  }
  return seen;
}

// Runs the Healthcheck test inside the container; nullopt when it passed, else why not.
Expected<std::optional<std::string>, Error> exec_check(Engine& engine, const std::string& id, const json& test) {
  json cmd = json::array();
  std::string kind = test.empty() ? "" : test[0].get<std::string>();
  if (kind == "CMD-SHELL" && test.size() > 1) cmd = {"/bin/sh", "-c", test[1]};
  else for (std::size_t i = 1; i < test.size(); ++i) cmd.push_back(test[i]);
  auto created = engine.expect("POST", "/containers/" + util::percent_encode(id) + "/exec", {201, 200}, "exec in " + id,
                               {{"AttachStdout", true}, {"AttachStderr", true}, {"Cmd", cmd}});
  if (!created) return unexpected(created.error());
  std::string exec_id = created->value("Id", "");
  auto output = engine.call("POST", "/exec/" + exec_id + "/start", json{{"Detach", false}, {"Tty", false}}.dump());
  if (!output) return unexpected(output.error());
  auto result = engine.expect("GET", "/exec/" + exec_id + "/json", {200}, "exec result in " + id);
  if (!result) return unexpected(result.error());
  int code = result->value("ExitCode", -1);
  if (code == 0) return std::optional<std::string>();
  return std::optional<std::string>("exit " + std::to_string(code) + ": " + printable(output->body));
}

// podman's on-demand check; nullopt when the engine has no such endpoint.
std::optional<std::pair<bool, std::string>> libpod_check(Engine& engine, const std::string& id) {
  auto reply = engine.call("GET", "/v4.0.0/libpod/containers/" + util::percent_encode(id) + "/healthcheck", {}, {}, true);
  if (!reply || reply->status != 200) return std::nullopt;
  auto result = json::parse(reply->body, nullptr, false);
  if (!result.is_object()) return std::nullopt;
  std::string status = result.value("Status", "");
  std::string output;
  auto log = result.value("Log", json::array());
  if (log.is_array() && !log.empty())
    output = "exit " + std::to_string(log.back().value("ExitCode", -1)) + ": " + printable(log.back().value("Output", ""));
  return std::make_pair(status == "healthy", status + (output.empty() ? "" : " (" + output + ")"));
}

std::optional<std::string> probe_once(http::Client& client, const std::string& url) {
  auto response = client.request(http::Request{"GET", url, {}, {}});
  if (!response) return "probe " + http::redact_url(url) + ": " + response.error().str();
  if (response->status >= 200 && response->status < 300) return std::nullopt;
  return "probe " + http::redact_url(url) + " answered " + std::to_string(response->status);
}

}  // namespace

std::unique_ptr<http::Client> probe_client(const std::string& url, std::chrono::milliseconds timeout, bool insecure) {
  http::Options options;
  options.connect_timeout = options.read_timeout = options.write_timeout = timeout;
  options.max_redirects = 0;
  std::string rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  std::string authority = rest.substr(0, rest.find('/'));
  // Plain http is the probe's own choice (loopback); an https probe is verified unless the
  // target said `insecure: true`.
  options.hosts[authority].insecure = url.rfind("https://", 0) != 0 || insecure;
  return std::make_unique<http::Client>(options);
}

std::optional<std::string> wait_healthy(Engine& engine, const std::string& id, const HealthGate& gate,
                                        std::stop_token stop) {
  const auto begin = Clock::now();
  const auto deadline = begin + gate.policy.health_timeout;
  auto first = inspect_container(engine, id);
  if (!first) return first.error().str();
  const Observation initial = observe(*first);
  const json health = first->value("Config", json::object()).value("Healthcheck", json::object());
  json test = health.is_object() ? health.value("Test", json::array()) : json::array();
  bool has_check = test.is_array() && !test.empty() && test[0] != "NONE";
  int retries = health.is_object() && health.value("Retries", 0) > 0 ? health.value("Retries", 0) : 3;
  auto start_period = std::chrono::nanoseconds(health.is_object() ? health.value("StartPeriod", 0LL) : 0LL);
  std::unique_ptr<http::Client> prober;
  if (gate.policy.http_probe) prober = probe_client(*gate.policy.http_probe, gate.policy.health_timeout, gate.policy.insecure_probe);
  bool use_libpod = engine.podman();
  int failures = 0;
  std::string last = "no observation yet";
  auto stable_since = Clock::now();
  for (;;) {
    if (stop.stop_requested()) return "cancelled";
    auto inspected = inspect_container(engine, id);
    if (!inspected) return inspected.error().str();
    Observation now = observe(*inspected);
    if (now.restarting || now.restart_count > initial.restart_count || now.started_at != initial.started_at)
      return "restarting (restart count " + std::to_string(now.restart_count) + ")";
    if (!now.running) return "exited with code " + std::to_string(now.exit_code);
    if (prober) {
      auto failed = probe_once(*prober, *gate.policy.http_probe);
      if (!failed) return std::nullopt;
      last = *failed;
    } else if (has_check) {
      std::optional<std::string> failed;
      auto libpod = use_libpod ? libpod_check(engine, id) : std::nullopt;
      if (libpod) {
        if (!libpod->first) failed = libpod->second;
      } else if (engine.podman()) {
        use_libpod = false;  // no libpod endpoint after all: exec the test ourselves
        auto execed = exec_check(engine, id, test);
        if (!execed) return execed.error().str();
        failed = *execed;
      } else if (now.health == "healthy") {
        return std::nullopt;
      } else if (now.health == "unhealthy") {  // the engine ran the HEALTHCHECK its Retries times
        return "unhealthy: HEALTHCHECK run by the engine failed " + std::to_string(now.failing_streak) +
               " times in a row, last: " + now.health_output;
      } else {
        failed = "health " + (now.health.empty() ? std::string("unknown") : now.health);
      }
      if (!failed && (libpod || engine.podman())) return std::nullopt;
      if (failed) {
        last = *failed;
        if ((libpod || engine.podman()) && Clock::now() - begin >= start_period && ++failures >= retries)
          return "unhealthy: HEALTHCHECK failed " + std::to_string(failures) + " times in a row, last: " + last;
      }
    } else if (Clock::now() - stable_since >= gate.policy.stable_for) {
      return std::nullopt;
    } else {
      last = "running, not yet stable for " + std::to_string(gate.policy.stable_for.count()) + " ms";
    }
    if (Clock::now() >= deadline)
      return "health timeout after " + std::to_string(gate.policy.health_timeout.count()) + " ms: " + last;
    auto pause = std::min<Clock::duration>(gate.poll_interval, deadline - Clock::now());
    if (pause > Clock::duration::zero()) std::this_thread::sleep_for(pause);
  }
}

}  // namespace cascade::deploy::detail
