//! `/v1/test-records/{id}` (with baselines), its HAR export, and the proxy's CA certificate.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tapedeck_engine::EngineError;

use super::{har, NativeError};
use crate::ApiState;

fn record_id(id: &str) -> Result<i64, NativeError> {
    id.parse()
        .map_err(|_| EngineError::not_found("test record", id).into())
}

/// A test record with its baselines (each as a HAR entry).
pub async fn retrieve(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, NativeError> {
    let id = record_id(&id)?;
    let record = state.engine.get_test_record(id).await?;
    let baselines = state.engine.list_baselines(id).await?;
    Ok(Json(json!({
        "id": record.id,
        "name": record.name,
        "created_at": record.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "recording": state.engine.recording_run_of(id).is_some(),
        "baseline_count": baselines.len(),
        "baselines": baselines.iter().map(har::baseline_json).collect::<Vec<_>>(),
    })))
}

/// The record as a HAR 1.2 file.
pub async fn export_har(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, NativeError> {
    let id = record_id(&id)?;
    let record = state.engine.get_test_record(id).await?;
    let baselines = state.engine.list_baselines(id).await?;
    let disposition = format!("attachment; filename=\"test-record-{id}.har\"");
    Ok((
        [(header::CONTENT_DISPOSITION, disposition)],
        Json(har::document(&record, &baselines)),
    )
        .into_response())
}

/// The recording proxy's CA certificate (DER), to trust for HTTPS interception.
pub async fn ca_certificate(State(state): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-x509-ca-cert")],
        state.proxy_ca_der.to_vec(),
    )
        .into_response()
}
