// `test:` commands run in the freshly built image before anything is pushed (see
// internal.hpp): a fresh container per test, the test's argv as its process (no shell, the
// image's entrypoint not used), the test's own timeout besides the build's, the container
// removed whatever happened, the first failure ending the build with TestFailed.
//
// A test's outcome is its exit code; what stops the test from running at all (no container
// of the image, the runtime or the engine failing) is told apart and classified like the
// build's own failures, so a flaky runtime is retried and a broken image is not.
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>

#include "internal.hpp"
#include "platforms.hpp"
#include "cascade/util/text.hpp"

namespace cascade::builder::detail {

namespace {

// "cascade-test-<16 hex digits>": random, as two builds of one run and image may share a storage or an engine.
std::string fresh_test_container_name() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::uint64_t value = generator();
  std::string name = "cascade-test-";
  for (int shift = 60; shift >= 0; shift -= 4) name += hex[(value >> shift) & 15];
  return name;
}

// "test 2 of 3": how the log and the errors name a test.
std::string test_label(const BuildRequest& request, std::size_t index) {
  return "test " + std::to_string(index + 1) + " of " + std::to_string(request.tests.size());
}

std::string on_platform(std::string_view platform) {
  return platform.empty() ? std::string() : " on " + std::string(platform);
}

// What a test ended with: a StepRun (any exit code, or its own timeout) when it ran; an
// Error when it could not run or the build was stopped.
using RunOneTest = std::function<Expected<StepRun, Error>(const TestCommand& test, const std::string& label)>;

Error test_failure(const BuildRequest& request, std::size_t index, std::string_view platform, const StepRun& run) {
  const TestCommand& test = request.tests[index];
  std::string outcome = run.timed_out ? "timed out after " + duration_text(test.timeout)
                                      : "exited with code " + std::to_string(run.exit_code);
  std::string message = request.image + ": " + test_label(request, index) + " failed" + on_platform(platform) + ": `" +
                        format_command(test.argv) + "` " + outcome;
  return Error{Error::Kind::test_failed, with_tail(std::move(message), run.output, request.log_path)};
}

// The tests in order, each through `run_one`; stops at the first failure.
Expected<double, Error> run_each_test(const StepContext& context, std::string_view platform, const RunOneTest& run_one) {
  const BuildRequest& request = context.request;
  double seconds = 0;
  for (std::size_t index = 0; index < request.tests.size(); ++index) {
    const TestCommand& test = request.tests[index];
    std::string label = test_label(request, index);
    append_log(request.log_path, "=== cascade " + label + on_platform(platform) + ": " + request.image + ": " +
                                     format_command(test.argv) + " (timeout " + duration_text(test.timeout) + ") ===\n");
    CASCADE_TRY_ASSIGN(StepRun run, run_one(test, label));
    seconds += run.seconds;
    if (run.timed_out || run.exit_code != 0) {
      append_log(request.log_path, "cascade: " + label + " failed" + on_platform(platform) + ": " +
                                       (run.timed_out ? "timed out after " + duration_text(test.timeout)
                                                      : "exit code " + std::to_string(run.exit_code)) +
                                       "; nothing is pushed\n");
      return unexpected(test_failure(request, index, platform, run));
    }
    char passed[64];
    std::snprintf(passed, sizeof passed, " passed in %.3f s\n", run.seconds);
    append_log(request.log_path, "cascade: " + label + on_platform(platform) + passed);
  }
  return seconds;
}

// Cleanup after a test: its own short deadline and no cancel token, so a cancelled or
// timed-out build still removes what its test left.
StepContext cleanup_context(const StepContext& build) {
  static const CancelToken never{};
  return StepContext{build.request, never, Clock::now() + std::chrono::seconds(60), build.kill_grace, build.masked};
}

// Removes a test container; best effort, said in the log when it fails and `must_exist`.
void remove_test_container(const Step& step, const StepContext& build, const std::string& container, bool must_exist) {
  auto removed = run_step(step, cleanup_context(build));
  if (must_exist && (!removed || removed->exit_code != 0))
    append_log(build.request.log_path, "cascade: the test container " + container + " was not removed\n");
}

}  // namespace

Expected<void, Error> check_tests(const BuildRequest& request) {
  for (std::size_t index = 0; index < request.tests.size(); ++index) {
    const TestCommand& test = request.tests[index];
    if (test.argv.empty() || test.argv.front().empty())
      return unexpected(Error{Error::Kind::setup, request.image + ": " + test_label(request, index) + " has no command"});
    if (test.timeout.count() <= 0)
      return unexpected(Error{Error::Kind::setup, request.image + ": " + test_label(request, index) +
                                                      " has a timeout of " + std::to_string(test.timeout.count()) +
                                                      "ms; give it one above zero"});
  }
  return {};
}

