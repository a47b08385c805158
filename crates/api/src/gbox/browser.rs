//! GBOX's browser routes: the box's Chromium over a presigned CDP WebSocket URL, and its tabs.
//!
//! A box's browser runs from the box's start, so `browser/open` only hands out its CDP URL
//! (GBOX: "if the browser is already open, repeated calls will not open a new browser").

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use tapedeck_core::duration::duration_field;
use tapedeck_core::{EngineError, Session};

use super::boxes::running_box;
use super::wire::{BrowserOpenRequest, CdpUrlRequest, OpenTabRequest, TabJson, TabList};
use super::GboxError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::common::cdp_relay::{self, CdpQuery};
use crate::common::error::query;
use crate::common::token;
use crate::ApiState;

/// A CDP URL's lifetime when none is asked for (GBOX's default, 120m).
const DEFAULT_CDP_TTL: std::time::Duration = std::time::Duration::from_secs(120 * 60);

/// The box's CDP WebSocket URL, valid for `ttl` (and never past the box's own end).
fn cdp_url(state: &ApiState, session: &Session, ttl: std::time::Duration) -> String {
    let ttl = time::Duration::try_from(ttl).unwrap_or(token::CDP_TOKEN_TTL);
    let jwt = token::issue(&state.signer, session, ttl);
    format!(
        "{}/gbox/boxes/{}/browser/cdp?jwt={jwt}",
        state.public_ws_url(),
        session.id
    )
}

/// `POST /boxes/{id}/browser/connect-url/cdp` → the URL as `text/plain` (the SDK's `str`).
pub async fn connect_url(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: CdpUrlRequest = parse_json(&body)?;
    let ttl = cdp_ttl(params.expires_in.as_deref())?;
    let url = cdp_url(&state, &session, ttl);
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], url).into_response())
}

/// `POST /boxes/{id}/browser/open` → `{cdpUrl}` of the box's running browser.
pub async fn open(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: BrowserOpenRequest = parse_json(&body)?;
    if let Some(size) = params.size.as_deref() {
        check_size(size)?;
    }
    let url = cdp_url(&state, &session, DEFAULT_CDP_TTL);
    Ok(Json(serde_json::json!({ "cdpUrl": url })))
}

/// `GET /boxes/{id}/browser/tabs` → `{data: [tab]}`.
pub async fn tabs(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<TabList>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let tabs = state.engine.browser_tabs(&session.id).await?;
    Ok(Json(TabList {
        data: tabs.into_iter().map(TabJson::from).collect(),
    }))
}

/// `POST /boxes/{id}/browser/tabs` `{url}` → the new tab, in front, once its DOM is loaded.
pub async fn open_tab(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<TabJson>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let url = requested_url(&body)?;
    let tab = state.engine.open_tab(&session.id, &url).await?;
    Ok(Json(TabJson::from(tab)))
}

/// `PUT /boxes/{id}/browser/tabs/{tab_id} {url}`: loads `url` in that tab.
pub async fn navigate_tab(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, tab_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<TabJson>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let url = requested_url(&body)?;
    let tab = state
        .engine
        .navigate_tab(&session.id, &tab_id, &url)
        .await?;
    Ok(Json(TabJson::from(tab)))
}

/// `POST /boxes/{id}/browser/tabs/{tab_id}/switch`: brings that tab to the front.
pub async fn switch_tab(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, tab_id)): Path<(String, String)>,
) -> Result<Json<TabJson>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let tab = state.engine.switch_tab(&session.id, &tab_id).await?;
    Ok(Json(TabJson::from(tab)))
}

/// `DELETE /boxes/{id}/browser/tabs/{tab_id}` → `{message}`.
pub async fn close_tab(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, tab_id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    state.engine.close_tab(&session.id, &tab_id).await?;
    Ok(Json(
        serde_json::json!({ "message": format!("tab {tab_id} closed") }),
    ))
}

/// `DELETE /boxes/{id}/browser/close` → 204: closes every tab. The box's browser runs for the
/// box's whole life, so one blank tab stays open in its window; `browser/open` hands out its
/// CDP URL again.
pub async fn close(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    state.engine.close_all_tabs(&session.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /boxes/{id}/browser/cdp?jwt=…`: the WebSocket the CDP URL names; the token is the
/// credential.
pub async fn cdp(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    q: Result<Query<CdpQuery>, QueryRejection>,
    request: Request,
) -> Result<Response, GboxError> {
    Ok(cdp_relay::open(&state, &id, query(q)?, request).await?)
}

/// `expiresIn` of a CDP URL: 120m when absent, at most the CDP token's own limit (7 days).
fn cdp_ttl(text: Option<&str>) -> Result<std::time::Duration, EngineError> {
    let longest = std::time::Duration::try_from(token::CDP_TOKEN_TTL).unwrap_or(DEFAULT_CDP_TTL);
    duration_field("expiresIn", text, DEFAULT_CDP_TTL, longest)
}

/// `size` is `<width>x<height>` in pixels; the running window keeps its size.
fn check_size(size: &str) -> Result<(), EngineError> {
    let parsed = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)));
    match parsed {
        Some((w, h)) if w > 0 && h > 0 => Ok(()),
        _ => Err(EngineError::InvalidInput(format!(
            "size must be <width>x<height> in pixels, like 1280x720, got {size:?}"
        ))),
    }
}

/// The `url` a tab request must carry.
fn requested_url(body: &Bytes) -> Result<String, GboxError> {
    let params: OpenTabRequest = parse_json(body)?;
    Ok(params
        .url
        .ok_or_else(|| EngineError::InvalidInput("url is required".into()))?)
}
