-- `gryt generation list` counts proven changes by the newest completed proof of each
-- change's current definition (rc and fingerprint decide). The index the counts walk now
-- holds those columns too, so the count reads no evolution row; it serves every query the
-- narrower index served (same leading columns).
DROP INDEX IF EXISTS evolutions_by_generation;
CREATE INDEX evolutions_by_generation ON evolutions (generation_id, change_id, status, rc, fingerprint);
