// The SQLite schema as numbered migrations. Migration N turns a version N-1 file into a
// version N file (PRAGMA user_version = N); each runs in its own transaction, so a crash
// leaves the file at N-1 or N. Never edit a released migration: add the next one.
//
// Conventions: STRICT tables; times are INTEGER milliseconds since the Unix epoch (UTC);
// states are the lower-case names of the C++ enums, checked by CHECK constraints; lists
// and maps are JSON text checked with json_valid.
#include "schema.hpp"

#include <string>
#include <vector>

namespace cascade::store::schema {

namespace {

// Version 1: runs, tasks, their history, latest digests, build durations.
const char* const kVersion1 = R"sql(
CREATE TABLE runs (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,  -- increasing, never reused
  trigger_kind   TEXT NOT NULL CHECK (trigger_kind IN ('cli', 'webhook', 'schedule', 'api')),
  trigger_image  TEXT NOT NULL,
  trigger_digest TEXT,                               -- NULL: the trigger named no digest
  trigger_actor  TEXT NOT NULL,                      -- who or what: "cli:alice", "webhook:harbor"
  pipeline_path  TEXT NOT NULL,
  state          TEXT NOT NULL
                 CHECK (state IN ('planned', 'running', 'succeeded', 'failed', 'interrupted')),
  created_at     INTEGER NOT NULL,
  started_at     INTEGER,                            -- first entry into running
  finished_at    INTEGER,                            -- entry into succeeded/failed/interrupted
  plan_json      TEXT NOT NULL CHECK (json_valid(plan_json))
) STRICT;
CREATE INDEX runs_by_state ON runs (state, id);

CREATE TABLE tasks (
  run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  image         TEXT NOT NULL,
  position      INTEGER NOT NULL,                    -- order in the plan
  source        TEXT NOT NULL,
  dockerfile    TEXT NOT NULL,
  recipe_commit TEXT NOT NULL,
  dependencies  TEXT NOT NULL CHECK (json_valid(dependencies)),  -- JSON list of images
  state         TEXT NOT NULL CHECK (state IN ('pending', 'building', 'pushing', 'pushed',
                                               'skipped', 'failed', 'blocked')),
  reason        TEXT NOT NULL,                       -- detail of the latest transition
  old_digest    TEXT,
  new_digest    TEXT,
  base_digests  TEXT NOT NULL CHECK (json_valid(base_digests)),  -- JSON map base image -> digest
  attempts      INTEGER NOT NULL CHECK (attempts >= 0),
  started_at    INTEGER,
  finished_at   INTEGER,
  duration_ms   INTEGER,
  build_log     TEXT,
  PRIMARY KEY (run_id, image)
) STRICT;

-- Append-only: rows are inserted with the change they record, never updated.
CREATE TABLE transitions (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  image      TEXT,                                   -- NULL: the run's own state changed
  from_state TEXT,                                   -- NULL: the run or task was created
  to_state   TEXT NOT NULL,
  detail     TEXT NOT NULL,
  at         INTEGER NOT NULL,
  FOREIGN KEY (run_id, image) REFERENCES tasks (run_id, image) ON DELETE CASCADE
) STRICT;
CREATE INDEX transitions_by_run ON transitions (run_id, id);
CREATE TRIGGER transitions_append_only BEFORE UPDATE ON transitions
BEGIN
  SELECT RAISE(ABORT, 'transitions are append-only');
END;

CREATE TABLE image_digests (
  image       TEXT PRIMARY KEY,
  digest      TEXT NOT NULL,
  observed_at INTEGER NOT NULL,
  source      TEXT NOT NULL CHECK (source IN ('pushed', 'registry')),
  run_id      INTEGER REFERENCES runs (id) ON DELETE SET NULL  -- the run that pushed it
) STRICT;

CREATE TABLE build_durations (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  image       TEXT NOT NULL,
  duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
  recorded_at INTEGER NOT NULL,
  run_id      INTEGER REFERENCES runs (id) ON DELETE SET NULL
) STRICT;
CREATE INDEX build_durations_by_image ON build_durations (image, id);
)sql";

// Version 2: trigger events, deploy history and quarantine (webhook and rollout work).
const char* const kVersion2 = R"sql(
CREATE TABLE events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  dedupe_key  TEXT NOT NULL UNIQUE,
  sender      TEXT NOT NULL,
  event_id    TEXT,                                  -- the sender's id, when it has one
  image       TEXT NOT NULL,
  digest      TEXT,
  received_at INTEGER NOT NULL,
  run_id      INTEGER REFERENCES runs (id) ON DELETE SET NULL  -- NULL: joined no run yet
) STRICT;
CREATE INDEX events_by_run ON events (run_id, id);

