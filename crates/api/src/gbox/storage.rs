//! `POST /boxes/{id}/storage/presigned-url`: a fresh download URL for a box's storage key.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use tapedeck_core::duration::duration_field;
use tapedeck_core::EngineError;
use tapedeck_store::StorageKey;

use super::boxes::find_box;
use super::wire::PresignRequest;
use super::GboxError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::ApiState;

/// Longest lifetime of a presigned URL (docs/gbox.md, "Recording, rewind and storage").
const MAX_URL_TTL: std::time::Duration = std::time::Duration::from_secs(6 * 60 * 60);
/// Lifetime of a presigned URL when none is asked for (docs/gbox.md, "Recording, rewind and storage").
pub(super) const DEFAULT_URL_TTL: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// The lifetime a client asked for in `field` (`30m`, `6h`), checked against GBOX's bounds.
pub(super) fn url_ttl(field: &str, text: Option<&str>) -> Result<std::time::Duration, EngineError> {
    duration_field(field, text, DEFAULT_URL_TTL, MAX_URL_TTL)
}

/// Answers the bare URL as `text/plain`, so both SDKs get a clean string (docs/gbox.md, "Recording, rewind and storage").
pub async fn presigned_url(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GboxError> {
    let session = find_box(&state, caller.project(), &id).await?;
    let params: PresignRequest = parse_json(&body)?;
    let raw = params
        .storage_key
        .ok_or_else(|| EngineError::InvalidInput("storageKey is required".into()))?;
    let ttl = url_ttl("expiresIn", params.expires_in.as_deref())?;
    let key = StorageKey::parse(&raw).map_err(EngineError::from)?;
    let owner = state.engine.owner_of(&key).await?;
    let exists = state
        .engine
        .blobs()
        .size(&key)
        .await
        .map_err(EngineError::from)?
        .is_some();
    if owner.as_deref() != Some(session.id.as_str()) || !exists {
        return Err(EngineError::not_found("storage key of this box", raw).into());
    }
    let (url, _) = state.engine.presigned_url(&key, ttl).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], url).into_response())
}
