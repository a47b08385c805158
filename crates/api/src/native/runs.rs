//! `/v1/test-runs`: the project's test runs with their state and counters.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::{Extension, Json};

use super::wire::{PageQuery, TestRunPage};
use super::NativeError;
use crate::common::auth::Caller;
use crate::common::error::query;
use crate::ApiState;

/// The test runs of the project's records, newest first: state, counters and failures.
#[utoipa::path(get, path = "/v1/test-runs",
    params(("limit" = Option<u32>, Query, description = "page size, 1..=100 (default 20)"),
           ("offset" = Option<u64>, Query, description = "runs to skip")),
    responses((status = 200, body = TestRunPage)))]
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<TestRunPage>, NativeError> {
    let q = query(q)?;
    let offset = q.offset.unwrap_or(0);
    let page = state
        .engine
        .list_test_runs(caller.project(), q.limit.unwrap_or(20), offset)
        .await?;
    let next_offset = page.has_more.then(|| offset + page.items.len() as u64);
    let items = page.items.into_iter().map(Into::into).collect();
    Ok(Json(TestRunPage { items, next_offset }))
}
