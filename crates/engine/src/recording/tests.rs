//! The recording machinery without a display: the supervisor, segment persistence, assembly,
//! finalization and recovery, on a real engine over SQLite and a local blob directory, fed by a
//! fake recorder that closes checked-in fMP4 segments.

use std::time::Duration;

use tapedeck_capture::fmp4;
use tapedeck_capture::sidx::{self, IndexedSegment};
use tapedeck_core::{EngineError, Recording, RecordingState, StopReason};
use tokio::sync::{oneshot, watch};

use super::parts::{persist_closed, stored_parts};
use super::supervisor::supervise;
use super::{finalize, StopOutcome};
use crate::layout::{parts_prefix, recording_key};
use crate::test_support::{
    engine, fixture, recording_row, spool_closed_segments, FakeRecorder, FIXTURE_SEGMENTS,
    FIXTURE_SPAN_MS, PROJECT,
};
use crate::Engine;

/// Longest any condition here is waited for; the supervisor polls every 500 ms.
const DEADLINE: Duration = Duration::from_secs(20);

/// A byte limit no test reaches.
const UNLIMITED: u64 = 1 << 40;

/// The fixture's init segment, the index of its first `segments` segments, and those segments:
/// the video a recording that closed that many must produce, byte for byte.
fn fixture_video(segments: usize) -> Vec<u8> {
    let init = fixture("init.mp4");
    let time = fmp4::track_time(&init).unwrap();
    let segments: Vec<Vec<u8>> = FIXTURE_SEGMENTS[..segments]
        .iter()
        .map(|name| fixture(name))
        .collect();
    let indexed: Vec<_> = segments
        .iter()
        .map(|s| IndexedSegment::of(s, time).unwrap())
        .collect();
    let index = sidx::index(time, &indexed).expect("an index");
    [init, index]
        .into_iter()
        .chain(segments)
        .flatten()
        .collect()
}

/// Starts a supervisor over `recorder`; returns its stop sender and outcome.
fn supervised(
    engine: &Engine,
    recording: &Recording,
    recorder: FakeRecorder,
    ring_segments: Option<usize>,
) -> (oneshot::Sender<StopReason>, watch::Receiver<StopOutcome>) {
    let (stop_tx, stop_rx) = oneshot::channel();
    let (done_tx, done_rx) = watch::channel(None);
    tokio::spawn(supervise(
        engine.clone(),
        recorder,
        recording.clone(),
        0,
        ring_segments,
        stop_rx,
        done_tx,
    ));
    (stop_tx, done_rx)
}

/// Waits for the supervisor's published outcome.
async fn outcome(mut done: watch::Receiver<StopOutcome>) -> Recording {
    let published = tokio::time::timeout(DEADLINE, done.wait_for(Option::is_some))
        .await
        .expect("the supervisor finished in time")
        .expect("the supervisor published");
    published.clone().expect("an outcome").expect("finalized")
}

