// A run as text for the terminal: its summary, each task with its state, digests and
// timings, and the rollouts.
#include <cstdio>
#include <sstream>

#include "render.hpp"

namespace cascade::cli {

using nlohmann::json;

namespace {

// "sha256:1234567890ab" (12 hex digits), or "-".
std::string short_digest(const json& digest) {
  if (!digest.is_string()) return "-";
  std::string text = digest;
  auto colon = text.find(':');
  return colon == std::string::npos ? text : text.substr(0, std::min(text.size(), colon + 13));
}

std::string pad(const std::string& text, std::size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

std::size_t widest(const json& items, const char* key, std::size_t at_least) {
  std::size_t width = at_least;
  for (const auto& item : items) width = std::max(width, familiar(item.value(key, "")).size() + 2);
  return width;
}

}  // namespace

std::string plan_text(const json& plan) {
  std::ostringstream out;
  out << "plan for " << plan["query"].get<std::string>();
  for (const auto& [image, digest] : plan["trigger"].items()) out << "  (" << familiar(image) << " @ " << short_digest(digest) << ")";
  out << "\n";
  const json& steps = plan["steps"];
  std::size_t width = widest(steps, "image", 10);
  int builds = 0, skips = 0;
  for (const auto& step : steps) {
    std::string action = step["action"];
    (action == "build" ? builds : skips)++;
    out << "  " << pad(action, 6) << pad(familiar(step["image"]), width);
    std::string after;
    for (const auto& image : step["after"]) after += (after.empty() ? "" : ", ") + familiar(image);
    out << "after: " << pad(after.empty() ? "-" : after, 10) << "  " << step["reason"].get<std::string>() << "\n";
    if (step.contains("platforms") && !step["platforms"].empty()) {
      std::string platforms;
      for (const auto& platform : step["platforms"]) platforms += (platforms.empty() ? "" : ", ") + platform.get<std::string>();
      out << "         for " << platforms << " (one image index)\n";
    }
    if (step.contains("because") && step["depth"] == 0)
      for (const auto& why : step["because"]) out << "         because " << why.get<std::string>() << "\n";
    if (step.contains("workloads"))
      for (const auto& workload : step["workloads"])
        out << "         then roll out to " << workload["target"].get<std::string>() << "/"
            << workload["workload"].get<std::string>() << " (" << workload["instances"] << " running)\n";
  }
  out << builds << " to build, " << skips << " to skip\n";
  return terminal_safe(out.str());
}

std::string run_text(const json& run) {
  std::ostringstream out;
  const json& s = run["summary"];
  out << "run " << run["id"] << " " << run["state"].get<std::string>() << ": " << run["trigger"]["image"].get<std::string>();
  if (run["trigger"].value("urgent", false)) out << " (urgent)";
  if (run["trigger"]["digest"].is_string()) out << " @ " << short_digest(run["trigger"]["digest"]);
  out << "\n  " << s["pushed"] << " pushed, " << s["skipped"] << " skipped, " << s["failed"] << " failed, "
      << s["blocked"] << " blocked, " << s["pending"].get<int>() + s["building"].get<int>() + s["pushing"].get<int>()
      << " not done" << (s.value("vulnerable", 0) > 0 ? ", " + std::to_string(s["vulnerable"].get<int>()) +
                                                           " still vulnerable (not rolled out)" : "") << "\n";
  const json& tasks = run["tasks"];
  std::size_t width = widest(tasks, "image", 10);
  std::size_t worker_width = 0;  // a WORKER column once any task has one
  for (const auto& task : tasks)
    if (task.contains("worker") && task["worker"].is_string())
      worker_width = std::max(worker_width, task["worker"].get<std::string>().size() + 2);
  if (worker_width) worker_width = std::max<std::size_t>(worker_width, 8);
  out << "  " << pad("IMAGE", width) << pad("STATE", 9) << pad("OLD DIGEST", 21) << pad("NEW DIGEST", 21)
      << (worker_width ? pad("WORKER", worker_width) : "") << "TIME\n";
  for (const auto& task : tasks) {
    char seconds[32] = "-";
    if (task["seconds"].is_number()) std::snprintf(seconds, sizeof seconds, "%.1f s", task["seconds"].get<double>());
    out << "  " << pad(familiar(task["image"]), width) << pad(task["state"], 9) << pad(short_digest(task["old_digest"]), 21)
        << pad(short_digest(task["new_digest"]), 21);
    if (worker_width)
      out << pad(task.contains("worker") && task["worker"].is_string() ? task["worker"].get<std::string>() : "-",
                 worker_width);
    out << seconds;
    std::string state = task["state"];
    if (state == "failed" || state == "blocked" || state == "skipped") out << "  " << task["reason"].get<std::string>();
    out << "\n";
    if (state == "failed" && task["build_log"].is_string()) out << "      log: " << task["build_log"].get<std::string>() << "\n";
    if (task.contains("verdict") && task["verdict"].is_string()) {
      std::string verdict = task["verdict"];
      if (verdict.rfind("vulnerable", 0) == 0) out << "      STILL VULNERABLE, not rolled out: " << verdict << "\n";
      else if (run.contains("question")) out << "      verified " << verdict << "\n";
    }
  }
  if (run.contains("versions") && !run["versions"].empty()) {
    out << "  package versions (before -> after):\n";
    for (const auto& row : run["versions"])
      out << "    " << pad(familiar(row["image"]), width) << pad(row["package"], 10)
          << (row["before"].is_string() ? row["before"].get<std::string>() : "-") << " -> "
          << (row["after"].is_string() ? row["after"].get<std::string>() : "-") << "\n";
  }
  if (run.contains("rollouts")) {
    for (const auto& step : run["rollouts"]) {
      std::string state = step["state"];
      if (state == "updating") continue;
      out << "  rollout " << step["target"].get<std::string>() << "/" << step["workload"].get<std::string>() << "  "
          << state << "  " << step["detail"].get<std::string>() << "\n";
    }
  }
  if (run.contains("releases") && !run["releases"].empty()) {
    out << "  releases (held rollouts: from -> to digest):\n";
    for (const auto& release : run["releases"])
      out << "    " << release["target"].get<std::string>() << "/" << release["workload"].get<std::string>() << "  "
          << short_digest(release["from_digest"]) << " -> " << short_digest(release["to_digest"]) << "  "
          << release["state"].get<std::string>() << "  " << release["detail"].get<std::string>() << "\n";
  }
  if (run.contains("approvals"))
    for (const auto& approval : run["approvals"])
      out << "  " << approval["decision"].get<std::string>() << " by " << approval["actor"].get<std::string>()
          << (approval["target"].is_string() ? " for " + approval["target"].get<std::string>() : "")
          << (approval["urgent"].get<bool>() ? " (urgent)" : "") << " at " << approval["at"].get<std::string>()
          << (approval["comment"].get<std::string>().empty() ? "" : ": " + approval["comment"].get<std::string>())
          << "\n";
  return terminal_safe(out.str());
}

std::string runs_text(const json& runs) {
  std::ostringstream out;
  if (runs["runs"].empty()) return "no runs yet\n";
  out << "  RUN  STATE        CREATED                   TRIGGER\n";
  for (const auto& run : runs["runs"]) {
    char line[64];
    std::snprintf(line, sizeof line, "  %-4lld %-12s %-25s ", run["id"].get<long long>(),
                  run["state"].get<std::string>().c_str(), run["created_at"].get<std::string>().c_str());
    out << line << run["trigger"]["image"].get<std::string>() << "\n";
  }
  return terminal_safe(out.str());
}

}  // namespace cascade::cli
