// Release control records: held rollouts, approvals and the notification outbox.
// (Bodies being written: each answers "not implemented" until then.)
#include "sqlite_store.hpp"

namespace cascade::store {

namespace {
Error todo(const char* what) { return Error{ErrorCode::io, std::string(what) + ": not implemented yet"}; }
}  // namespace

Expected<void, Error> SqliteStore::add_releases(RunId, const std::vector<Release>&) { return unexpected(todo("add_releases")); }
Expected<std::vector<Release>, Error> SqliteStore::get_releases(RunId) { return std::vector<Release>{}; }
Expected<void, Error> SqliteStore::set_release_state(std::int64_t, ReleaseState, const std::string&) {
  return unexpected(todo("set_release_state"));
}
Expected<std::int64_t, Error> SqliteStore::record_approval(const Approval&) { return unexpected(todo("record_approval")); }
Expected<std::vector<Approval>, Error> SqliteStore::get_approvals(RunId) { return std::vector<Approval>{}; }
Expected<std::vector<Run>, Error> SqliteStore::awaiting_runs() { return std::vector<Run>{}; }
Expected<void, Error> SqliteStore::set_run_urgent(RunId) { return unexpected(todo("set_run_urgent")); }
Expected<void, Error> SqliteStore::enqueue_notifications(const std::vector<Notification>&) {
  return unexpected(todo("enqueue_notifications"));
}
Expected<std::vector<Notification>, Error> SqliteStore::due_notifications(Time, std::size_t) {
  return std::vector<Notification>{};
}
Expected<std::vector<Notification>, Error> SqliteStore::list_notifications(const std::string&) {
  return std::vector<Notification>{};
}
Expected<void, Error> SqliteStore::mark_delivered(const std::string&, const std::string&) {
  return unexpected(todo("mark_delivered"));
}
Expected<void, Error> SqliteStore::mark_attempt_failed(const std::string&, const std::string&, Time, const std::string&) {
  return unexpected(todo("mark_attempt_failed"));
}

}  // namespace cascade::store
