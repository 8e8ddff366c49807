// The API's bounded worker pool and its shared, cached inventory refresh.
#include "workers.hpp"

namespace cascade::daemon {

Workers::Workers(std::size_t threads, std::size_t queue_limit) : queue_limit_(queue_limit) {
  for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i)
    threads_.emplace_back([this](std::stop_token stop) { loop(stop); });
}

Workers::~Workers() { stop(); }

bool Workers::post(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_ || jobs_.size() >= queue_limit_) return false;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void Workers::stop() {
  std::deque<Job> left;
  {
    std::lock_guard lock(mutex_);
    if (stopped_ && threads_.empty()) return;
    stopped_ = true;
    left.swap(jobs_);
    dropped_ += left.size();
  }
  for (auto& job : left)
    if (job.drop) job.drop();
  for (auto& thread : threads_) thread.request_stop();
  wake_.notify_all();
  threads_.clear();  // joins
}

std::size_t Workers::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void Workers::loop(std::stop_token stop) {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, stop, [&] { return !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    bool late = Clock::now() >= job.deadline || (job.abandoned && job.abandoned());
    if (late) {
      {
        std::lock_guard lock(mutex_);
        ++dropped_;
      }
      if (job.drop) job.drop();
      continue;
    }
    job.run();
  }
}

InventoryCache::InventoryCache(Fetch fetch, std::chrono::milliseconds max_age, std::size_t max_waiting)
    : fetch_(std::move(fetch)), max_age_(max_age), max_waiting_(max_waiting) {
  thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
}

InventoryCache::~InventoryCache() { stop(unexpected(std::string("the daemon is stopping"))); }

bool InventoryCache::get(Done done) {
  std::optional<Result> now;
  std::chrono::seconds age{0};
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return false;
    bool have = result_ && result_->has_value();
    bool fresh = have && Clock::now() - fetched_at_ < max_age_;
    if (have) {
      now = *result_;
      age = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - fetched_at_);
    } else {
      if (waiting_.size() >= max_waiting_) return false;
      waiting_.push_back(std::move(done));
    }
    if (!fresh && !refreshing_) {
      refreshing_ = true;
      wake = true;
    }
  }
  if (wake) wake_.notify_all();
  if (now) done(*now, age);
  return true;
}

void InventoryCache::stop(const Result& gone) {
  std::vector<Done> left;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  thread_.request_stop();
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mutex_);
    left.swap(waiting_);
  }
  for (auto& done : left) done(gone, std::chrono::seconds(0));
}

std::size_t InventoryCache::fetches() const {
  std::lock_guard lock(mutex_);
  return fetches_;
}

void InventoryCache::loop(std::stop_token stop) {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, stop, [&] { return refreshing_; });
      if (!refreshing_) return;
      ++fetches_;
    }
    Result fetched = unexpected(std::string("no inventory"));
    try {
      fetched = fetch_();
    } catch (const std::exception& failure) {
      fetched = unexpected(std::string("inventory: ") + failure.what());
    }
    std::vector<Done> answered;
    {
      std::lock_guard lock(mutex_);
      result_ = fetched;
      fetched_at_ = Clock::now();
      refreshing_ = false;
      answered.swap(waiting_);
    }
    for (auto& done : answered) done(fetched, std::chrono::seconds(0));
    if (stop.stop_requested()) return;
  }
}

}  // namespace cascade::daemon
