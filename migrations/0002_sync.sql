-- gryt local schema, version 2: the sync journal.

-- The Idempotency-Key of a record's pending push, written before the request is sent so a
-- retry after a crash or a lost answer re-sends the same key. Cleared by a local edit (new
-- content, new key) and by a successful push.
ALTER TABLE generations ADD COLUMN push_key TEXT;
ALTER TABLE evolutions ADD COLUMN push_key TEXT;
-- A promotion waiting for the server (made locally while no cloud was configured).
ALTER TABLE generations ADD COLUMN promote_key TEXT;

-- When sync_status = 'conflict': the server's copy (its wire JSON, with rev) and what
-- conflicts, as a JSON list of {kind, item}.
ALTER TABLE generations ADD COLUMN conflict_json TEXT;
ALTER TABLE generations ADD COLUMN conflict_kinds TEXT;

-- Deletions of synced drafts waiting to reach the server.
CREATE TABLE pending_deletes (
    remote_id  TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('generation', 'evolution')),
    label      TEXT NOT NULL,
    rev        INTEGER NOT NULL,
    push_key   TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- History of syncs: `gryt sync log`.
CREATE TABLE sync_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    direction  TEXT NOT NULL CHECK (direction IN ('pull', 'push', 'promote')),
    records    INTEGER NOT NULL DEFAULT 0,
    conflicts  INTEGER NOT NULL DEFAULT 0,
    requests   INTEGER NOT NULL DEFAULT 0,
    bytes      INTEGER NOT NULL DEFAULT 0,
    error      TEXT,
    detail     TEXT
);
