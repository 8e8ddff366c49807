// The store under crashes and concurrency: a child process killed with SIGKILL at random
// points while it writes, threads sharing one store, a second connection reading while
// one writes, and a second process writing the same file. Plus a (skipped) measurement of
// commits per second with synchronous=FULL and NORMAL.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "store_support.hpp"
#include "support.hpp"

using namespace cascade::test;
using st::RunState;
using st::TaskState;

namespace {

constexpr int kTasksPerRun = 8;

/// In a child process: the value of `result`, or exit(3) with the message on stderr.
template <typename T>
T must(cascade::Expected<T, st::Error> result) {
  if (!result) {
    std::fprintf(stderr, "child: %s\n", result.error().message.c_str());
    _exit(3);
  }
  if constexpr (!std::is_void_v<T>) return std::move(result).value();
}

/// Tells the parent, through a pipe, how many transitions this process has committed.
class Reporter {
 public:
  explicit Reporter(int fd) : fd_(fd) {}
  void committed(int transitions) {
    count_ += static_cast<std::uint64_t>(transitions);
    if (write(fd_, &count_, sizeof count_) != sizeof count_) _exit(4);
  }

 private:
  int fd_;
  std::uint64_t count_ = 0;
};

/// Runs `task` of `run` to pushed from wherever it stands, as an executor resuming after
/// a crash would: a task found building or pushing is requeued first; a pushed one is done.
void finish_task(st::Store& store, Reporter& report, st::RunId run, const st::Task& task) {
  switch (task.state) {
    case TaskState::pushed: return;
    case TaskState::building:
    case TaskState::pushing:
      must(store.transition_task(run, task.image, TaskState::pending, "requeued after restart"));
      report.committed(1);
      break;
    default: break;
  }
  must(store.transition_task(run, task.image, TaskState::building, "attempt"));
  report.committed(1);
  st::TaskUpdate built;
  built.base_digests = std::map<std::string, std::string>{{"docker.io/library/debian:12", "sha256:base"}};
  must(store.transition_task(run, task.image, TaskState::pushing, "built", built));
  report.committed(1);
  st::TaskUpdate pushed;
  pushed.new_digest = "sha256:" + std::string(64, 'e');
  must(store.transition_task(run, task.image, TaskState::pushed, "pushed", pushed));
  report.committed(1);
}

/// The child of the crash test: resumes the oldest unfinished run or starts a new one,
/// and finishes it; forever, or until no unfinished run is left when `until_done`.
[[noreturn]] void crash_child(const std::string& path, int report_fd, bool until_done) {
  Reporter report(report_fd);
  auto store = must(st::open_sqlite(path));
  for (;;) {
    auto unfinished = must(store->unfinished_runs());
    if (unfinished.empty() && until_done) _exit(0);
    st::RunId run = unfinished.empty() ? 0 : unfinished.front().id;
    RunState state = unfinished.empty() ? RunState::planned : unfinished.front().state;
    if (!run) {
      run = must(store->create_run(sample_run()));
      report.committed(1);
    }
    if (must(store->get_tasks(run)).empty()) {
      must(store->add_tasks(run, chain_tasks(kTasksPerRun)));
      report.committed(kTasksPerRun);
    }
    if (state == RunState::planned) {
      must(store->set_run_state(run, RunState::running));
      report.committed(1);
    }
    for (const auto& task : must(store->get_tasks(run))) finish_task(*store, report, run, task);
    must(store->set_run_state(run, RunState::succeeded));
    report.committed(1);
  }
}

struct Child {
  pid_t pid = -1;
  int reports = -1;  // read end of the report pipe
};

Child spawn_crash_child(const std::string& path, bool until_done) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    crash_child(path, fds[1], until_done);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

/// Reads reports until one reaches `target` (0: until the pipe closes); the latest count.
std::uint64_t read_reports(int fd, std::uint64_t target) {
  std::uint64_t latest = 0, value = 0;
  std::size_t have = 0;
  for (;;) {
    ssize_t got = read(fd, reinterpret_cast<char*>(&value) + have, sizeof value - have);
    if (got <= 0) return latest;
    have += static_cast<std::size_t>(got);
    if (have < sizeof value) continue;
    have = 0;
    latest = value;
    if (target && latest >= target) return latest;
  }
}

std::int64_t count_transitions(const std::string& path) {
  return std::stoll(RawDb(path).one("SELECT count(*) FROM transitions"));
}

/// Everything the file holds is consistent: SQLite's own checks, and every run's tasks
/// against their history; every run has all its tasks or none.
void check_file(const std::string& path) {
  {
    RawDb raw(path);
    CHECK(raw.one("PRAGMA integrity_check") == "ok");
    CHECK(raw.rows("PRAGMA foreign_key_check").empty());
  }
  auto store = open_store(path);
  for (const auto& run : ok(store->list_runs(1'000'000))) {
    INFO("run " << run.id);
    CHECK((run.summary.total == 0 || run.summary.total == kTasksPerRun));
    check_consistent(*store, run.id);
  }
}

/// Pushes `runs` runs of `tasks` tasks named prefix-N; appends failures to `errors`.
void write_runs(st::Store& store, int runs, int tasks, const std::string& prefix, std::vector<std::string>& errors) {
  auto note = [&](const auto& result) {
    if (!result) errors.push_back(result.error().message);
    return bool(result);
  };
  for (int i = 0; i < runs; ++i) {
    auto run = store.create_run(sample_run());
    if (!note(run)) return;
    if (!note(store.add_tasks(*run, chain_tasks(tasks, prefix)))) return;
    if (!note(store.set_run_state(*run, RunState::running))) return;
    for (int t = 0; t < tasks; ++t) {
      std::string image = prefix + std::to_string(t);
      st::TaskUpdate pushed;
      pushed.new_digest = "sha256:" + std::string(64, 'd');
      if (!note(store.transition_task(*run, image, TaskState::building, "attempt")) ||
          !note(store.transition_task(*run, image, TaskState::pushing, "built")) ||
          !note(store.transition_task(*run, image, TaskState::pushed, "pushed", pushed)))
        return;
    }
    if (!note(store.set_run_state(*run, RunState::succeeded))) return;
  }
}

}  // namespace

