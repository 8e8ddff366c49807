#include "cascade/process.hpp"

#include <boost/asio.hpp>
#include <boost/process/v2.hpp>

#include <csignal>
#include <cstdlib>

namespace cascade::process {

namespace asio = boost::asio;
namespace bp = boost::process::v2;

std::string find_executable(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  auto found = bp::environment::find_executable(program);
  return found.empty() ? std::string() : found.string();
}

namespace {

// The child's environment as KEY=VALUE strings: the inherited one with `extra` applied.
// The caller keeps the vector alive until the child has started (Boost keeps pointers into it).
std::vector<std::string> environment_entries(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> entries;
  for (const auto& kv : bp::environment::current()) {
    std::string key = kv.key().string();
    if (!extra.count(key)) entries.push_back(kv.string());
  }
  for (const auto& [key, value] : extra) entries.push_back(key + "=" + value);
  return entries;
}

// Reads a pipe to its end, appending to `sink`.
void drain(asio::readable_pipe& pipe, std::string& sink) {
  auto buffer = std::make_shared<std::array<char, 16384>>();
  pipe.async_read_some(asio::buffer(*buffer), [&pipe, &sink, buffer](boost::system::error_code ec, std::size_t n) {
    sink.append(buffer->data(), n);
    if (!ec) drain(pipe, sink);
  });
}

}  // namespace

Expected<Result, std::string> run(const std::vector<std::string>& argv, const Options& options) {
  if (argv.empty()) return unexpected(std::string("no program to run"));
  std::string exe = find_executable(argv[0]);
  if (exe.empty()) return unexpected("cannot run " + argv[0] + ": not found on PATH");

  asio::io_context ctx;
  asio::readable_pipe out(ctx), err(ctx);
  asio::writable_pipe in(ctx);
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  Result result;
  boost::system::error_code ec;
  std::optional<bp::process> child;
  std::vector<std::string> environment = environment_entries(options.env);
  try {
    child.emplace(ctx, exe, args,
                  bp::process_stdio{in, out, err},
                  bp::process_start_dir(options.working_dir.empty() ? "." : options.working_dir),
                  bp::process_environment(environment));
  } catch (const std::exception& e) {
    return unexpected("cannot run " + argv[0] + ": " + e.what());
  }
  if (options.input) {
    auto data = std::make_shared<std::string>(*options.input);
    asio::async_write(in, asio::buffer(*data), [&in, data](boost::system::error_code, std::size_t) { in.close(); });
  } else {
    in.close();  // the child reads end-of-file at once
  }
  drain(out, result.out);
  drain(err, result.err);
  asio::steady_timer deadline(ctx);
  if (options.timeout) {
    deadline.expires_after(*options.timeout);
    deadline.async_wait([&](boost::system::error_code wait_ec) {
      if (!wait_ec && child->running()) {
        result.timed_out = true;
        boost::system::error_code kill_ec;
        child->terminate(kill_ec);
      }
    });
  }
  child->async_wait([&](boost::system::error_code, int) { deadline.cancel(); });
  ctx.run();
  int native = child->native_exit_code();
  if (WIFEXITED(native)) result.exit_code = WEXITSTATUS(native);
  else if (WIFSIGNALED(native)) result.exit_code = 128 + WTERMSIG(native);
  return result;
}

}  // namespace cascade::process
