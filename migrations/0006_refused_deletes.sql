-- A deletion the server refused for good (403, 422...): the server's reason. It is not
-- re-sent by every push; `gryt sync status` lists it and `gryt sync resolve VERSION`
-- settles it (--theirs drops the deletion and the record comes back with the next pull,
-- --ours sends it again).
ALTER TABLE pending_deletes ADD COLUMN refused TEXT;
