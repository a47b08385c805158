//! FAST's error envelope: `{"status": N, "body": {"<field>": {"error": "<code>", "value": …}}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tapedeck_core::ConflictReason;
use tapedeck_engine::EngineError;

use crate::common::body::BodyError;
use crate::common::error::CommonError;

/// FAST's code for copying a test record that is empty or still recording.
const NOT_READY_FOR_CLONING: &str = "not_ready_for_cloning";

/// A FAST API failure, keyed by the field it concerns.
#[derive(Debug)]
pub struct FastError {
    status: StatusCode,
    field: &'static str,
    code: String,
    value: Value,
}

impl FastError {
    /// A client error on `field`.
    pub fn field(field: &'static str, code: impl Into<String>, value: Value) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            field,
            code: code.into(),
            value,
        }
    }

    /// No such route.
    pub fn route_not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            ..Self::field("path", "not_found", Value::Null)
        }
    }

    /// Missing or wrong token.
    pub fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            ..Self::field("token", "invalid", Value::Null)
        }
    }

    /// An engine error, with the field and value it concerns.
    pub fn engine(err: EngineError, field: &'static str, value: Value) -> Self {
        let common = CommonError::Engine(err);
        let (status, code) = common.status_and_code();
        let code = match &common {
            CommonError::Engine(EngineError::Conflict {
                reason: ConflictReason::TestRecordNotCopyable,
                ..
            }) => NOT_READY_FOR_CLONING.to_owned(),
            _ => code.to_owned(),
        };
        let status = if status == StatusCode::CONFLICT {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        if status.is_server_error() {
            tracing::error!(error = %common, "FAST request failed");
        }
        Self {
            status,
            field,
            code,
            value,
        }
    }
}

impl From<BodyError> for FastError {
    fn from(err: BodyError) -> Self {
        Self::field("body", "invalid", Value::String(err.to_string()))
    }
}

/// A shared failure outside any one field: a refused token, or no such route.
impl From<CommonError> for FastError {
    fn from(err: CommonError) -> Self {
        match err {
            CommonError::Unauthorized => Self::unauthorized(),
            CommonError::Body(err) => err.into(),
            CommonError::Engine(err) => Self::engine(err, "request", Value::Null),
            _ => Self::route_not_found(),
        }
    }
}

impl IntoResponse for FastError {
    fn into_response(self) -> Response {
        let body = json!({
            "status": self.status.as_u16(),
            "body": { self.field: { "error": self.code, "value": self.value } },
        });
        (self.status, Json(body)).into_response()
    }
}
