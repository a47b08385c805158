//! `/browsers/{id}/replays`: start, list, stop, download.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use axum::Json;
use bytes::Bytes;
use tapedeck_core::{Recording, StopReason};
use tapedeck_engine::{EngineError, RecordingRequest};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::wire::{Replay, StartReplay};
use super::KernelError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::common::timestamp::rfc3339;
use crate::ApiState;

/// Highest frame rate of a Kernel session without a GPU.
const MAX_CPU_FRAMERATE: u32 = 20;

/// Seconds a client is told to wait before asking again for a replay still recording.
const RETRY_AFTER_SECS: u32 = 5;
/// Lifetime of the bucket URL a download is redirected to; only long enough to start fetching.
const BUCKET_REDIRECT_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// The replay `replay_id` of `project`'s browser `id`; a replay of another browser is not found.
async fn replay_of(
    state: &ApiState,
    project: &str,
    id: &str,
    replay_id: &str,
) -> Result<Recording, KernelError> {
    let session = state.engine.get_session(project, id, true).await?;
    let recording = state.engine.get_recording(project, replay_id).await?;
    if recording.session_id != session.id {
        return Err(EngineError::not_found("replay", replay_id).into());
    }
    Ok(recording)
}

/// `POST /browsers/{id}/replays` → 201 + BrowserReplay. Several replays may run at once.
pub async fn start(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Replay>), KernelError> {
    let params: StartReplay = parse_json(&body)?;
    // Kernel allows more than 20 fps only on GPU sessions (docs/kernel.md, "Replay"); there are none here.
    // Every refusal names the same range, Kernel's.
    if let Some(fps) = params
        .framerate
        .filter(|fps| !(1..=MAX_CPU_FRAMERATE).contains(fps))
    {
        let why = if fps > MAX_CPU_FRAMERATE {
            ": higher rates need a GPU session, which this server does not have"
        } else {
            ""
        };
        return Err(EngineError::InvalidInput(format!(
            "framerate must be in 1..={MAX_CPU_FRAMERATE}, got {fps}{why}"
        ))
        .into());
    }
    if params.record_audio == Some(true) {
        return Err(EngineError::InvalidInput(
            "record_audio is not available on this server".into(),
        )
        .into());
    }
    let request = RecordingRequest {
        ring_secs: None,
        framerate: params.framerate,
        max_duration_secs: params.max_duration_in_seconds,
    };
    let recording = state
        .engine
        .start_recording(caller.project(), &id, request)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Replay::from_recording(&state, recording).await?),
    ))
}

/// `GET /browsers/{id}/replays` → a bare JSON array; the browser may be deleted already.
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Replay>>, KernelError> {
    let session = state
        .engine
        .get_session(caller.project(), &id, true)
        .await?;
    let recordings = state
        .engine
        .list_recordings(caller.project(), &session.id)
        .await?;
    let mut replays = Vec::with_capacity(recordings.len());
    for recording in recordings {
        replays.push(Replay::from_recording(&state, recording).await?);
    }
    Ok(Json(replays))
}

/// `POST /browsers/{id}/replays/{replay_id}/stop` → 200 with an empty body, once the MP4 is
/// downloadable. Repeated and concurrent stops all get 200 after the one finalization.
pub async fn stop(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, replay_id)): Path<(String, String)>,
) -> Result<StatusCode, KernelError> {
    replay_of(&state, caller.project(), &id, &replay_id).await?;
    state
        .engine
        .stop_recording(caller.project(), &replay_id, StopReason::Requested)
        .await?;
    Ok(StatusCode::OK)
}

/// `GET /browsers/{id}/replays/{replay_id}` → 200 `video/mp4` (with Range support), or 202 with
/// `Retry-After` while it is still recording. A download during finalization waits for it.
pub async fn download(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, replay_id)): Path<(String, String)>,
    request: Request,
) -> Result<Response, KernelError> {
    let recording = replay_of(&state, caller.project(), &id, &replay_id).await?;
    let artifact = match state.engine.artifact(caller.project(), &replay_id).await {
        Ok(artifact) => artifact,
        Err(EngineError::NotReady(_)) => {
            let mut response = StatusCode::ACCEPTED.into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            return Ok(response);
        }
        Err(e) => return Err(e.into()),
    };
    let mut response = match artifact.local_path {
        Some(file) => ServeFile::new(file)
            .oneshot(request)
            .await
            .map_err(EngineError::internal)?
            .into_response(),
        // A bucket serves the bytes itself (with Range); the SDKs follow the redirect, and drop
        // their API key on the way to another origin.
        None => {
            let (url, _) = state
                .engine
                .presigned_url(&artifact.key, BUCKET_REDIRECT_TTL)
                .await?;
            Redirect::temporary(&url).into_response()
        }
    };
    let headers = response.headers_mut();
    let stamp = |t| HeaderValue::try_from(rfc3339(t)).ok();
    if let Some(v) = stamp(recording.started_at) {
        headers.insert("x-recording-started-at", v);
    }
    if let Some(v) = recording.finished_at.and_then(stamp) {
        headers.insert("x-recording-finished-at", v);
    }
    Ok(response)
}
