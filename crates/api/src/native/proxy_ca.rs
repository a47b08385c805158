//! `/v1/proxy/ca.der`: the certificate a client trusts so that the recording proxy can
//! intercept HTTPS.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::ApiState;

/// The recording proxy's CA certificate (DER), to trust for HTTPS interception.
// Tagged `records` as before this route had its own module, so generated clients keep it where
// they had it.
#[utoipa::path(get, path = "/v1/proxy/ca.der", tag = "records",
    responses((status = 200, description = "the CA certificate, DER",
               content_type = "application/x-x509-ca-cert")))]
pub async fn ca_certificate(State(state): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-x509-ca-cert")],
        state.proxy_ca_der.to_vec(),
    )
        .into_response()
}
