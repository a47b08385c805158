//! Recordings of a session's display: start, stop (idempotent, single-flight), look up, list.

mod assembly;
mod finalize;
mod parts;
pub(crate) mod recorder;
mod rewind;
mod supervisor;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tapedeck_capture::recorder::DEFAULT_SEGMENT_SECS;
use tapedeck_capture::{RecorderOptions, ScreenRecorder};
use tapedeck_core::{
    id, EngineError, Recording, RecordingLimits, RecordingState, SessionSpec, StopReason,
};
use tapedeck_store::meta::{Page, RecordingFilter};
use tapedeck_store::StorageKey;
use time::OffsetDateTime;
use tokio::sync::{oneshot, watch};

pub(crate) use finalize::finalize;
pub(crate) use parts::sweep_leftover_parts;

use crate::counters::Counters;

/// Most recordings in one page of a project's list.
const MAX_RECORDINGS_PAGE: u32 = 100;
use crate::{lock, to_completion, Engine};

/// The recordings being captured on this node, by id.
pub(crate) type LiveRecordings = HashMap<String, Arc<LiveRecording>>;

/// What a finished stop publishes to every waiting caller.
type StopOutcome = Option<Result<Recording, EngineError>>;

/// A recording in flight: the handle its stops use to reach its supervisor.
pub(crate) struct LiveRecording {
    session_id: String,
    /// Segment length, for extracts.
    segment_secs: u32,
    /// True for a rewind ring.
    ring: bool,
    /// The encoder's process group, for a shutdown that cannot wait for it.
    encoder_pgid: i32,
    /// Taken by the first stop; later stops find `None` and only wait.
    stop_tx: Mutex<Option<oneshot::Sender<StopReason>>>,
    done: watch::Receiver<StopOutcome>,
}

/// What a client may ask of a new recording; `None` takes the server's default.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordingRequest {
    /// Frames per second, within [`RecordingLimits::FRAMERATE_RANGE`].
    pub framerate: Option<u32>,
    /// Stop by itself after this many seconds (at least 1).
    pub max_duration_secs: Option<u64>,
    /// Record continuously but keep only about the newest this many seconds (a rewind ring).
    pub ring_secs: Option<u64>,
}

/// Which kind of recording: a replay kept whole, or a rewind ring keeping only its newest part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingKind {
    /// A recording kept from start to stop.
    Replay,
    /// A ring that keeps about the newest `ring_secs`, for rewind extracts.
    RewindRing,
}

/// Segment length of rewind rings: short, so an extract is cut close to the asked duration.
const RING_SEGMENT_SECS: u32 = 1;

/// A finalized recording's MP4 in the store.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// Its storage key.
    pub key: StorageKey,
    /// The local file, when the store is a local directory.
    pub local_path: Option<std::path::PathBuf>,
    /// Its size in bytes.
    pub size: u64,
}

impl Engine {
    /// Starts recording the display of one of `project`'s running sessions.
    ///
    /// Errors: `InvalidInput` for limits out of range, `NotFound` for no such running session
    /// in `project`, `Conflict` when the session is ending.
    #[tracing::instrument(skip(self))]
    pub async fn start_recording(
        &self,
        project: &str,
        session_id_or_name: &str,
        request: RecordingRequest,
    ) -> Result<Recording, EngineError> {
        let (engine, project, session) = (
            self.clone(),
            project.to_owned(),
            session_id_or_name.to_owned(),
        );
        to_completion(async move { engine.begin_recording(&project, &session, request).await })
            .await
    }

