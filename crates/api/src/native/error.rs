//! The native API's error format: `{code, message}` with the matching HTTP status.

use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::common::error::CommonError;

/// A native API failure.
#[derive(Debug)]
pub struct NativeError(pub CommonError);

crate::dialect_error_from!(NativeError);

impl IntoResponse for NativeError {
    fn into_response(self) -> Response {
        let (status, _) = self.0.status_and_code();
        (status, Json(self.0.body())).into_response()
    }
}
