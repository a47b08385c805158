//! Browser profiles (Kernel's): a Chromium user-data dir kept between sessions.
//!
//! A session created with a profile gets the profile's saved user data unpacked into its own
//! user-data dir before its browser starts. When it saves its changes, its browser is closed at
//! the session's end (so that cookies and local storage are written out), and its user data,
//! caches left out, is packed back into the blob store under the profile's key. A profile is
//! used by one session at a time: the claim lives in metadata, so it holds across the fleet.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use tapedeck_capture::{user_data, CaptureError};
use tapedeck_core::{id, EngineError, Profile};
use tapedeck_store::meta::{Page, ProfileFilter};
use time::OffsetDateTime;

use crate::layout::profile_key;
use crate::Engine;

/// Which profile a new session loads, and whether it saves its changes back when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRequest {
    /// The profile's id or name.
    pub id_or_name: String,
    /// Save the session's user data back to the profile when the session ends.
    pub save_changes: bool,
}

/// The form a profile's saved user data is downloaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// The zstd-compressed tar, as stored.
    TarZst,
    /// The tar inside it, decompressed as it is sent.
    Tar,
}

/// A downloaded archive, a chunk at a time; it ends early with an error if decompression fails.
pub type ArchiveChunks = tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>;

/// Longest search string of a profile listing.
const MAX_PROFILE_QUERY_LEN: usize = 255;

/// Bytes per chunk of a decompressed download.
const CHUNK: usize = 64 * 1024;

/// The profile a running session holds.
#[derive(Debug, Clone)]
pub(crate) struct HeldProfile {
    pub(crate) id: String,
    pub(crate) save_changes: bool,
}

/// Why `profile` cannot be used or deleted now.
fn in_use(profile: &Profile) -> EngineError {
    let by = match &profile.in_use {
        Some(used) => format!("session {}", used.session_id),
        None => "another session".into(),
    };
    EngineError::conflict(format!(
        "profile {} is in use by {by}; a profile is used by one session at a time",
        profile.name.as_deref().unwrap_or(&profile.id)
    ))
}

/// An archive failure of profile `id`: over the bounds is the client's to hear (413), the rest
/// is the server's.
fn archive_error(doing: &str, id: &str, e: CaptureError) -> EngineError {
    match e {
        CaptureError::UserDataTooLarge(_) => {
            EngineError::TooLarge(format!("{doing} profile {id}: {e}"))
        }
        other => EngineError::Internal(format!("{doing} profile {id}: {other}")),
    }
}

impl Engine {
    /// Creates an empty profile in `project`, named when `name` is given.
    ///
    /// Errors: `InvalidInput` for a malformed name, `Conflict` when `project` has a profile of
    /// that name.
    pub async fn create_profile(
        &self,
        project: &str,
        name: Option<String>,
    ) -> Result<Profile, EngineError> {
        if let Some(name) = &name {
            Profile::validate_name(name)?;
        }
        let profile = Profile {
            id: id::new_id(),
            project: project.to_owned(),
            name,
            created_at: OffsetDateTime::now_utc(),
            updated_at: None,
            last_used_at: None,
            archive_bytes: None,
            in_use: None,
        };
        self.inner.meta.insert_profile(&profile).await?;
        tracing::info!(profile = %profile.id, "profile created");
        Ok(profile)
    }

    /// Finds one of `project`'s profiles by id or name.
    ///
    /// Errors: `NotFound` when `project` has no such profile, whether or not another has.
    pub async fn get_profile(
        &self,
        project: &str,
        id_or_name: &str,
    ) -> Result<Profile, EngineError> {
        self.inner
            .meta
            .find_profile(project, id_or_name)
            .await?
            .ok_or_else(|| EngineError::not_found("profile", id_or_name))
    }

