-- Evolution UUIDs were unique across the whole server, so creating one with a UUID taken in
-- another scope answered 409 and told a non-member that the UUID exists. They are unique per
-- scope, like generation UUIDs. SQLite cannot drop a column's UNIQUE constraint: the table
-- is rebuilt (no table references evolutions).
CREATE TABLE evolutions_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    evolution_id TEXT NOT NULL,
    generation_pk INTEGER NOT NULL REFERENCES generations(id),
    scope_id INTEGER NOT NULL REFERENCES scopes(id),
    change_id TEXT NOT NULL,
    rc INTEGER NOT NULL,
    code_name TEXT NOT NULL,
    status TEXT NOT NULL,
    pipeline_run_id TEXT,
    started_at TEXT,
    completed_at TEXT,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    rev INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
INSERT INTO evolutions_new (id, evolution_id, generation_pk, scope_id, change_id, rc, code_name,
    status, pipeline_run_id, started_at, completed_at, owner_id, created_by, created_at, rev,
    seq, deleted)
SELECT id, evolution_id, generation_pk, scope_id, change_id, rc, code_name, status,
    pipeline_run_id, started_at, completed_at, owner_id, created_by, created_at, rev, seq,
    deleted
FROM evolutions;
DROP TABLE evolutions;
ALTER TABLE evolutions_new RENAME TO evolutions;
CREATE UNIQUE INDEX evolutions_rc ON evolutions(generation_pk, rc);
CREATE INDEX evolutions_feed ON evolutions(scope_id, seq);
CREATE UNIQUE INDEX evolutions_uuid ON evolutions(scope_id, evolution_id);
