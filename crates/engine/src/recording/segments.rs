//! Moving closed segments into the blob store, and assembling the final MP4 from them.

use std::path::Path;

use tapedeck_capture::recorder::read_playlist;
use tapedeck_capture::Playlist;
use tapedeck_core::{EngineError, Recording, RecordingState};
use tapedeck_store::blobs::BlobUpload;
use tapedeck_store::{BlobStore, StorageKey};

use crate::Engine;

/// Where a recording's segments are kept until it is finalized.
fn parts_prefix(recording_id: &str) -> String {
    format!("recordings/{recording_id}/parts")
}

/// Where a recording's final MP4 is stored.
fn artifact_key(recording_id: &str) -> Result<StorageKey, EngineError> {
    Ok(StorageKey::for_path(&format!(
        "recordings/{recording_id}.mp4"
    ))?)
}

/// A segment that now lives in the blob store.
pub(super) struct PersistedPart {
    /// Its key.
    pub key: StorageKey,
    /// Its size in bytes.
    pub size: u64,
    /// False for `init.mp4`, which every artifact needs and a ring never drops.
    pub is_segment: bool,
    /// Its content, for the artifact being assembled.
    pub bytes: bytes::Bytes,
}

/// Moves every closed segment listed in `playlist` from the spool into the blob store.
///
/// A segment's local file is removed only after its upload succeeded, so a file that is gone
/// from the spool is already persisted: calling this again, even after a crash, is safe.
/// Returns what this call moved, in playback order.
pub(super) async fn persist_closed(
    blobs: &BlobStore,
    recording_id: &str,
    spool_dir: &Path,
    playlist: &Playlist,
) -> Result<Vec<PersistedPart>, EngineError> {
    let prefix = parts_prefix(recording_id);
    let files = playlist
        .init
        .iter()
        .map(|f| (f, false))
        .chain(playlist.segments.iter().map(|s| (&s.file, true)));
    let mut moved = Vec::new();
    for (file, is_segment) in files {
        let local = spool_dir.join(file);
        if !tokio::fs::try_exists(&local).await.unwrap_or(false) {
            continue;
        }
        let key = StorageKey::for_path(&format!("{prefix}/{file}"))?;
        let bytes = blobs.put_file(&key, &local).await?;
        tokio::fs::remove_file(&local)
            .await
            .map_err(EngineError::internal)?;
        moved.push(PersistedPart {
            key,
            size: bytes.len() as u64,
            is_segment,
            bytes,
        });
    }
    Ok(moved)
}

/// The persisted parts of a recording: `init.mp4` and its last `max_segments` segments, in
/// playback order (`init.mp4` sorts before `seg_*.m4s`), or `None` without init or segments.
pub(super) async fn stored_parts(
    blobs: &BlobStore,
    recording_id: &str,
    max_segments: usize,
) -> Result<Option<Vec<StorageKey>>, EngineError> {
    let parts = blobs.list(&parts_prefix(recording_id)).await?;
    let (init, segments): (Vec<_>, Vec<_>) = parts
        .into_iter()
        .map(|p| p.key)
        .partition(|k| k.path().ends_with("/init.mp4"));
    let Some(init) = init.into_iter().next() else {
        return Ok(None);
    };
    if segments.is_empty() {
        return Ok(None);
    }
    let skip = segments.len().saturating_sub(max_segments);
    Ok(Some(
        std::iter::once(init)
            .chain(segments.into_iter().skip(skip))
            .collect(),
    ))
}

/// The final MP4 written while the recording runs: every persisted part is appended as it
/// lands, so a stop only adds the last segment and completes the upload, however long the
/// recording was (a concatenation at stop would copy the whole video).
pub(crate) struct Assembly {
    upload: BlobUpload,
}

impl Assembly {
    /// Starts the artifact of `recording_id`.
    pub(super) async fn start(blobs: &BlobStore, recording_id: &str) -> Result<Self, EngineError> {
        Ok(Self {
            upload: blobs.upload(&artifact_key(recording_id)?).await?,
        })
    }

    /// Appends newly persisted parts, which arrive in playback order.
    async fn append(&mut self, parts: &[PersistedPart]) -> Result<(), EngineError> {
        for part in parts {
            self.upload.write(&part.bytes).await?;
        }
        Ok(())
    }
}

/// Feeds newly persisted parts to `assembly`, or gives it up when persisting failed (`None`:
/// some parts may have moved unseen) or appending fails; finalize then concatenates instead.
pub(super) async fn keep_assembling(
    assembly: Option<Assembly>,
    moved: Option<&[PersistedPart]>,
) -> Option<Assembly> {
    let mut assembly = assembly?;
    let appended = match moved {
        Some(parts) => assembly.append(parts).await,
        None => Err(EngineError::Internal(
            "segments could not be persisted".into(),
        )),
    };
    match appended {
        Ok(()) => Some(assembly),
        Err(e) => {
            tracing::warn!(error = %e, "assembling the video stopped; it will be concatenated at stop");
            assembly.upload.abort().await;
            None
        }
    }
}

