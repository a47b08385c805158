//! `POST /v1/objects/vuln`: the findings of test runs, as FAST's CI tools read them.

use axum::extract::State;
use axum::Extension;
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Value};

use super::wire::{Envelope, VulnJson, VulnQuery};
use super::FastError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::ApiState;

/// Most findings one page lists (FAST's CLI asks for 1000).
const MOST_PER_PAGE: u32 = 1000;
/// Most runs one filter names.
const MOST_RUNS: usize = 100;

/// `POST /v1/objects/vuln` with `{"filter": {"testrun_id": [id, …]}, "limit", "offset"}` →
/// the findings of those runs of the caller's project, oldest first, in the envelope. A run
/// of another project is a 404 naming it; `order_desc: true` is refused, since findings are
/// listed in the order they were found.
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<Envelope<Vec<VulnJson>>>, FastError> {
    let query: VulnQuery = parse_json(&body)?;
    let runs = query
        .filter
        .and_then(|f| f.testrun_id)
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| {
            FastError::field("filter", "required", Value::Null)
                .saying("filter.testrun_id must list at least one test run id".into())
        })?;
    if runs.len() > MOST_RUNS {
        return Err(
            FastError::field("filter", "out_of_range", json!(runs.len()))
                .saying(format!("filter.testrun_id lists at most {MOST_RUNS} runs")),
        );
    }
    let limit = query.limit.unwrap_or(MOST_PER_PAGE);
    if !(1..=MOST_PER_PAGE).contains(&limit) {
        return Err(FastError::field("limit", "out_of_range", json!(limit))
            .saying(format!("limit must be in 1..={MOST_PER_PAGE}, got {limit}")));
    }
    if query.order_desc == Some(true) {
        return Err(FastError::field("order_desc", "invalid", json!(true))
            .saying("findings are listed oldest first; order_desc must be false".into()));
    }
    let page = state
        .engine
        .list_vulnerabilities(caller.project(), &runs, limit, query.offset.unwrap_or(0))
        .await
        .map_err(|e| FastError::engine(e, "filter", json!(runs)))?;
    Ok(Json(Envelope {
        status: 200,
        body: page.items.into_iter().map(VulnJson::from).collect(),
    }))
}
