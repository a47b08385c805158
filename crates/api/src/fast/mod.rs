//! Wallarm FAST's test-run API (contracts/fast.md §2), mounted at `/fast`. Auth is
//! `X-WallarmAPI-Token: <api key>`; every reply is the `{"status": N, "body": {...}}` envelope.

mod error;
mod test_run;
mod wire;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

pub use error::FastError;

use crate::ApiState;

/// The FAST routes.
pub fn router(state: ApiState) -> Router<ApiState> {
    Router::new()
        .route("/v1/test_run", post(test_run::create))
        .route("/v1/test_run/{id}", get(test_run::retrieve))
        .route(
            "/v1/test_run/{id}/action/stop",
            post(test_run::stop).get(test_run::stop),
        )
        .route(
            "/v1/test_record/{id}/action/stop",
            post(test_run::stop_record),
        )
        .fallback(|| async { FastError::route_not_found() })
        .route_layer(middleware::from_fn_with_state(state, require_token))
}

/// `X-WallarmAPI-Token` must be the API key (header names are case-insensitive).
async fn require_token(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Result<Response, FastError> {
    let presented = request
        .headers()
        .get("x-wallarmapi-token")
        .and_then(|v| v.to_str().ok());
    if crate::common::auth::key_matches(presented, &state.api_key) {
        Ok(next.run(request).await)
    } else {
        Err(FastError::unauthorized())
    }
}
