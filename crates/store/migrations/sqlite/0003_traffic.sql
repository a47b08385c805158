-- Traffic recording (FAST): test records hold baselines; test runs record into and replay them.
CREATE TABLE test_records (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE test_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    test_record_id  BIGINT NOT NULL REFERENCES test_records (id),
    spec            TEXT NOT NULL,      -- TestRunSpec as JSON
    state           TEXT NOT NULL,
    recording       BOOLEAN NOT NULL,
    passed_count    BIGINT NOT NULL,
    failed_count    BIGINT NOT NULL,
    waiting_count   BIGINT NOT NULL,
    failures        TEXT NOT NULL,      -- [[baseline id, reason], ...] as JSON
    start_time      BIGINT NOT NULL,
    end_time        BIGINT
);
CREATE INDEX test_runs_record ON test_runs (test_record_id);

CREATE TABLE baselines (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    test_record_id      BIGINT NOT NULL REFERENCES test_records (id),
    started_at          BIGINT NOT NULL,
    duration_ms         BIGINT NOT NULL,
    method              TEXT NOT NULL,
    url                 TEXT NOT NULL,
    request_headers     TEXT NOT NULL,  -- [[name, value], ...] as JSON
    request_body        BLOB NOT NULL,
    request_truncated   BOOLEAN NOT NULL,
    status              INTEGER NOT NULL,
    response_headers    TEXT NOT NULL,
    response_body       BLOB NOT NULL,
    response_truncated  BOOLEAN NOT NULL
);
CREATE INDEX baselines_record ON baselines (test_record_id, id);
