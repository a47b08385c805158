//! Finalizing a recording whose recorder has exited: the order of steps that makes a crash at
//! any point recoverable.

use tapedeck_capture::spool::list_spool;
use tapedeck_core::{EngineError, Recording, RecordingState};
use tapedeck_store::{BlobStore, StorageKey};

use super::assembly::{keep_assembling, Assembly};
use super::parts::{delete_parts, persist_closed, stored_parts};
use crate::layout::recording_key;
use crate::Engine;

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
/// `init.mp4`, a segment index and the segments as one fragmented MP4 (completing `assembly`
/// when it holds every part, assembling the stored parts otherwise), and stores the result as
/// `final_state`.
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
    // The recorder is gone: every file left in the spool is final.
    let left = list_spool(&spool_dir).await;
    let last = persist_closed(blobs, &recording.id, &spool_dir, &left).await;
    let assembly = keep_assembling(assembly, last.as_deref().ok()).await;
    last?;

    let artifact = recording_key(&recording.id)?;
    let parts = stored_parts(blobs, &recording.id, usize::MAX).await?;
    let segment_count = parts.as_ref().map_or(0, |p| p.len() - 1);
    if let Some(parts) = parts {
        let size = match assembly {
            Some(assembly) => assembly.finish().await?,
            None => Assembly::from_parts(blobs, &recording.id, &parts).await?,
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
        recording.problem = Some("no video was captured".into());
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
