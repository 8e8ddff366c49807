// The worker threads of one run. Each job (a build, a rollout) runs on a thread of its own
// and posts its one result to a mailbox; the executor's loop takes results one at a time,
// joining the thread that posted each. Only the loop's thread starts and takes.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace cascade::executor::detail {

template <typename Result>
class Crew {
 public:
  Crew() = default;
  Crew(const Crew&) = delete;
  Crew& operator=(const Crew&) = delete;
  ~Crew() { threads_.clear(); }  // joins what still runs

  /// Runs `job` (a callable returning Result) on a new thread.
  template <typename Job>
  void start(Job job) {
    std::size_t id = next_++;
    threads_.emplace(id, std::jthread([this, id, job = std::move(job)]() mutable { post(id, job()); }));
  }

  /// Waits for the next result; the thread that posted it is joined.
  Result take() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return !posted_.empty(); });
    auto [id, result] = std::move(posted_.front());
    posted_.pop_front();
    lock.unlock();
    threads_.erase(id);
    return std::move(result);
  }

  /// Jobs started and not yet taken.
  std::size_t running() const { return threads_.size(); }

 private:
  void post(std::size_t id, Result result) {
    {
      std::lock_guard lock(mutex_);
      posted_.emplace_back(id, std::move(result));
    }
    ready_.notify_one();
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::pair<std::size_t, Result>> posted_;
  std::size_t next_ = 0;
  std::map<std::size_t, std::jthread> threads_;  // last: joined before the mailbox goes
};

}  // namespace cascade::executor::detail
