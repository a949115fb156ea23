-- gryt-server schema 1 (PostgreSQL). Append-only: add new files, never edit this one.
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE teams (
    id BIGSERIAL PRIMARY KEY,
    team_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    owner_id BIGINT NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX teams_live_name ON teams(name) WHERE deleted = 0;
CREATE TABLE team_members (
    team_pk BIGINT NOT NULL REFERENCES teams(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (team_pk, user_id)
);
CREATE TABLE scopes (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT UNIQUE REFERENCES users(id),
    team_pk BIGINT UNIQUE REFERENCES teams(id),
    seq BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    secret_enc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
);
CREATE TABLE generations (
    id BIGSERIAL PRIMARY KEY,
    generation_id TEXT NOT NULL,
    scope_id BIGINT NOT NULL REFERENCES scopes(id),
    team_id TEXT,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    description TEXT,
    changes TEXT NOT NULL,
    pipeline_template TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    promoted_at TEXT,
    promoted_by TEXT,
    rev BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX generations_live_version ON generations(scope_id, project, version) WHERE deleted = 0;
CREATE UNIQUE INDEX generations_uuid ON generations(scope_id, generation_id);
CREATE INDEX generations_feed ON generations(scope_id, seq);
CREATE TABLE evolutions (
    id BIGSERIAL PRIMARY KEY,
    evolution_id TEXT NOT NULL UNIQUE,
    generation_pk BIGINT NOT NULL REFERENCES generations(id),
    scope_id BIGINT NOT NULL REFERENCES scopes(id),
    change_id TEXT NOT NULL,
    rc BIGINT NOT NULL,
    code_name TEXT NOT NULL,
    status TEXT NOT NULL,
    pipeline_run_id TEXT,
    started_at TEXT,
    completed_at TEXT,
    owner_id BIGINT NOT NULL REFERENCES users(id),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    rev BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX evolutions_rc ON evolutions(generation_pk, rc);
CREATE INDEX evolutions_feed ON evolutions(scope_id, seq);
CREATE TABLE pipeline_runs (
    id BIGSERIAL PRIMARY KEY,
    scope_id BIGINT NOT NULL REFERENCES scopes(id),
    pipeline_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (scope_id, pipeline_id)
);
CREATE TABLE idempotency (
    user_id BIGINT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    status BIGINT,
    body TEXT,
    etag TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_age ON idempotency(created_at);
CREATE TABLE seen_signatures (
    signature TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX seen_signatures_age ON seen_signatures(expires_at);