    async fn begin_recording(
        &self,
        project: &str,
        session_id_or_name: &str,
        request: RecordingRequest,
    ) -> Result<Recording, EngineError> {
        let config = &self.inner.config;
        let limits = self.limits_for(request)?;
        self.ensure_disk_room()?;
        let session = self.get_session(project, session_id_or_name, false).await?;
        let live_session = self.live_session(&session.id)?;
        let mut recording = Recording {
            id: id::new_id(),
            session_id: session.id.clone(),
            state: RecordingState::Recording,
            stop_reason: None,
            limits,
            started_at: OffsetDateTime::now_utc(),
            finished_at: None,
            storage_key: None,
            size_bytes: None,
            duration_ms: None,
            problem: None,
        };
        let segment_secs = match request.ring_secs {
            Some(_) => RING_SEGMENT_SECS,
            None => DEFAULT_SEGMENT_SECS,
        };
        // One spare segment, since the newest closed segment ends up to a segment ago.
        let ring_segments = request
            .ring_secs
            .map(|secs| secs.div_ceil(u64::from(segment_secs)) as usize + 1);
        let options = RecorderOptions {
            ffmpeg: config.ffmpeg.clone(),
            spool_dir: config.spool_dir(&recording.id),
            framerate: limits.framerate,
            segment_secs,
            strict_keyframes: request.ring_secs.is_some(),
            crf: config.video_crf,
        };
        let recorder = {
            let display = live_session.display.lock().await;
            let display = display
                .as_ref()
                .ok_or_else(|| EngineError::conflict("the session is ending"))?;
            ScreenRecorder::start(display, &options)
                .await
                .map_err(EngineError::internal)?
        };
        // The video's time 0 is its first frame, so events map onto it by wall time.
        let video_start = recorder.started();
        recording.started_at = OffsetDateTime::now_utc() - video_start.elapsed();
        let video_start_elapsed_ms = live_session.events.elapsed_ms(video_start);
        if let Err(e) = self.inner.meta.insert_recording(&recording).await {
            recorder.stop().await;
            return Err(e.into());
        }
        let (stop_tx, stop_rx) = oneshot::channel();
        let (done_tx, done_rx) = watch::channel(None);
        lock(&self.inner.recordings).insert(
            recording.id.clone(),
            Arc::new(LiveRecording {
                session_id: session.id.clone(),
                encoder_pgid: recorder.pid(),
                segment_secs,
                ring: ring_segments.is_some(),
                stop_tx: Mutex::new(Some(stop_tx)),
                done: done_rx,
            }),
        );
        self.touch_session(&session.id);
        tokio::spawn(supervisor::supervise(
            self.clone(),
            recorder,
            recording.clone(),
            video_start_elapsed_ms,
            ring_segments,
            stop_rx,
            done_tx,
        ));
        Counters::bump(&self.inner.counters.recordings_started);
        tracing::info!(recording = %recording.id, session = %session.id, fps = limits.framerate, "recording started");
        Ok(recording)
    }

    fn limits_for(&self, request: RecordingRequest) -> Result<RecordingLimits, EngineError> {
        let config = &self.inner.config;
        let framerate = request.framerate.unwrap_or(config.default_framerate);
        if !RecordingLimits::FRAMERATE_RANGE.contains(&framerate) {
            return Err(EngineError::InvalidInput(format!(
                "framerate must be in {}..={}, got {framerate}",
                RecordingLimits::FRAMERATE_RANGE.start(),
                RecordingLimits::FRAMERATE_RANGE.end()
            )));
        }
        let max_duration_secs = match request.max_duration_secs {
            Some(0) => {
                return Err(EngineError::InvalidInput(
                    "max_duration_in_seconds must be at least 1".into(),
                ))
            }
            Some(secs) => secs.min(config.max_recording_secs),
            None => config.max_recording_secs,
        };
        Ok(RecordingLimits {
            framerate,
            max_duration_secs,
            max_bytes: config.max_recording_bytes,
        })
    }

    /// Stops one of `project`'s recordings and returns it once its MP4 is downloadable; see
    /// [`Engine::finish_recording`].
    ///
    /// Errors: `NotFound` when `project` has no such recording.
    pub async fn stop_recording(
        &self,
        project: &str,
        recording_id: &str,
        reason: StopReason,
    ) -> Result<Recording, EngineError> {
        self.get_recording(project, recording_id).await?;
        let (engine, id) = (self.clone(), recording_id.to_owned());
        to_completion(async move { engine.finish_recording(&id, reason).await }).await
    }

