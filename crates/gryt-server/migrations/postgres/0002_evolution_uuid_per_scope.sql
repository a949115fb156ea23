-- Evolution UUIDs were unique across the whole server, so creating one with a UUID taken in
-- another scope answered 409 and told a non-member that the UUID exists. They are unique per
-- scope, like generation UUIDs.
ALTER TABLE evolutions DROP CONSTRAINT evolutions_evolution_id_key;
CREATE UNIQUE INDEX evolutions_uuid ON evolutions(scope_id, evolution_id);
