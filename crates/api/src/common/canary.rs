//! `ANY /canary/{token}`: the out-of-band canary of FAST's security tests.
//!
//! SSRF, XXE and blind command injection tests put `<public url>/canary/<token>` in their
//! payloads, with a fresh token per test request. A target acting on the payload requests that
//! URL, and the hit proves the finding. It is the one route without authentication: it takes
//! any method, answers `204` with no body whatever the token, and reveals nothing.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::any;
use axum::Router;

use crate::ApiState;

/// The canary route.
pub fn router() -> Router<ApiState> {
    Router::new().route("/canary/{token}", any(hit))
}

async fn hit(State(state): State<ApiState>, Path(token): Path<String>) -> StatusCode {
    if state.engine.note_canary_hit(&token) {
        tracing::info!(token, "canary requested");
    }
    StatusCode::NO_CONTENT
}
