//! Wallarm FAST's test-run API (contracts/fast.md §2), mounted at `/fast`. Auth is
//! `X-WallarmAPI-Token: <api key>`; every reply is the `{"status": N, "body": {...}}` envelope.

mod error;
mod test_run;
mod vuln;
mod wire;

use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

pub use error::FastError;

use crate::common::auth::{require_api_key, ApiKey, KeyHeader};
use crate::common::error::CommonError;
use crate::ApiState;

/// The FAST routes.
pub fn router(state: ApiState) -> Router<ApiState> {
    Router::new()
        .route("/v1/test_run", post(test_run::create).get(test_run::list))
        .route("/v1/test_run/{id}", get(test_run::retrieve))
        .route(
            "/v1/test_run/{id}/action/stop",
            post(test_run::stop).get(test_run::stop),
        )
        .route(
            "/v1/test_record/{id}/action/stop",
            post(test_run::stop_record),
        )
        .route("/v1/objects/vuln", post(vuln::list))
        .fallback(|| async { FastError::from(CommonError::RouteNotFound) })
        .route_layer(middleware::from_fn_with_state(
            ApiKey::new(&state, KeyHeader::Named("x-wallarmapi-token")),
            require_api_key::<FastError>,
        ))
}
