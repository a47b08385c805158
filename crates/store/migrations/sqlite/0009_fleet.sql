-- The fleet: the nodes sharing this database, and which node (and which start of it, its
-- incarnation) owns each session, recording and test run. A node recovers only rows it owns;
-- a node found lost has its rows taken over by one survivor, and updates are conditional on
-- the owner, so a node declared lost cannot overwrite what was recovered.
CREATE TABLE nodes (
    id              TEXT PRIMARY KEY,
    incarnation     TEXT NOT NULL,
    internal_url    TEXT NOT NULL,
    capacity        BIGINT NOT NULL,
    active_sessions BIGINT NOT NULL,
    draining        INTEGER NOT NULL,   -- 0 or 1 (see 0004)
    lost            INTEGER NOT NULL,   -- 0 or 1
    started_at      BIGINT NOT NULL,
    heartbeat_at    BIGINT NOT NULL     -- microseconds, on the database's clock
);
ALTER TABLE sessions ADD COLUMN owner_node TEXT;
ALTER TABLE sessions ADD COLUMN owner_incarnation TEXT;
ALTER TABLE sessions ADD COLUMN end_reason TEXT;
ALTER TABLE recordings ADD COLUMN owner_node TEXT;
ALTER TABLE recordings ADD COLUMN owner_incarnation TEXT;
ALTER TABLE test_runs ADD COLUMN owner_node TEXT;
ALTER TABLE test_runs ADD COLUMN owner_incarnation TEXT;
CREATE INDEX sessions_owner ON sessions (owner_node, state);
CREATE INDEX recordings_owner ON recordings (owner_node, state);
CREATE INDEX test_runs_owner ON test_runs (owner_node, state);
