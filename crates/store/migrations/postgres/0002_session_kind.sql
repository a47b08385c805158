-- Which dialect's kind of session a row is (browser, linux_box), so each lists only its own.
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'browser';
CREATE INDEX sessions_kind ON sessions (kind, created_at, id);
