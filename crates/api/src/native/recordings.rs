//! `/v1/.../recordings`: start, list, retrieve, stop, and presigned download URLs.

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Extension;
use axum::Json;
use bytes::Bytes;
use tapedeck_core::StopReason;
use tapedeck_engine::{EngineError, RecordingRequest};

use super::wire::{
    DownloadQuery, DownloadUrl, ListedRecording, RecordingJson, RecordingList, RecordingPage,
    RecordingQuery, SessionQuery, StartRecording,
};
use super::NativeError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::common::error::{query, ErrorBody};
use crate::common::timestamp::rfc3339;
use crate::ApiState;

/// Default and longest lifetime of a presigned URL.
const DEFAULT_URL_TTL_SECS: u64 = 3600;
const MAX_URL_TTL_SECS: u64 = 7 * 24 * 3600;

/// Start recording a session's display.
#[utoipa::path(post, path = "/v1/sessions/{id}/recordings", request_body = StartRecording,
    responses((status = 201, body = RecordingJson), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn start(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<RecordingJson>), NativeError> {
    let params: StartRecording = parse_json(&body)?;
    let request = RecordingRequest {
        ring_secs: None,
        framerate: params.framerate,
        max_duration_secs: params.max_duration_secs,
    };
    let recording = state
        .engine
        .start_recording(caller.project(), &id, request)
        .await?;
    Ok((StatusCode::CREATED, Json(recording.into())))
}

/// A session's recordings, oldest first.
#[utoipa::path(get, path = "/v1/sessions/{id}/recordings",
    responses((status = 200, body = RecordingList), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<RecordingList>, NativeError> {
    let session = state
        .engine
        .get_session(caller.project(), &id, true)
        .await?;
    let items = state
        .engine
        .list_recordings(caller.project(), &session.id)
        .await?;
    Ok(Json(RecordingList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// The project's recordings, newest first, found by their session's name, tag, kind or state
/// and by when they started.
#[utoipa::path(get, path = "/v1/recordings",
    params(("limit" = Option<u32>, Query, description = "page size, 1..=100 (default 20)"),
           ("offset" = Option<u64>, Query, description = "recordings to skip"),
           ("since" = Option<String>, Query, description = "started at or after this RFC 3339 time"),
           ("until" = Option<String>, Query, description = "started before this RFC 3339 time"),
           ("name" = Option<String>, Query, description = "part of the session's name, in any case"),
           ("tag" = Option<String>, Query, description = "key:value, a tag (label) of the session"),
           ("kind" = Option<String>, Query, description = "the session's kind: browser or linux_box"),
           ("state" = Option<String>, Query, description = "the session's state: running, deleted or all (default)")),
    responses((status = 200, body = RecordingPage)))]
pub async fn list_all(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<RecordingQuery>, QueryRejection>,
    s: Result<Query<SessionQuery>, QueryRejection>,
) -> Result<Json<RecordingPage>, NativeError> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(20);
    let offset = q.offset.unwrap_or(0);
    let filter = q.filter(query(s)?)?;
    let page = state
        .engine
        .list_project_recordings(caller.project(), &filter, limit, offset)
        .await?;
    let next_offset = page.has_more.then(|| offset + page.items.len() as u64);
    let items = page
        .items
        .into_iter()
        .map(|(recording, spec)| ListedRecording::new(recording, spec))
        .collect();
    Ok(Json(RecordingPage { items, next_offset }))
}

/// A recording by id.
#[utoipa::path(get, path = "/v1/recordings/{id}",
    responses((status = 200, body = RecordingJson), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<RecordingJson>, NativeError> {
    Ok(Json(
        state
            .engine
            .get_recording(caller.project(), &id)
            .await?
            .into(),
    ))
}

/// Delete a recording: its MP4 and its metadata. Its presigned URLs answer 404 from then on.
#[utoipa::path(delete, path = "/v1/recordings/{id}",
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
              (status = 409, description = "still recording; stop it first", body = ErrorBody)))]
pub async fn delete(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, NativeError> {
    state.engine.delete_recording(caller.project(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop a recording; answers once the MP4 is downloadable. Idempotent.
#[utoipa::path(post, path = "/v1/recordings/{id}/stop",
    responses((status = 200, body = RecordingJson), (status = 404, body = ErrorBody)))]
pub async fn stop(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<RecordingJson>, NativeError> {
    let recording = state
        .engine
        .stop_recording(caller.project(), &id, StopReason::Requested)
        .await?;
    Ok(Json(recording.into()))
}

/// A presigned URL that downloads the recording's MP4 without credentials.
#[utoipa::path(get, path = "/v1/recordings/{id}/download-url",
    params(("expires_in_secs" = Option<u64>, Query)),
    responses((status = 200, body = DownloadUrl), (status = 409, description = "still recording", body = ErrorBody)))]
pub async fn download_url(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<DownloadQuery>, QueryRejection>,
) -> Result<Json<DownloadUrl>, NativeError> {
    let ttl_secs = query(q)?.expires_in_secs.unwrap_or(DEFAULT_URL_TTL_SECS);
    if !(1..=MAX_URL_TTL_SECS).contains(&ttl_secs) {
        return Err(EngineError::InvalidInput(format!(
            "expires_in_secs must be in 1..={MAX_URL_TTL_SECS}"
        ))
        .into());
    }
    let artifact = state.engine.artifact(caller.project(), &id).await?;
    let (url, expires_at) = state
        .engine
        .presigned_url(&artifact.key, Duration::from_secs(ttl_secs))
        .await?;
    Ok(Json(DownloadUrl {
        storage_key: artifact.key.to_string(),
        url,
        expires_at: rfc3339(expires_at),
        size_bytes: artifact.size,
    }))
}
