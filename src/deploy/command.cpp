// The command target: one program run per rollout, with placeholders substituted in its
// argument vector and CASCADE_* variables in its environment.
#include "cascade/deploy_command.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cascade/process.hpp"

namespace cascade::deploy {

namespace {

namespace fs = std::filesystem;

const std::map<std::string, std::string> kSample{
    {"image", ""}, {"digest", ""}, {"old_digest", ""}, {"run", ""}, {"repository", ""}};

/// A file for the child's interleaved output, removed on destruction.
class OutputFile {
 public:
  OutputFile() {
    std::string pattern = (fs::temp_directory_path() / "cascade-command-XXXXXX").string();
    int fd = mkstemp(pattern.data());
    if (fd >= 0) {
      close(fd);
      path_ = pattern;
    }
  }
  ~OutputFile() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove(path_, ignored);
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// The last `count` non-empty lines of the file, joined by newlines.
std::string tail(const std::string& path, std::size_t count) {
  std::ifstream in(path, std::ios::binary);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    lines.push_back(std::move(line));
    if (lines.size() > count) lines.pop_front();
  }
  std::string out;
  for (const std::string& line : lines) out += (out.empty() ? "" : "\n") + line;
  return out;
}

std::string seconds(std::chrono::milliseconds duration) {
  std::ostringstream out;
  out << static_cast<double>(duration.count()) / 1000.0 << "s";
  return out.str();
}

/// Why a finished run failed, or empty when it succeeded.
std::string failure_reason(const process::Result& result, const CommandOptions& options, const std::string& output) {
  std::string reason;
  if (result.cancelled) reason = "cancelled";
  else if (result.timed_out) reason = "timed out after " + seconds(options.timeout);
  else if (result.exit_code != 0) reason = options.argv.front() + " exited with " + std::to_string(result.exit_code);
  else return {};
  if (!output.empty() && !result.cancelled) reason += ":\n" + output;
  return reason;
}

}  // namespace

Expected<std::string, std::string> substitute(std::string_view argument,
                                              const std::map<std::string, std::string>& values) {
  std::string out;
  for (std::size_t i = 0; i < argument.size(); ++i) {
    char ch = argument[i];
    bool doubled = i + 1 < argument.size() && argument[i + 1] == ch;
    if ((ch == '{' || ch == '}') && doubled) {
      out += ch;
      ++i;
      continue;
    }
    if (ch == '}') return unexpected(std::string("stray '}': write '}}' for a literal brace"));
    if (ch != '{') {
      out += ch;
      continue;
    }
    std::size_t close = argument.find('}', i);
    if (close == std::string_view::npos) return unexpected(std::string("unclosed '{': write '{{' for a literal brace"));
    std::string name(argument.substr(i + 1, close - i - 1));
    auto value = values.find(name);
    if (value == values.end())
      return unexpected("unknown placeholder {" + name + "}; known: {image}, {digest}, {old_digest}, {run}, {repository}");
    out += value->second;
    i = close;
  }
  return out;
}

Expected<std::unique_ptr<CommandTarget>, Error> CommandTarget::create(CommandOptions options) {
  if (options.argv.empty() || options.argv.front().empty())
    return unexpected(Error{ErrorKind::invalid, "command target '" + options.name + "': argv names no program"});
  for (const std::string& argument : options.argv) {
    auto checked = substitute(argument, kSample);
    if (!checked)
      return unexpected(Error{ErrorKind::invalid, "command target '" + options.name + "': argument '" + argument +
                                                      "': " + checked.error()});
  }
  return std::unique_ptr<CommandTarget>(new CommandTarget(std::move(options)));
}

std::string CommandTarget::name() const { return options_.name; }

Expected<std::vector<Workload>, Error> CommandTarget::inventory(const std::optional<reference::Reference>&) {
  return std::vector<Workload>{};
}

Expected<RolloutResult, Error> CommandTarget::rollout(const Workload& workload, const reference::Reference& new_image,
                                                      const RolloutPolicy&, const StepSink& record,
                                                      std::stop_token stop) {
  if (new_image.digest.empty())
    return unexpected(Error{ErrorKind::invalid, "command target '" + options_.name + "': image " + new_image.str() +
                                                    " has no digest; deploy repo@digest"});
  const std::string old_digest = workload.digest.value_or("");
  const std::map<std::string, std::string> values{{"image", new_image.str()},
                                                  {"digest", new_image.digest},
                                                  {"old_digest", old_digest},
                                                  {"run", options_.run},
                                                  {"repository", new_image.repository()}};
  std::vector<std::string> argv;
  for (const std::string& argument : options_.argv) argv.push_back(*substitute(argument, values));
  process::Options run_options;
  run_options.env = options_.env;
  run_options.env["CASCADE_IMAGE"] = values.at("image");
  run_options.env["CASCADE_DIGEST"] = values.at("digest");
  run_options.env["CASCADE_OLD_DIGEST"] = old_digest;
  run_options.env["CASCADE_RUN"] = options_.run;
  run_options.env["CASCADE_REPOSITORY"] = values.at("repository");
  run_options.timeout = options_.timeout;
  run_options.cancel = stop;
  OutputFile output;
  if (output.path().empty())
    return unexpected(Error{ErrorKind::invalid, "command target '" + options_.name + "': cannot create a temporary file"});
  run_options.output_file = output.path();

  Step step{workload.name, options_.name, old_digest, new_image.str(), StepState::updating, "running " + argv.front()};
  if (record) record(step);
  auto started = std::chrono::steady_clock::now();
  auto result = process::run(argv, run_options);
  if (!result) return unexpected(Error{ErrorKind::invalid, "command target '" + options_.name + "': " + result.error()});
  if (result->cancelled && result->exit_code == -1)
    return unexpected(Error{ErrorKind::cancelled, "command target '" + options_.name + "': cancelled before start"});

  RolloutResult rollout;
  InstanceResult instance;
  instance.name = options_.name;
  instance.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::string reason = failure_reason(*result, options_, tail(output.path(), options_.tail_lines));
  if (reason.empty()) {
    instance.outcome = InstanceOutcome::updated;
    step.state = StepState::healthy;
    step.detail = argv.front() + " exited with 0";
  } else {
    rollout.outcome = RolloutResult::Outcome::failed;
    rollout.reason = reason;
    instance.outcome = InstanceOutcome::failed;
    instance.detail = reason;
    step.state = StepState::failed;
    step.detail = reason;
  }
  rollout.instances.push_back(std::move(instance));
  if (record) record(step);
  return rollout;
}

Expected<void, Error> CommandTarget::recover(const std::string&, const RolloutPolicy&, const StepSink&) { return {}; }

}  // namespace cascade::deploy
