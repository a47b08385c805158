//! Tapedeck's own API, mounted at `/v1`, described by the OpenAPI document at
//! `/v1/openapi.json`. The other dialects are adapters over the same engine calls.

mod decoded;
mod error;
mod events;
mod exchanges;
mod har;
mod keys;
mod live_view;
mod metrics;
mod nodes;
mod openapi;
mod proxy_ca;
mod recordings;
mod records;
mod runs;
mod sessions;
mod streamed;
mod vulnerabilities;
mod wire;

use axum::middleware;
use axum::routing::{delete, get, post};
use axum::Router;

pub use error::NativeError;

use crate::common::auth::{require_api_key, ApiKey, KeyHeader};
use crate::common::error::CommonError;
use crate::common::forward::{to_serving_node, Routing, Serving};
use crate::ApiState;

/// The `/v1` routes. Bearer auth on all but the OpenAPI document and the CDP relay (`?jwt=`).
pub fn router(state: ApiState) -> Router<ApiState> {
    let serving = |serving| {
        middleware::from_fn_with_state(
            Routing::new(&state, serving),
            to_serving_node::<NativeError>,
        )
    };
    let per_session = Router::new()
        .route(
            "/sessions/{id}",
            get(sessions::retrieve).delete(sessions::delete),
        )
        .route(
            "/sessions/{id}/recordings",
            post(recordings::start).get(recordings::list),
        )
        .route("/sessions/{id}/thumbnail", get(sessions::thumbnail))
        .route(
            "/sessions/{id}/live-view",
            post(live_view::create).delete(live_view::revoke),
        )
        .route_layer(serving(Serving::Session));
    let per_recording = Router::new()
        .route(
            "/recordings/{id}",
            get(recordings::retrieve).delete(recordings::delete),
        )
        .route("/recordings/{id}/stop", post(recordings::stop))
        .route(
            "/recordings/{id}/download-url",
            get(recordings::download_url),
        )
        .route_layer(serving(Serving::Recording));
    let authed = Router::new()
        .route(
            "/sessions",
            post(sessions::create)
                .layer(serving(Serving::NewSession))
                .get(sessions::list),
        )
        .merge(per_session)
        .merge(per_recording)
        .route(
            "/test-records/{id}",
            get(records::retrieve).delete(records::delete),
        )
        .route("/test-records", get(records::list))
        .route("/test-records/{id}/exchanges", get(exchanges::list))
        .route(
            "/test-records/{id}/exchanges/{exchange_id}",
            get(exchanges::retrieve),
        )
        .route("/exchanges", get(exchanges::list_project))
        .route("/sessions/{id}/events", get(events::list))
        .route("/test-runs", get(runs::list))
        .route(
            "/test-runs/{id}/vulnerabilities",
            get(vulnerabilities::list),
        )
        .route(
            "/test-runs/{id}/vulnerabilities/{vulnerability_id}/har",
            get(vulnerabilities::har),
        )
        .route("/test-runs/{id}/sarif", get(vulnerabilities::sarif))
        .route("/recordings", get(recordings::list_all))
        .route("/test-records/{id}/har", get(records::export_har))
        .route("/proxy/ca.der", get(proxy_ca::ca_certificate))
        .route("/metrics", get(metrics::metrics))
        .route("/keys", post(keys::create).get(keys::list))
        .route("/keys/{id}", delete(keys::revoke))
        .route("/nodes", get(nodes::list))
        .route_layer(middleware::from_fn_with_state(
            ApiKey::new(&state, KeyHeader::Bearer),
            require_api_key::<NativeError>,
        ));
    Router::new()
        .route("/openapi.json", get(openapi::document))
        .route("/sessions/{id}/cdp", get(sessions::cdp))
        .merge(authed)
        .fallback(|| async { NativeError(CommonError::RouteNotFound) })
}