    /// Stops a recording, whoever owns it, and returns it once its MP4 is downloadable.
    ///
    /// Idempotent and single-flight: the first call signals the recorder once; every concurrent
    /// or later call waits for that same finalization and gets the same answer.
    #[tracing::instrument(skip(self))]
    pub(crate) async fn finish_recording(
        &self,
        recording_id: &str,
        reason: StopReason,
    ) -> Result<Recording, EngineError> {
        let live = lock(&self.inner.recordings).get(recording_id).cloned();
        match live {
            Some(live) => {
                if let Some(tx) = lock(&live.stop_tx).take() {
                    // The supervisor may have stopped by itself (limit reached); then it is
                    // already finalizing and the send has no receiver, which is fine.
                    let _ = tx.send(reason);
                }
                Self::wait_done(&live).await
            }
            // Not live: either finished already (return it) or unknown.
            None => self.recording_by_id(recording_id).await,
        }
    }

    async fn wait_done(live: &LiveRecording) -> Result<Recording, EngineError> {
        let mut done = live.done.clone();
        let outcome = done
            .wait_for(Option::is_some)
            .await
            .map_err(|_| EngineError::Internal("recording supervisor vanished".into()))?;
        outcome
            .clone()
            .unwrap_or_else(|| Err(EngineError::Internal("no outcome".into())))
    }

    /// Stops one of `project`'s recordings and deletes its video, keeping its metadata as
    /// `discarded`.
    ///
    /// Errors: `NotFound` when `project` has no such recording.
    pub async fn discard_recording(
        &self,
        project: &str,
        recording_id: &str,
    ) -> Result<Recording, EngineError> {
        let mut recording = self
            .stop_recording(project, recording_id, StopReason::Replaced)
            .await?;
        if let Some(key) = recording.storage_key.take() {
            self.blobs().delete(&StorageKey::parse(&key)?).await?;
        }
        recording.state = RecordingState::Discarded;
        recording.size_bytes = None;
        self.inner.meta.update_recording(&recording).await?;
        tracing::info!(recording = %recording_id, "recording discarded");
        Ok(recording)
    }

    /// One of `project`'s recordings (those of its sessions) by id.
    ///
    /// Errors: `NotFound` when `project` has no such recording, whether or not another has.
    pub async fn get_recording(
        &self,
        project: &str,
        recording_id: &str,
    ) -> Result<Recording, EngineError> {
        let recording = self.recording_by_id(recording_id).await?;
        let session = self
            .inner
            .meta
            .find_session(project, &recording.session_id, true)
            .await?;
        match session {
            Some(_) => Ok(recording),
            None => Err(EngineError::not_found("recording", recording_id)),
        }
    }

    /// A recording by id, whoever owns it.
    pub(crate) async fn recording_by_id(
        &self,
        recording_id: &str,
    ) -> Result<Recording, EngineError> {
        self.inner
            .meta
            .get_recording(recording_id)
            .await?
            .ok_or_else(|| EngineError::not_found("recording", recording_id))
    }

    /// The recordings of one of `project`'s sessions, oldest first; the session may already
    /// be deleted.
    ///
    /// Errors: `NotFound` when `project` has no such session.
    pub async fn list_recordings(
        &self,
        project: &str,
        session_id_or_name: &str,
    ) -> Result<Vec<Recording>, EngineError> {
        let session = self.get_session(project, session_id_or_name, true).await?;
        Ok(self.inner.meta.list_recordings(&session.id).await?)
    }

