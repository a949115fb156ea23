-- What a proof proved and what a promotion promoted (all additions the reference client
-- ignores): the git commit an evolution's result was established on, whether the tree was
-- dirty, the fingerprint of the change it proves (id, type, title; filled in from the change
-- at creation when the client sends none), and the commit a promotion named.
ALTER TABLE evolutions ADD COLUMN commit_sha TEXT;
ALTER TABLE evolutions ADD COLUMN dirty INTEGER NOT NULL DEFAULT 0;
ALTER TABLE evolutions ADD COLUMN fingerprint TEXT;
ALTER TABLE generations ADD COLUMN promoted_commit TEXT;
