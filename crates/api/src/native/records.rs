//! `/v1/test-records/{id}`: a test record with its baselines, and its HAR export.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;
use tapedeck_core::TestRecord;
use tapedeck_engine::EngineError;

use super::har::{self, Secrets};
use super::streamed::{open_array, streamed_json};
use super::wire::{ExportQuery, PageQuery, TestRecordPage, TestRecordSummary};
use super::NativeError;
use crate::common::auth::Caller;
use crate::common::error::{query, ErrorBody};
use crate::common::timestamp::rfc3339;
use crate::ApiState;

/// A test record's id from its path segment; anything but an integer names no record.
pub(super) fn record_id(id: &str) -> Result<i64, NativeError> {
    id.parse()
        .map_err(|_| EngineError::not_found("test record", id).into())
}

/// `prefix`, the record's baselines as HAR entries streamed a page at a time, then `suffix`:
/// the body of both the record view and the HAR export, which show baselines alike.
fn entries_body(
    state: &ApiState,
    record: &TestRecord,
    prefix: String,
    suffix: &'static str,
    secrets: Secrets,
) -> Body {
    streamed_json(
        prefix,
        suffix,
        state.engine.baseline_pages(record),
        move |b| serde_json::to_vec(&har::entry(b, secrets)),
    )
}

/// Credentials are redacted unless the query says `redact=false`.
pub(super) fn secrets(
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Secrets, NativeError> {
    Ok(match query(q)?.redact {
        Some(false) => Secrets::Kept,
        _ => Secrets::Redacted,
    })
}

/// The caller's project's test records, newest first, with their baseline counts.
#[utoipa::path(get, path = "/v1/test-records",
    params(("limit" = Option<u32>, Query, description = "page size, 1..=100 (default 20)"),
           ("offset" = Option<u64>, Query, description = "records to skip")),
    responses((status = 200, body = TestRecordPage)))]
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<TestRecordPage>, NativeError> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let offset = q.offset.unwrap_or(0);
    let page = state
        .engine
        .list_test_records(caller.project(), limit, offset)
        .await?;
    let next_offset = page.has_more.then(|| offset + page.items.len() as u64);
    let mut items = Vec::with_capacity(page.items.len());
    for record in page.items {
        items.push(TestRecordSummary {
            baseline_count: state.engine.count_baselines(record.id).await?,
            id: record.id,
            name: record.name,
            created_at: rfc3339(record.created_at),
        });
    }
    Ok(Json(TestRecordPage { items, next_offset }))
}

/// A test record with its baselines (each as a HAR entry).
#[utoipa::path(get, path = "/v1/test-records/{id}",
    params(("id" = i64, Path), ("redact" = Option<bool>, Query,
        description = "false keeps Authorization, Cookie and Set-Cookie values (default true)")),
    responses((status = 200, description = "the record and its baselines as HAR entries",
               content_type = "application/json"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn retrieve(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, NativeError> {
    let secrets = secrets(q)?;
    let id = record_id(&id)?;
    let record = state.engine.get_test_record(caller.project(), id).await?;
    let head = json!({
        "id": record.id,
        "name": record.name,
        "created_at": rfc3339(record.created_at),
        "recording": state.engine.recording_run_of(caller.project(), id).is_some(),
        "baseline_count": state.engine.count_baselines(id).await?,
    });
    let prefix = open_array(&head, "baselines").map_err(EngineError::internal)?;
    let body = entries_body(&state, &record, prefix, "]}", secrets);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The record as a HAR 1.2 file.
#[utoipa::path(get, path = "/v1/test-records/{id}/har",
    params(("id" = i64, Path), ("redact" = Option<bool>, Query,
        description = "false keeps Authorization, Cookie and Set-Cookie values (default true)")),
    responses((status = 200, description = "a HAR 1.2 document", content_type = "application/json"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn export_har(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, NativeError> {
    let secrets = secrets(q)?;
    let id = record_id(&id)?;
    let record = state.engine.get_test_record(caller.project(), id).await?;
    let log = open_array(&har::log_head(&record), "entries").map_err(EngineError::internal)?;
    let body = entries_body(&state, &record, format!("{{\"log\":{log}"), "]}}", secrets);
    let disposition = format!("attachment; filename=\"test-record-{id}.har\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// Delete a test record with its baselines and test runs.
#[utoipa::path(delete, path = "/v1/test-records/{id}", params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
              (status = 409, description = "a test run still records into it", body = ErrorBody)))]
pub async fn delete(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, NativeError> {
    let id = record_id(&id)?;
    state
        .engine
        .delete_test_record(caller.project(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
