// SIGINT and SIGTERM during a run: the first asks the run to start nothing new and let
// running builds finish; the second also cancels the running builds. A thread waits for
// the signals (sigwait), so nothing unsafe runs in a signal handler.
#pragma once

#include <csignal>
#include <pthread.h>
#include <stop_token>
#include <thread>

namespace cascade::cli {

class SignalStop {
 public:
  /// Blocks SIGINT and SIGTERM in this thread (and threads started after) and watches them.
  SignalStop() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    sigaddset(&signals_, SIGUSR1);  // our own wake-up to end the watcher
    pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
    watcher_ = std::thread([this] {
      for (int count = 0;;) {
        int signal = 0;
        if (sigwait(&signals_, &signal) != 0 || signal == SIGUSR1) return;
        if (++count == 1) stop_.request_stop();
        else cancel_.request_stop();
      }
    });
  }
  ~SignalStop() {
    pthread_kill(watcher_.native_handle(), SIGUSR1);
    watcher_.join();
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;

  std::stop_token stop() const { return stop_.get_token(); }
  std::stop_token cancel() const { return cancel_.get_token(); }

 private:
  sigset_t signals_{}, previous_{};
  std::stop_source stop_, cancel_;
  std::thread watcher_;
};

}  // namespace cascade::cli
