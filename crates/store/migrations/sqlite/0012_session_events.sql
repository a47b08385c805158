-- Session events (see tapedeck_core::event): input on a session's screen and the stretches in
-- which its recording's screen changed, for the timeline under its recordings. `at` is the
-- wall-clock start in microseconds, `elapsed_ms` the session's monotonic clock, `payload` a
-- JSON object. `id` orders events as they were written and is the paging cursor.
CREATE TABLE session_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    at         BIGINT NOT NULL,
    elapsed_ms BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL
);
CREATE INDEX session_events_session ON session_events (session_id, id);
