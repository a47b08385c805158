//! Kernel's browsers, replays and profiles API (docs/kernel.md), mounted at `/kernel`.
//!
//! The unmodified `kernel` SDK works with `KERNEL_BASE_URL=<public-url>/kernel`.

mod browsers;
mod computer;
mod error;
mod profiles;
mod replays;
mod wire;

use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

pub use error::KernelError;

use crate::common::auth::{require_api_key, ApiKey, KeyHeader};
use crate::common::error::CommonError;
use crate::common::forward::{to_serving_node, Routing, Serving};
use crate::ApiState;

/// The Kernel routes, behind `Authorization: Bearer <api key>` (docs/kernel.md, "Auth and
/// request bodies"); the CDP relay authenticates with its `?jwt=` instead.
pub fn router(state: ApiState) -> Router<ApiState> {
    let serving = |serving| {
        middleware::from_fn_with_state(
            Routing::new(&state, serving),
            to_serving_node::<KernelError>,
        )
    };
    let per_browser = Router::new()
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
        .nest("/browsers/{id}/computer", computer_routes())
        .route_layer(serving(Serving::Session));
    let authed = Router::new()
        .route(
            "/browsers",
            post(browsers::create)
                .layer(serving(Serving::NewSession))
                .get(browsers::list)
                .delete(browsers::delete_by_persistent_id),
        )
        .merge(per_browser)
        // Profiles live in metadata and the blob store: any node serves them.
        .route("/profiles", post(profiles::create).get(profiles::list))
        .route(
            "/profiles/{id}",
            get(profiles::retrieve)
                .patch(profiles::update)
                .delete(profiles::delete),
        )
        .route("/profiles/{id}/download", get(profiles::download))
        .route_layer(middleware::from_fn_with_state(
            ApiKey::new(&state, KeyHeader::Bearer),
            require_api_key::<KernelError>,
        ));
    Router::new()
        .route("/browsers/{id}/cdp", get(browsers::cdp))
        .route("/browsers/{id}/webdriver", get(browsers::webdriver))
        .merge(authed)
        .fallback(|| async { KernelError(CommonError::RouteNotFound) })
}

/// `/browsers/{id}/computer/*`, Kernel's computer controls.
fn computer_routes() -> Router<ApiState> {
    Router::new()
        .route("/click_mouse", post(computer::click_mouse))
        .route("/move_mouse", post(computer::move_mouse))
        .route("/drag_mouse", post(computer::drag_mouse))
        .route("/scroll", post(computer::scroll))
        .route("/type", post(computer::type_text))
        .route("/press_key", post(computer::press_key))
        .route("/batch", post(computer::batch))
        .route("/screenshot", post(computer::screenshot))
        .route("/get_mouse_position", post(computer::get_mouse_position))
        .route("/cursor", post(computer::set_cursor))
        .route("/clipboard/read", post(computer::read_clipboard))
        .route("/clipboard/write", post(computer::write_clipboard))
}
