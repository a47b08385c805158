//! Tapedeck's HTTP APIs. One engine, several dialects, each in its own folder:
//! `native/` (`/v1`, with OpenAPI), `kernel/` (`/kernel`), `gbox/` (`/gbox`) and `fast/`
//! (`/fast`), beside `common/` (auth, lenient JSON bodies, error bodies, the presigned file
//! route and the CDP WebSocket relay), and the dashboard's web app at `/`. What each dialect
//! serves is in `docs/`.

pub mod common;
pub mod dashboard;
pub mod fast;
pub mod gbox;
pub mod kernel;
pub mod native;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tapedeck_engine::Engine;
use tapedeck_store::Signer;

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    /// The engine.
    pub engine: Engine,
    /// Signs CDP connection tokens (with the fleet's key when there is a cluster secret).
    pub signer: Signer,
    /// Carries requests other nodes serve to them.
    pub forwarder: common::forward::Forwarder,
    /// The base URL clients reach this server at, without a trailing slash.
    pub public_url: Arc<str>,
    /// The recording proxy's CA certificate, DER.
    pub proxy_ca_der: Arc<[u8]>,
}

impl ApiState {
    /// The public URL with `ws` for `http` (and `wss` for `https`), for WebSocket URLs.
    pub fn public_ws_url(&self) -> String {
        match self.public_url.strip_prefix("http") {
            Some(rest) => format!("ws{rest}"),
            None => self.public_url.to_string(),
        }
    }
}

/// The whole HTTP surface: the dashboard (`/`, `/assets`), `/healthz`, `/metrics`, `/files`,
/// `/canary`, `/v1`, `/kernel`, `/gbox` and `/fast`.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(common::health::healthz))
        .merge(common::metrics::router(&state))
        .merge(common::files::router())
        .merge(dashboard::router())
        .merge(common::live_view::router())
        .merge(common::canary::router())
        .nest("/v1", native::router(state.clone()))
        .nest("/kernel", kernel::router(state.clone()))
        .nest("/gbox", gbox::router(state.clone()))
        .nest("/fast", fast::router(state.clone()))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(common::request_id::span_for::<axum::body::Body>)
                // The access log: one line per answered request, refusals (401, 404) included.
                .on_response(
                    tower_http::trace::DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Millis),
                ),
        )
        .layer(axum::middleware::map_response(
            common::error::retry_after_unavailable,
        ))
        .layer(axum::middleware::from_fn(common::request_id::assign))
        .with_state(state)
}