TEST_CASE("store::durability: SIGKILL at random points loses no committed transition") {
  TempDir dir;
  std::string path = (dir / "state.db").string();
  std::mt19937 random(20260101);
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    std::int64_t before = std::filesystem::exists(path) ? count_transitions(path) : 0;
    Child child = spawn_crash_child(path, false);
    std::uint64_t target = std::uniform_int_distribution<std::uint64_t>(1, 120)(random);
    std::uint64_t reported = read_reports(child.reports, target);
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(random)));
    kill(child.pid, SIGKILL);
    reported = std::max(reported, read_reports(child.reports, 0));
    close(child.reports);
    int status = 0;
    REQUIRE(waitpid(child.pid, &status, 0) == child.pid);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "the child failed before it was killed");
    CAPTURE(reported);
    std::int64_t after = count_transitions(path);
    // Every reported commit is there; at most one more call (add_tasks) committed unreported.
    CHECK(after >= before + static_cast<std::int64_t>(reported));
    CHECK(after <= before + static_cast<std::int64_t>(reported) + kTasksPerRun);
    check_file(path);
  }
  // A last, unkilled rerun finishes every run and rebuilds nothing that was pushed.
  Child child = spawn_crash_child(path, true);
  read_reports(child.reports, 0);
  close(child.reports);
  int status = 0;
  REQUIRE(waitpid(child.pid, &status, 0) == child.pid);
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  check_file(path);
  RawDb raw(path);
  CHECK(raw.one("SELECT count(*) FROM runs WHERE state != 'succeeded'") == "0");
  CHECK(raw.rows("SELECT run_id, image FROM transitions WHERE to_state = 'pushed' "
                 "GROUP BY run_id, image HAVING count(*) != 1").empty());
  CHECK(raw.one("SELECT count(*) FROM tasks WHERE state != 'pushed'") == "0");
}

