//! The metadata repository: sessions, recordings, session events, recorded traffic, API keys
//! and browser profiles.
//!
//! The engine talks to the [`Metadata`] trait only; [`SqlMetadata`] implements it on SQLite (the
//! embedded default) and PostgreSQL.

mod api_keys;
mod events;
mod fleet;
mod profiles;
mod sql;
mod sql_api_keys;
mod sql_events;
mod sql_fleet;
mod sql_profiles;
mod sql_traffic;
mod sql_vulnerabilities;
mod traffic;
mod vulnerabilities;

use async_trait::async_trait;
use tapedeck_core::{Recording, Session, SessionKind, SessionSpec, SessionState};
use time::OffsetDateTime;

pub use api_keys::ApiKeyMetadata;
pub use events::{EventFilter, EventMetadata};
pub use fleet::{
    DatabaseTime, FleetMetadata, LostRows, NodeOwner, NodeRecord, NodeRegistration, RecordingRun,
    TakenOver,
};
pub use profiles::{ProfileFilter, ProfileMetadata};
pub use sql::{redact_password, SqlMetadata};
pub use traffic::{ExchangeFilter, ExchangeScope, TrafficMetadata};
pub use vulnerabilities::VulnerabilityMetadata;

use crate::StoreError;

/// One page of a listing, with whether more rows follow it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// True when rows exist after this page.
    pub has_more: bool,
}

/// Which of a project's sessions a listing holds; `None` filters nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only sessions of this kind.
    pub kind: Option<SessionKind>,
    /// Only sessions in this state; `None` holds running and ended ones alike.
    pub state: Option<SessionState>,
    /// Only sessions whose name contains this, ignoring ASCII case.
    pub name: Option<String>,
    /// Only sessions with this tag (a GBOX label) set to this value.
    pub tag: Option<(String, String)>,
}

impl SessionFilter {
    /// Sessions of `kind`, ended ones only when `include_deleted`: what a dialect's list shows.
    pub fn of_kind(kind: SessionKind, include_deleted: bool) -> Self {
        Self {
            kind: Some(kind),
            state: (!include_deleted).then_some(SessionState::Running),
            ..Self::default()
        }
    }
}

/// Which of a project's recordings a listing holds; `None` filters nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingFilter {
    /// Only recordings of the sessions this holds.
    pub session: SessionFilter,
    /// Only recordings started at or after this.
    pub since: Option<OffsetDateTime>,
    /// Only recordings started before this.
    pub until: Option<OffsetDateTime>,
}

/// Where sessions, recordings, session events, recorded traffic with its findings, API keys
/// and profiles are kept.
#[async_trait]
pub trait Metadata:
    TrafficMetadata
    + VulnerabilityMetadata
    + EventMetadata
    + ApiKeyMetadata
    + FleetMetadata
    + ProfileMetadata
    + Send
    + Sync
{
    /// Stores a new session. Fails when a live session of its project already has its name.
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    /// Finds one of `project`'s sessions by id, or by name among its live sessions; deleted
    /// ones only when asked. Another project's session is not found.
    async fn find_session(
        &self,
        project: &str,
        id_or_name: &str,
        include_deleted: bool,
    ) -> Result<Option<Session>, StoreError>;
    /// Finds a session by id in any project, deleted or not: for the server's own bookkeeping,
    /// never for a client's request.
    async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError>;
    /// `project`'s sessions matching `filter`, oldest first, a page at a time.
    async fn list_sessions(
        &self,
        project: &str,
        filter: &SessionFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Session>, StoreError>;
    /// Saves a running session's name and spec (the labels a client may change while it runs).
    async fn update_session_spec(&self, session: &Session) -> Result<(), StoreError>;
    /// Marks a session deleted at `at`; [`StoreError::NotOwner`] when it still runs but this
    /// node no longer owns it.
    async fn mark_session_deleted(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError>;
    /// Stores a new recording.
    async fn insert_recording(&self, recording: &Recording) -> Result<(), StoreError>;
    /// Saves a recording's state, stop reason, end and artifact; [`StoreError::NotOwner`] when
    /// this node no longer owns it.
    async fn update_recording(&self, recording: &Recording) -> Result<(), StoreError>;
    /// Finds a recording by id.
    async fn get_recording(&self, id: &str) -> Result<Option<Recording>, StoreError>;
    /// A session's recordings, oldest first.
    async fn list_recordings(&self, session_id: &str) -> Result<Vec<Recording>, StoreError>;
    /// `project`'s recordings whose session and start match `filter`, newest first, a page at
    /// a time, each with its session's spec (name, kind and tags).
    async fn list_project_recordings(
        &self,
        project: &str,
        filter: &RecordingFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<(Recording, SessionSpec)>, StoreError>;
    /// Deletes a recording's row; its blobs are the caller's to delete first.
    async fn delete_recording(&self, id: &str) -> Result<(), StoreError>;
    /// Up to `limit` recordings that ended before `before` (finalized, failed or discarded),
    /// oldest first: what retention deletes.
    async fn ended_recordings(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Recording>, StoreError>;
}
