//! Kernel's browsers and replays API (docs/kernel.md), mounted at `/kernel`.
//!
//! The unmodified `kernel` SDK works with `KERNEL_BASE_URL=<public-url>/kernel`.

mod browsers;
mod error;
mod replays;
mod wire;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

pub use error::KernelError;

use crate::common::auth::bearer_matches;
use crate::common::error::CommonError;
use crate::ApiState;

/// The Kernel routes. The CDP relay authenticates with its `?jwt=` instead of the API key.
pub fn router(state: ApiState) -> Router<ApiState> {
    let authed = Router::new()
        .route(
            "/browsers",
            post(browsers::create)
                .get(browsers::list)
                .delete(browsers::delete_by_persistent_id),
        )
        .route(
            "/browsers/{id}",
            get(browsers::retrieve)
                .delete(browsers::delete)
                .patch(browsers::update),
        )
        .route(
            "/browsers/{id}/replays",
            post(replays::start).get(replays::list),
        )
        .route("/browsers/{id}/replays/{replay_id}", get(replays::download))
        .route(
            "/browsers/{id}/replays/{replay_id}/stop",
            post(replays::stop),
        )
        .route_layer(middleware::from_fn_with_state(state, require_api_key));
    Router::new()
        .route("/browsers/{id}/cdp", get(browsers::cdp))
        .route("/browsers/{id}/webdriver", get(browsers::webdriver))
        .merge(authed)
        .fallback(|| async { KernelError(CommonError::RouteNotFound) })
}

/// `Authorization: Bearer <api key>` on every call (docs/kernel.md, "Auth and request bodies").
async fn require_api_key(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Result<Response, KernelError> {
    if bearer_matches(request.headers(), &state.api_key) {
        Ok(next.run(request).await)
    } else {
        Err(KernelError(CommonError::Unauthorized))
    }
}
