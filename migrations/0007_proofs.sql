-- gryt local schema, version 7: what a proof proved, and what a promotion promoted.

-- The git commit an evolution's result was established on (NULL outside git), whether the
-- work tree had uncommitted changes then, and the fingerprint of the change it proves (its
-- id, type and title; NULL for evolutions recorded before fingerprints existed).
ALTER TABLE evolutions ADD COLUMN commit_sha TEXT;
ALTER TABLE evolutions ADD COLUMN dirty INTEGER NOT NULL DEFAULT 0;
ALTER TABLE evolutions ADD COLUMN fingerprint TEXT;

-- The commit a pipeline run ran on and whether the tree was dirty.
ALTER TABLE pipeline_runs ADD COLUMN commit_sha TEXT;
ALTER TABLE pipeline_runs ADD COLUMN dirty INTEGER NOT NULL DEFAULT 0;

-- The commit a promotion checked (the tag goes there, whatever HEAD is later); the body of a
-- promotion waiting for the server under `promote_key` (re-sent byte for byte with that key);
-- and whether the release tag is still to be created once the server confirms.
ALTER TABLE generations ADD COLUMN promoted_commit TEXT;
ALTER TABLE generations ADD COLUMN promote_json TEXT;
ALTER TABLE generations ADD COLUMN tag_pending INTEGER NOT NULL DEFAULT 0;
