-- Team names were unique across the whole server, so creating a team answered 409 when a
-- stranger already used the name, telling a non-member that the team exists. A name is now
-- unique among one owner's live teams only.
DROP INDEX teams_live_name;
CREATE UNIQUE INDEX teams_live_owner_name ON teams(owner_id, name) WHERE deleted = 0;
