-- sqlx's Any driver, which serves SQLite and PostgreSQL with one code path, cannot read a
-- SQLite column declared BOOLEAN. SQLite stored these flags as 0/1 integers all along; this
-- rebuilds the two tables with INTEGER flags and keeps every row and id.
CREATE TABLE test_runs_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    test_record_id  BIGINT NOT NULL REFERENCES test_records (id),
    spec            TEXT NOT NULL,      -- TestRunSpec as JSON
    state           TEXT NOT NULL,
    recording       INTEGER NOT NULL,   -- 0 or 1
    passed_count    BIGINT NOT NULL,
    failed_count    BIGINT NOT NULL,
    waiting_count   BIGINT NOT NULL,
    failures        TEXT NOT NULL,      -- [[baseline id, reason], ...] as JSON
    start_time      BIGINT NOT NULL,
    end_time        BIGINT
);
INSERT INTO test_runs_rebuilt SELECT id, test_record_id, spec, state, recording, passed_count,
    failed_count, waiting_count, failures, start_time, end_time FROM test_runs;
DROP TABLE test_runs;
ALTER TABLE test_runs_rebuilt RENAME TO test_runs;
CREATE INDEX test_runs_record ON test_runs (test_record_id);

CREATE TABLE baselines_rebuilt (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    test_record_id      BIGINT NOT NULL REFERENCES test_records (id),
    started_at          BIGINT NOT NULL,
    duration_ms         BIGINT NOT NULL,
    method              TEXT NOT NULL,
    url                 TEXT NOT NULL,
    request_headers     TEXT NOT NULL,  -- [[name, value], ...] as JSON
    request_body        BLOB NOT NULL,
    request_truncated   INTEGER NOT NULL,  -- 0 or 1
    status              INTEGER NOT NULL,
    response_headers    TEXT NOT NULL,
    response_body       BLOB NOT NULL,
    response_truncated  INTEGER NOT NULL   -- 0 or 1
);
INSERT INTO baselines_rebuilt SELECT id, test_record_id, started_at, duration_ms, method, url,
    request_headers, request_body, request_truncated, status, response_headers, response_body,
    response_truncated FROM baselines;
DROP TABLE baselines;
ALTER TABLE baselines_rebuilt RENAME TO baselines;
CREATE INDEX baselines_record ON baselines (test_record_id, id);
