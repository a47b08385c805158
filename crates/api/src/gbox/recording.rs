//! `/boxes/{id}/actions/recording/*`: one recording per box, and the rewind ring.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Extension;
use axum::Json;
use bytes::Bytes;
use tapedeck_core::duration::duration_field;
use tapedeck_core::{EngineError, StopReason};
use tapedeck_engine::{RecordingKind, RecordingRequest};
use tapedeck_store::StorageKey;

use super::boxes::running_box;
use super::storage::DEFAULT_URL_TTL;
use super::wire::{ExtractRewind, StartRecording, StoredArtifact};
use super::GboxError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::ApiState;

/// A recording stops by itself after `duration`, 30 minutes at most (docs/gbox.md, "Recording, rewind and storage").
const MAX_RECORDING: Duration = Duration::from_secs(30 * 60);
/// The rewind ring keeps what the longest extract needs.
const MAX_EXTRACT: Duration = Duration::from_secs(5 * 60);
const DEFAULT_EXTRACT: Duration = Duration::from_secs(30);

/// The `{storageKey, presignedUrl}` answer for a stored object.
pub(super) async fn stored(
    state: &ApiState,
    key: &StorageKey,
) -> Result<Json<StoredArtifact>, EngineError> {
    let (url, _) = state.engine.presigned_url(key, DEFAULT_URL_TTL).await?;
    Ok(Json(StoredArtifact {
        storage_key: key.to_string(),
        presigned_url: url,
    }))
}

/// `POST …/recording/start`, with no body or `{duration}`. A recording already running is
/// replaced: it is stopped and its video deleted, keeping only the latest.
pub async fn start(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: StartRecording = parse_json(&body)?;
    let duration = duration_field(
        "duration",
        params.duration.as_deref(),
        MAX_RECORDING,
        MAX_RECORDING,
    )?;
    for previous in state
        .engine
        .capturing_recording_ids(&session.id, RecordingKind::Replay)
    {
        state
            .engine
            .discard_recording(caller.project(), &previous)
            .await?;
    }
    let request = RecordingRequest {
        max_duration_secs: Some(duration.as_secs().max(1)),
        ..RecordingRequest::default()
    };
    state
        .engine
        .start_recording(caller.project(), &session.id, request)
        .await?;
    Ok(StatusCode::OK)
}

/// `POST …/recording/stop` → `{storageKey, presignedUrl}` once the MP4 is downloadable; 400
/// when nothing is recording.
pub async fn stop(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<StoredArtifact>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let recording_id = state
        .engine
        .capturing_recording_ids(&session.id, RecordingKind::Replay)
        .into_iter()
        .next()
        .ok_or_else(|| EngineError::conflict("no recording is in progress on this box"))?;
    state
        .engine
        .stop_recording(caller.project(), &recording_id, StopReason::Requested)
        .await?;
    let artifact = state
        .engine
        .artifact(caller.project(), &recording_id)
        .await?;
    Ok(stored(&state, &artifact.key).await?)
}

/// `POST …/recording/rewind`: start the background ring (no-op when it runs).
pub async fn rewind_enable(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    if state
        .engine
        .capturing_recording_ids(&session.id, RecordingKind::RewindRing)
        .is_empty()
    {
        let request = RecordingRequest {
            ring_secs: Some(MAX_EXTRACT.as_secs()),
            ..RecordingRequest::default()
        };
        state
            .engine
            .start_recording(caller.project(), &session.id, request)
            .await?;
    }
    Ok(StatusCode::OK)
}

/// `DELETE …/recording/rewind`: stop the ring and drop what it kept.
pub async fn rewind_disable(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    for ring in state
        .engine
        .capturing_recording_ids(&session.id, RecordingKind::RewindRing)
    {
        state
            .engine
            .discard_recording(caller.project(), &ring)
            .await?;
    }
    Ok(StatusCode::OK)
}

/// `POST …/recording/rewind/extract {duration}` (default 30s, max 5m) → the newest `duration`
/// of the screen as `{storageKey, presignedUrl}`.
pub async fn rewind_extract(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<StoredArtifact>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: ExtractRewind = parse_json(&body)?;
    let duration = duration_field(
        "duration",
        params.duration.as_deref(),
        DEFAULT_EXTRACT,
        MAX_EXTRACT,
    )?;
    let key = state.engine.extract_recent(&session.id, duration).await?;
    Ok(stored(&state, &key).await?)
}
