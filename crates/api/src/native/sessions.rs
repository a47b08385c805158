//! `/v1/sessions`: create, list, retrieve, delete, a thumbnail of the screen, and the CDP
//! relay.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use bytes::Bytes;

use tapedeck_core::SessionState;

use super::wire::{CreateSession, ListQuery, SessionJson, SessionPage, SessionQuery};
use super::NativeError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::common::cdp_relay::{self, CdpQuery};
use crate::common::error::{query, ErrorBody};
use crate::ApiState;

/// Create a session: an Xvfb display with a headful Chromium on it.
#[utoipa::path(post, path = "/v1/sessions", request_body = CreateSession,
    responses((status = 201, body = SessionJson), (status = 400, body = ErrorBody),
              (status = 503, description = "all session slots in use", body = ErrorBody)))]
pub async fn create(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<SessionJson>), NativeError> {
    let params: CreateSession = parse_json(&body)?;
    let session = state
        .engine
        .create_session(caller.project(), params.into_spec())
        .await?;
    Ok((StatusCode::CREATED, Json(SessionJson::new(&state, session))))
}

/// List sessions, oldest first: running ones unless `state` or `include_deleted` says.
#[utoipa::path(get, path = "/v1/sessions",
    params(("limit" = Option<u32>, Query, description = "page size, 1..=100 (default 20)"),
           ("offset" = Option<u64>, Query, description = "sessions to skip"),
           ("include_deleted" = Option<bool>, Query, description = "the same as state=all"),
           ("kind" = Option<String>, Query, description = "browser or linux_box"),
           ("state" = Option<String>, Query, description = "running (default), deleted or all"),
           ("name" = Option<String>, Query, description = "part of the name, in any case"),
           ("tag" = Option<String>, Query, description = "key:value, a tag (label) and its value")),
    responses((status = 200, body = SessionPage)))]
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ListQuery>, QueryRejection>,
    s: Result<Query<SessionQuery>, QueryRejection>,
) -> Result<Json<SessionPage>, NativeError> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let offset = q.offset.unwrap_or(0);
    let default_state = (!q.include_deleted.unwrap_or(false)).then_some(SessionState::Running);
    let filter = query(s)?.filter(default_state)?;
    let page = state
        .engine
        .list_sessions(caller.project(), &filter, limit, offset)
        .await?;
    let next_offset = page.has_more.then(|| offset + page.items.len() as u64);
    let items = page
        .items
        .into_iter()
        .map(|s| SessionJson::new(&state, s))
        .collect();
    Ok(Json(SessionPage { items, next_offset }))
}

/// A session by id or name, including ended ones.
#[utoipa::path(get, path = "/v1/sessions/{id}",
    responses((status = 200, body = SessionJson), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<SessionJson>, NativeError> {
    let session = state
        .engine
        .get_session(caller.project(), &id, true)
        .await?;
    Ok(Json(SessionJson::new(&state, session)))
}

/// Query of `GET /v1/sessions/{id}/thumbnail`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ThumbnailQuery {
    /// Widest the thumbnail may be, in pixels (16..=1280, default 320).
    pub width: Option<u32>,
}

/// A JPEG thumbnail of a running session's screen as it is now, for a wall of live sessions
/// (about one a second each). Fetching it does not count as activity.
#[utoipa::path(get, path = "/v1/sessions/{id}/thumbnail",
    params(("id" = String, Path),
           ("width" = Option<u32>, Query, description = "widest in pixels, 16..=1280 (default 320); the screen is shrunk by a whole factor")),
    responses((status = 200, description = "the thumbnail", content_type = "image/jpeg"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn thumbnail(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<ThumbnailQuery>, QueryRejection>,
) -> Result<Response, NativeError> {
    let width = query(q)?.width.unwrap_or(320);
    let session = state
        .engine
        .get_session(caller.project(), &id, false)
        .await?;
    let jpeg = state.engine.thumbnail_jpeg(&session.id, width).await?;
    let headers = [
        (header::CONTENT_TYPE, "image/jpeg"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    Ok((headers, jpeg).into_response())
}

/// End a session: its recordings are finalized, its processes stopped.
#[utoipa::path(delete, path = "/v1/sessions/{id}",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, NativeError> {
    state.engine.delete_session(caller.project(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The CDP WebSocket relay; authorized by the `jwt` in `cdp_ws_url`.
pub async fn cdp(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    q: Result<Query<CdpQuery>, QueryRejection>,
    request: Request,
) -> Result<Response, NativeError> {
    Ok(cdp_relay::open(&state, &id, query(q)?, request).await?)
}
