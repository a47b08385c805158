//! SQL metadata through sqlx's `Any` driver: one code path for SQLite (the embedded default, a
//! file under the data directory) and PostgreSQL (several nodes sharing one database).
//!
//! Queries use `$N` placeholders, which both drivers accept, and each backend has its own
//! migrations of the same schema.

use std::path::Path;

use async_trait::async_trait;
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Executor, Row};
use tapedeck_core::{
    Recording, RecordingLimits, RecordingState, Session, SessionKind, SessionSpec, SessionState,
    StopReason,
};
use time::OffsetDateTime;

use super::fleet::NodeOwner;
use super::{Metadata, Page, RecordingFilter, SessionFilter};
use crate::StoreError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Longest wait for a database connection.
const DATABASE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0;
        match scheme {
            "sqlite" => Some(Self::Sqlite),
            "postgres" | "postgresql" => Some(Self::Postgres),
            _ => None,
        }
    }
}

/// Metadata in SQLite or PostgreSQL.
#[derive(Clone)]
pub struct SqlMetadata {
    pub(super) pool: AnyPool,
    pub(super) backend: Backend,
    /// Who the rows this node writes belong to; updates of sessions and recordings apply only
    /// to rows it still owns.
    pub(super) owner: NodeOwner,
}

impl SqlMetadata {
    /// Opens (creating if needed) the SQLite file at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let url = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .to_url_lossy();
        Self::open(url.as_str()).await
    }

    /// Connects to `database_url` (`sqlite:…` or `postgres://…`) and applies pending migrations.
    pub async fn open(database_url: &str) -> Result<Self, StoreError> {
        let backend = Backend::of(database_url).ok_or_else(|| {
            StoreError::Config(format!(
                "unsupported database URL {:?}: use sqlite:PATH or postgres://…",
                redact_password(database_url)
            ))
        })?;
        sqlx::any::install_default_drivers();
        let options: AnyConnectOptions = database_url.parse()?;
        // One connection first: a pool that cannot connect says only "pool timed out" after
        // its wait, where the connection says why (refused, unknown host, bad password).
        let redacted = || redact_password(database_url);
        match tokio::time::timeout(DATABASE_WAIT, AnyConnection::connect_with(&options)).await {
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
            }
            Ok(Err(e)) => {
                return Err(StoreError::Config(format!(
                    "cannot connect to {}: {e}",
                    redacted()
                )))
            }
            Err(_) => {
                return Err(StoreError::Config(format!(
                    "{} did not answer within {} s",
                    redacted(),
                    DATABASE_WAIT.as_secs()
                )))
            }
        }
        let pool = AnyPoolOptions::new()
            // A database that does not answer fails a request in seconds (503), never hangs it.
            .acquire_timeout(DATABASE_WAIT)
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 10,
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers proceed while a recording's state is written.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        // In WAL mode, NORMAL syncs at checkpoints rather than at every
                        // commit: a crash of the server loses nothing committed, and a power
                        // cut at most the last commits, never the database's integrity.
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Self {
            pool,
            backend,
            owner: NodeOwner::starting("local"),
        })
    }

    /// The same database, writing rows as `owner` (by default `local`, a fresh incarnation).
    pub fn with_owner(mut self, owner: NodeOwner) -> Self {
        self.owner = owner;
        self
    }

    /// The `WHERE` conditions of a [`SessionFilter`] on the sessions aliased `s`, in
    /// parameters `$first` to `$first + 5`, which [`bind_session_filter`] binds.
    fn session_conditions(&self, first: usize) -> String {
        let [project, kind, state, name, tag_key, tag_value] =
            std::array::from_fn(|i| format!("${}", first + i));
        // A tag is a key of the spec's `tags` object; the JSON functions differ by backend.
        let tag = match self.backend {
            Backend::Sqlite => format!("json_extract(s.spec, '$.tags.' || json_quote({tag_key}))"),
            Backend::Postgres => format!("(CAST(s.spec AS jsonb) -> 'tags' ->> {tag_key})"),
        };
        format!(
            "s.project = {project} AND ({kind} IS NULL OR s.kind = {kind})
             AND ({state} IS NULL OR s.state = {state})
             AND ({name} IS NULL OR LOWER(s.name) LIKE {name} ESCAPE '\\')
             AND ({tag_key} IS NULL OR {tag} = {tag_value})"
        )
    }

    /// An SQL expression of the database's clock, in microseconds since the epoch.
    pub(super) fn database_now(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
        }
    }
}