/// Waits until the store holds at least `count` parts of `recording_id`.
async fn wait_for_stored_parts(engine: &Engine, recording_id: &str, count: usize) {
    let wait = async {
        loop {
            let stored = engine
                .blobs()
                .list(&parts_prefix(recording_id))
                .await
                .unwrap();
            if stored.len() >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .expect("parts stored in time");
}

/// The stored artifact's bytes.
async fn artifact_bytes(engine: &Engine, recording: &Recording) -> Vec<u8> {
    assert_eq!(
        recording.storage_key.as_deref(),
        Some(recording_key(&recording.id).unwrap().to_string().as_str())
    );
    engine
        .blobs()
        .get(&recording_key(&recording.id).unwrap())
        .await
        .expect("artifact")
        .to_vec()
}

#[tokio::test]
async fn a_stopped_recording_is_every_segment_in_order_assembled_while_recording() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let recording = recording_row(&engine, RecordingState::Recording, UNLIMITED).await;
    let recorder = FakeRecorder::new(engine.config().spool_dir(&recording.id), 2);
    let (stop, done) = supervised(&engine, &recording, recorder, None);
    // Some parts reach the store while recording; the rest are persisted by the stop.
    wait_for_stored_parts(&engine, &recording.id, 3).await;
    stop.send(StopReason::Requested).unwrap();
    let finished = outcome(done).await;

    assert_eq!(finished.state, RecordingState::Finished);
    assert_eq!(finished.stop_reason, Some(StopReason::Requested));
    assert_eq!(finished.duration_ms, Some(FIXTURE_SPAN_MS));
    let bytes = artifact_bytes(&engine, &finished).await;
    assert_eq!(bytes, fixture_video(FIXTURE_SEGMENTS.len()));
    assert_eq!(finished.size_bytes, Some(bytes.len() as u64));
    let stored = engine.get_recording(PROJECT, &recording.id).await.unwrap();
    for other in ["team-b", "default"] {
        assert!(matches!(
            engine.artifact(other, &recording.id).await,
            Err(EngineError::NotFound { .. })
        ));
    }
    assert_eq!(stored.state, finished.state);
    assert_eq!(stored.storage_key, finished.storage_key);
    assert_eq!(stored.size_bytes, finished.size_bytes);
    assert_eq!(stored.duration_ms, finished.duration_ms);
    let metrics = engine.metrics();
    assert_eq!(metrics.counters.recordings_finalized, 1);
    assert_eq!(metrics.recording_stops.count, 1);
    // Every part was stored once, then the video made of them.
    let parts: usize = std::iter::once("init.mp4")
        .chain(FIXTURE_SEGMENTS)
        .map(|name| fixture(name).len())
        .sum();
    assert_eq!(
        metrics.counters.blob_bytes_written,
        (parts + bytes.len()) as u64
    );
    // The spool is gone once the artifact is complete.
    assert!(!engine.config().spool_dir(&recording.id).exists());
}

#[tokio::test]
async fn a_finalization_that_fails_is_retried_and_one_that_keeps_failing_is_marked_failed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    // A directory where the MP4 goes: every write of the artifact fails until it is removed.
    let blocked = |recording: &Recording| {
        let key = recording_key(&recording.id).unwrap();
        let path = engine.blobs().local_path(&key).unwrap();
        std::fs::create_dir_all(&path).unwrap();
        path
    };

    let recording = recording_row(&engine, RecordingState::Recording, UNLIMITED).await;
    let path = blocked(&recording);
    let recorder = FakeRecorder::new(engine.config().spool_dir(&recording.id), 2);
    let (stop, done) = supervised(&engine, &recording, recorder, None);
    wait_for_stored_parts(&engine, &recording.id, 3).await;
    stop.send(StopReason::Requested).unwrap();
    // The first attempts fail; the store comes back before the last.
    tokio::time::sleep(Duration::from_millis(500)).await;
    std::fs::remove_dir(&path).unwrap();
    let finished = outcome(done).await;
    assert_eq!(finished.state, RecordingState::Finished);
    assert_eq!(
        artifact_bytes(&engine, &finished).await,
        fixture_video(FIXTURE_SEGMENTS.len())
    );

    let recording = recording_row(&engine, RecordingState::Recording, UNLIMITED).await;
    blocked(&recording);
    let recorder = FakeRecorder::new(engine.config().spool_dir(&recording.id), 2);
    let (stop, mut done) = supervised(&engine, &recording, recorder, None);
    stop.send(StopReason::Requested).unwrap();
    let failed = done
        .wait_for(Option::is_some)
        .await
        .unwrap()
        .clone()
        .unwrap();
    assert!(failed.is_err());
    let stored = engine.get_recording(PROJECT, &recording.id).await.unwrap();
    assert_eq!(stored.state, RecordingState::Failed);
    assert!(stored.problem.unwrap().contains("could not be finalized"));
}

#[tokio::test]
async fn a_recording_reaching_its_size_limit_stops_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    // The init segment and the first two segments pass this limit.
    let limit = (fixture("init.mp4").len() + fixture(FIXTURE_SEGMENTS[0]).len() + 1) as u64;
    let recording = recording_row(&engine, RecordingState::Recording, limit).await;
    let recorder = FakeRecorder::new(engine.config().spool_dir(&recording.id), 2);
    let (_stop, done) = supervised(&engine, &recording, recorder, None);
    let finished = outcome(done).await;
    assert_eq!(finished.stop_reason, Some(StopReason::MaxSize));
    assert_eq!(finished.state, RecordingState::Finished);
}

#[tokio::test]
async fn a_recorder_that_dies_ends_its_recording_with_what_it_closed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let recording = recording_row(&engine, RecordingState::Recording, UNLIMITED).await;
    let mut recorder = FakeRecorder::new(engine.config().spool_dir(&recording.id), 1);
    recorder.exits_after = Some(3);
    let (_stop, done) = supervised(&engine, &recording, recorder, None);
    let finished = outcome(done).await;
    assert_eq!(finished.stop_reason, Some(StopReason::RecorderExited));
    assert_eq!(artifact_bytes(&engine, &finished).await, fixture_video(3));
}