CREATE TABLE rollout_steps (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  target      TEXT NOT NULL,
  workload    TEXT NOT NULL,
  image       TEXT NOT NULL,
  from_digest TEXT,
  to_digest   TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('updating', 'healthy', 'failed', 'rolled_back')),
  detail      TEXT NOT NULL,
  at          INTEGER NOT NULL
) STRICT;
CREATE INDEX rollout_steps_by_run ON rollout_steps (run_id, id);

CREATE TABLE quarantine (
  image          TEXT NOT NULL,
  digest         TEXT NOT NULL,
  reason         TEXT NOT NULL,
  run_id         INTEGER REFERENCES runs (id) ON DELETE SET NULL,
  quarantined_at INTEGER NOT NULL,
  PRIMARY KEY (image, digest)
) STRICT;
)sql";

// Version 3: settled events (the daemon decided they need no run, and why) and the
// daemon's small key/value settings.
const char* const kVersion3 = R"sql(
ALTER TABLE events ADD COLUMN outcome TEXT;          -- NULL: not settled
-- What pending_events() reads after a restart: events that joined no run and were not settled.
CREATE INDEX events_pending ON events (id) WHERE run_id IS NULL AND outcome IS NULL;

CREATE TABLE settings (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
)sql";

// Version 4: image contents, and the verdict of the scan of each pushed image. Each layer's index (the package databases and os-release
// files it adds, replaces or deletes) stored once by digest; what each image digest is
// made of; the latest scan of each fleet image, external base, workload and pushed image.
const char* const kVersion4 = R"sql(
ALTER TABLE tasks ADD COLUMN verdict TEXT;           -- NULL: not verified
CREATE TABLE layers (
  digest             TEXT PRIMARY KEY,
  uncompressed_bytes INTEGER NOT NULL CHECK (uncompressed_bytes >= 0),
  whiteouts          TEXT NOT NULL CHECK (json_valid(whiteouts)),    -- JSON list of paths
  opaque_dirs        TEXT NOT NULL CHECK (json_valid(opaque_dirs)),  -- JSON list of paths
  indexed_at         INTEGER NOT NULL
) STRICT;

CREATE TABLE layer_files (
  layer          TEXT NOT NULL REFERENCES layers (digest) ON DELETE CASCADE,
  position       INTEGER NOT NULL,                  -- order in the layer
  path           TEXT NOT NULL,
  kind           TEXT NOT NULL CHECK (kind IN ('dpkg-status', 'dpkg-status.d', 'apk-installed',
                                               'rpmdb.sqlite', 'rpm-bdb', 'rpm-ndb', 'os-release')),
  problem        TEXT NOT NULL,                     -- '': indexed
  link           TEXT NOT NULL,                     -- '': not a symbolic link
  os_id          TEXT,                              -- os-release fields (NULL for databases)
  os_version_id  TEXT,
  os_version     TEXT,
  os_id_like     TEXT,
  os_pretty_name TEXT,
  PRIMARY KEY (layer, position)
) STRICT;

CREATE TABLE layer_packages (
  layer          TEXT NOT NULL,
  file_position  INTEGER NOT NULL,
  position       INTEGER NOT NULL,                  -- order in the database
  name           TEXT NOT NULL,
  version        TEXT NOT NULL,
  source_name    TEXT NOT NULL,
  source_version TEXT NOT NULL,
  architecture   TEXT NOT NULL,
  PRIMARY KEY (layer, file_position, position),
  FOREIGN KEY (layer, file_position) REFERENCES layer_files (layer, position) ON DELETE CASCADE
) STRICT;
-- A package question reads only the rows of the packages it names.
CREATE INDEX layer_packages_by_name ON layer_packages (name);
CREATE INDEX layer_packages_by_source ON layer_packages (source_name);

