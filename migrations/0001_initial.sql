-- gryt local schema, version 1.
-- Every record carries its sync bookkeeping from the start: the server's id
-- (remote_id), a sync status, when it was last synced, the last error, the last
-- synced copy (base_json, the base of three-way merges) and the server revision
-- that copy had (rev).

CREATE TABLE generations (
    generation_id     TEXT PRIMARY KEY,                -- client UUID
    version           TEXT NOT NULL UNIQUE,            -- normalised vX.Y.Z[-pre]
    description       TEXT,
    status            TEXT NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'promoted')),
    pipeline_template TEXT,
    created_at        TEXT NOT NULL,
    created_by        TEXT,
    promoted_at       TEXT,
    promoted_by       TEXT,
    updated_at        TEXT NOT NULL,
    team_id           TEXT,
    project           TEXT,
    remote_id         TEXT UNIQUE,
    sync_status       TEXT NOT NULL DEFAULT 'not_synced'
                      CHECK (sync_status IN ('not_synced', 'syncing', 'synced', 'conflict', 'failed')),
    last_synced_at    TEXT,
    sync_error        TEXT,
    base_json         TEXT,
    rev               INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE changes (
    generation_id TEXT NOT NULL REFERENCES generations (generation_id)
                  ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    change_id     TEXT NOT NULL,
    type          TEXT NOT NULL CHECK (type IN ('add', 'fix', 'refine', 'remove')),
    title         TEXT NOT NULL,
    description   TEXT,
    assignee      TEXT,
    PRIMARY KEY (generation_id, change_id)
);

CREATE TABLE evolutions (
    evolution_id    TEXT PRIMARY KEY,                  -- client UUID
    generation_id   TEXT NOT NULL REFERENCES generations (generation_id)
                    ON DELETE CASCADE,
    change_id       TEXT NOT NULL,
    rc              INTEGER NOT NULL,                  -- provisional until the server assigns it
    rc_provisional  INTEGER NOT NULL DEFAULT 1,
    code_name       TEXT NOT NULL,
    owner           TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'pass', 'fail')),
    started_at      TEXT NOT NULL,
    completed_at    TEXT,
    pipeline_run_id TEXT,
    remote_id       TEXT UNIQUE,
    sync_status     TEXT NOT NULL DEFAULT 'not_synced'
                    CHECK (sync_status IN ('not_synced', 'syncing', 'synced', 'conflict', 'failed')),
    last_synced_at  TEXT,
    sync_error      TEXT,
    base_json       TEXT,
    rev             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX evolutions_by_generation ON evolutions (generation_id, change_id, status);
CREATE INDEX evolutions_by_code_name ON evolutions (code_name);

CREATE TABLE pipeline_runs (
    run_id        TEXT PRIMARY KEY,                    -- client UUID
    pipeline      TEXT NOT NULL,
    evolution_id  TEXT REFERENCES evolutions (evolution_id) ON DELETE SET NULL,
    status        TEXT NOT NULL CHECK (status IN ('pass', 'fail')),
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
CREATE INDEX pipeline_runs_by_evolution ON pipeline_runs (evolution_id);

CREATE TABLE step_outputs (
    run_id      TEXT NOT NULL REFERENCES pipeline_runs (run_id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    command     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'skipped', 'timed_out')),
    exit_code   INTEGER,
    stdout      TEXT NOT NULL DEFAULT '',
    stderr      TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT,
    PRIMARY KEY (run_id, position)
);

-- Sync state of this workspace: the change-feed cursor, the last pull, the cloud URL,
-- the execution mode the last sync ran in.
CREATE TABLE sync_metadata (
    key        TEXT PRIMARY KEY,
    value      TEXT,
    updated_at TEXT NOT NULL
);
