//! The final MP4 assembled while recording, so a stop does not copy the whole video.

use tapedeck_core::EngineError;
use tapedeck_store::blobs::BlobUpload;
use tapedeck_store::BlobStore;

use super::parts::PersistedPart;
use crate::layout::recording_key;

/// The final MP4 written while the recording runs: every persisted part is appended as it
/// lands, so a stop only adds the last segment and completes the upload, however long the
/// recording was (a concatenation at stop would copy the whole video).
pub(crate) struct Assembly {
    pub(super) upload: BlobUpload,
}

impl Assembly {
    /// Starts the artifact of `recording_id`.
    pub(super) async fn start(blobs: &BlobStore, recording_id: &str) -> Result<Self, EngineError> {
        Ok(Self {
            upload: blobs.upload(&recording_key(recording_id)?).await?,
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
