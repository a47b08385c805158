//! One task per recording: it persists segments as they close, enforces the recording's limits,
//! and runs the single finalization that every stop waits for.

use std::path::Path;
use std::time::Duration;

use tapedeck_capture::ScreenRecorder;
use tapedeck_core::{EngineError, Recording, RecordingState, StopReason};
use time::OffsetDateTime;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use super::segments::{finalize, persist_closed};
use super::StopOutcome;
use crate::Engine;

/// How often closed segments are moved to the store and the limits checked.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// The spool file that names the recorder's pid, for recovery after a crash.
pub(crate) const PID_FILE: &str = "ffmpeg.pid";

/// Records the recorder's pid beside its segments, so a restarted server can wait for it.
pub(super) async fn write_pid_file(spool_dir: &Path, pid: i32) {
    if let Err(e) = tokio::fs::write(spool_dir.join(PID_FILE), pid.to_string()).await {
        tracing::warn!(error = %e, "could not write recorder pid file");
    }
}

/// Runs a recording from capture to its finalized MP4, then publishes the outcome once.
pub(super) async fn supervise(
    engine: Engine,
    recorder: ScreenRecorder,
    recording: Recording,
    stop_rx: oneshot::Receiver<StopReason>,
    done_tx: watch::Sender<StopOutcome>,
) {
    let span =
        tracing::info_span!("recording", id = %recording.id, session = %recording.session_id);
    async move {
        let id = recording.id.clone();
        let outcome = run(&engine, recorder, recording, stop_rx).await;
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "finalization failed");
        }
        done_tx.send_replace(Some(outcome));
        engine.forget_recording(&id);
    }
    .instrument(span)
    .await
}

async fn run(
    engine: &Engine,
    mut recorder: ScreenRecorder,
    mut recording: Recording,
    mut stop_rx: oneshot::Receiver<StopReason>,
) -> Result<Recording, EngineError> {
    let limits = recording.limits;
    let deadline = Instant::now() + Duration::from_secs(limits.max_duration_secs);
    let mut bytes = 0u64;
    let mut tick = tokio::time::interval(POLL_EVERY);
    let reason = loop {
        tokio::select! {
            requested = &mut stop_rx => break requested.unwrap_or(StopReason::SessionEnded),
            _ = tokio::time::sleep_until(deadline) => break StopReason::MaxDuration,
            _ = tick.tick() => {
                let playlist = recorder.playlist().await;
                match persist_closed(engine.blobs(), &recording.id, recorder.spool_dir(), &playlist).await {
                    Ok(moved) => bytes += moved,
                    // Segments stay in the spool and are retried on the next tick or at finalize.
                    Err(e) => tracing::warn!(error = %e, "could not persist segments yet"),
                }
                if bytes >= limits.max_bytes {
                    break StopReason::MaxSize;
                }
                if recorder.has_exited() {
                    break StopReason::RecorderExited;
                }
            }
        }
    };
    engine.close_stop_channel(&recording.id);
    tracing::info!(reason = reason.as_str(), "stopping recording");
    recording.state = RecordingState::Stopping;
    recording.stop_reason = Some(reason);
    recording.finished_at = Some(OffsetDateTime::now_utc());
    engine.inner.meta.update_recording(&recording).await?;
    recorder.stop().await;
    finalize(engine, &mut recording, RecordingState::Finished).await
}
