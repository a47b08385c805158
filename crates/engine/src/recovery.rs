//! Start-up recovery: what a crashed or killed server left in flight.
//!
//! Sessions and test runs are closed before the server listens (quick, and names and runs must
//! be free); recordings are recovered afterwards, in the background, each on its own: one that
//! cannot be recovered is marked `failed` with its problem, and the rest go on. Then the
//! folders and stored parts the crash left behind are swept.

use std::path::Path;
use std::time::Duration;

use tapedeck_capture::fmp4;
use tapedeck_capture::spool::{list_spool, INIT_FILE};
use tapedeck_core::{EngineError, Recording, RecordingState, StopReason};
use tapedeck_store::LostRows;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::layout::part_key;
use crate::leftovers::sweep_leftover_folders;
use crate::recording::{finalize, sweep_leftover_parts};
use crate::Engine;

/// How far start-up recovery has come; `/healthz` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryProgress {
    /// True once every recording left in flight has been dealt with.
    pub done: bool,
    /// Recordings the previous server left in flight.
    pub recordings: usize,
    /// Of those, how many are finalized so far (playable or not).
    pub recovered: usize,
    /// Of those, how many could not be recovered and are marked `failed`.
    pub failed: usize,
}

/// The engine's recovery state: progress, published to whoever watches it.
pub(crate) struct Recovery {
    progress: watch::Sender<RecoveryProgress>,
}

impl Default for Recovery {
    fn default() -> Self {
        Self {
            progress: watch::channel(RecoveryProgress::default()).0,
        }
    }
}

impl Engine {
    /// Takes over what this node's earlier incarnations left (and rows from before nodes owned
    /// rows), never another live node's: closes their sessions, whose processes died with the
    /// previous server, interrupts their FAST runs, then recovers their recordings left
    /// `recording` or `stopping` in the background (see [`Engine::recovery_progress`]):
    /// finalized from what was persisted, as `interrupted`.
    ///
    /// Errors: metadata failures of the first part only; a recording that cannot be recovered
    /// is marked `failed` with its problem, and never keeps the server down.
    pub async fn recover(&self) -> Result<(), EngineError> {
        let owner = self.inner.meta.owner().clone();
        let earlier = LostRows {
            node: owner.node,
            except_incarnation: Some(owner.incarnation),
            with_unowned: true,
        };
        let taken = self
            .inner
            .meta
            .take_over(&earlier, "server_restarted", OffsetDateTime::now_utc())
            .await?;
        for run in taken.test_runs {
            self.interrupt_run(run).await?;
        }
        let in_flight = taken.recordings;
        if taken.sessions > 0 || !in_flight.is_empty() {
            tracing::info!(
                sessions = taken.sessions,
                recordings = in_flight.len(),
                "recovering after an unclean stop"
            );
        }
        self.inner.recovery.progress.send_replace(RecoveryProgress {
            recordings: in_flight.len(),
            ..RecoveryProgress::default()
        });
        tokio::spawn(self.clone().recover_recordings(in_flight));
        Ok(())
    }

    /// How far start-up recovery has come.
    pub fn recovery_progress(&self) -> RecoveryProgress {
        *self.inner.recovery.progress.borrow()
    }

    /// Waits until start-up recovery is done.
    pub async fn recovered(&self) {
        let mut progress = self.inner.recovery.progress.subscribe();
        let _ = progress.wait_for(|p| p.done).await;
    }

    async fn recover_recordings(self, in_flight: Vec<Recording>) {
        for recording in in_flight {
            let failed = !self.recover_or_give_up(recording).await;
            self.inner.recovery.progress.send_modify(|p| {
                p.recovered += 1;
                p.failed += usize::from(failed);
            });
        }
        self.inner.recovery.progress.send_modify(|p| p.done = true);
        // Spools of the recordings just recovered are gone; what is left is only garbage.
        let folders = sweep_leftover_folders(&self).await;
        if folders > 0 {
            tracing::info!(
                folders,
                "removed session and spool folders a crash left behind"
            );
        }
        // Listing a large bucket takes a while; nothing waits for it.
        match sweep_leftover_parts(&self).await {
            Ok(0) => {}
            Ok(parts) => {
                tracing::info!(
                    parts,
                    "deleted segments that finalized recordings left behind"
                )
            }
            Err(e) => tracing::warn!(error = %e, "could not look for leftover segments"),
        }
    }

