// An exclusive lock on a run, held by the process executing it (flock on a file under the
// state folder): a second process cannot resume a run that is still going, and a run whose
// process died (kill -9) is free to resume.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

namespace cascade::app {

class RunLock {
 public:
  /// Takes the lock at `path` (creating it), or nullopt when another process holds it.
  static std::optional<RunLock> try_acquire(const std::string& path) {
    std::error_code ignored;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return std::nullopt;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return std::nullopt;
    }
    return RunLock(fd);
  }
  RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunLock& operator=(RunLock&&) = delete;
  ~RunLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

inline std::string run_lock_path(const std::string& state_dir, long long run) {
  return state_dir + "/runs/run-" + std::to_string(run) + ".lock";
}

}  // namespace cascade::app