CREATE TABLE image_layers (
  digest       TEXT PRIMARY KEY,                    -- manifest or index digest
  image_digest TEXT NOT NULL,                       -- the platform's image manifest
  layers       TEXT NOT NULL CHECK (json_valid(layers)),  -- JSON list of layer digests, bottom first
  read_at      INTEGER NOT NULL
) STRICT;

-- Every digest each subject was seen at; the latest scan of a subject is its highest id.
CREATE TABLE image_scans (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  role       TEXT NOT NULL CHECK (role IN ('fleet', 'external', 'workload')),
  subject    TEXT NOT NULL,                         -- image reference, or target/workload
  image      TEXT NOT NULL,
  digest     TEXT NOT NULL,
  scanned_at INTEGER NOT NULL,
  UNIQUE (role, subject, digest)
) STRICT;
)sql";

// Version 5: what a run was asked, typed, and its plan as a versioned record.
//   trigger_action: the store::TriggerAction; trigger_args: its arguments as JSON
//   ({"globs": [...]} for a rebuild, {"advisories": [...]} or {"package": "..."} for a fix; NULL
//   when it has none). trigger_image stays the run's name as users see it, never parsed.
//   plan_version: the layout of the store::PlanRecord held in plan_json. A column rather than a
//   field inside the JSON: the rows written before this version have no field to carry it,
//   and the column (DEFAULT 0) marks exactly them. Version 0 is such a legacy row: plan_json
//   is the CLI's plan JSON of the time ({"query", "trigger": {image: digest}, "steps": [...]}),
//   trigger_action is the default and trigger_args NULL, the action and its arguments being
//   in trigger_image ("rebuild:a/*,b/*", "advisory:ID, ID", "package:CONSTRAINT"); the store
//   converts such a row when it reads it (records.cpp), and never writes one.
const char* const kVersion5 = R"sql(
ALTER TABLE runs ADD COLUMN trigger_action TEXT NOT NULL DEFAULT 'patch'
  CHECK (trigger_action IN ('patch', 'rebuild', 'fix', 'deploy'));
ALTER TABLE runs ADD COLUMN trigger_args TEXT CHECK (trigger_args IS NULL OR json_valid(trigger_args));
ALTER TABLE runs ADD COLUMN plan_version INTEGER NOT NULL DEFAULT 0 CHECK (plan_version >= 0);
)sql";

// Version 6: what a trigger event asks, typed.
//   action: the store::EventAction; source: the store::TriggerKind of who asked; args: its
//   arguments as JSON ({"globs": [...]} for a rebuild, {"advisories": [...]} for a fix; NULL
//   when it has none). image stays what users see of the event (GET /api/events), never parsed.
//   The rows written before this version get action and source 'legacy' (the defaults; the
//   store never writes them): their action and arguments are in image ("rebuild:N" of a
//   schedule firing, "refresh", "scan", "advisory:ID, ID"; anything else an image to patch) and
//   their source in sender ("schedule:NAME", "api"; else a webhook's). The store converts such
//   a row when it reads it (records.cpp) and leaves it as written.
const char* const kVersion6 = R"sql(
ALTER TABLE events ADD COLUMN action TEXT NOT NULL DEFAULT 'legacy'
  CHECK (action IN ('legacy', 'patch', 'rebuild', 'refresh', 'scan', 'fix'));
ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'legacy'
  CHECK (source IN ('legacy', 'cli', 'webhook', 'schedule', 'api') AND (source = 'legacy') = (action = 'legacy'));
ALTER TABLE events ADD COLUMN args TEXT CHECK (args IS NULL OR json_valid(args));
)sql";

// Version 7: which build worker built a task (the pipeline's builders.workers name; "local"
// for the implicit buildah worker). NULL: never started, or built before this version.
const char* const kVersion7 = R"sql(
ALTER TABLE tasks ADD COLUMN worker TEXT;
)sql";