TEST_CASE("store::concurrency") {
  TempDir dir;
  std::string path = (dir / "state.db").string();

  SUBCASE("four threads share one store") {
    auto store = open_store(path);
    std::mutex errors_mutex;
    std::vector<std::string> errors;
    std::atomic<int> new_events = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        std::vector<std::string> mine;
        write_runs(*store, 2, 10, "r.example.com/t" + std::to_string(t) + "-", mine);
        for (int e = 0; e < 20; ++e) {
          auto event = store->record_event({"evt-" + std::to_string(e), "generic", std::nullopt, "a:1", std::nullopt});
          if (!event) mine.push_back(event.error().message);
          else if (event->is_new) ++new_events;
          if (auto d = store->record_duration("a:1", std::chrono::milliseconds(t)); !d) mine.push_back(d.error().message);
        }
        std::lock_guard lock(errors_mutex);
        errors.insert(errors.end(), mine.begin(), mine.end());
      });
    for (auto& thread : threads) thread.join();
    CHECK(errors.empty());
    if (!errors.empty()) MESSAGE(errors.front());
    CHECK(new_events == 20);
    auto runs = ok(store->list_runs(100));
    REQUIRE(runs.size() == 8);
    for (const auto& run : runs) {
      CHECK(run.state == RunState::succeeded);
      CHECK(run.summary.pushed == 10);
      check_consistent(*store, run.id);
    }
    CHECK(ok(store->pending_events()).size() == 20);
    store.reset();
    CHECK(count_transitions(path) == 8 * (1 + 10 + 1 + 30 + 1));
  }

  SUBCASE("a second connection reads while one writes") {
    auto writer = open_store(path);
    auto reader = open_store(path);
    st::RunId run = ok(writer->create_run(sample_run()));
    std::vector<std::string> errors;
    std::atomic<bool> written = false;
    std::thread writing([&] {
      auto tasks = chain_tasks(30);
      if (auto added = writer->add_tasks(run, tasks); !added) errors.push_back(added.error().message);
      for (const auto& task : tasks) {
        if (errors.empty()) {
          auto done = writer->transition_task(run, task.image, TaskState::skipped, "already built");
          if (!done) errors.push_back(done.error().message);
        }
      }
      if (auto finished = writer->set_run_state(run, RunState::succeeded); !finished)
        errors.push_back(finished.error().message);
      written = true;
    });
    int reads = 0, last_skipped = 0;
    for (;;) {
      bool writer_done = written;  // read before the snapshot: then it shows every write
      auto seen = ok(reader->get_run(run));
      ++reads;
      CHECK((seen.summary.total == 0 || seen.summary.total == 30));  // add_tasks is one commit
      CHECK(seen.summary.skipped >= last_skipped);
      last_skipped = seen.summary.skipped;
      if (seen.state == RunState::succeeded || writer_done) break;
    }
    writing.join();
    CHECK(errors.empty());
    CHECK(last_skipped == 30);
    CHECK(reads > 1);
    check_consistent(*reader, run);
  }

  SUBCASE("processes opening a new file at once migrate it once") {
    std::vector<pid_t> children;
    for (int i = 0; i < 4; ++i) {
      pid_t pid = fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        auto store = st::open_sqlite(path);
        if (!store) std::fprintf(stderr, "child: %s\n", store.error().message.c_str());
        _exit(store && (*store)->create_run(sample_run()) ? 0 : 3);
      }
      children.push_back(pid);
    }
    for (pid_t pid : children) {
      int status = 0;
      REQUIRE(waitpid(pid, &status, 0) == pid);
      CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    CHECK(ok(open_store(path)->list_runs(10)).size() == 4);
    CHECK(RawDb(path).one("PRAGMA user_version") == std::to_string(st::latest_schema_version()));
  }

  SUBCASE("a second process writes the same file") {
    { auto store = open_store(path); }
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      std::vector<std::string> errors;
      auto store = st::open_sqlite(path);
      if (store) write_runs(**store, 3, 10, "r.example.com/child-", errors);
      _exit(store && errors.empty() ? 0 : 3);
    }
    auto store = open_store(path);
    std::vector<std::string> errors;
    write_runs(*store, 3, 10, "r.example.com/parent-", errors);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(errors.empty());
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    auto runs = ok(store->list_runs(100));
    CHECK(runs.size() == 6);
    for (const auto& run : runs) {
      CHECK(run.state == RunState::succeeded);
      check_consistent(*store, run.id);
    }
  }
}

TEST_CASE("store::measure commits per second, synchronous FULL vs NORMAL" * doctest::skip()) {
  for (auto sync : {st::StoreOptions::Sync::full, st::StoreOptions::Sync::normal}) {
    TempDir dir;
    auto options = test_options();
    options.sync = sync;
    auto store = open_store((dir / "state.db").string(), options);
    st::RunId run = ok(store->create_run(sample_run()));
    ok(store->add_tasks(run, chain_tasks(300)));
    auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < 300; ++t) push_task(*store, run, "r.example.com/img-" + std::to_string(t));
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    std::string name = sync == st::StoreOptions::Sync::full ? "FULL" : "NORMAL";
    MESSAGE(name << ": 900 transitions in " << took.count() << " s = " << 900 / took.count() << " transitions/s");
  }
}