#[tokio::test]
async fn a_rewind_ring_keeps_only_its_newest_segments() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let recording = recording_row(&engine, RecordingState::Recording, UNLIMITED).await;
    let recorder = FakeRecorder::new(engine.config().spool_dir(&recording.id), 6);
    let (stop, done) = supervised(&engine, &recording, recorder, Some(2));
    // Every segment closes at the first poll; the ring then drops all but the newest two.
    let wait = async {
        loop {
            let parts = stored_parts(engine.blobs(), &recording.id, usize::MAX)
                .await
                .unwrap();
            if parts.is_some_and(|p| p.len() == 3) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .expect("the ring evicted in time");
    let kept = stored_parts(engine.blobs(), &recording.id, usize::MAX)
        .await
        .unwrap()
        .unwrap();
    assert!(kept[1].path().ends_with(FIXTURE_SEGMENTS[4]), "{kept:?}");
    assert!(kept[2].path().ends_with(FIXTURE_SEGMENTS[5]), "{kept:?}");

    stop.send(StopReason::Requested).unwrap();
    let finished = outcome(done).await;
    // A ring's length is read from the segments it kept, not the recorder's whole run.
    let duration = finished.duration_ms.expect("a duration");
    assert!(duration < FIXTURE_SPAN_MS / 2, "{duration} ms");
}

#[tokio::test]
async fn persisting_again_after_a_crash_moves_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let spool = dir.path().join("spool/r1");
    spool_closed_segments(&spool, 3);
    let listed = tapedeck_capture::spool::list_spool(&spool).await;
    let first = persist_closed(engine.blobs(), "r1", &spool, &listed)
        .await
        .unwrap();
    assert_eq!(first.len(), 4);
    assert!(!first[0].is_segment && first[1..].iter().all(|p| p.is_segment));
    // The list still names them, but their files left the spool with their upload.
    let again = persist_closed(engine.blobs(), "r1", &spool, &listed)
        .await
        .unwrap();
    assert!(again.is_empty());
    let stored = stored_parts(engine.blobs(), "r1", usize::MAX)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.len(), 4);
    // Asking for the newest two keeps the init segment in front of them.
    let newest = stored_parts(engine.blobs(), "r1", 2)
        .await
        .unwrap()
        .unwrap();
    assert!(newest[0].path().ends_with("init.mp4"));
    assert!(newest[2].path().ends_with(FIXTURE_SEGMENTS[2]));
}

#[tokio::test]
async fn finalizing_without_an_assembly_writes_the_same_indexed_video_from_the_stored_parts() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let mut recording = recording_row(&engine, RecordingState::Stopping, UNLIMITED).await;
    spool_closed_segments(
        &engine.config().spool_dir(&recording.id),
        FIXTURE_SEGMENTS.len(),
    );
    let finished = finalize(
        &engine,
        &mut recording,
        RecordingState::Finished,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        artifact_bytes(&engine, &finished).await,
        fixture_video(FIXTURE_SEGMENTS.len())
    );
    // With no length from a recorder, it is read from the segments' own timeline.
    assert_eq!(finished.duration_ms, Some(FIXTURE_SPAN_MS));
}

#[tokio::test]
async fn a_stopping_row_whose_artifact_exists_is_finalized_from_the_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let mut recording = recording_row(&engine, RecordingState::Stopping, UNLIMITED).await;
    // A previous finalization wrote the artifact and died before updating the metadata.
    let video = fixture_video(FIXTURE_SEGMENTS.len());
    engine
        .blobs()
        .put(&recording_key(&recording.id).unwrap(), video.clone().into())
        .await
        .unwrap();
    let finished = finalize(
        &engine,
        &mut recording,
        RecordingState::Interrupted,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(finished.state, RecordingState::Interrupted);
    assert_eq!(finished.size_bytes, Some(video.len() as u64));
    assert_eq!(artifact_bytes(&engine, &finished).await, video);
}

#[tokio::test]
async fn a_recording_with_nothing_captured_fails_instead_of_pointing_at_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let mut recording = recording_row(&engine, RecordingState::Stopping, UNLIMITED).await;
    let failed = finalize(
        &engine,
        &mut recording,
        RecordingState::Finished,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(failed.state, RecordingState::Failed);
    assert_eq!(failed.storage_key, None);
    assert!(!failed.is_downloadable());
}

#[tokio::test]
async fn recovery_finalizes_a_recording_a_crash_cut_short_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let recording = recording_row(&engine, RecordingState::Recording, UNLIMITED).await;
    // What a killed server leaves: closed segments in the spool, no recorder running.
    spool_closed_segments(&engine.config().spool_dir(&recording.id), 4);
    // The server starts again: the same node, a new incarnation.
    drop(engine);
    let engine = crate::test_support::engine(dir.path()).await;
    engine.recover().await.unwrap();
    engine.recovered().await;
    let recovered = engine.get_recording(PROJECT, &recording.id).await.unwrap();
    assert_eq!(recovered.state, RecordingState::Interrupted);
    assert_eq!(recovered.stop_reason, Some(StopReason::Recovered));
    assert_eq!(artifact_bytes(&engine, &recovered).await, fixture_video(4));
    // Its end is its start plus the length of what survived.
    let length = recovered.duration_ms.expect("a length from the segments");
    assert!((3000..FIXTURE_SPAN_MS).contains(&length), "{length} ms");
    assert_eq!(
        recovered.finished_at,
        Some(recovered.started_at + Duration::from_millis(length))
    );
}
