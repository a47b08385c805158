//! Where a session's objects live in the blob store, and the reverse: which session owns a key.
//!
//! Every storage-key layout the engine writes is built here, so the reverse lookup in
//! [`Engine::owner_of`] cannot drift from what was written.

use tapedeck_core::{id, EngineError};
use tapedeck_store::StorageKey;

use crate::Engine;

/// Folder of a recording's segments until it is finalized.
pub(crate) fn parts_prefix(recording_id: &str) -> String {
    format!("recordings/{recording_id}/parts")
}

/// One of a recording's parts (`init.mp4` or a segment) by its spool file name.
pub(crate) fn part_key(recording_id: &str, file: &str) -> Result<StorageKey, EngineError> {
    Ok(StorageKey::for_path(&format!(
        "{}/{file}",
        parts_prefix(recording_id)
    ))?)
}

/// A recording's final MP4.
pub(crate) fn recording_key(recording_id: &str) -> Result<StorageKey, EngineError> {
    Ok(StorageKey::for_path(&format!(
        "recordings/{recording_id}.mp4"
    ))?)
}

/// A new object of a session's own, `sessions/<session>/<folder>/<new id>.<extension>`.
pub(crate) fn session_object_key(
    session_id: &str,
    folder: &str,
    extension: &str,
) -> Result<StorageKey, EngineError> {
    Ok(StorageKey::for_path(&format!(
        "sessions/{session_id}/{folder}/{}.{extension}",
        id::new_id()
    ))?)
}

/// A profile's saved user data, a zstd-compressed tar; no session owns it.
pub(crate) fn profile_key(profile_id: &str) -> Result<StorageKey, EngineError> {
    Ok(StorageKey::for_path(&format!(
        "profiles/{profile_id}.tar.zst"
    ))?)
}

/// Who a key's layout says owns it.
#[derive(Debug, PartialEq, Eq)]
enum KeyOwner<'a> {
    /// `sessions/<session>/…`.
    Session(&'a str),
    /// `recordings/<recording>.mp4`.
    Recording(&'a str),
}

/// Reads the owner out of a key's path; `None` for a path no layout here writes.
fn key_owner(path: &str) -> Option<KeyOwner<'_>> {
    let mut segments = path.split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("sessions"), Some(session), Some(_)) => Some(KeyOwner::Session(session)),
        (Some("recordings"), Some(file), None) => {
            file.strip_suffix(".mp4").map(KeyOwner::Recording)
        }
        _ => None,
    }
}

impl Engine {
    /// The id of the session a stored object belongs to: a session's own objects by their
    /// path, a recording's MP4 by its recording's session. `None` when the key follows no
    /// layout of the engine's or names a recording that does not exist.
    ///
    /// Errors: metadata failures only.
    pub async fn owner_of(&self, key: &StorageKey) -> Result<Option<String>, EngineError> {
        match key_owner(key.path()) {
            Some(KeyOwner::Session(session)) => Ok(Some(session.to_owned())),
            Some(KeyOwner::Recording(recording)) => match self.recording_by_id(recording).await {
                Ok(r) => Ok(Some(r.session_id)),
                Err(EngineError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            },
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_written_layout_reads_back_its_owner() {
        let shot = session_object_key("s1", "screenshots", "png").unwrap();
        assert_eq!(key_owner(shot.path()), Some(KeyOwner::Session("s1")));
        let video = recording_key("r1").unwrap();
        assert_eq!(key_owner(video.path()), Some(KeyOwner::Recording("r1")));
    }

    #[test]
    fn parts_profiles_and_foreign_paths_have_no_owner() {
        let part = format!("{}/seg-0.m4s", parts_prefix("r1"));
        assert_eq!(key_owner(&part), None);
        assert_eq!(key_owner(profile_key("p1").unwrap().path()), None);
        assert_eq!(key_owner("sessions/s1"), None);
        assert_eq!(key_owner("other/file.mp4"), None);
    }
}
