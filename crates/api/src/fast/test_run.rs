//! `/v1/test_run`: create or copy, get, stop.

use axum::extract::{Path, State};
use axum::Extension;
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Value};
use tapedeck_core::TestRunSpec;
use tapedeck_engine::{CopyRequest, CreateRequest, EngineError, HostPattern};

use super::wire::{CreateTestRun, Envelope, TestRunJson};
use super::FastError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::ApiState;

/// FAST's default `inactivity_timeout`, in seconds.
const DEFAULT_INACTIVITY_SECS: u64 = 1800;

type Reply = Result<Json<Envelope<TestRunJson>>, FastError>;

/// Most findings a run's `vulns` lists; `objects/vuln` pages through all of them.
const MOST_VULNS_INLINE: u32 = 1000;

/// The FAST view of one of `project`'s runs, with its baseline count and findings.
async fn run_json(
    state: &ApiState,
    project: &str,
    run: tapedeck_core::TestRun,
) -> Result<TestRunJson, FastError> {
    let count = state
        .engine
        .count_baselines(run.test_record_id)
        .await
        .map_err(|e| FastError::engine(e, "test_record_id", json!(run.test_record_id)))?;
    let vulns = state
        .engine
        .list_vulnerabilities(project, &[run.id], MOST_VULNS_INLINE, 0)
        .await
        .map_err(|e| FastError::engine(e, "id", json!(run.id)))?
        .items;
    Ok(TestRunJson::new(run, count, vulns))
}

async fn reply(state: &ApiState, project: &str, run: tapedeck_core::TestRun) -> Reply {
    Ok(Json(Envelope {
        status: 200,
        body: run_json(state, project, run).await?,
    }))
}

/// The run's policy as stored: the inline `policy` (with FAST's `rps` when it sets none),
/// else the default policy when a `policy_id` is given, else none: a regression replay.
fn policy_of(params: &CreateTestRun) -> Result<Option<String>, FastError> {
    let mut policy = match (&params.policy, params.policy_id) {
        (Some(Value::Object(policy)), _) => policy.clone(),
        (Some(other), _) => {
            return Err(FastError::field("policy", "invalid", other.clone())
                .saying("policy must be a JSON object".into()))
        }
        (None, Some(_)) => serde_json::Map::new(),
        (None, None) => return Ok(None),
    };
    if let Some(rps) = params.rps {
        policy.entry("rps").or_insert(json!(rps));
    }
    Ok(Some(Value::Object(policy).to_string()))
}

fn check_range(
    field: &'static str,
    value: Option<u64>,
    range: std::ops::RangeInclusive<u64>,
) -> Result<(), FastError> {
    match value {
        Some(v) if !range.contains(&v) => Err(FastError::field(field, "out_of_range", json!(v))
            .saying(format!(
                "{field} must be in {}..={}, got {v}",
                range.start(),
                range.end()
            ))),
        _ => Ok(()),
    }
}

