-- Server administration (`gryt server user disable|enable|remove`, `api-key list`):
-- - disabled_at: set while an administrator has disabled the user; every password login and
--   every API key of the user is refused until it is cleared;
-- - removed_at: a removed user's row stays as a tombstone (its records stay with their
--   teams and scopes, and the name is never handed to someone else); it cannot log in;
-- - last_used_at: when an API key last signed an accepted request.
ALTER TABLE users ADD COLUMN disabled_at TEXT;
ALTER TABLE users ADD COLUMN removed_at TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;
