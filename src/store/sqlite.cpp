// A thin RAII layer over the SQLite C API: connections, prepared statements, transactions,
// and SQLite result codes mapped to store::ErrorCode.
#include "sqlite.hpp"

#include <sqlite3.h>

namespace cascade::store::sql {

namespace {

ErrorCode code_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return ErrorCode::invalid_argument;
    case SQLITE_NOTADB: return ErrorCode::schema;
    default: return ErrorCode::io;
  }
}

}  // namespace

bool Failure::busy() const { return (result_code_ & 0xff) == SQLITE_BUSY; }

// ---- Statement ----------------------------------------------------------------------

Statement::Statement(Connection& connection, sqlite3_stmt* stmt, bool* in_use)
    : connection_(connection), stmt_(stmt), in_use_(in_use) {}

Statement::~Statement() {
  if (!in_use_) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  *in_use_ = false;
}

Statement& Statement::bind(int index, std::int64_t value) {
  if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) connection_.fail(rc);
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  int rc = sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) connection_.fail(rc);
  return *this;
}

Statement& Statement::bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }

Statement& Statement::bind(int index, std::nullopt_t) {
  if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) connection_.fail(rc);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::string>& value) {
  return value ? bind(index, *value) : bind(index, std::nullopt);
}

Statement& Statement::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bind(index, std::nullopt);
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  connection_.fail(rc);
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() { sqlite3_reset(stmt_); }

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  return text ? std::string(reinterpret_cast<const char*>(text), size) : std::string();
}

std::optional<std::int64_t> Statement::optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return int64(column);
}

std::optional<std::string> Statement::optional_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return text(column);
}

// ---- Connection ---------------------------------------------------------------------

Connection::Connection(const std::string& path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Failure(ErrorCode::io, "cannot open: " + message);
  }
}

Connection::~Connection() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  sqlite3_close(db_);
}

void Connection::fail(int rc) const {
  std::string message = sqlite3_errmsg(db_);
  // errmsg may describe an earlier call when this one failed outside the connection.
  if (sqlite3_extended_errcode(db_) != rc) message = sqlite3_errstr(rc);
  throw Failure(code_of(rc), message + " (sqlite " + std::to_string(rc) + ")", rc);
}

void Connection::exec(const std::string& sql) {
  if (int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK) fail(rc);
}

Statement Connection::prepare(const std::string& sql) {
  Cached& cached = cache_[sql];
  if (cached.stmt && !cached.in_use) {
    cached.in_use = true;
    return Statement(*this, cached.stmt, &cached.in_use);
  }
  sqlite3_stmt* stmt = nullptr;
  int flags = cached.stmt ? 0 : SQLITE_PREPARE_PERSISTENT;
  if (int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, flags, &stmt, nullptr); rc != SQLITE_OK) {
    if (!cached.stmt) cache_.erase(sql);
    fail(rc);
  }
  if (cached.stmt) return Statement(*this, stmt, nullptr);  // the cached one is busy
  cached.stmt = stmt;
  cached.in_use = true;
  return Statement(*this, stmt, &cached.in_use);
}

std::int64_t Connection::query_int(const std::string& sql) {
  Statement statement = prepare(sql);
  return statement.step() ? statement.int64(0) : 0;
}

std::string Connection::query_text(const std::string& sql) {
  Statement statement = prepare(sql);
  return statement.step() ? statement.text(0) : std::string();
}

std::int64_t Connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

int Connection::changes() const { return sqlite3_changes(db_); }

void Connection::set_busy_timeout(int milliseconds) { sqlite3_busy_timeout(db_, milliseconds); }

// ---- Transaction --------------------------------------------------------------------

Transaction::Transaction(Connection& connection, Mode mode) : connection_(connection) {
  connection_.prepare(mode == Mode::write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED").run();
}

Transaction::~Transaction() {
  if (open_) sqlite3_exec(connection_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  connection_.prepare("COMMIT").run();
  open_ = false;
}

}  // namespace cascade::store::sql
