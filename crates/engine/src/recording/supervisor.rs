//! One task per recording: it persists segments as they close, enforces the recording's limits,
//! and runs the single finalization that every stop waits for.

use std::collections::VecDeque;
use std::time::Duration;

use tapedeck_core::{EngineError, Recording, RecordingState, StopReason};
use time::OffsetDateTime;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use super::assembly::{keep_assembling, Assembly};
use super::finalize::finalize;
use super::parts::{persist_closed, PersistedPart};
use super::recorder::Recorder;
use super::StopOutcome;
use crate::counters::Counters;
use crate::Engine;

/// How often closed segments are moved to the store and the limits checked.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// Finalization attempts before a recording is marked `failed`.
const FINALIZE_ATTEMPTS: u32 = 5;
/// The wait before the first retry of a finalization; it doubles after each (1 + 2 + 4 + 8 s).
const FIRST_FINALIZE_RETRY: Duration = if cfg!(test) {
    Duration::from_millis(200)
} else {
    Duration::from_secs(1)
};
/// Runs a recording from capture to its finalized MP4, then publishes the outcome once.
///
/// With `ring_segments`, only the newest that many segments are kept (GBOX rewind).
pub(super) async fn supervise(
    engine: Engine,
    recorder: impl Recorder,
    recording: Recording,
    video_start_elapsed_ms: u64,
    ring_segments: Option<usize>,
    stop_rx: oneshot::Receiver<StopReason>,
    done_tx: watch::Sender<StopOutcome>,
) {
    let span =
        tracing::info_span!("recording", id = %recording.id, session = %recording.session_id);
    async move {
        let id = recording.id.clone();
        let activity = recorder.activity();
        let clock = (recording.clone(), video_start_elapsed_ms);
        let note_activity = || engine.note_activity(&clock.0, clock.1, activity.take_closed());
        let outcome = run(
            &engine,
            recorder,
            recording,
            ring_segments,
            stop_rx,
            note_activity,
        )
        .await;
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
    mut recorder: impl Recorder,
    mut recording: Recording,
    ring_segments: Option<usize>,
    mut stop_rx: oneshot::Receiver<StopReason>,
    note_activity: impl Fn(),
) -> Result<Recording, EngineError> {
    let limits = recording.limits;
    let deadline = Instant::now() + Duration::from_secs(limits.max_duration_secs);
    let mut stored = StoredSegments::default();
    // A rewind ring drops old segments, so only plain recordings assemble as they go.
    let mut assembly = match ring_segments {
        Some(_) => None,
        None => match Assembly::start(engine.blobs(), &recording.id).await {
            Ok(assembly) => Some(assembly),
            Err(e) => {
                tracing::warn!(error = %e, "cannot assemble while recording; will assemble the stored parts at stop");
                None
            }
        },
    };
    let mut tick = tokio::time::interval(POLL_EVERY);
    let reason = loop {
        tokio::select! {
            requested = &mut stop_rx => break requested.unwrap_or(StopReason::SessionEnded),
            _ = tokio::time::sleep_until(deadline) => break StopReason::MaxDuration,
            _ = tick.tick() => {
                note_activity();
                let closed = recorder.closed_segments();
                match persist_closed(engine.blobs(), &recording.id, recorder.spool_dir(), &closed).await {
                    Ok(moved) => {
                        assembly = keep_assembling(assembly.take(), Some(&moved)).await;
                        stored.add(engine, moved, ring_segments).await
                    }
                    // Segments stay in the spool and are retried on the next tick or at finalize;
                    // some may have moved, so the assembly no longer has every part.
                    Err(e) => {
                        tracing::warn!(error = %e, "could not persist segments yet");
                        assembly = keep_assembling(assembly.take(), None).await;
                    }
                }
                if stored.bytes >= limits.max_bytes {
                    break StopReason::MaxSize;
                }
                if engine.disk_below_floor().is_some() {
                    tracing::warn!("the recording disk is below its free-space floor; stopping");
                    break StopReason::DiskFull;
                }
                if recorder.has_exited() {
                    break StopReason::RecorderExited;
                }
            }
        }
    };
    // The stop's latency runs from here, whatever stopped it, to the finalized video.
    let stopping = Instant::now();
    engine.close_stop_channel(&recording.id);
    tracing::info!(reason = reason.as_str(), "stopping recording");
    recording.state = RecordingState::Stopping;
    recording.stop_reason = Some(reason);
    recording.finished_at = Some(OffsetDateTime::now_utc());
    // Stopping goes ahead even if this write fails: finalize writes the final state anyway.
    if let Err(e) = engine.inner.meta.update_recording(&recording).await {
        tracing::warn!(error = %e, "could not mark the recording stopping");
    }
    let length_ms = recorder.stop().await;
    note_activity();
    // A ring keeps only its newest segments, so its length comes from those.
    let length_ms = length_ms.filter(|_| ring_segments.is_none());
    // An encoder or display that died is a fault: the video ends there, not where it was asked.
    let final_state = match reason {
        StopReason::RecorderExited => RecordingState::Interrupted,
        _ => RecordingState::Finished,
    };
    let finalized =
        finalize_with_retries(engine, recording, final_state, assembly, length_ms).await;
    if finalized.is_ok() {
        let counters = &engine.inner.counters;
        Counters::bump(&counters.recordings_finalized);
        counters.recording_stops.observe(stopping.elapsed());
    }
    finalized
}

/// Finalizes as `final_state`, retrying a failure (a bucket or database that hiccups) with a doubling wait;
/// after [`FINALIZE_ATTEMPTS`] the recording is marked `failed` with its problem, so later
/// stops and downloads say so instead of finding it `stopping` for ever. Its parts stay stored.
async fn finalize_with_retries(
    engine: &Engine,
    mut recording: Recording,
    final_state: RecordingState,
    mut assembly: Option<Assembly>,
    length_ms: Option<u64>,
) -> Result<Recording, EngineError> {
    let mut wait = FIRST_FINALIZE_RETRY;
    let mut attempt = 1;
    loop {
        let outcome = finalize(
            engine,
            &mut recording,
            final_state,
            assembly.take(),
            length_ms,
        )
        .await;
        match outcome {
            Ok(finished) => return Ok(finished),
            Err(e) if attempt < FINALIZE_ATTEMPTS => {
                tracing::warn!(attempt, error = %e, retry_in_ms = wait.as_millis() as u64, "finalization failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            Err(e) => {
                recording.state = RecordingState::Failed;
                recording.problem = Some(format!(
                    "its video could not be finalized after {FINALIZE_ATTEMPTS} attempts; the \
                     server log has why, and its segments are kept"
                ));
                if let Err(write) = engine.inner.meta.update_recording(&recording).await {
                    tracing::error!(error = %write, "could not mark the recording failed");
                }
                return Err(e);
            }
        }
    }
}

/// The segments a recording holds in the store, oldest first, and their total size.
#[derive(Default)]
struct StoredSegments {
    segments: VecDeque<PersistedPart>,
    bytes: u64,
}

impl StoredSegments {
    /// Counts newly persisted parts; in a ring, deletes the oldest beyond `ring_segments`.
    async fn add(
        &mut self,
        engine: &Engine,
        moved: Vec<PersistedPart>,
        ring_segments: Option<usize>,
    ) {
        for part in moved {
            self.bytes += part.size;
            if part.is_segment {
                self.segments.push_back(part);
            }
        }
        let Some(keep) = ring_segments else { return };
        while self.segments.len() > keep {
            let Some(oldest) = self.segments.pop_front() else {
                break;
            };
            match engine.blobs().delete(&oldest.key).await {
                Ok(()) => self.bytes -= oldest.size,
                Err(e) => {
                    tracing::warn!(error = %e, "could not drop an old rewind segment; retrying later");
                    self.segments.push_front(oldest);
                    break;
                }
            }
        }
    }
}