std::string duration_text(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::vector<std::string> buildah_test_from_argv(const BuildahOptions& options, const std::string& image_id,
                                                const std::string& container) {
  std::vector<std::string> argv = buildah_global_argv(options);
  append(argv, {"from", "--pull=never", "--quiet", "--name", container, image_id});
  return argv;
}

std::vector<std::string> buildah_test_run_argv(const BuildahOptions& options, const std::string& container,
                                               const TestCommand& test) {
  std::vector<std::string> argv = buildah_global_argv(options);
  append(argv, {"run", "--isolation", options.isolation, container, "--"});
  append(argv, test.argv);
  return argv;
}

std::vector<std::string> buildah_test_rm_argv(const BuildahOptions& options, const std::string& container) {
  std::vector<std::string> argv = buildah_global_argv(options);
  append(argv, {"rm", container});
  return argv;
}

Expected<double, Error> run_buildah_tests(const BuildahOptions& options, const StepContext& context,
                                          const std::map<std::string, std::string>& env, const std::string& image_id,
                                          std::string_view platform) {
  const BuildRequest& request = context.request;
  auto run_one = [&](const TestCommand& test, const std::string& label) -> Expected<StepRun, Error> {
    const std::string container = fresh_test_container_name();
    const Step remove{"buildah rm", buildah_test_rm_argv(options, container), env};
    auto made = run_step({"buildah from", buildah_test_from_argv(options, image_id, container), env}, context);
    if (!made || made->exit_code != 0) {
      remove_test_container(remove, context, container, false);  // a stopped `from` may have made it
      if (!made) return unexpected(made.error());
      return unexpected(step_error(Error::Kind::setup, "buildah from of the built image for " + label + " failed",
                                   request, *made));
    }
    auto ran = run_step({label, buildah_test_run_argv(options, container, test), env, test.timeout}, context);
    remove_test_container(remove, context, container, true);
    if (!ran) return unexpected(ran.error());
    if (!ran->timed_out && ran->exit_code != 0 && runtime_could_not_start(ran->output))
      return unexpected(step_error(Error::Kind::runtime_failed, label + ": the container runtime could not start it",
                                   request, *ran));
    return ran;
  };
  return run_each_test(context, platform, run_one);
}

std::vector<std::string> docker_test_run_argv(const DockerTestEngine& engine, const std::string& image_id,
                                              const std::string& container, const TestCommand& test) {
  std::vector<std::string> argv = engine.global;
  append(argv, {"run", "--rm", "--pull", "never", "--name", container});
  if (!engine.network.empty()) append(argv, {"--network", engine.network});
  append(argv, {"--entrypoint", test.argv.front(), image_id});
  argv.insert(argv.end(), test.argv.begin() + 1, test.argv.end());
  return argv;
}

Expected<double, Error> run_docker_tests(const DockerTestEngine& engine, const StepContext& context,
                                         const std::string& image_id) {
  const BuildRequest& request = context.request;
  auto run_one = [&](const TestCommand& test, const std::string& label) -> Expected<StepRun, Error> {
    const std::string container = fresh_test_container_name();
    auto ran = run_step({label, docker_test_run_argv(engine, image_id, container, test), engine.env, test.timeout},
                        context);
    // --rm removes a container that ended; one whose client was stopped is still running.
    if (!ran || ran->timed_out) {
      std::vector<std::string> remove = engine.global;
      append(remove, {"rm", "--force", container});
      remove_test_container({"docker rm", remove, engine.env}, context, container, true);
    }
    if (!ran || ran->timed_out || ran->exit_code == 0) return ran;
    if (docker_engine_unavailable(ran->output, engine.endpoint))
      return unexpected(step_error(Error::Kind::worker_unavailable,
                                   label + ": the Docker Engine at " + engine.endpoint + " is unavailable", request, *ran,
                                   last_line(ran->output)));
    // Exit 125 with the client's own "docker: Error response from daemon: ..." line: the
    // engine refused to run the container (no such network, a bad option), not the test.
    std::string last = last_line(ran->output);
    if (ran->exit_code == 125 && util::lowercase(last).starts_with("docker: "))
      return unexpected(step_error(Error::Kind::setup, "docker run for " + label + " failed", request, *ran, last));
    if (runtime_could_not_start(ran->output))
      return unexpected(step_error(Error::Kind::runtime_failed, label + ": the container runtime could not start it",
                                   request, *ran));
    return ran;
  };
  return run_each_test(context, "", run_one);
}

}  // namespace cascade::builder::detail
