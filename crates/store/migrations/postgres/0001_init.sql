-- Sessions and their recordings: the same schema as migrations/sqlite. Timestamps are unix
-- microseconds (UTC), which sort and compare the same way in SQLite and PostgreSQL.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    name        TEXT,
    state       TEXT NOT NULL,
    spec        TEXT NOT NULL,          -- SessionSpec as JSON
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);
-- A name identifies one live session at a time; a deleted session frees its name.
CREATE UNIQUE INDEX sessions_live_name ON sessions (name) WHERE state = 'running' AND name IS NOT NULL;
CREATE INDEX sessions_created ON sessions (created_at, id);

CREATE TABLE recordings (
    id                TEXT PRIMARY KEY,
    session_id        TEXT NOT NULL REFERENCES sessions (id),
    state             TEXT NOT NULL,
    stop_reason       TEXT,
    framerate         BIGINT NOT NULL,
    max_duration_secs BIGINT NOT NULL,
    max_bytes         BIGINT NOT NULL,
    started_at        BIGINT NOT NULL,
    finished_at       BIGINT,
    storage_key       TEXT,
    size_bytes        BIGINT,
    duration_ms       BIGINT
);
CREATE INDEX recordings_session ON recordings (session_id, started_at);
CREATE INDEX recordings_state ON recordings (state);