/// `POST /v1/test_run`: a new run recording into a new record, or, with `test_record_id`, a
/// copy that replays that record. Either interrupts the run that was active.
pub async fn create(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Reply {
    let params: CreateTestRun = parse_json(&body)?;
    let policy = policy_of(&params)?;
    let policy_value = params.policy.clone().unwrap_or(Value::Null);
    let name = params
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| FastError::field("name", "required", Value::Null))?;
    check_range(
        "inactivity_timeout",
        params.inactivity_timeout,
        TestRunSpec::INACTIVITY_RANGE,
    )?;
    check_range("rps", params.rps.map(u64::from), 1..=1000)?;
    check_range(
        "body_cap_kib",
        params.body_cap_kib,
        TestRunSpec::BODY_CAP_KIB_RANGE,
    )?;
    check_range(
        "rps_per_baseline",
        params.rps_per_baseline.map(u64::from),
        1..=500,
    )?;
    let allowed_hosts = params.allowed_hosts.unwrap_or_default();
    HostPattern::parse(&allowed_hosts).map_err(|e| {
        FastError::field("allowed_hosts", "invalid", json!(allowed_hosts)).saying(e.to_string())
    })?;
    if let Some(target) = &params.target {
        if !(target.starts_with("http://") || target.starts_with("https://")) {
            return Err(FastError::field("target", "invalid", json!(target))
                .saying("target must be an http:// or https:// URL".into()));
        }
    }
    let spec = TestRunSpec {
        name,
        desc: params.desc.unwrap_or_default(),
        allowed_hosts,
        file_extensions_to_exclude: params.file_extensions_to_exclude.unwrap_or_default(),
        skip_duplicated_baselines: params.skip_duplicated_baselines.unwrap_or(true),
        inactivity_timeout_secs: params.inactivity_timeout.unwrap_or(DEFAULT_INACTIVITY_SECS),
        target: params.target,
        body_cap_kib: params.body_cap_kib,
        policy,
    };
    // The engine refuses a bad policy as `InvalidInput` naming it.
    let policy_error = |e: EngineError, field, value| match &e {
        EngineError::InvalidInput(m) if m.starts_with("policy:") => {
            FastError::field("policy", "invalid", policy_value.clone()).saying(m.clone())
        }
        _ => FastError::engine(e, field, value),
    };
    let run = match params.test_record_id {
        Some(record) => state
            .engine
            .copy_test_run(
                caller.project(),
                CopyRequest {
                    spec,
                    test_record_id: record,
                },
            )
            .await
            .map_err(|e| policy_error(e, "test_record_id", json!(record)))?,
        None => state
            .engine
            .create_test_run(
                caller.project(),
                CreateRequest {
                    spec,
                    test_record_name: params.test_record_name,
                },
            )
            .await
            .map_err(|e| policy_error(e, "test_run", Value::Null))?,
    };
    reply(&state, caller.project(), run).await
}

fn parse_id(field: &'static str, id: &str) -> Result<i64, FastError> {
    id.parse()
        .map_err(|_| FastError::engine(EngineError::not_found("test run", id), field, json!(id)))
}

/// Query of `GET /v1/test_run`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    /// Page size, 1..=100 (default 20).
    limit: Option<u32>,
    /// Runs to skip.
    offset: Option<u64>,
}

/// `GET /v1/test_run?limit&offset` → the caller's project's runs, newest first, in the
/// envelope: `{"status": 200, "body": [run, …]}`.
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: Result<axum::extract::Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Envelope<Vec<TestRunJson>>>, FastError> {
    let q = crate::common::error::query(q)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(FastError::field("limit", "out_of_range", json!(limit))
            .saying(format!("limit must be in 1..=100, got {limit}")));
    }
    let page = state
        .engine
        .list_test_runs(caller.project(), limit, q.offset.unwrap_or(0))
        .await
        .map_err(|e| FastError::engine(e, "request", Value::Null))?;
    let mut body = Vec::with_capacity(page.items.len());
    for run in page.items {
        body.push(run_json(&state, caller.project(), run).await?);
    }
    Ok(Json(Envelope { status: 200, body }))
}

/// `GET /v1/test_run/{id}`.
pub async fn retrieve(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Reply {
    let id = parse_id("id", &id)?;
    let run = state
        .engine
        .get_test_run(caller.project(), id)
        .await
        .map_err(|e| FastError::engine(e, "id", json!(id)))?;
    reply(&state, caller.project(), run).await
}

/// `POST` (or `GET`) `/v1/test_run/{id}/action/stop` → the run with `recording: false`, once
/// every baseline that finished before the stop is stored.
pub async fn stop(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Reply {
    let id = parse_id("id", &id)?;
    let run = state
        .engine
        .stop_test_run(caller.project(), id)
        .await
        .map_err(|e| FastError::engine(e, "id", json!(id)))?;
    reply(&state, caller.project(), run).await
}

/// `POST /v1/test_record/{id}/action/stop` (older clients): stops the run recording it.
pub async fn stop_record(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Reply {
    let record = parse_id("test_record_id", &id)?;
    let run_id = state
        .engine
        .recording_run_of(caller.project(), record)
        .ok_or_else(|| FastError::field("test_record_id", "not_recording", json!(record)))?;
    let run = state
        .engine
        .stop_test_run(caller.project(), run_id)
        .await
        .map_err(|e| FastError::engine(e, "test_record_id", json!(record)))?;
    reply(&state, caller.project(), run).await
}
