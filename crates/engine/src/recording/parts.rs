//! A recording's parts in the blob store: segments moved out of the spool as they close,
//! listed back in playback order, and deleted once the recording is final.

use std::path::Path;

use tapedeck_capture::SegmentList;
use tapedeck_core::{EngineError, RecordingState};
use tapedeck_store::{BlobStore, StorageKey};

use crate::layout::{part_key, parts_prefix};
use crate::Engine;

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

/// Moves `init.mp4` and every segment in `closed` from the spool into the blob store.
///
/// A segment's local file leaves the spool only once it is stored (renamed into a local store,
/// or removed after its upload), so a file gone from the spool is already persisted: calling
/// this again, even after a crash, is safe.
/// Returns what this call moved, in playback order.
pub(super) async fn persist_closed(
    blobs: &BlobStore,
    recording_id: &str,
    spool_dir: &Path,
    closed: &SegmentList,
) -> Result<Vec<PersistedPart>, EngineError> {
    let files = closed
        .init
        .iter()
        .map(|f| (f, false))
        .chain(closed.segments.iter().map(|s| (s, true)));
    let mut moved = Vec::new();
    for (file, is_segment) in files {
        let local = spool_dir.join(file);
        if !tokio::fs::try_exists(&local).await.unwrap_or(false) {
            continue;
        }
        let key = part_key(recording_id, file)?;
        let bytes = blobs.move_file(&key, &local).await?;
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

/// Deletes the parts of a finalized recording; one left behind by a crash is only garbage.
pub(super) async fn delete_parts(blobs: BlobStore, parts: Vec<StorageKey>) {
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