/// Deletes the parts of a finalized recording; one left behind by a crash is only garbage.
async fn delete_parts(blobs: BlobStore, parts: Vec<StorageKey>) {
    for key in &parts {
        if let Err(e) = blobs.delete(key).await {
            tracing::warn!(key = %key, error = %e, "could not delete a finalized recording's part");
        }
    }
}

/// Deletes the stored parts of recordings already finalized: what a crash cut short of
/// [`delete_parts`]. Parts of recordings still capturing or stopping are theirs to keep; a
/// folder no recording claims is left alone, since the bucket may be shared. Returns how many
/// parts it deleted.
pub(crate) async fn sweep_leftover_parts(engine: &Engine) -> Result<usize, EngineError> {
    let blobs = engine.blobs();
    let mut deleted = 0;
    for id in blobs.folders("recordings").await? {
        let Some(recording) = engine.inner.meta.get_recording(&id).await? else {
            continue;
        };
        if matches!(
            recording.state,
            RecordingState::Recording | RecordingState::Stopping
        ) {
            continue;
        }
        let parts: Vec<StorageKey> = blobs
            .list(&parts_prefix(&id))
            .await?
            .into_iter()
            .map(|part| part.key)
            .collect();
        deleted += parts.len();
        delete_parts(blobs.clone(), parts).await;
    }
    Ok(deleted)
}

/// The length of the video made of `parts` (`init.mp4`, then segments in order), from the
/// segments' own timeline; `None` when they cannot be read.
async fn kept_span_ms(blobs: &BlobStore, parts: &[StorageKey]) -> Option<u64> {
    let (init, segments) = parts.split_first()?;
    let (first, last) = (segments.first()?, segments.last()?);
    let init = blobs.get(init).await.ok()?;
    let first_bytes = blobs.get(first).await.ok()?;
    // A single segment is both first and last; it is read once.
    let last_bytes = if last == first {
        first_bytes.clone()
    } else {
        blobs.get(last).await.ok()?
    };
    tapedeck_capture::fmp4::span_ms(&init, &first_bytes, &last_bytes)
}

/// Finalizes a recording whose recorder has exited: persists what is left in the spool, writes
/// `init.mp4` + segments as one fragmented MP4 (completing `assembly` when it holds every part,
/// concatenating the stored parts otherwise), and stores the result as `final_state`.
///
/// `length_ms` is the video's length when the recorder knows it; otherwise (after a crash, or
/// for a ring that dropped old segments) it is read from the kept segments' timeline.
///
/// The order matters for crash safety: the artifact is complete before any part is deleted,
/// and the metadata names the artifact only once it exists. A crash at any step leaves either
/// the parts or the artifact, and finalizing again picks up from there.
pub(crate) async fn finalize(
    engine: &Engine,
    recording: &mut Recording,
    final_state: RecordingState,
    assembly: Option<Assembly>,
    length_ms: Option<u64>,
) -> Result<Recording, EngineError> {
    let blobs = engine.blobs();
    let spool_dir = engine.config().spool_dir(&recording.id);
    let playlist = read_playlist(&spool_dir).await;
    let last = persist_closed(blobs, &recording.id, &spool_dir, &playlist).await;
    let assembly = keep_assembling(assembly, last.as_deref().ok()).await;
    last?;

    let artifact = artifact_key(&recording.id)?;
    let parts = stored_parts(blobs, &recording.id, usize::MAX).await?;
    let segment_count = parts.as_ref().map_or(0, |p| p.len() - 1);
    if let Some(parts) = parts {
        let size = match assembly {
            Some(assembly) => assembly.upload.finish().await?,
            None => blobs.concat(&artifact, &parts).await?,
        };
        recording.state = final_state;
        recording.storage_key = Some(artifact.to_string());
        recording.size_bytes = Some(size);
        recording.duration_ms = match length_ms {
            Some(ms) => Some(ms),
            None => kept_span_ms(blobs, &parts).await,
        };
        // The artifact is complete and measured; the parts go after the stop has answered.
        tokio::spawn(delete_parts(blobs.clone(), parts));
    } else if let Some(size) = blobs.size(&artifact).await? {
        // A previous finalization wrote the artifact and died before saving the metadata.
        recording.state = final_state;
        recording.storage_key = Some(artifact.to_string());
        recording.size_bytes = Some(size);
    } else {
        tracing::warn!(recording = %recording.id, "no video was captured");
        recording.state = RecordingState::Failed;
    }
    engine.inner.meta.update_recording(recording).await?;
    if let Err(e) = tokio::fs::remove_dir_all(&spool_dir).await {
        tracing::debug!(dir = %spool_dir.display(), error = %e, "spool not removed");
    }
    tracing::info!(
        recording = %recording.id,
        state = recording.state.as_str(),
        segments = segment_count,
        bytes = recording.size_bytes,
        duration_ms = recording.duration_ms,
        "recording finalized"
    );
    Ok(recording.clone())
}
