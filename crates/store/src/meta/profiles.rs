//! Metadata of browser profiles: kept per project, found by id or name, renamed, deleted, and
//! claimed by one session at a time.

use async_trait::async_trait;
use tapedeck_core::Profile;
use time::OffsetDateTime;

use super::Page;
use crate::StoreError;

/// Which of a project's profiles a listing holds; `None` filters nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileFilter {
    /// Only the profile with exactly this name.
    pub name: Option<String>,
    /// Only profiles whose name or id contains this, ignoring ASCII case.
    pub query: Option<String>,
}

/// Where browser profiles are kept.
///
/// A claim names the session using a profile. It lapses by itself once that session is no
/// longer running, or when its session was never stored and the claim is older than a launch
/// can take, so a crashed server or a failed create never leaves a profile locked.
#[async_trait]
pub trait ProfileMetadata: Send + Sync {
    /// Stores a new profile; [`StoreError::Duplicate`] when its project has one of its name.
    async fn insert_profile(&self, profile: &Profile) -> Result<(), StoreError>;
    /// Finds one of `project`'s profiles by id, or else by name. Another project's profile is
    /// not found.
    async fn find_profile(
        &self,
        project: &str,
        id_or_name: &str,
    ) -> Result<Option<Profile>, StoreError>;
    /// `project`'s profiles matching `filter`, oldest first, a page at a time.
    async fn list_profiles(
        &self,
        project: &str,
        filter: &ProfileFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Profile>, StoreError>;
    /// Renames profile `id` at `at`; [`StoreError::Duplicate`] when its project has another
    /// profile of that name.
    async fn rename_profile(
        &self,
        id: &str,
        name: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Deletes profile `id` unless a session holds it; false when one does (or it is gone).
    async fn delete_profile(&self, id: &str) -> Result<bool, StoreError>;
    /// Claims profile `id` for `session_id` (stored or about to be) at `at`, unless another
    /// session holds it; false when one does.
    async fn claim_profile(
        &self,
        id: &str,
        session_id: &str,
        save_changes: bool,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Ends `session_id`'s claim on profile `id`; nothing when it holds none.
    async fn release_profile(&self, id: &str, session_id: &str) -> Result<(), StoreError>;
    /// Notes that profile `id`'s archive was saved at `at`, `archive_bytes` long.
    async fn profile_saved(
        &self,
        id: &str,
        archive_bytes: u64,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The profile `session_id` holds, if any.
    async fn profile_of_session(&self, session_id: &str) -> Result<Option<Profile>, StoreError>;
}
