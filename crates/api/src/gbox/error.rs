//! GBOX's error format, NestJS-style `{statusCode, message, error}` (contract §6).

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::common::error::CommonError;

/// A GBOX API failure.
#[derive(Debug)]
pub struct GboxError(pub CommonError);

crate::dialect_error_from!(GboxError);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    status_code: u16,
    message: String,
    error: &'static str,
}

impl IntoResponse for GboxError {
    fn into_response(self) -> Response {
        // The SDK retries 408, 409, 429 and 5xx (contract §1).
        let status = self.0.status_for_409_retrying_sdks();
        let body = Body {
            status_code: status.as_u16(),
            message: self.0.body().message,
            error: status.canonical_reason().unwrap_or("Error"),
        };
        let mut response = (status, Json(body)).into_response();
        if status.is_client_error() {
            response
                .headers_mut()
                .insert("x-should-retry", HeaderValue::from_static("false"));
        }
        response
    }
}
