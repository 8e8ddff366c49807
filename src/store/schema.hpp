// Versioned migrations of the SQLite schema (PRAGMA user_version).
#pragma once

#include "sqlite.hpp"

namespace cascade::store::schema {

/// The number of the last migration.
int latest_version();

/// Applies the migrations after the file's version up to `target` (the latest when 0),
/// each in its own transaction. Throws Failure (code schema) when the file's version is
/// newer than latest_version(); a failed migration is rolled back and its Failure
/// rethrown with the version in the message.
void migrate(sql::Connection& db, int target);

}  // namespace cascade::store::schema