/// `Ok` when an update of `what` changed its row; [`StoreError::NotOwner`] when the row is no
/// longer this node's (the fleet found it lost and another node took the row over).
fn owned(done: sqlx::any::AnyQueryResult, what: &str, id: &str) -> Result<(), StoreError> {
    if done.rows_affected() == 0 {
        return Err(StoreError::NotOwner(format!("{what} {id}")));
    }
    Ok(())
}

/// Binds what [`SqlMetadata::session_conditions`] asks for, in its order.
fn bind_session_filter<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    project: &'q str,
    filter: &'q SessionFilter,
) -> Query<'q, Any, AnyArguments<'q>> {
    let (tag_key, tag_value) = filter.tag.as_ref().map(|(k, v)| (k, v)).unzip();
    query
        .bind(project)
        .bind(filter.kind.map(SessionKind::as_str))
        .bind(filter.state.map(SessionState::as_str))
        .bind(filter.name.as_deref().map(contains_pattern))
        .bind(tag_key)
        .bind(tag_value)
}

/// `text` lowercased, with `LIKE`'s wildcards and its escape (`\`) escaped, for a pattern
/// `… ESCAPE '\'` that matches it literally, ignoring ASCII case.
pub(super) fn like_literal(text: &str) -> String {
    let mut literal = String::with_capacity(text.len());
    for c in text.to_ascii_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            literal.push('\\');
        }
        literal.push(c);
    }
    literal
}

/// `query` as a `LIKE … ESCAPE '\'` pattern matching it anywhere, in lowercase.
pub(super) fn contains_pattern(query: &str) -> String {
    format!("%{}%", like_literal(query))
}

/// `database_url` with its password replaced by `***`, for error messages and logs. A URL
/// that does not parse is not echoed at all, since it may still hold a password.
pub fn redact_password(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Fails only for URLs that cannot have credentials, which have no password.
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(e) => format!("(a database URL that does not parse: {e})"),
    }
}

pub(super) fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

pub(super) fn from_micros(v: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {v}: {e}")))
}

pub(super) fn opt_from_micros(v: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    v.map(from_micros).transpose()
}

/// The first `limit` of `rows` (fetched with one more), and whether more exist: one page of
/// a list that asks for `limit + 1` rows instead of counting.
pub(super) fn page<T>(
    rows: &[AnyRow],
    limit: u32,
    from_row: fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let mut items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Ok(Page { items, has_more })
}

fn spec_json(spec: &SessionSpec) -> Result<String, StoreError> {
    serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(format!("session spec: {e}")))
}

fn parse_spec(spec: &str) -> Result<SessionSpec, StoreError> {
    serde_json::from_str(spec).map_err(|e| StoreError::Corrupt(format!("session spec: {e}")))
}

fn session_from_row(row: &AnyRow) -> Result<Session, StoreError> {
    let state: String = row.try_get("state")?;
    let spec: String = row.try_get("spec")?;
    Ok(Session {
        id: row.try_get("id")?,
        project: row.try_get("project")?,
        spec: parse_spec(&spec)?,
        state: SessionState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("session state {state:?}")))?,
        created_at: from_micros(row.try_get("created_at")?)?,
        deleted_at: opt_from_micros(row.try_get("deleted_at")?)?,
        end_reason: row.try_get("end_reason")?,
        node: row.try_get("owner_node")?,
    })
}