// Version 8: release control. A run may wait in state awaiting (its releases held for an
// approval, a change window or an earlier wave), and may be urgent (it skips approvals and
// windows where the pipeline allows). The runs table is rebuilt: its state CHECK is part of
// the table's definition, which SQLite cannot alter in place. migrate() runs every migration
// with foreign key enforcement off (SQLite's procedure for rebuilding a table: dropping runs
// with it on would delete the tasks, transitions and rollout steps that reference it) and
// checks the foreign keys before committing. Ids and the AUTOINCREMENT counter carry over, so
// a run id is still never reused.
//   releases:      the rollouts a gated run holds, one per (run, target, workload)
//   approvals:     the decisions people made on awaiting runs, append-only
//   notifications: the outbox: one row per (destination, event id), kept after delivery
const char* const kVersion8 = R"sql(
CREATE TABLE runs_new (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,  -- increasing, never reused
  trigger_kind   TEXT NOT NULL CHECK (trigger_kind IN ('cli', 'webhook', 'schedule', 'api')),
  trigger_image  TEXT NOT NULL,
  trigger_digest TEXT,                               -- NULL: the trigger named no digest
  trigger_actor  TEXT NOT NULL,                      -- who or what: "cli:alice", "webhook:harbor"
  pipeline_path  TEXT NOT NULL,
  state          TEXT NOT NULL
                 CHECK (state IN ('planned', 'running', 'awaiting', 'succeeded', 'failed', 'interrupted')),
  created_at     INTEGER NOT NULL,
  started_at     INTEGER,                            -- first entry into running
  finished_at    INTEGER,                            -- entry into succeeded/failed/interrupted
  plan_json      TEXT NOT NULL CHECK (json_valid(plan_json)),
  trigger_action TEXT NOT NULL DEFAULT 'patch' CHECK (trigger_action IN ('patch', 'rebuild', 'fix', 'deploy')),
  trigger_args   TEXT CHECK (trigger_args IS NULL OR json_valid(trigger_args)),
  plan_version   INTEGER NOT NULL DEFAULT 0 CHECK (plan_version >= 0),
  urgent         INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1))  -- 1: skips approvals and windows where allowed
) STRICT;
INSERT INTO runs_new (id, trigger_kind, trigger_image, trigger_digest, trigger_actor, pipeline_path, state,
                      created_at, started_at, finished_at, plan_json, trigger_action, trigger_args, plan_version)
  SELECT id, trigger_kind, trigger_image, trigger_digest, trigger_actor, pipeline_path, state,
         created_at, started_at, finished_at, plan_json, trigger_action, trigger_args, plan_version FROM runs;
-- The old table's counter (it may be above its highest id) becomes the new table's.
DELETE FROM sqlite_sequence WHERE name = 'runs_new';
UPDATE sqlite_sequence SET name = 'runs_new' WHERE name = 'runs';
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_by_state ON runs (state, id);

CREATE TABLE releases (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  target      TEXT NOT NULL,                         -- deploy target name
  workload    TEXT NOT NULL,                         -- workload within the target
  image       TEXT NOT NULL,                         -- the fleet image it runs
  from_digest TEXT,                                  -- NULL: what it runs now is unknown
  to_digest   TEXT NOT NULL,
  wave        INTEGER NOT NULL CHECK (wave >= -1),   -- index into the pipeline's waves; -1: none
  policy      TEXT NOT NULL,                         -- the workload's io.cascade.policy ('' when none)
  state       TEXT NOT NULL CHECK (state IN ('held', 'rolling', 'done', 'failed', 'rejected', 'expired',
                                             'stopped', 'monitored')),
  detail      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  finished_at INTEGER,                               -- entry into a final state (all but held, rolling)
  UNIQUE (run_id, target, workload)
) STRICT;
CREATE INDEX releases_by_run ON releases (run_id, id);

