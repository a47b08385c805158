//! The final MP4 assembled while recording, so a stop does not copy the whole video.
//!
//! Its layout is `init.mp4`, a segment index, then the segments. The index's room is reserved
//! when `init.mp4` is written and filled in place at the end (see `tapedeck_capture::sidx`): a
//! player reads the head of the file to learn the duration and where every segment is, and a
//! stop still writes only the last segment and the index.

use tapedeck_capture::fmp4::{self, TrackTime};
use tapedeck_capture::sidx::{self, IndexedSegment};
use tapedeck_core::EngineError;
use tapedeck_store::{BlobStore, BlobUpload, StorageKey};

use super::parts::PersistedPart;
use crate::layout::recording_key;

/// The final MP4 written while the recording runs: every persisted part is appended as it
/// lands, so a stop only adds the last segment, writes the index and completes the upload,
/// however long the recording was (a concatenation at stop would copy the whole video).
pub(crate) struct Assembly {
    upload: BlobUpload,
    /// The track's timescale, once `init.mp4` is in; where the index goes is right after it.
    init: Option<(TrackTime, u64)>,
    /// What the index will say of each segment appended; `None` once one could not be read
    /// (the video then keeps its placeholder and plays as it would unindexed).
    segments: Option<Vec<IndexedSegment>>,
}

impl Assembly {
    /// Starts the artifact of `recording_id`.
    pub(super) async fn start(blobs: &BlobStore, recording_id: &str) -> Result<Self, EngineError> {
        Ok(Self {
            upload: blobs.upload(&recording_key(recording_id)?).await?,
            init: None,
            segments: Some(Vec::new()),
        })
    }

    /// Writes the artifact of `recording_id` from its stored `parts` (`init.mp4`, then the
    /// segments in playback order; see `parts::stored_parts`), reading one part at a time:
    /// after a crash, or when assembling while recording failed. The file is the same as one
    /// assembled while recording. Returns its size.
    pub(super) async fn from_parts(
        blobs: &BlobStore,
        recording_id: &str,
        parts: &[StorageKey],
    ) -> Result<u64, EngineError> {
        let mut assembly = Self::start(blobs, recording_id).await?;
        for (at, key) in parts.iter().enumerate() {
            let added = match blobs.get(key).await {
                Ok(bytes) => assembly.add(&bytes, at > 0).await,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = added {
                assembly.upload.abort().await;
                return Err(e);
            }
        }
        assembly.finish().await
    }

    /// Appends newly persisted parts, which arrive in playback order.
    async fn append(&mut self, parts: &[PersistedPart]) -> Result<(), EngineError> {
        for part in parts {
            self.add(&part.bytes, part.is_segment).await?;
        }
        Ok(())
    }

    /// Appends one part: `init.mp4` with the index's placeholder after it, or a segment.
    async fn add(&mut self, bytes: &[u8], is_segment: bool) -> Result<(), EngineError> {
        if !is_segment {
            let time = fmp4::track_time(bytes).ok_or_else(|| {
                EngineError::Internal("the recording's init.mp4 is unreadable".into())
            })?;
            self.upload.write(bytes).await?;
            self.upload.write(&sidx::placeholder()).await?;
            self.init = Some((time, bytes.len() as u64));
            return Ok(());
        }
        let segment = self
            .init
            .and_then(|(time, _)| IndexedSegment::of(bytes, time));
        self.segments = match (self.segments.take(), segment) {
            (Some(mut segments), Some(segment)) => {
                segments.push(segment);
                Some(segments)
            }
            _ => None,
        };
        self.upload.write(bytes).await?;
        Ok(())
    }

    /// Writes the index over its placeholder and completes the upload; returns the size.
    pub(super) async fn finish(mut self) -> Result<u64, EngineError> {
        let index = match (self.init, &self.segments) {
            (Some((time, at)), Some(segments)) => sidx::index(time, segments).map(|i| (at, i)),
            _ => None,
        };
        match index {
            Some((at, index)) => {
                if let Err(e) = self.upload.rewrite(at, &index).await {
                    self.upload.abort().await;
                    return Err(e.into());
                }
            }
            None => tracing::warn!("the video gets no segment index; players will read it whole"),
        }
        Ok(self.upload.finish().await?)
    }
}

/// Feeds newly persisted parts to `assembly`, or gives it up when persisting failed (`None`:
/// some parts may have moved unseen) or appending fails; finalize then assembles the stored
/// parts instead.
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
            tracing::warn!(error = %e, "assembling the video stopped; it will be assembled from the stored parts at stop");
            assembly.upload.abort().await;
            None
        }
    }
}
