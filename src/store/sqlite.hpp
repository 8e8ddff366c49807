// A thin RAII layer over the SQLite C API for the store: a connection with a statement
// cache, statements with typed binds and columns, and an IMMEDIATE transaction guard.
//
// Failures throw sql::Failure. The store catches it once per public method (under its
// lock) and turns it into a store::Error naming the file and the operation; throwing
// here means an early exit anywhere inside a transaction always rolls it back.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "cascade/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace cascade::store::sql {

/// A failed database operation: the code a store::Error gets and what went wrong.
class Failure : public std::runtime_error {
 public:
  Failure(ErrorCode code, const std::string& message, int result_code = 0)
      : std::runtime_error(message), code_(code), result_code_(result_code) {}
  ErrorCode code() const { return code_; }
  /// True when SQLite gave up waiting for another connection's lock (SQLITE_BUSY).
  bool busy() const;

 private:
  ErrorCode code_;
  int result_code_;  // SQLite's extended result code; 0 when the failure is the store's own
};

class Connection;

/// A prepared statement borrowed from the connection's cache; reset when destroyed.
/// Bind indexes are 1-based, column indexes 0-based (as in SQLite).
class Statement {
 public:
  Statement(Connection& connection, sqlite3_stmt* stmt, bool* in_use);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::optional<std::string>& value);
  Statement& bind(int index, const std::optional<std::int64_t>& value);
  Statement& bind(int index, std::nullopt_t);
  /// Binds every argument in order, starting at index 1.
  template <typename... Args>
  Statement& bind_all(const Args&... values) {
    int index = 0;
    (bind(++index, values), ...);
    return *this;
  }

  /// Steps once; true when a row is available. Throws Failure on an error.
  bool step();
  /// Steps to completion, ignoring rows (INSERT/UPDATE/DELETE).
  void run();
  /// Makes the statement ready to run again (bindings kept until rebound).
  void reset();

  bool is_null(int column) const;
  std::int64_t int64(int column) const;
  std::string text(int column) const;
  std::optional<std::int64_t> optional_int64(int column) const;
  std::optional<std::string> optional_text(int column) const;

 private:
  Connection& connection_;
  sqlite3_stmt* stmt_;
  bool* in_use_;  // the cache slot's flag; nullptr for a statement owned by this object
};

/// One SQLite connection. Not thread-safe: the store serializes access with its mutex.
class Connection {
 public:
  /// Opens or creates the file; throws Failure (code io) when SQLite cannot open it.
  explicit Connection(const std::string& path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one or more statements without results (a script, a pragma); throws on error.
  void exec(const std::string& sql);
  /// A prepared statement for `sql` (kept in a cache keyed by the text); throws on error.
  Statement prepare(const std::string& sql);
  /// The single integer a query like "PRAGMA user_version" returns.
  std::int64_t query_int(const std::string& sql);
  std::string query_text(const std::string& sql);

  std::int64_t last_insert_rowid() const;
  int changes() const;
  void set_busy_timeout(int milliseconds);

  /// Throws the Failure for SQLite result code `rc` (with the connection's message).
  [[noreturn]] void fail(int rc) const;
  sqlite3* handle() const { return db_; }

 private:
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  sqlite3* db_ = nullptr;
  std::map<std::string, Cached> cache_;
};

/// A transaction; ROLLBACK unless commit() ran.
/// write: BEGIN IMMEDIATE takes the write lock now (waiting up to the busy timeout), so
///        a write never fails half-way on a lock upgrade;
/// read:  BEGIN DEFERRED, so several SELECTs see one snapshot.
class Transaction {
 public:
  enum class Mode { write, read };
  explicit Transaction(Connection& connection, Mode mode = Mode::write);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  /// COMMIT; throws Failure when it fails (the transaction is rolled back then).
  void commit();

 private:
  Connection& connection_;
  bool open_ = true;
};

}  // namespace cascade::store::sql
