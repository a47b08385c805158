//! Rewind extracts: the newest part of a running ring (or of a running recording, for a live
//! viewer scrubbing back), written as an MP4 of its own.

use std::time::Duration;

use tapedeck_core::{id, EngineError};
use tapedeck_store::StorageKey;

use super::parts::stored_parts;
use super::RecordingKind;
use crate::layout::session_object_key;
use crate::{lock, Engine};

impl Engine {
    /// Writes the newest `duration` of the session's rewind ring as an MP4 of its own, stored
    /// under the session (`sessions/<id>/rewind/…`); returns its key.
    ///
    /// Errors: [`EngineError::Conflict`] when the session has no ring running,
    /// [`EngineError::NotReady`] when the ring has no closed segment yet.
    ///
    /// The ring's segments are keyframe-led fragments of `RING_SEGMENT_SECS`, so `init.mp4`
    /// and the newest `ceil(duration / segment)` closed segments are a valid fragmented MP4; a
    /// copy remux then restarts its timeline at zero, so players show the extract's own length.
    pub async fn extract_recent(
        &self,
        session_id: &str,
        duration: Duration,
    ) -> Result<StorageKey, EngineError> {
        let recording_id = self
            .capturing_recording_ids(session_id, RecordingKind::RewindRing)
            .into_iter()
            .next()
            .ok_or_else(|| {
                EngineError::conflict(
                    "rewind is not enabled on this session; start a rewind ring first",
                )
            })?;
        self.extract_newest(session_id, &recording_id, duration)
            .await
    }

    /// Writes the newest `duration` of whatever the session is capturing (its rewind ring, or
    /// else a running recording) as an MP4 of its own, as [`Engine::extract_recent`] does: what
    /// a live viewer scrubs back into.
    ///
    /// Errors: [`EngineError::Conflict`] when the session captures nothing,
    /// [`EngineError::NotReady`] when no segment has closed yet.
    pub async fn extract_recent_capture(
        &self,
        session_id: &str,
        duration: Duration,
    ) -> Result<StorageKey, EngineError> {
        let capturing = [RecordingKind::RewindRing, RecordingKind::Replay]
            .into_iter()
            .find_map(|kind| {
                self.capturing_recording_ids(session_id, kind)
                    .into_iter()
                    .next()
            })
            .ok_or_else(|| {
                EngineError::conflict(
                    "the session is neither recording nor keeping a rewind ring, so there is \
                     nothing to scrub back into",
                )
            })?;
        self.extract_newest(session_id, &capturing, duration).await
    }

    /// Writes the newest `duration` of `recording_id`'s stored segments as an MP4 under the
    /// session.
    async fn extract_newest(
        &self,
        session_id: &str,
        recording_id: &str,
        duration: Duration,
    ) -> Result<StorageKey, EngineError> {
        let dest = session_object_key(session_id, "rewind", "mp4")?;
        let segment_secs = lock(&self.inner.recordings)
            .get(recording_id)
            .map(|r| r.segment_secs)
            .ok_or_else(|| EngineError::not_found("recording", recording_id))?;
        let wanted = duration
            .as_millis()
            .div_ceil(u128::from(segment_secs) * 1000) as usize;
        let parts = stored_parts(self.blobs(), recording_id, wanted.max(1))
            .await?
            .ok_or_else(|| {
                EngineError::NotReady(
                    "nothing has been recorded yet; try again in a few seconds".into(),
                )
            })?;
        let work = self
            .config()
            .spool_dir(&format!("extract-{}", id::new_id()));
        let result = self.remux_parts(&parts, &work, &dest).await;
        if let Err(e) = tokio::fs::remove_dir_all(&work).await {
            tracing::debug!(dir = %work.display(), error = %e, "extract spool not removed");
        }
        result?;
        Ok(dest)
    }

    /// Joins `parts` in `work` and remuxes them into `dest`, restarting the timeline at zero.
    async fn remux_parts(
        &self,
        parts: &[StorageKey],
        work: &std::path::Path,
        dest: &StorageKey,
    ) -> Result<(), EngineError> {
        use tokio::io::AsyncWriteExt;
        self.config()
            .sandbox
            .prepare_dir(work)
            .map_err(EngineError::internal)?;
        let joined = work.join("joined.mp4");
        let mut file = tokio::fs::File::create(&joined)
            .await
            .map_err(EngineError::internal)?;
        for part in parts {
            let bytes = self.blobs().get(part).await?;
            file.write_all(&bytes)
                .await
                .map_err(EngineError::internal)?;
        }
        file.flush().await.map_err(EngineError::internal)?;
        let out = work.join("extract.mp4");
        let config = self.config();
        tapedeck_capture::remux::to_mp4_from_zero(
            &config.sandbox,
            &config.ffmpeg,
            work,
            &joined,
            &out,
        )
        .await
        .map_err(EngineError::internal)?;
        self.blobs().put_file(dest, &out).await?;
        Ok(())
    }
}
