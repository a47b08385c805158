-- Browser profiles (Kernel's): a Chromium user-data dir kept between sessions, stored in the
-- blob store as profiles/<id>.tar.zst once a session saved it (`archive_bytes` is its size).
-- A profile is used by one session at a time: `in_use_by` names the session that claimed it,
-- `in_use_since` when (microseconds, on the database's clock), and `save_changes` (0 or 1)
-- whether that session writes its user data back when it ends. A claim whose session has
-- ended, or was never stored, lapses by itself (see sql_profiles.rs), so a crash leaves no
-- profile locked.
CREATE TABLE profiles (
    id            TEXT PRIMARY KEY,
    project       TEXT NOT NULL,
    name          TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT,
    last_used_at  BIGINT,
    archive_bytes BIGINT,
    in_use_by     TEXT,
    in_use_since  BIGINT,
    save_changes  BIGINT NOT NULL DEFAULT 0
);
-- A name identifies one profile within a project; projects may reuse names.
CREATE UNIQUE INDEX profiles_name ON profiles (project, name) WHERE name IS NOT NULL;
CREATE INDEX profiles_project ON profiles (project, created_at, id);
CREATE INDEX profiles_in_use_by ON profiles (in_use_by);