    /// Lists `project`'s profiles matching `filter`, oldest first.
    ///
    /// Errors: `InvalidInput` for a search string over [`MAX_PROFILE_QUERY_LEN`].
    pub async fn list_profiles(
        &self,
        project: &str,
        filter: &ProfileFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Profile>, EngineError> {
        if filter
            .query
            .as_ref()
            .is_some_and(|q| q.len() > MAX_PROFILE_QUERY_LEN)
        {
            return Err(EngineError::InvalidInput(format!(
                "query must be at most {MAX_PROFILE_QUERY_LEN} characters"
            )));
        }
        Ok(self
            .inner
            .meta
            .list_profiles(project, filter, limit, offset)
            .await?)
    }

    /// Renames one of `project`'s profiles. A session using it keeps saving to it: sessions
    /// hold a profile by its id.
    ///
    /// Errors: `NotFound`, `InvalidInput` for a malformed name, `Conflict` when another profile
    /// of `project` has that name.
    pub async fn rename_profile(
        &self,
        project: &str,
        id_or_name: &str,
        name: &str,
    ) -> Result<Profile, EngineError> {
        Profile::validate_name(name)?;
        let profile = self.get_profile(project, id_or_name).await?;
        self.inner
            .meta
            .rename_profile(&profile.id, name, OffsetDateTime::now_utc())
            .await?;
        self.get_profile(project, &profile.id).await
    }

    /// Deletes one of `project`'s profiles and its saved user data.
    ///
    /// Errors: `NotFound`, `Conflict` while a session uses it (end the session first).
    pub async fn delete_profile(&self, project: &str, id_or_name: &str) -> Result<(), EngineError> {
        let profile = self.get_profile(project, id_or_name).await?;
        if profile.in_use.is_some() {
            return Err(in_use(&profile));
        }
        if !self.inner.meta.delete_profile(&profile.id).await? {
            // Claimed (or deleted) since it was read.
            return Err(in_use(&self.get_profile(project, &profile.id).await?));
        }
        if profile.archive_bytes.is_some() {
            if let Err(e) = self.inner.blobs.delete(&profile_key(&profile.id)?).await {
                tracing::warn!(profile = %profile.id, error = %e, "profile deleted; its archive was not");
            }
        }
        tracing::info!(profile = %profile.id, "profile deleted");
        Ok(())
    }

    /// The saved user data of one of `project`'s profiles, in `format`.
    ///
    /// Errors: `NotFound` for an unknown profile, or one no session has saved yet.
    pub async fn profile_archive(
        &self,
        project: &str,
        id_or_name: &str,
        format: ArchiveFormat,
    ) -> Result<(Profile, ArchiveChunks), EngineError> {
        let profile = self.get_profile(project, id_or_name).await?;
        if profile.archive_bytes.is_none() {
            // Nothing to download until a session saves its changes to it.
            return Err(EngineError::not_found(
                "saved user data of profile",
                id_or_name,
            ));
        }
        let archive = self.inner.blobs.get(&profile_key(&profile.id)?).await?;
        let (sender, chunks) = tokio::sync::mpsc::channel(4);
        match format {
            ArchiveFormat::TarZst => {
                // The channel is new and has room: this cannot fail.
                let _ = sender.try_send(Ok(archive));
            }
            ArchiveFormat::Tar => {
                tokio::task::spawn_blocking(move || {
                    let sent = user_data::tar_reader(std::io::Cursor::new(archive))
                        .map_err(std::io::Error::other)
                        .and_then(|mut tar| send_chunks(&mut tar, &sender));
                    if let Err(e) = sent {
                        let _ = sender.blocking_send(Err(e));
                    }
                });
            }
        }
        Ok((profile, chunks))
    }

    /// The profile the session `session_id` holds, if any.
    pub async fn session_profile(&self, session_id: &str) -> Result<Option<Profile>, EngineError> {
        Ok(self.inner.meta.profile_of_session(session_id).await?)
    }

    /// Claims `request`'s profile of `project` for the session `session_id` about to start,
    /// and reads its saved user data (`None` before any session saved it).
    ///
    /// Errors: `NotFound`, `Conflict` while another session uses it.
    pub(crate) async fn claim_profile(
        &self,
        project: &str,
        request: &ProfileRequest,
        session_id: &str,
    ) -> Result<(HeldProfile, Option<Bytes>), EngineError> {
        let profile = self.get_profile(project, &request.id_or_name).await?;
        let claimed = self
            .inner
            .meta
            .claim_profile(
                &profile.id,
                session_id,
                request.save_changes,
                OffsetDateTime::now_utc(),
            )
            .await?;
        if !claimed {
            return Err(in_use(&self.get_profile(project, &profile.id).await?));
        }
        let held = HeldProfile {
            id: profile.id,
            save_changes: request.save_changes,
        };
        if profile.archive_bytes.is_none() {
            return Ok((held, None));
        }
        match self.inner.blobs.get(&profile_key(&held.id)?).await {
            Ok(archive) => Ok((held, Some(archive))),
            Err(e) => {
                self.release_profile(&held, session_id).await;
                Err(e.into())
            }
        }
    }

    /// Ends `session_id`'s claim on `held`. A failure only leaves the claim to lapse once the
    /// session is marked ended.
    pub(crate) async fn release_profile(&self, held: &HeldProfile, session_id: &str) {
        if let Err(e) = self.inner.meta.release_profile(&held.id, session_id).await {
            tracing::warn!(profile = %held.id, session = %session_id, error = %e, "profile claim not released; it lapses once the session is marked ended");
        }
    }

    /// Unpacks `archive` into the user-data dir of the browser whose home is `home`, before
    /// the browser starts, for the session user.
    pub(crate) async fn restore_user_data(
        &self,
        held: &HeldProfile,
        archive: Bytes,
        home: &Path,
    ) -> Result<(), EngineError> {
        let dir = tapedeck_capture::chromium::user_data_dir(home);
        let owner = self.inner.config.sandbox.user().cloned();
        tokio::task::spawn_blocking(move || user_data::unpack(&archive, &dir, owner.as_ref()))
            .await
            .map_err(EngineError::internal)?
            .map_err(|e| archive_error("cannot load", &held.id, e))
    }

    /// Packs the user-data dir `dir` of an ended session (its browser closed) into `held`'s
    /// profile, replacing what was saved.
    ///
    /// Errors: `TooLarge` past the archive's bounds (what was saved before stays), storage
    /// failures.
    pub(crate) async fn save_profile(
        &self,
        held: &HeldProfile,
        dir: PathBuf,
    ) -> Result<(), EngineError> {
        let started = Instant::now();
        let archive = tokio::task::spawn_blocking(move || user_data::pack(&dir))
            .await
            .map_err(EngineError::internal)?
            .map_err(|e| {
                archive_error(
                    "the session ended without saving its changes to",
                    &held.id,
                    e,
                )
            })?;
        let bytes = archive.len() as u64;
        self.inner
            .blobs
            .put(&profile_key(&held.id)?, Bytes::from(archive))
            .await?;
        self.inner
            .meta
            .profile_saved(&held.id, bytes, OffsetDateTime::now_utc())
            .await?;
        tracing::info!(profile = %held.id, bytes, ms = started.elapsed().as_millis() as u64, "profile saved");
        Ok(())
    }
}

/// Sends what `tar` reads, a chunk at a time, until it ends or the receiver is gone.
fn send_chunks(
    tar: &mut impl std::io::Read,
    sender: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
) -> std::io::Result<()> {
    loop {
        let mut chunk = vec![0; CHUNK];
        let read = tar.read(&mut chunk)?;
        if read == 0 {
            return Ok(());
        }
        chunk.truncate(read);
        if sender.blocking_send(Ok(chunk.into())).is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{engine, PROJECT};

    fn request(id_or_name: &str, save_changes: bool) -> ProfileRequest {
        ProfileRequest {
            id_or_name: id_or_name.into(),
            save_changes,
        }
    }

    #[tokio::test]
    async fn a_profile_is_held_by_one_session_and_cannot_be_deleted_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let profile = engine
            .create_profile(PROJECT, Some("work".into()))
            .await
            .unwrap();
        let (held, user_data) = engine
            .claim_profile(PROJECT, &request("work", true), "s1")
            .await
            .unwrap();
        assert_eq!(
            (held.id.as_str(), held.save_changes),
            (profile.id.as_str(), true)
        );
        assert!(user_data.is_none(), "nothing saved yet");

        let second = engine
            .claim_profile(PROJECT, &request(&profile.id, false), "s2")
            .await;
        let Err(EngineError::Conflict { message, .. }) = second else {
            panic!("a second session got the profile: {second:?}");
        };
        assert!(message.contains("session s1"), "{message}");
        assert!(matches!(
            engine.delete_profile(PROJECT, "work").await,
            Err(EngineError::Conflict { .. })
        ));
        assert!(matches!(
            engine
                .claim_profile("team-b", &request("work", false), "s3")
                .await,
            Err(EngineError::NotFound { .. })
        ));

        engine.release_profile(&held, "s1").await;
        engine.delete_profile(PROJECT, "work").await.unwrap();
        assert!(matches!(
            engine.get_profile(PROJECT, &profile.id).await,
            Err(EngineError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn saved_user_data_is_restored_and_downloaded() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let profile = engine.create_profile(PROJECT, None).await.unwrap();
        assert!(matches!(
            engine
                .profile_archive(PROJECT, &profile.id, ArchiveFormat::TarZst)
                .await,
            Err(EngineError::NotFound { .. })
        ));
        let (held, _) = engine
            .claim_profile(PROJECT, &request(&profile.id, true), "s1")
            .await
            .unwrap();
        let used = dir.path().join("used");
        std::fs::create_dir_all(used.join("Default/Cache")).unwrap();
        std::fs::write(used.join("Default/Cookies"), b"jar").unwrap();
        std::fs::write(used.join("Default/Cache/data_0"), b"cached").unwrap();
        engine.save_profile(&held, used).await.unwrap();
        engine.release_profile(&held, "s1").await;

        let (held, user_data) = engine
            .claim_profile(PROJECT, &request(&profile.id, false), "s2")
            .await
            .unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        engine
            .restore_user_data(&held, user_data.expect("saved user data"), &home)
            .await
            .unwrap();
        let restored = tapedeck_capture::chromium::user_data_dir(&home);
        assert_eq!(
            std::fs::read(restored.join("Default/Cookies")).unwrap(),
            b"jar"
        );
        assert!(!restored.join("Default/Cache").exists());

        let saved = engine.get_profile(PROJECT, &profile.id).await.unwrap();
        assert!(saved.updated_at.is_some() && saved.archive_bytes.is_some());
        let (_, mut chunks) = engine
            .profile_archive(PROJECT, &profile.id, ArchiveFormat::Tar)
            .await
            .unwrap();
        let mut tar = Vec::new();
        while let Some(chunk) = chunks.recv().await {
            tar.extend_from_slice(&chunk.unwrap());
        }
        // A plain tar: its first entry's name at the start, `ustar` magic at 257.
        assert_eq!(&tar[257..262], b"ustar");
        assert!(tar.windows(15).any(|w| w == b"Default/Cookies"));
    }
}