    /// `project`'s recordings whose session and start match `filter`, newest first, `limit`
    /// (at most 100) from `offset`, each with its session's spec.
    pub async fn list_project_recordings(
        &self,
        project: &str,
        filter: &RecordingFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<(Recording, SessionSpec)>, EngineError> {
        let limit = limit.clamp(1, MAX_RECORDINGS_PAGE);
        Ok(self
            .inner
            .meta
            .list_project_recordings(project, filter, limit, offset)
            .await?)
    }

    /// The MP4 of one of `project`'s recordings, waiting for a finalization in progress rather
    /// than failing.
    ///
    /// Errors: `NotFound` when `project` has no such recording, `NotReady` while it still
    /// captures, `Conflict` when it has no playable video.
    pub async fn artifact(
        &self,
        project: &str,
        recording_id: &str,
    ) -> Result<Artifact, EngineError> {
        self.get_recording(project, recording_id).await?;
        let live = lock(&self.inner.recordings).get(recording_id).cloned();
        let recording = match live {
            // Still capturing: there is no MP4 yet.
            Some(live) if lock(&live.stop_tx).is_some() => {
                return Err(EngineError::NotReady(format!(
                    "recording {recording_id} is still running; stop it first"
                )))
            }
            Some(live) => Self::wait_done(&live).await?,
            None => self.recording_by_id(recording_id).await?,
        };
        let key = match (&recording.storage_key, recording.is_downloadable()) {
            (Some(key), true) => StorageKey::parse(key)?,
            _ => {
                return Err(EngineError::conflict(format!(
                    "recording {recording_id} has no playable video (state {})",
                    recording.state.as_str()
                )))
            }
        };
        let size = self.inner.blobs.size(&key).await?.ok_or_else(|| {
            EngineError::Internal(format!("artifact {key} is missing from the blob store"))
        })?;
        Ok(Artifact {
            local_path: self.inner.blobs.local_path(&key),
            key,
            size,
        })
    }

    /// A presigned URL for a stored object, valid for `ttl`: the bucket's own (SigV4) with an S3
    /// store, the server's `/files` route with the local one.
    pub async fn presigned_url(
        &self,
        key: &StorageKey,
        ttl: Duration,
    ) -> Result<(String, OffsetDateTime), EngineError> {
        match self.inner.blobs.bucket_url(key, ttl).await? {
            Some(url) => Ok((url, OffsetDateTime::now_utc() + ttl)),
            None => Ok(self.inner.presigner.url(key, ttl)),
        }
    }

    /// Kills every encoder still running, at once: for a shutdown past its deadline. Encoders
    /// outlive the server on purpose (they finish their segment when their input closes), so a
    /// stalled one would otherwise be left behind; the next start recovers their recordings.
    pub fn kill_encoders(&self) {
        for live in lock(&self.inner.recordings).values() {
            tapedeck_capture::process::kill_group(live.encoder_pgid);
        }
    }

    /// Marks a live recording as finalizing: later stops only wait, downloads wait too.
    pub(crate) fn close_stop_channel(&self, recording_id: &str) {
        if let Some(live) = lock(&self.inner.recordings).get(recording_id) {
            lock(&live.stop_tx).take();
        }
    }

    /// Forgets a live recording once its outcome is published and stored.
    pub(crate) fn forget_recording(&self, recording_id: &str) {
        lock(&self.inner.recordings).remove(recording_id);
    }

    /// Ids of a session's recordings still capturing or finalizing.
    pub fn live_recording_ids(&self, session_id: &str) -> Vec<String> {
        self.live_recordings_where(|r| r.session_id == session_id)
    }

    /// Ids of a session's recordings of `kind` that are still capturing.
    pub fn capturing_recording_ids(&self, session_id: &str, kind: RecordingKind) -> Vec<String> {
        let ring = kind == RecordingKind::RewindRing;
        self.live_recordings_where(|r| {
            r.session_id == session_id && r.ring == ring && lock(&r.stop_tx).is_some()
        })
    }

    pub(super) fn live_recordings_where(
        &self,
        keep: impl Fn(&LiveRecording) -> bool,
    ) -> Vec<String> {
        lock(&self.inner.recordings)
            .iter()
            .filter(|(_, r)| keep(r))
            .map(|(id, _)| id.clone())
            .collect()
    }
}