CREATE TABLE approvals (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  target   TEXT NOT NULL,                            -- '': every target of the run
  actor    TEXT NOT NULL,
  approved INTEGER NOT NULL CHECK (approved IN (0, 1)),  -- 0: rejected
  comment  TEXT NOT NULL,
  urgent   INTEGER NOT NULL CHECK (urgent IN (0, 1)),    -- 1: the urgent override
  at       INTEGER NOT NULL
) STRICT;
CREATE INDEX approvals_by_run ON approvals (run_id, id);

CREATE TABLE notifications (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,    -- the order they were stored in
  destination  TEXT NOT NULL,                        -- the notify: entry's name
  event_id     TEXT NOT NULL,                        -- what the receiver sees; unique per destination
  event        TEXT NOT NULL,                        -- "run-started", "awaiting-approval", ...
  body         TEXT NOT NULL CHECK (json_valid(body)),
  attempts     INTEGER NOT NULL CHECK (attempts >= 0),  -- failed attempts so far
  next_at      INTEGER NOT NULL,                     -- when to try (again)
  delivered_at INTEGER,                              -- NULL: not delivered yet
  last_error   TEXT NOT NULL,                        -- '' until an attempt fails; never a secret
  created_at   INTEGER NOT NULL,
  UNIQUE (destination, event_id)
) STRICT;
-- What due_notifications() reads: the undelivered ones by when they are due.
CREATE INDEX notifications_due ON notifications (next_at, id) WHERE delivered_at IS NULL;
)sql";

const std::vector<const char*>& migrations() {
  static const std::vector<const char*> scripts = {kVersion1, kVersion2, kVersion3, kVersion4, kVersion5,
                                                   kVersion6, kVersion7, kVersion8};
  return scripts;
}

/// Turns foreign key enforcement off for its lifetime when it was on (outside a transaction).
class ForeignKeysOff {
 public:
  explicit ForeignKeysOff(sql::Connection& db) : db_(db), was_on_(db.query_int("PRAGMA foreign_keys") != 0) {
    if (was_on_) db_.exec("PRAGMA foreign_keys = OFF");
  }
  ~ForeignKeysOff() {
    if (!was_on_) return;
    try {
      db_.exec("PRAGMA foreign_keys = ON");
    } catch (const sql::Failure&) {  // only fails inside a transaction, which is never open here
    }
  }
  ForeignKeysOff(const ForeignKeysOff&) = delete;
  ForeignKeysOff& operator=(const ForeignKeysOff&) = delete;

 private:
  sql::Connection& db_;
  bool was_on_;
};

/// Throws Failure (schema) when a row references one that does not exist.
void check_foreign_keys(sql::Connection& db) {
  auto violations = db.prepare("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check LIMIT 1");
  if (violations.step())
    throw sql::Failure(ErrorCode::schema, "row " + violations.text(1) + " of table " + violations.text(0) +
                                              " references a missing row of " + violations.text(2));
}

}  // namespace

int latest_version() { return static_cast<int>(migrations().size()); }

void migrate(sql::Connection& db, int target) {
  int latest = latest_version();
  if (target <= 0 || target > latest) target = latest;
  int current = static_cast<int>(db.query_int("PRAGMA user_version"));
  if (current > latest)
    throw sql::Failure(ErrorCode::schema, "schema version " + std::to_string(current) +
                                              " is newer than this cascade supports (" + std::to_string(latest) +
                                              "); use a newer cascade binary");
  if (current >= target) return;
  // Off while migrating (it cannot change inside a transaction): a migration may rebuild a
  // table others reference (version 8), and each checks the keys itself before committing.
  ForeignKeysOff keys_off(db);
  for (int version = current + 1; version <= target; ++version) {
    sql::Transaction transaction(db);
    // Another process may have migrated between our read and our write lock.
    if (db.query_int("PRAGMA user_version") >= version) continue;
    try {
      db.exec(migrations()[version - 1]);
      check_foreign_keys(db);
      db.exec("PRAGMA user_version = " + std::to_string(version));
      transaction.commit();
    } catch (const sql::Failure& failure) {
      throw sql::Failure(failure.code(), "migration to schema version " + std::to_string(version) + ": " +
                                             failure.what());
    }
  }
}

}  // namespace cascade::store::schema
