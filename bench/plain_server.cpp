// The ceiling for the webhook benchmark: the same Beast server cascade serve runs, on the
// same number of io threads, answering every request 200 at once, with no work at all.
//     plain_server PORT [THREADS]
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cascade/http_server.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: plain_server PORT [THREADS]\n");
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  cascade::http::ServerOptions options;
  options.port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  if (argc > 2) options.threads = static_cast<std::size_t>(std::atoi(argv[2]));
  auto server = cascade::http::Server::start(options, [](cascade::http::ServerRequest&&, cascade::http::Respond respond) {
    respond(cascade::http::ServerResponse::json(202, "{\"accepted\":1}"));
  });
  if (!server) {
    std::fprintf(stderr, "plain_server: %s\n", server.error().c_str());
    return 1;
  }
  std::printf("listening on %u\n", static_cast<unsigned>((*server)->port()));
  std::fflush(stdout);
  int signal = 0;
  sigwait(&signals, &signal);
  (*server)->stop(std::chrono::milliseconds(1000));
  return 0;
}
