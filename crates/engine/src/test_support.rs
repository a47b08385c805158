//! What the engine's unit tests share: a real engine over SQLite and a local blob directory, a
//! session and recording row to record into, and a fake recorder that closes the checked-in
//! fMP4 segments of `crates/capture/fixtures/vfr-segments` as a real recorder would.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tapedeck_capture::SegmentList;
use tapedeck_core::{
    id, Recording, RecordingLimits, RecordingState, Session, SessionSpec, SessionState, Viewport,
};
use tapedeck_store::{BlobStore, Presigner, Signer, SqlMetadata};
use tapedeck_upstream::UpstreamClient;
use time::OffsetDateTime;

use crate::recording::recorder::Recorder;
use crate::{Engine, EngineConfig};

/// The fixture's segment files, in playback order.
pub(crate) const FIXTURE_SEGMENTS: [&str; 6] = [
    "seg_00000.m4s",
    "seg_00001.m4s",
    "seg_00002.m4s",
    "seg_00003.m4s",
    "seg_00004.m4s",
    "seg_00005.m4s",
];
/// The fixture's length: its last frame starts at 5.5 s and lasts 0.1 s.
pub(crate) const FIXTURE_SPAN_MS: u64 = 5600;

/// The folder holding the fixture recording.
pub(crate) fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../capture/fixtures/vfr-segments")
}

/// The bytes of one fixture file.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).expect("fixture file")
}

/// A real engine whose state lives under `dir`.
pub(crate) async fn engine(dir: &Path) -> Engine {
    engine_with(EngineConfig::new(dir.to_path_buf())).await
}

/// A real engine with `config`, over SQLite and a local blob directory in its data dir.
pub(crate) async fn engine_with(config: EngineConfig) -> Engine {
    let dir = config.data_dir.clone();
    let meta = SqlMetadata::open_sqlite(&dir.join("tapedeck.db"))
        .await
        .expect("open SQLite");
    Engine::new(
        config,
        Arc::new(meta),
        BlobStore::local(&dir.join("blobs")).expect("blob dir"),
        Presigner::new(Signer::new(b"test".to_vec()), "http://127.0.0.1"),
        UpstreamClient::new(None).expect("upstream client"),
    )
}

/// The project the rows made here belong to.
pub(crate) const PROJECT: &str = "team-a";

/// A plain browser session's spec: default viewport, no start page, kiosk mode or envs.
pub(crate) fn session_spec() -> SessionSpec {
    SessionSpec::browser(Viewport::default(), 60)
}

/// Stores a running session and a recording of it in `state`, as start would.
pub(crate) async fn recording_row(
    engine: &Engine,
    state: RecordingState,
    max_bytes: u64,
) -> Recording {
    let session = Session {
        id: id::new_id(),
        project: PROJECT.into(),
        spec: session_spec(),
        state: SessionState::Running,
        created_at: OffsetDateTime::now_utc(),
        deleted_at: None,
        end_reason: None,
        node: None,
    };
    engine
        .inner
        .meta
        .insert_session(&session)
        .await
        .expect("session row");
    let recording = Recording {
        id: id::new_id(),
        session_id: session.id,
        state,
        stop_reason: None,
        limits: RecordingLimits {
            framerate: 10,
            max_duration_secs: 3600,
            max_bytes,
        },
        started_at: OffsetDateTime::now_utc(),
        finished_at: None,
        storage_key: None,
        size_bytes: None,
        duration_ms: None,
        problem: None,
    };
    engine
        .inner
        .meta
        .insert_recording(&recording)
        .await
        .expect("recording row");
    recording
}

/// Writes the fixture's init segment and its first `closed` segments into `spool_dir`: what
/// the segmenter leaves behind after closing that many segments.
pub(crate) fn spool_closed_segments(spool_dir: &Path, closed: usize) {
    std::fs::create_dir_all(spool_dir).expect("spool dir");
    std::fs::write(spool_dir.join("init.mp4"), fixture("init.mp4")).expect("init");
    for name in &FIXTURE_SEGMENTS[..closed] {
        std::fs::write(spool_dir.join(name), fixture(name)).expect("segment");
    }
}

/// A recorder that closes `per_poll` more fixture segments each time it is asked which are
/// closed, and all of them at stop. It writes each file once, so a file the supervisor moved to the store
/// stays moved, as with ffmpeg.
pub(crate) struct FakeRecorder {
    spool_dir: PathBuf,
    per_poll: usize,
    closed: std::sync::atomic::AtomicUsize,
    /// Ends by itself (as a crashed ffmpeg) once this many segments are closed.
    pub(crate) exits_after: Option<usize>,
}

impl FakeRecorder {
    /// A recorder writing into `spool_dir`.
    pub(crate) fn new(spool_dir: PathBuf, per_poll: usize) -> Self {
        std::fs::create_dir_all(&spool_dir).expect("spool dir");
        Self {
            spool_dir,
            per_poll,
            closed: Default::default(),
            exits_after: None,
        }
    }

    fn close_up_to(&self, wanted: usize) {
        use std::sync::atomic::Ordering;
        let wanted = wanted.min(FIXTURE_SEGMENTS.len());
        let before = self.closed.swap(wanted, Ordering::SeqCst);
        // Only newly closed files are written; earlier ones may already be in the store.
        for name in &FIXTURE_SEGMENTS[before.min(wanted)..wanted] {
            std::fs::write(self.spool_dir.join(name), fixture(name)).expect("segment");
        }
        if before == 0 && wanted > 0 {
            std::fs::write(self.spool_dir.join("init.mp4"), fixture("init.mp4")).expect("init");
        }
    }
}

impl Recorder for FakeRecorder {
    fn spool_dir(&self) -> &Path {
        &self.spool_dir
    }

    fn closed_segments(&self) -> SegmentList {
        let closed = self.closed.load(std::sync::atomic::Ordering::SeqCst);
        self.close_up_to(closed + self.per_poll);
        let closed = self.closed.load(std::sync::atomic::Ordering::SeqCst);
        SegmentList {
            init: (closed > 0).then(|| "init.mp4".to_owned()),
            segments: FIXTURE_SEGMENTS[..closed]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    fn activity(&self) -> tapedeck_capture::activity::ActivityLog {
        tapedeck_capture::activity::ActivityLog::default()
    }

    fn has_exited(&mut self) -> bool {
        let closed = self.closed.load(std::sync::atomic::Ordering::SeqCst);
        self.exits_after.is_some_and(|n| closed >= n)
    }

    async fn stop(self) -> Option<u64> {
        if self.exits_after.is_none() {
            self.close_up_to(FIXTURE_SEGMENTS.len());
        }
        Some(FIXTURE_SPAN_MS)
    }
}
