//! Metadata of session events: appended by the engine, read a page at a time, deleted by
//! retention.

use async_trait::async_trait;
use tapedeck_core::{EventKind, SessionEvent};
use time::OffsetDateTime;

use super::Page;
use crate::StoreError;

/// Which of a session's events a page holds; `None` filters nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events written after the event with this id: the cursor of the previous page.
    pub after_id: Option<i64>,
    /// Only events of this kind.
    pub kind: Option<EventKind>,
    /// Only events that began at or after this.
    pub since: Option<OffsetDateTime>,
    /// Only events that began before this.
    pub until: Option<OffsetDateTime>,
}

/// Where session events are kept.
#[async_trait]
pub trait EventMetadata: Send + Sync {
    /// Appends `events` in one transaction, in order; their `id`s are assigned here.
    async fn insert_events(&self, events: &mut [SessionEvent]) -> Result<(), StoreError>;
    /// Up to `limit` of `session_id`'s events matching `filter`, in the order they were
    /// written.
    async fn list_events(
        &self,
        session_id: &str,
        filter: &EventFilter,
        limit: u32,
    ) -> Result<Page<SessionEvent>, StoreError>;
    /// Deletes every event that began before `before`; returns how many.
    async fn delete_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}
