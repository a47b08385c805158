//! `/v1/metrics`: the node's Prometheus metrics under the native API, where its OpenAPI
//! document describes them; the same text as the root `/metrics` ([`crate::common::metrics`]).

use axum::extract::State;
use axum::response::Response;

use crate::common;
use crate::ApiState;

/// This node's metrics in Prometheus' text format; see [`common::metrics::metrics`].
#[utoipa::path(get, path = "/v1/metrics", tag = "metrics",
    responses((status = 200,
               description = "this node's metrics in Prometheus' text format, as `GET /metrics` \
                              serves them: counters, gauges and histograms named `tapedeck_*`",
               content_type = "text/plain")))]
pub async fn metrics(state: State<ApiState>) -> Response {
    common::metrics::metrics(state).await
}
