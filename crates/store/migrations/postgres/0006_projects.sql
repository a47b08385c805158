-- Every session and test record belongs to the project of the API key that created it (test
-- runs and baselines through their record, recordings through their session). Rows from before
-- projects belong to the default project, which the first key's project is.
ALTER TABLE sessions ADD COLUMN project TEXT NOT NULL DEFAULT 'default';
-- A name identifies one live session at a time within a project; projects may reuse names.
DROP INDEX sessions_live_name;
CREATE UNIQUE INDEX sessions_live_name ON sessions (project, name)
    WHERE state = 'running' AND name IS NOT NULL;
DROP INDEX sessions_kind;
CREATE INDEX sessions_project_kind ON sessions (project, kind, created_at, id);

ALTER TABLE test_records ADD COLUMN project TEXT NOT NULL DEFAULT 'default';
