//! GBOX's box API (docs/gbox.md), mounted at `/gbox`: Linux boxes, UI actions, screen
//! recording with rewind, and storage keys. The unmodified `gbox-sdk` works with
//! `GBOX_CLIENT_BASE_URL=<public-url>/gbox`.

mod action_shots;
mod actions;
mod boxes;
mod browser;
mod error;
mod files;
mod gestures;
mod programs;
mod recording;
mod screen;
mod storage;
mod wire;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{delete, get, post, put};
use axum::Router;

use boxes::{refused, ANDROID_ONLY, NOT_STOPPABLE, NO_EXTRACTION, NO_PROXY_SETTING, NO_TERMINAL};
pub use error::GboxError;

use tapedeck_engine::MAX_FILE_BYTES;

use crate::common::auth::{require_api_key, ApiKey, KeyHeader};
use crate::common::error::CommonError;
use crate::common::forward::{to_serving_node, Routing, Serving};
use crate::ApiState;

/// The GBOX routes, all behind `Authorization: Bearer <api key>` but the CDP WebSocket, whose
/// presigned URL carries its own token.
pub fn router(state: ApiState) -> Router<ApiState> {
    let serving = |serving| {
        middleware::from_fn_with_state(Routing::new(&state, serving), to_serving_node::<GboxError>)
    };
    let per_box = Router::new()
        .route("/boxes/{id}", get(boxes::retrieve))
        .route("/boxes/{id}/terminate", post(boxes::terminate))
        .route("/boxes/{id}/commands", post(programs::commands))
        .route("/boxes/{id}/live-view-url", post(boxes::live_view_url))
        .route("/boxes/{id}/display", get(boxes::display))
        .route("/boxes/{id}/resolution", post(boxes::set_resolution))
        .route("/boxes/{id}/start", post(boxes::start))
        .route("/boxes/{id}/stop", refused(NOT_STOPPABLE))
        .route("/boxes/{id}/web-terminal-url", refused(NO_TERMINAL))
        .route("/boxes/{id}/websocket-url", refused(NO_TERMINAL))
        .route("/boxes/{id}/proxy", refused(NO_PROXY_SETTING))
        .route("/boxes/{id}/browser/proxy", refused(NO_PROXY_SETTING))
        .route("/boxes/{id}/browser/close", delete(browser::close))
        .route("/boxes/{id}/actions/extract", refused(NO_EXTRACTION))
        .route("/boxes/{id}/run-code", post(programs::run_code))
        .route("/boxes/{id}/fs", delete(files::remove))
        .route("/boxes/{id}/fs/list", get(files::list))
        .route("/boxes/{id}/fs/info", get(files::info))
        .route("/boxes/{id}/fs/read", get(files::read))
        .route("/boxes/{id}/fs/exists", post(files::exists))
        .route("/boxes/{id}/fs/rename", post(files::rename))
        .route(
            "/boxes/{id}/fs/write",
            // Text content comes JSON-escaped, so up to twice the file cap, and the envelope.
            post(files::write).layer(DefaultBodyLimit::max(2 * MAX_FILE_BYTES + 1024 * 1024)),
        )
        .route("/boxes/{id}/actions/tap", post(actions::tap))
        .route("/boxes/{id}/actions/click", post(actions::click))
        .route("/boxes/{id}/actions/type", post(actions::type_text))
        .route("/boxes/{id}/actions/press-key", post(actions::press_key))
        .route("/boxes/{id}/actions/scroll", post(actions::scroll))
        .route(
            "/boxes/{id}/actions/clipboard",
            get(actions::clipboard_get).post(actions::clipboard_set),
        )
        .route(
            "/boxes/{id}/actions/screen-layout",
            get(screen::screen_layout),
        )
        .route(
            "/boxes/{id}/actions/elements/detect",
            post(screen::detect_elements),
        )
        .route("/boxes/{id}/actions/move", post(gestures::move_pointer))
        .route("/boxes/{id}/actions/drag", post(gestures::drag))
        .route("/boxes/{id}/actions/long-press", post(gestures::long_press))
        .route("/boxes/{id}/actions/swipe", post(gestures::swipe))
        .route("/boxes/{id}/actions/touch", post(gestures::touch))
        .route("/boxes/{id}/actions/press-button", refused(ANDROID_ONLY))
        .route("/boxes/{id}/actions/screen-rotation", refused(ANDROID_ONLY))
        .route("/boxes/{id}/actions/settings", refused(ANDROID_ONLY))
        .route("/boxes/{id}/android/{*rest}", refused(ANDROID_ONLY))
        .route("/boxes/{id}/media/{*rest}", refused(ANDROID_ONLY))
        .route("/boxes/{id}/actions/screenshot", post(actions::screenshot))
        .route(
            "/boxes/{id}/actions/recording/start",
            post(recording::start),
        )
        .route("/boxes/{id}/actions/recording/stop", post(recording::stop))
        .route(
            "/boxes/{id}/actions/recording/rewind",
            post(recording::rewind_enable).delete(recording::rewind_disable),
        )
        .route(
            "/boxes/{id}/actions/recording/rewind/extract",
            post(recording::rewind_extract),
        )
        .route(
            "/boxes/{id}/storage/presigned-url",
            post(storage::presigned_url),
        )
        .route("/boxes/{id}/browser/open", post(browser::open))
        .route(
            "/boxes/{id}/browser/connect-url/cdp",
            post(browser::connect_url),
        )
        .route(
            "/boxes/{id}/browser/tabs",
            get(browser::tabs).post(browser::open_tab),
        )
        .route(
            "/boxes/{id}/browser/tabs/{tab_id}",
            put(browser::navigate_tab).delete(browser::close_tab),
        )
        .route(
            "/boxes/{id}/browser/tabs/{tab_id}/switch",
            post(browser::switch_tab),
        )
        .route_layer(serving(Serving::Session));
    let authed = Router::new()
        .route("/boxes", get(boxes::list))
        .route(
            "/boxes/linux",
            post(boxes::create_linux).layer(serving(Serving::NewSession)),
        )
        .route("/boxes/android", post(boxes::create_android))
        .merge(per_box)
        .route_layer(middleware::from_fn_with_state(
            ApiKey::new(&state, KeyHeader::Bearer),
            require_api_key::<GboxError>,
        ));
    Router::new()
        .route("/boxes/{id}/browser/cdp", get(browser::cdp))
        .merge(authed)
        .fallback(|| async { GboxError(CommonError::RouteNotFound) })
}
