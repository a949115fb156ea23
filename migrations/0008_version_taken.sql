-- gryt local schema, version 8: "version taken" as a value, not a sentence.

-- Whether a generation's conflict is that another record holds its version on the server
-- (settled by renaming it here, or by taking the server's). Until now only the conflict's
-- wording in conflict_kinds said so, and queries matched that wording; from here on the
-- wording is for people and this column is for decisions.
ALTER TABLE generations ADD COLUMN version_taken INTEGER NOT NULL DEFAULT 0;
UPDATE generations SET version_taken = 1
 WHERE conflict_kinds LIKE '%version exists in the cloud%';
