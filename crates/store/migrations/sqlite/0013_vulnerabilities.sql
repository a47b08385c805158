-- FAST's testing phase (see tapedeck_core::vulnerability): what each test run found, with the
-- proving test exchange as a HAR 1.2 entry (JSON). `found_at` is in microseconds. The run
-- keeps how many baselines were too unstable to attack and how many requests it sent.
CREATE TABLE vulnerabilities (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    test_run_id  BIGINT NOT NULL,
    baseline_id  BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    threat       INTEGER NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL,
    domain       TEXT NOT NULL,
    path         TEXT NOT NULL,
    method       TEXT NOT NULL,
    parameter    TEXT NOT NULL,
    payload      TEXT NOT NULL,
    exchange     TEXT NOT NULL,
    found_at     BIGINT NOT NULL
);
CREATE INDEX vulnerabilities_run ON vulnerabilities (test_run_id, id);
ALTER TABLE test_runs ADD COLUMN tech_failed_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE test_runs ADD COLUMN sent_requests_count BIGINT NOT NULL DEFAULT 0;
