//! `/v1/keys`: admin keys create, list and revoke API keys. The same as `tapedeck keys`, for a
//! running server.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tapedeck_core::{ApiKeyRecord, EngineError};
use tapedeck_engine::NewKey;
use utoipa::ToSchema;

use super::NativeError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::common::error::ErrorBody;
use crate::common::timestamp::rfc3339;
use crate::ApiState;

/// A request for a new key.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateKey {
    /// A name for people (`ci-pipeline`); 1 to 100 characters, not all spaces.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// The project its work belongs to, 1 to 100 characters, not all spaces; `default` when
    /// absent.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub project: Option<String>,
    /// Whether it may manage keys; false when absent.
    pub admin: Option<bool>,
}

/// A key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyJson {
    /// Its id, for revoking it.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its project.
    pub project: String,
    /// Whether it may manage keys.
    pub admin: bool,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// When it was revoked, RFC 3339; absent while it is active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl From<ApiKeyRecord> for KeyJson {
    fn from(key: ApiKeyRecord) -> Self {
        Self {
            id: key.id,
            name: key.name,
            project: key.project,
            admin: key.admin,
            created_at: rfc3339(key.created_at),
            revoked_at: key.revoked_at.map(rfc3339),
        }
    }
}

/// A key just created, with its secret: shown once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// The key.
    #[serde(flatten)]
    pub key: KeyJson,
    /// The secret clients present as their API key.
    pub secret: String,
}

/// The keys, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Every key, revoked ones included.
    pub items: Vec<KeyJson>,
}

/// Refuses callers whose key is not an admin key.
pub(super) fn require_admin(caller: &Caller) -> Result<(), NativeError> {
    if caller.0.admin {
        Ok(())
    } else {
        Err(EngineError::Forbidden("only an admin key may do this".into()).into())
    }
}

/// Create a key (admin keys only). The answer holds its secret, once.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = CreateKey,
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody),
              (status = 403, description = "not an admin key", body = ErrorBody)))]
pub async fn create(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedKey>), NativeError> {
    require_admin(&caller)?;
    let params: CreateKey = parse_json(&body)?;
    let issued = state
        .engine
        .create_api_key(NewKey {
            name: params.name,
            project: params.project,
            admin: params.admin.unwrap_or(false),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: issued.record.into(),
            secret: issued.secret,
        }),
    ))
}

/// List keys (admin keys only), without their secrets.
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    responses((status = 200, body = KeyList),
              (status = 403, description = "not an admin key", body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<KeyList>, NativeError> {
    require_admin(&caller)?;
    let items = state.engine.list_api_keys().await?;
    Ok(Json(KeyList {
        items: items.into_iter().map(KeyJson::from).collect(),
    }))
}

/// Revoke a key (admin keys only); every node refuses it within a second. A key cannot revoke
/// itself here, so an admin cannot lock itself out by mistake; `tapedeck keys revoke` can.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys",
    responses((status = 204), (status = 404, body = ErrorBody),
              (status = 403, description = "not an admin key", body = ErrorBody),
              (status = 409, description = "the key making the request", body = ErrorBody)))]
pub async fn revoke(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, NativeError> {
    require_admin(&caller)?;
    if caller.0.id == id {
        return Err(EngineError::conflict(
            "a key cannot revoke itself; use another admin key, or `tapedeck keys revoke` on the server",
        )
        .into());
    }
    state.engine.revoke_api_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
