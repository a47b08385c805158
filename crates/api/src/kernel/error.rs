//! Kernel's error format, `{code, message}` (contract §3), and where its status codes differ.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tapedeck_engine::EngineError;

use crate::common::error::CommonError;

/// A Kernel API failure.
#[derive(Debug)]
pub struct KernelError(pub CommonError);

crate::dialect_error_from!(KernelError);

/// Kernel's "capacity exhausted" status (contract §1).
const CAPACITY_EXHAUSTED: u16 = 529;

impl IntoResponse for KernelError {
    fn into_response(self) -> Response {
        let mut body = self.0.body();
        let status = match &self.0 {
            CommonError::Engine(EngineError::CapacityExhausted(_)) => {
                body.code = "capacity_exhausted";
                StatusCode::from_u16(CAPACITY_EXHAUSTED).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
            other => other.status_and_code().0,
        };
        let mut response = (status, Json(body)).into_response();
        // The SDK retries 409s unless told not to (contract §2.2); a conflict will not go away.
        if status == StatusCode::CONFLICT {
            response
                .headers_mut()
                .insert("x-should-retry", HeaderValue::from_static("false"));
        }
        response
    }
}
