-- gryt local schema, version 5: cancelled evolutions and runs.
-- `gryt evolution cancel` ends an open evolution as 'cancelled' (final, proves nothing);
-- a `gryt run` stopped by SIGINT/SIGTERM is recorded as a 'cancelled' run whose interrupted
-- step is 'cancelled'. SQLite cannot change a CHECK constraint in place, so the three tables
-- are rebuilt: children are copied and dropped before their parents (foreign keys stay on,
-- and no ON DELETE action fires on a row that is kept), then the new tables take the old
-- names (which also renames the references between them).

CREATE TABLE evolutions_new (
    evolution_id    TEXT PRIMARY KEY,                  -- client UUID
    generation_id   TEXT NOT NULL REFERENCES generations (generation_id)
                    ON DELETE CASCADE,
    change_id       TEXT NOT NULL,
    rc              INTEGER NOT NULL,                  -- provisional until the server assigns it
    rc_provisional  INTEGER NOT NULL DEFAULT 1,
    code_name       TEXT NOT NULL,
    owner           TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'pass', 'fail', 'cancelled')),
    started_at      TEXT NOT NULL,
    completed_at    TEXT,
    pipeline_run_id TEXT,
    remote_id       TEXT UNIQUE,
    sync_status     TEXT NOT NULL DEFAULT 'not_synced'
                    CHECK (sync_status IN ('not_synced', 'syncing', 'synced', 'conflict', 'failed')),
    last_synced_at  TEXT,
    sync_error      TEXT,
    base_json       TEXT,
    rev             INTEGER NOT NULL DEFAULT 0,
    push_key        TEXT
);
INSERT INTO evolutions_new (evolution_id, generation_id, change_id, rc, rc_provisional,
    code_name, owner, status, started_at, completed_at, pipeline_run_id, remote_id,
    sync_status, last_synced_at, sync_error, base_json, rev, push_key)
SELECT evolution_id, generation_id, change_id, rc, rc_provisional, code_name, owner, status,
    started_at, completed_at, pipeline_run_id, remote_id, sync_status, last_synced_at,
    sync_error, base_json, rev, push_key
FROM evolutions;

CREATE TABLE pipeline_runs_new (
    run_id        TEXT PRIMARY KEY,                    -- client UUID
    pipeline      TEXT NOT NULL,
    evolution_id  TEXT REFERENCES evolutions_new (evolution_id) ON DELETE SET NULL,
    status        TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'cancelled')),
    started_at    TEXT NOT NULL,
    finished_at   TEXT NOT NULL,
    duration_ms   INTEGER NOT NULL,
    config_json   TEXT,
    remote_id     TEXT,
    sync_status   TEXT NOT NULL DEFAULT 'not_synced'
                  CHECK (sync_status IN ('not_synced', 'syncing', 'synced', 'conflict', 'failed')),
    last_synced_at TEXT,
    sync_error    TEXT
);
INSERT INTO pipeline_runs_new (run_id, pipeline, evolution_id, status, started_at, finished_at,
    duration_ms, config_json, remote_id, sync_status, last_synced_at, sync_error)
SELECT run_id, pipeline, evolution_id, status, started_at, finished_at, duration_ms,
    config_json, remote_id, sync_status, last_synced_at, sync_error
FROM pipeline_runs;

CREATE TABLE step_outputs_new (
    run_id      TEXT NOT NULL REFERENCES pipeline_runs_new (run_id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    command     TEXT NOT NULL,
    status      TEXT NOT NULL
                CHECK (status IN ('pass', 'fail', 'skipped', 'timed_out', 'cancelled')),
    exit_code   INTEGER,
    stdout      TEXT NOT NULL DEFAULT '',
    stderr      TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT,
    PRIMARY KEY (run_id, position)
);
INSERT INTO step_outputs_new (run_id, position, name, command, status, exit_code, stdout,
    stderr, duration_ms, started_at)
SELECT run_id, position, name, command, status, exit_code, stdout, stderr, duration_ms,
    started_at
FROM step_outputs;

DROP TABLE step_outputs;
DROP TABLE pipeline_runs;
DROP TABLE evolutions;
ALTER TABLE evolutions_new RENAME TO evolutions;
ALTER TABLE pipeline_runs_new RENAME TO pipeline_runs;
ALTER TABLE step_outputs_new RENAME TO step_outputs;

CREATE INDEX evolutions_by_generation ON evolutions (generation_id, change_id, status);
CREATE INDEX evolutions_by_code_name ON evolutions (code_name);
CREATE INDEX pipeline_runs_by_evolution ON pipeline_runs (evolution_id);
