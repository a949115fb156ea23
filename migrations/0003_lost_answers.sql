-- What the operation waiting under `push_key` sent (a create or an update whose answer never
-- came): a retry sends exactly this again under the same key, and a pull merges against it
-- once the server shows the operation was applied.
ALTER TABLE generations ADD COLUMN sent_json TEXT;

-- Deletions of drafts that were never acknowledged by the server but whose create may have
-- reached it (the answer was lost or the push was killed). The server id is unknown, so the
-- deletion is kept by the generation's UUID until a pull shows whether the server has it.
CREATE TABLE pending_uuid_deletes (
    generation_id TEXT PRIMARY KEY,
    label         TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
