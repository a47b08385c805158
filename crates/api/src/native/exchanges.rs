//! `/v1/test-records/{id}/exchanges`: a record's exchanges a page at a time, filtered by the
//! store, and one exchange whole (headers and bodies) as a HAR entry. `/v1/exchanges` pages
//! through every record of the project, for the traffic beside a recording's timeline.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use tapedeck_engine::EngineError;

use super::har;
use super::records::{record_id, secrets};
use super::wire::{ExchangePage, ExchangeQuery, ExportQuery};
use super::NativeError;
use crate::common::auth::Caller;
use crate::common::error::{query, ErrorBody};
use crate::ApiState;

/// A record's exchanges in the order they were recorded, without bodies, filtered and paged.
#[utoipa::path(get, path = "/v1/test-records/{id}/exchanges",
    params(("id" = i64, Path),
           ("limit" = Option<u32>, Query, description = "page size, 1..=100 (default 50)"),
           ("offset" = Option<u64>, Query, description = "exchanges to skip"),
           ("method" = Option<String>, Query, description = "only this method, in any case"),
           ("status" = Option<String>, Query, description = "only this status (404) or class (4xx)"),
           ("host" = Option<String>, Query, description = "only this host (any port) or host:port, in any case"),
           ("q" = Option<String>, Query, description = "only exchanges with this text in the URL (any case) or in a body as stored (exact bytes; compressed responses are not searched inside); 1..=256 bytes"),
           ("since" = Option<String>, Query, description = "only requests started at or after this RFC 3339 time"),
           ("until" = Option<String>, Query, description = "only requests started before this RFC 3339 time")),
    responses((status = 200, body = ExchangePage), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<ExchangeQuery>, QueryRejection>,
) -> Result<Json<ExchangePage>, NativeError> {
    let id = record_id(&id)?;
    exchange_page(&state, &caller, Some(id), query(q)?).await
}

/// The exchanges of every test record of the caller's project, in the order they were
/// recorded: with `since` and `until`, the traffic recorded while a session's recording ran.
#[utoipa::path(get, path = "/v1/exchanges",
    params(("limit" = Option<u32>, Query, description = "page size, 1..=100 (default 50)"),
           ("offset" = Option<u64>, Query, description = "exchanges to skip"),
           ("method" = Option<String>, Query, description = "only this method, in any case"),
           ("status" = Option<String>, Query, description = "only this status (404) or class (4xx)"),
           ("host" = Option<String>, Query, description = "only this host (any port) or host:port, in any case"),
           ("q" = Option<String>, Query, description = "only exchanges with this text in the URL or in a body as stored; 1..=256 bytes"),
           ("since" = Option<String>, Query, description = "only requests started at or after this RFC 3339 time"),
           ("until" = Option<String>, Query, description = "only requests started before this RFC 3339 time")),
    responses((status = 200, body = ExchangePage), (status = 400, body = ErrorBody)))]
pub async fn list_project(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ExchangeQuery>, QueryRejection>,
) -> Result<Json<ExchangePage>, NativeError> {
    exchange_page(&state, &caller, None, query(q)?).await
}

/// One page of the exchanges of record `id` (of every record of the project when `None`).
async fn exchange_page(
    state: &ApiState,
    caller: &Caller,
    id: Option<i64>,
    q: ExchangeQuery,
) -> Result<Json<ExchangePage>, NativeError> {
    let offset = q.offset.unwrap_or(0);
    let page = state
        .engine
        .list_exchanges(
            caller.project(),
            id,
            &q.filter()?,
            q.limit.unwrap_or(50),
            offset,
        )
        .await?;
    let next_offset = page.has_more.then(|| offset + page.items.len() as u64);
    let items = page.items.into_iter().map(Into::into).collect();
    Ok(Json(ExchangePage { items, next_offset }))
}

/// One exchange of a record with its headers and bodies, as a HAR 1.2 entry (compressed
/// responses decoded, as in the HAR export).
#[utoipa::path(get, path = "/v1/test-records/{id}/exchanges/{exchange_id}",
    params(("id" = i64, Path), ("exchange_id" = i64, Path), ("redact" = Option<bool>, Query,
        description = "false keeps Authorization, Cookie and Set-Cookie values (default true)")),
    responses((status = 200, description = "the exchange as a HAR entry", content_type = "application/json"),
              (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, exchange_id)): Path<(String, String)>,
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, NativeError> {
    let secrets = secrets(q)?;
    let id = record_id(&id)?;
    let exchange_id = exchange_id
        .parse()
        .map_err(|_| EngineError::not_found("exchange", &exchange_id))?;
    let baseline = state
        .engine
        .get_exchange(caller.project(), id, exchange_id)
        .await?;
    Ok(Json(har::entry(&baseline, secrets)).into_response())
}