    /// Recovers `recording` (see [`Self::recover_recording`]), or marks it `failed` for good
    /// when that fails; `true` when it ended playable.
    pub(crate) async fn recover_or_give_up(&self, recording: Recording) -> bool {
        let id = recording.id.clone();
        match self.recover_recording(recording.clone()).await {
            Ok(recovered) => recovered.state != RecordingState::Failed,
            Err(e) => {
                tracing::error!(recording = %id, error = %e, "could not recover a recording");
                self.mark_unrecoverable(recording).await;
                false
            }
        }
    }

    /// Finalizes a recording whose recorder is gone from what was persisted, as `interrupted`
    /// (stop reason `recovered` unless it has one).
    async fn recover_recording(&self, mut recording: Recording) -> Result<Recording, EngineError> {
        let spool_dir = self.config().spool_dir(&recording.id);
        let left_out = self.set_aside_unreadable(&recording.id, &spool_dir).await;
        recording.stop_reason.get_or_insert(StopReason::Recovered);
        let mut recovered = finalize(
            self,
            &mut recording,
            RecordingState::Interrupted,
            None,
            None,
        )
        .await?;
        if recovered.finished_at.is_none() || left_out > 0 {
            let duration = Duration::from_millis(recovered.duration_ms.unwrap_or_default());
            recovered
                .finished_at
                .get_or_insert(recovered.started_at + duration);
            if left_out > 0 && recovered.problem.is_none() {
                recovered.problem = Some(format!(
                    "{left_out} unreadable segment(s) left out after a crash"
                ));
            }
            self.inner.meta.update_recording(&recovered).await?;
        }
        tracing::info!(recording = %recovered.id, state = recovered.state.as_str(), "recording recovered");
        Ok(recovered)
    }

    /// Marks a recording whose recovery failed as `failed`, for good: its video may still be
    /// in its parts, which stay where they are.
    async fn mark_unrecoverable(&self, mut recording: Recording) {
        recording.state = RecordingState::Failed;
        recording.stop_reason.get_or_insert(StopReason::Recovered);
        recording
            .finished_at
            .get_or_insert_with(OffsetDateTime::now_utc);
        recording.problem = Some("recovery after a crash failed; the server log has why".into());
        if let Err(e) = self.inner.meta.update_recording(&recording).await {
            tracing::error!(recording = %recording.id, error = %e, "could not mark a recording failed");
        }
    }

    /// Trims each segment in the spool to its whole fragments (a crash cut the last write
    /// short) and renames those with none readable (a damaged disk) out of the way, so the rest
    /// of the video is kept; returns how many were set aside. Without a readable `init.mp4`,
    /// segments cannot be checked and are all kept.
    async fn set_aside_unreadable(&self, recording_id: &str, spool_dir: &Path) -> usize {
        let left = list_spool(spool_dir).await;
        let init = match tokio::fs::read(spool_dir.join(INIT_FILE)).await {
            Ok(init) => Some(init),
            Err(_) => match part_key(recording_id, INIT_FILE) {
                Ok(key) => self.blobs().get(&key).await.ok().map(|b| b.to_vec()),
                Err(_) => None,
            },
        };
        let Some(time) = init.as_deref().and_then(fmp4::track_time) else {
            return 0;
        };
        let mut set_aside = 0;
        for segment in &left.segments {
            let path = spool_dir.join(segment);
            let Ok(bytes) = tokio::fs::read(&path).await else {
                continue;
            };
            let whole = fmp4::whole_fragments_len(&bytes);
            if whole > 0 && whole < bytes.len() && truncate(&path, whole).await {
                tracing::info!(recording = %recording_id, segment = %segment, cut = bytes.len() - whole, "a fragment cut short was trimmed");
            }
            if fmp4::segment_span(&bytes[..whole], time).is_none() {
                tracing::warn!(recording = %recording_id, segment = %segment, "unreadable segment left out");
                let aside = path.with_extension("unreadable");
                if tokio::fs::rename(&path, &aside).await.is_ok() {
                    set_aside += 1;
                }
            }
        }
        set_aside
    }
}

/// Cuts the file at `path` to `len` bytes; false (logged) if that failed.
async fn truncate(path: &Path, len: usize) -> bool {
    let cut = async {
        let file = tokio::fs::OpenOptions::new().write(true).open(path).await?;
        file.set_len(len as u64).await
    };
    match cut.await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "could not trim a segment");
            false
        }
    }
}
