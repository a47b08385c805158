//! `/v1/sessions/{id}/live-view`: signed live-view URLs for a running session, and their
//! revocation. The viewer itself is served at `/live/{id}` (`common::live_view`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tapedeck_core::EngineError;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::NativeError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::common::error::ErrorBody;
use crate::common::live_view;
use crate::common::timestamp::rfc3339;
use crate::common::token::LiveAccess;
use crate::ApiState;

/// A live-view URL's lifetime when none is asked for.
const DEFAULT_TTL_SECS: u64 = 3600;
/// The longest lifetime a live-view URL may have (7 days).
const MAX_TTL_SECS: u64 = 7 * 24 * 3600;

/// `POST /v1/sessions/{id}/live-view` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateLiveView {
    /// `control` (the default: watch and drive mouse and keyboard) or `read` (watch only).
    access: Option<String>,
    /// Seconds the URL works, 1..=604800 (default 3600); never past the session's end.
    ttl_seconds: Option<u64>,
}

/// Signed live-view URLs.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveViewJson {
    /// The viewer page.
    url: String,
    /// The bare screen, for embedding in an iframe.
    raw_url: String,
    /// `read` or `control`.
    access: &'static str,
    /// When the URLs stop working (RFC 3339).
    expires_at: String,
}

/// Sign live-view URLs for a running session.
#[utoipa::path(post, path = "/v1/sessions/{id}/live-view", request_body = CreateLiveView,
    responses((status = 201, body = LiveViewJson), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn create(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<LiveViewJson>), NativeError> {
    let params: CreateLiveView = parse_json(&body)?;
    let access = match params.access.as_deref() {
        None | Some("control") => LiveAccess::Control,
        Some("read") => LiveAccess::Read,
        Some(other) => {
            return Err(EngineError::InvalidInput(format!(
                "access must be read or control, got {other:?}"
            ))
            .into())
        }
    };
    let ttl = params.ttl_seconds.unwrap_or(DEFAULT_TTL_SECS);
    if !(1..=MAX_TTL_SECS).contains(&ttl) {
        return Err(EngineError::InvalidInput(format!(
            "ttl_seconds must be 1..={MAX_TTL_SECS}, got {ttl}"
        ))
        .into());
    }
    let session = state
        .engine
        .get_session(caller.project(), &id, false)
        .await?;
    let urls = live_view::urls(
        &state,
        &session,
        access,
        time::Duration::seconds(ttl as i64),
        false,
    );
    Ok((
        StatusCode::CREATED,
        Json(LiveViewJson {
            url: urls.url,
            raw_url: urls.raw_url,
            access: access.name(),
            expires_at: rfc3339(urls.expires_at),
        }),
    ))
}

/// Revoke every live-view URL of a session signed until now, closing their viewers.
#[utoipa::path(delete, path = "/v1/sessions/{id}/live-view",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, NativeError> {
    let session = state
        .engine
        .get_session(caller.project(), &id, false)
        .await?;
    let now_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    state.engine.revoke_live_views(&session.id, now_ms)?;
    Ok(StatusCode::NO_CONTENT)
}