pub(super) fn recording_from_row(row: &AnyRow) -> Result<Recording, StoreError> {
    let state: String = row.try_get("state")?;
    let reason: Option<String> = row.try_get("stop_reason")?;
    let non_negative = |v: i64| u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v}")));
    Ok(Recording {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        state: RecordingState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("recording state {state:?}")))?,
        stop_reason: reason
            .map(|r| StopReason::parse(&r).ok_or_else(|| StoreError::Corrupt(r.clone())))
            .transpose()?,
        limits: RecordingLimits {
            framerate: row.try_get::<i64, _>("framerate")? as u32,
            max_duration_secs: non_negative(row.try_get("max_duration_secs")?)?,
            max_bytes: non_negative(row.try_get("max_bytes")?)?,
        },
        started_at: from_micros(row.try_get("started_at")?)?,
        finished_at: opt_from_micros(row.try_get("finished_at")?)?,
        storage_key: row.try_get("storage_key")?,
        size_bytes: row
            .try_get::<Option<i64>, _>("size_bytes")?
            .map(non_negative)
            .transpose()?,
        duration_ms: row
            .try_get::<Option<i64>, _>("duration_ms")?
            .map(non_negative)
            .transpose()?,
        problem: row.try_get("problem")?,
    })
}

#[async_trait]
impl Metadata for SqlMetadata {
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        let spec = spec_json(&session.spec)?;
        sqlx::query(
            "INSERT INTO sessions (id, name, state, spec, created_at, deleted_at, kind, project,
                end_reason, owner_node, owner_incarnation)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&session.id)
        .bind(&session.spec.name)
        .bind(session.state.as_str())
        .bind(spec)
        .bind(micros(session.created_at))
        .bind(session.deleted_at.map(micros))
        .bind(session.spec.kind.as_str())
        .bind(&session.project)
        .bind(&session.end_reason)
        .bind(&self.owner.node)
        .bind(&self.owner.incarnation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_session(
        &self,
        project: &str,
        id_or_name: &str,
        include_deleted: bool,
    ) -> Result<Option<Session>, StoreError> {
        // An id wins over a name; among names only live sessions count, since names are reused.
        let row = sqlx::query(
            "SELECT * FROM sessions
             WHERE project = $3 AND (id = $1 OR (name = $1 AND state = 'running'))
               AND ($2 OR state = 'running')
             ORDER BY (id = $1) DESC LIMIT 1",
        )
        .bind(id_or_name)
        .bind(include_deleted)
        .bind(project)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT * FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn list_sessions(
        &self,
        project: &str,
        filter: &SessionFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Session>, StoreError> {
        // One extra row tells whether another page exists without a COUNT query.
        let sql = format!(
            "SELECT * FROM sessions s WHERE {} ORDER BY s.created_at, s.id LIMIT $1 OFFSET $2",
            self.session_conditions(3)
        );
        let query = sqlx::query(&sql)
            .bind(i64::from(limit) + 1)
            .bind(i64::try_from(offset).unwrap_or(i64::MAX));
        let rows = bind_session_filter(query, project, filter)
            .fetch_all(&self.pool)
            .await?;
        page(&rows, limit, session_from_row)
    }

    async fn update_session_spec(&self, session: &Session) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET name = $1, spec = $2
             WHERE id = $3 AND state = 'running' AND owner_incarnation = $4",
        )
        .bind(&session.spec.name)
        .bind(spec_json(&session.spec)?)
        .bind(&session.id)
        .bind(&self.owner.incarnation)
        .execute(&self.pool)
        .await?;
        owned(done, "session", &session.id)
    }

    async fn mark_session_deleted(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        // A session already ended is not a conflict: the row has what it should.
        let done = sqlx::query(
            "UPDATE sessions SET state = 'deleted', deleted_at = $1
             WHERE id = $2 AND owner_incarnation = $3 AND state = 'running'",
        )
        .bind(micros(at))
        .bind(id)
        .bind(&self.owner.incarnation)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0
            && self
                .get_session(id)
                .await?
                .is_some_and(|s| s.state == SessionState::Running)
        {
            return Err(StoreError::NotOwner(format!("session {id}")));
        }
        Ok(())
    }

    async fn insert_recording(&self, r: &Recording) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO recordings (id, session_id, state, stop_reason, framerate,
                max_duration_secs, max_bytes, started_at, finished_at, storage_key, size_bytes,
                duration_ms, problem, owner_node, owner_incarnation)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&r.id)
        .bind(&r.session_id)
        .bind(r.state.as_str())
        .bind(r.stop_reason.map(StopReason::as_str))
        .bind(i64::from(r.limits.framerate))
        .bind(r.limits.max_duration_secs as i64)
        .bind(r.limits.max_bytes as i64)
        .bind(micros(r.started_at))
        .bind(r.finished_at.map(micros))
        .bind(&r.storage_key)
        .bind(r.size_bytes.map(|v| v as i64))
        .bind(r.duration_ms.map(|v| v as i64))
        .bind(&r.problem)
        .bind(&self.owner.node)
        .bind(&self.owner.incarnation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn update_recording(&self, r: &Recording) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE recordings SET state = $1, stop_reason = $2, finished_at = $3, storage_key = $4,
                size_bytes = $5, duration_ms = $6, problem = $7
             WHERE id = $8 AND owner_incarnation = $9",
        )
        .bind(r.state.as_str())
        .bind(r.stop_reason.map(StopReason::as_str))
        .bind(r.finished_at.map(micros))
        .bind(&r.storage_key)
        .bind(r.size_bytes.map(|v| v as i64))
        .bind(r.duration_ms.map(|v| v as i64))
        .bind(&r.problem)
        .bind(&r.id)
        .bind(&self.owner.incarnation)
        .execute(&self.pool)
        .await?;
        owned(done, "recording", &r.id)
    }

    async fn get_recording(&self, id: &str) -> Result<Option<Recording>, StoreError> {
        let row = sqlx::query("SELECT * FROM recordings WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(recording_from_row).transpose()
    }

    async fn list_recordings(&self, session_id: &str) -> Result<Vec<Recording>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM recordings WHERE session_id = $1 ORDER BY started_at, id")
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(recording_from_row).collect()
    }

    async fn list_project_recordings(
        &self,
        project: &str,
        filter: &RecordingFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<(Recording, SessionSpec)>, StoreError> {
        let sql = format!(
            "SELECT r.*, s.spec AS session_spec FROM recordings r JOIN sessions s
                ON s.id = r.session_id
             WHERE ($3 IS NULL OR r.started_at >= $3) AND ($4 IS NULL OR r.started_at < $4)
               AND {}
             ORDER BY r.started_at DESC, r.id DESC LIMIT $1 OFFSET $2",
            self.session_conditions(5)
        );
        let query = sqlx::query(&sql)
            .bind(i64::from(limit) + 1)
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .bind(filter.since.map(micros))
            .bind(filter.until.map(micros));
        let rows = bind_session_filter(query, project, &filter.session)
            .fetch_all(&self.pool)
            .await?;
        page(&rows, limit, |row| {
            let spec: String = row.try_get("session_spec")?;
            Ok((recording_from_row(row)?, parse_spec(&spec)?))
        })
    }

    async fn delete_recording(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM recordings WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn ended_recordings(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Recording>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM recordings
             WHERE state NOT IN ('recording', 'stopping') AND finished_at < $1
             ORDER BY finished_at LIMIT $2",
        )
        .bind(micros(before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording_from_row).collect()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use tapedeck_core::Viewport;

    #[test]
    fn redaction_hides_every_part_of_the_password() {
        assert_eq!(
            redact_password("postgres://tapedeck:s3cr@t@db:5432/tapedeck"),
            "postgres://tapedeck:***@db:5432/tapedeck"
        );
        assert_eq!(
            redact_password("postgres://tapedeck@db/tapedeck"),
            "postgres://tapedeck@db/tapedeck"
        );
        assert!(!redact_password("postgres://u:pw@[::1/x").contains("pw"));
    }

    /// A recording of `session_id` that is recording now.
    pub(in crate::meta) fn recording(id: &str, session_id: &str) -> Recording {
        Recording {
            id: id.into(),
            session_id: session_id.into(),
            state: RecordingState::Recording,
            stop_reason: None,
            limits: RecordingLimits {
                framerate: 10,
                max_duration_secs: 60,
                max_bytes: 1 << 20,
            },
            started_at: OffsetDateTime::now_utc(),
            finished_at: None,
            storage_key: None,
            size_bytes: None,
            duration_ms: None,
            problem: None,
        }
    }

    pub(in crate::meta) fn session(id: &str, name: Option<&str>) -> Session {
        in_project("team-a", id, name)
    }

    fn in_project(project: &str, id: &str, name: Option<&str>) -> Session {
        Session {
            id: id.into(),
            project: project.into(),
            spec: SessionSpec {
                name: name.map(Into::into),
                ..SessionSpec::browser(Viewport::default(), 60)
            },
            state: SessionState::Running,
            created_at: OffsetDateTime::now_utc(),
            deleted_at: None,
            end_reason: None,
            node: None,
        }
    }

    #[tokio::test]
    async fn sessions_by_id_or_name_paginate_and_free_names_on_delete() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqlMetadata::open_sqlite(&dir.path().join("m.db"))
            .await
            .unwrap();
        db.insert_session(&session("s1", Some("alpha")))
            .await
            .unwrap();
        db.insert_session(&session("s2", None)).await.unwrap();
        assert!(db
            .insert_session(&session("s3", Some("alpha")))
            .await
            .is_err());

        assert_eq!(
            db.find_session("team-a", "alpha", false)
                .await
                .unwrap()
                .unwrap()
                .id,
            "s1"
        );
        let running = SessionFilter {
            state: Some(SessionState::Running),
            ..SessionFilter::default()
        };
        let page = db.list_sessions("team-a", &running, 1, 0).await.unwrap();
        assert_eq!((page.items.len(), page.has_more), (1, true));
        let page = db.list_sessions("team-a", &running, 1, 1).await.unwrap();
        assert_eq!((page.items[0].id.as_str(), page.has_more), ("s2", false));

        db.mark_session_deleted("s1", OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert!(db
            .find_session("team-a", "s1", false)
            .await
            .unwrap()
            .is_none());
        assert!(db
            .find_session("team-a", "s1", true)
            .await
            .unwrap()
            .is_some());
        db.insert_session(&session("s3", Some("alpha")))
            .await
            .unwrap();
        assert_eq!(
            db.find_session("team-a", "alpha", true)
                .await
                .unwrap()
                .unwrap()
                .id,
            "s3"
        );

        let mut renamed = db
            .find_session("team-a", "s3", false)
            .await
            .unwrap()
            .unwrap();
        renamed.spec.name = Some("beta".into());
        renamed.spec.tags.insert("team".into(), "video".into());
        db.update_session_spec(&renamed).await.unwrap();
        assert!(db
            .find_session("team-a", "alpha", false)
            .await
            .unwrap()
            .is_none());
        let back = db
            .find_session("team-a", "beta", false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (back.id.as_str(), &back.spec.tags),
            ("s3", &renamed.spec.tags)
        );
    }

    #[tokio::test]
    async fn another_projects_sessions_are_not_found_and_names_are_per_project() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqlMetadata::open_sqlite(&dir.path().join("m.db"))
            .await
            .unwrap();
        db.insert_session(&in_project("team-a", "a1", Some("shared")))
            .await
            .unwrap();
        db.insert_session(&in_project("team-b", "b1", Some("shared")))
            .await
            .unwrap();
        for (project, own) in [("team-a", "a1"), ("team-b", "b1")] {
            let by_name = db.find_session(project, "shared", true).await.unwrap();
            assert_eq!(by_name.map(|s| s.id).as_deref(), Some(own));
            let listed = db
                .list_sessions(project, &SessionFilter::default(), 10, 0)
                .await
                .unwrap();
            assert_eq!(
                listed
                    .items
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>(),
                [own]
            );
        }
        assert!(db
            .find_session("team-b", "a1", true)
            .await
            .unwrap()
            .is_none());
        assert!(db
            .find_session("team-a", "b1", true)
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn recordings_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqlMetadata::open_sqlite(&dir.path().join("m.db"))
            .await
            .unwrap();
        db.insert_session(&session("s1", None)).await.unwrap();
        let mut rec = recording("r1", "s1");
        db.insert_recording(&rec).await.unwrap();
        rec.state = RecordingState::Finished;
        rec.stop_reason = Some(StopReason::Requested);
        rec.finished_at = Some(OffsetDateTime::now_utc());
        rec.storage_key = Some("storage://tapedeck/recordings/r1.mp4".into());
        rec.size_bytes = Some(1234);
        rec.duration_ms = Some(5000);
        rec.problem = Some("1 unreadable segment was left out".into());
        db.update_recording(&rec).await.unwrap();
        let back = db.get_recording("r1").await.unwrap().unwrap();
        assert_eq!(back.problem, rec.problem);
        assert_eq!(back.state, RecordingState::Finished);
        assert_eq!(back.size_bytes, Some(1234));
        assert_eq!(db.list_recordings("s1").await.unwrap().len(), 1);

        let finished = rec.finished_at.unwrap();
        let later = finished + time::Duration::seconds(1);
        assert!(db.ended_recordings(finished, 10).await.unwrap().is_empty());
        assert_eq!(db.ended_recordings(later, 10).await.unwrap(), vec![back]);
        db.delete_recording("r1").await.unwrap();
        assert!(db.get_recording("r1").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn sessions_and_recordings_filter_by_name_tag_state_and_start() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqlMetadata::open_sqlite(&dir.path().join("m.db"))
            .await
            .unwrap();
        let mut checkout = session("s1", Some("Checkout_100%"));
        checkout.spec.tags.insert("suite".into(), "smoke".into());
        db.insert_session(&checkout).await.unwrap();
        db.insert_session(&session("s2", Some("login")))
            .await
            .unwrap();
        db.insert_session(&in_project("team-b", "b1", Some("checkout")))
            .await
            .unwrap();
        db.mark_session_deleted("s2", OffsetDateTime::now_utc())
            .await
            .unwrap();
        let ids = |page: Page<Session>| page.items.into_iter().map(|s| s.id).collect::<Vec<_>>();
        let listed = |filter: SessionFilter| {
            let db = db.clone();
            async move { ids(db.list_sessions("team-a", &filter, 10, 0).await.unwrap()) }
        };
        let by_name = |name: &str| SessionFilter {
            name: Some(name.into()),
            ..SessionFilter::default()
        };
        assert_eq!(listed(by_name("CHECKOUT")).await, ["s1"]);
        // LIKE's wildcards in a name are literal: `_` and `%` match only themselves.
        assert!(listed(by_name("c_eckout")).await.is_empty());
        assert!(listed(by_name("kout%")).await.is_empty());
        assert_eq!(listed(by_name("t_100%")).await, ["s1"]);
        let tagged = |value: &str| SessionFilter {
            tag: Some(("suite".into(), value.into())),
            ..SessionFilter::default()
        };
        assert_eq!(listed(tagged("smoke")).await, ["s1"]);
        assert!(listed(tagged("nightly")).await.is_empty());
        let ended = SessionFilter {
            state: Some(SessionState::Deleted),
            ..SessionFilter::default()
        };
        assert_eq!(listed(ended).await, ["s2"]);
        let boxes = SessionFilter::of_kind(SessionKind::LinuxBox, true);
        assert!(listed(boxes).await.is_empty());

        let mut first = recording("r1", "s1");
        first.started_at -= time::Duration::hours(1);
        db.insert_recording(&first).await.unwrap();
        db.insert_recording(&recording("r2", "s1")).await.unwrap();
        db.insert_recording(&recording("r3", "s2")).await.unwrap();
        db.insert_recording(&recording("rb", "b1")).await.unwrap();
        let recordings = |filter: RecordingFilter| {
            let db = db.clone();
            async move {
                let page = db
                    .list_project_recordings("team-a", &filter, 2, 0)
                    .await
                    .unwrap();
                let ids: Vec<_> = page.items.iter().map(|(r, _)| r.id.clone()).collect();
                (ids, page.has_more)
            }
        };
        // Newest first, across sessions, never another project's.
        assert_eq!(
            recordings(RecordingFilter::default()).await,
            (vec!["r3".to_owned(), "r2".to_owned()], true)
        );
        let of_checkout = RecordingFilter {
            session: tagged("smoke"),
            ..RecordingFilter::default()
        };
        assert_eq!(
            recordings(of_checkout.clone()).await,
            (vec!["r2".to_owned(), "r1".to_owned()], false)
        );
        let earlier = RecordingFilter {
            until: Some(OffsetDateTime::now_utc() - time::Duration::minutes(30)),
            ..of_checkout
        };
        assert_eq!(recordings(earlier).await, (vec!["r1".to_owned()], false));
        let page = db
            .list_project_recordings("team-a", &RecordingFilter::default(), 1, 0)
            .await
            .unwrap();
        assert_eq!(page.items[0].1.name.as_deref(), Some("login"));
    }
}
