//! Start-up recovery: what a crashed or killed server left in flight.

use std::time::Duration;

use tapedeck_core::{EngineError, RecordingState, StopReason};
use time::OffsetDateTime;

use crate::recording::{finalize, sweep_leftover_parts};
use crate::Engine;

/// How long to wait for a recorder that outlived the old server to flush its last segment.
const ORPHAN_GRACE: Duration = Duration::from_secs(15);

impl Engine {
    /// Closes sessions whose processes died with the previous server, and finalizes every
    /// recording left `recording` or `stopping` from the segments on disk, as `interrupted`.
    pub async fn recover(&self) -> Result<(), EngineError> {
        let now = OffsetDateTime::now_utc();
        let closed = self.inner.meta.close_stale_sessions(now).await?;
        self.interrupt_active_runs(None).await?;
        let in_flight = self.inner.meta.in_flight_recordings().await?;
        if closed > 0 || !in_flight.is_empty() {
            tracing::info!(
                sessions = closed,
                recordings = in_flight.len(),
                "recovering after an unclean stop"
            );
        }
        for mut recording in in_flight {
            let spool_dir = self.config().spool_dir(&recording.id);
            wait_for_orphan_recorder(&spool_dir).await;
            recording.stop_reason.get_or_insert(StopReason::Recovered);
            let recovered = finalize(
                self,
                &mut recording,
                RecordingState::Interrupted,
                None,
                None,
            )
            .await?;
            if recovered.finished_at.is_none() {
                let duration = Duration::from_millis(recovered.duration_ms.unwrap_or_default());
                recording.finished_at = Some(recovered.started_at + duration);
                self.inner.meta.update_recording(&recording).await?;
            }
            tracing::info!(recording = %recording.id, state = recording.state.as_str(), "recording recovered");
        }
        // Listing a large bucket takes a while; serving need not wait for it.
        let engine = self.clone();
        tokio::spawn(async move {
            match sweep_leftover_parts(&engine).await {
                Ok(0) => {}
                Ok(parts) => {
                    tracing::info!(
                        parts,
                        "deleted segments that finalized recordings left behind"
                    )
                }
                Err(e) => tracing::warn!(error = %e, "could not look for leftover segments"),
            }
        });
        Ok(())
    }
}

/// The old server's ffmpeg saw its input close when the server died and may still be closing its
/// last segment.
async fn wait_for_orphan_recorder(spool_dir: &std::path::Path) {
    let pid_file = spool_dir.join(crate::recording::PID_FILE);
    let Ok(text) = tokio::fs::read_to_string(&pid_file).await else {
        return;
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return;
    };
    // A zombie or a reused pid is possible; the wait is bounded, so either only costs time.
    let alive = || tapedeck_capture::process::is_alive(pid);
    let deadline = tokio::time::Instant::now() + ORPHAN_GRACE;
    while alive() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
