//! `GET /healthz`: whether the server is ready, and how far start-up recovery has come.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use crate::ApiState;

/// The health answer.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ready`, or `recovering` while recordings a crash left in flight are being finalized
    /// (every API already answers meanwhile).
    pub status: &'static str,
    /// Recovery's progress.
    pub recovery: RecoveryJson,
}

/// Start-up recovery's progress.
#[derive(Debug, Serialize)]
pub struct RecoveryJson {
    /// Recordings the previous server left in flight.
    pub recordings: usize,
    /// Of those, how many are finalized so far.
    pub recovered: usize,
    /// Of those, how many could not be recovered and are marked `failed`.
    pub failed: usize,
}

/// 200 once ready, 503 while recovering, so a load balancer sends traffic to a ready node.
pub async fn healthz(State(state): State<ApiState>) -> (StatusCode, Json<Health>) {
    let progress = state.engine.recovery_progress();
    let (status, word) = if progress.done {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "recovering")
    };
    let health = Health {
        status: word,
        recovery: RecoveryJson {
            recordings: progress.recordings,
            recovered: progress.recovered,
            failed: progress.failed,
        },
    };
    (status, Json(health))
}
