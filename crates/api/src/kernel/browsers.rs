//! `/browsers`: create, list, retrieve, update, delete, and the CDP relay.

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use bytes::Bytes;
use serde_json::Value;
use tapedeck_core::{Session, SessionKind};
use tapedeck_engine::{EngineError, SessionLabels};
use tapedeck_store::meta::SessionFilter;

use super::wire::{
    page_headers, Browser, BrowserProfile, CreateBrowser, ListBrowsers, LookupQuery,
};
use super::KernelError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::common::cdp_relay::{self, CdpQuery};
use crate::common::error::{query, CommonError};
use crate::ApiState;

type QueryResult<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

/// Default and largest page size of `GET /browsers`.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

/// The Browser view of `session`, with the profile it holds.
async fn browser(state: &ApiState, session: Session) -> Result<Browser, KernelError> {
    let profile = state.engine.session_profile(&session.id).await?;
    Ok(Browser::from_session(state, session, profile))
}

/// `POST /browsers` → 200 + Browser. The session is always headful: replays need a screen.
/// With `profile`, the profile's user data is loaded first (docs/kernel.md, "Profiles").
pub async fn create(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<Browser>, KernelError> {
    let mut params: CreateBrowser = parse_json(&body)?;
    if params.gpu == Some(true) {
        return Err(EngineError::InvalidInput(
            "gpu sessions are not available on this server".into(),
        )
        .into());
    }
    let profile = params
        .profile
        .take()
        .map(BrowserProfile::into_request)
        .transpose()?;
    let (engine, project, spec) = (&state.engine, caller.project(), params.into_spec());
    let session = match profile {
        Some(profile) => {
            engine
                .create_session_with_profile(project, spec, profile)
                .await?
        }
        None => engine.create_session(project, spec).await?,
    };
    Ok(Json(browser(&state, session).await?))
}

/// `GET /browsers` → a JSON array with `X-Has-More`, and `X-Next-Offset` when there is more
/// (docs/kernel.md, "Listing pages").
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: QueryResult<ListBrowsers>,
) -> Result<Response, KernelError> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let offset = q.offset.unwrap_or(0);
    let include_deleted = q.include_deleted.unwrap_or(false)
        || matches!(q.status.as_deref(), Some("all" | "deleted"));
    let page = state
        .engine
        .list_sessions(
            caller.project(),
            &SessionFilter::of_kind(SessionKind::Browser, include_deleted),
            limit,
            offset,
        )
        .await?;
    let count = page.items.len() as u64;
    let mut browsers = Vec::with_capacity(page.items.len());
    for session in page.items {
        if q.status.as_deref() != Some("deleted") || session.deleted_at.is_some() {
            browsers.push(browser(&state, session).await?);
        }
    }
    let headers = page_headers(page.has_more, offset, count, limit);
    Ok((headers, Json(browsers)).into_response())
}

/// `GET /browsers/{id_or_name}`.
pub async fn retrieve(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: QueryResult<LookupQuery>,
) -> Result<Json<Browser>, KernelError> {
    let include_deleted = query(q)?.include_deleted.unwrap_or(false);
    let session = state
        .engine
        .get_session(caller.project(), &id, include_deleted)
        .await?;
    Ok(Json(browser(&state, session).await?))
}

/// Why a PATCH field was refused: a label of the wrong type, or a field that cannot change.
fn refused_patch(field: &str, value: &Value) -> EngineError {
    EngineError::InvalidInput(match field {
        "name" => format!("name must be a string or null, got {value}"),
        "tags" => format!("tags must be an object or null, got {value}"),
        _ => format!("{field} cannot be changed on a running browser here (name and tags can)"),
    })
}

/// `PATCH /browsers/{id}`: renames and re-tags a running browser (`null` clears); any other
/// field is refused by name, and an empty patch returns the browser.
pub async fn update(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Browser>, KernelError> {
    let patch: serde_json::Map<String, Value> = parse_json(&body)?;
    let mut labels = SessionLabels::default();
    for (field, value) in patch {
        match (field.as_str(), value) {
            ("name", Value::Null) => labels.name = Some(None),
            ("name", Value::String(name)) => labels.name = Some(Some(name)),
            ("tags", Value::Null) => labels.tags = Some(Default::default()),
            ("tags", Value::Object(tags)) => labels.tags = Some(tags),
            (_, value) => return Err(refused_patch(&field, &value).into()),
        }
    }
    let session = state
        .engine
        .relabel_session(caller.project(), &id, labels)
        .await?;
    Ok(Json(browser(&state, session).await?))
}

/// `DELETE /browsers/{id_or_name}` → 204.
pub async fn delete(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, KernelError> {
    state.engine.delete_session(caller.project(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /browsers?persistent_id=…` (older SDKs) → 204; the id is a session id or name.
pub async fn delete_by_persistent_id(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: QueryResult<LookupQuery>,
) -> Result<StatusCode, KernelError> {
    let id = query(q)?
        .persistent_id
        .ok_or_else(|| KernelError(CommonError::Query("persistent_id is required".into())))?;
    state.engine.delete_session(caller.project(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /browsers/{id}/webdriver?jwt=…`, the `webdriver_ws_url` Kernel's browser object must
/// carry. WebDriver BiDi is not served (it would need chromedriver attached to the session's
/// browser); a client that tries gets told what to use instead of a bare 404.
pub async fn webdriver() -> KernelError {
    KernelError(CommonError::NotServed(
        "WebDriver BiDi is not served by this server; drive the browser over its cdp_ws_url",
    ))
}

/// `GET /browsers/{id}/cdp?jwt=…`: the WebSocket relay to the session's Chromium.
pub async fn cdp(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    q: QueryResult<CdpQuery>,
    request: Request,
) -> Result<Response, KernelError> {
    Ok(cdp_relay::open(&state, &id, query(q)?, request).await?)
}
