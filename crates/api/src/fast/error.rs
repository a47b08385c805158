//! FAST's error envelope: `{"status": N, "body": {"<field>": {"error": "<code>", "value": …}}}`.
//!
//! A failure names the request field it concerns and the value that was sent. Failures every
//! dialect shares are a [`CommonError`], which gives the status and logs server errors; FAST
//! only renames a few codes and adds its own refusals of single fields.

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
    cause: Cause,
    field: &'static str,
    value: Value,
}

#[derive(Debug)]
enum Cause {
    /// A failure every dialect shares.
    Common(CommonError),
    /// A value FAST's own rules refuse (a 400), with FAST's code for why and, when it helps,
    /// words (the allowed range).
    Refused(&'static str, Option<String>),
}

impl FastError {
    /// A 400 on `field`: FAST's rules refuse `value`, for the reason `code` names.
    pub fn field(field: &'static str, code: &'static str, value: Value) -> Self {
        Self {
            cause: Cause::Refused(code, None),
            field,
            value,
        }
    }

    /// Adds what a refusal means in words (Tapedeck's `message` beside FAST's code).
    pub fn saying(mut self, message: String) -> Self {
        if let Cause::Refused(_, said) = &mut self.cause {
            *said = Some(message);
        }
        self
    }

    /// An engine error, with the field and value it concerns.
    pub fn engine(err: EngineError, field: &'static str, value: Value) -> Self {
        Self {
            cause: Cause::Common(err.into()),
            field,
            value,
        }
    }
}

/// A shared failure that no single field of the request names: its token, body or path.
impl From<CommonError> for FastError {
    fn from(err: CommonError) -> Self {
        let (field, value) = match &err {
            CommonError::Unauthorized => ("token", Value::Null),
            CommonError::Body(err) => ("body", Value::String(err.to_string())),
            CommonError::Query(_) => ("query", Value::Null),
            CommonError::RouteNotFound | CommonError::NotServed(_) => ("path", Value::Null),
            CommonError::Engine(_) => ("request", Value::Null),
        };
        Self {
            cause: Cause::Common(err),
            field,
            value,
        }
    }
}

impl From<BodyError> for FastError {
    fn from(err: BodyError) -> Self {
        CommonError::from(err).into()
    }
}

/// FAST's own code for a shared failure, where it names it differently from [`CommonError`].
fn fast_code(err: &CommonError) -> Option<&'static str> {
    match err {
        CommonError::Unauthorized | CommonError::Body(_) => Some("invalid"),
        CommonError::Engine(EngineError::Conflict {
            reason: ConflictReason::TestRecordNotCopyable,
            ..
        }) => Some(NOT_READY_FOR_CLONING),
        _ => None,
    }
}

impl IntoResponse for FastError {
    fn into_response(self) -> Response {
        let (status, mut detail) = match &self.cause {
            Cause::Common(err) => {
                // `body` is where every dialect's server errors are logged.
                let common = err.body();
                let code = fast_code(err).unwrap_or(common.code);
                // Tapedeck: FAST's code and value, and what happened in words.
                let detail = json!({ "error": code, "message": common.message });
                (err.status_for_409_retrying_sdks(), detail)
            }
            Cause::Refused(code, None) => (StatusCode::BAD_REQUEST, json!({ "error": code })),
            Cause::Refused(code, Some(message)) => (
                StatusCode::BAD_REQUEST,
                json!({ "error": code, "message": message }),
            ),
        };
        detail["value"] = self.value;
        let body = json!({
            "status": status.as_u16(),
            "body": { self.field: detail },
        });
        (status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status and the exact bytes of the envelope.
    async fn rendered(err: FastError) -> (u16, String) {
        let response = err.into_response();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn shared_failures_keep_fasts_fields_and_codes() {
        assert_eq!(
            rendered(CommonError::Unauthorized.into()).await,
            (
                401,
                r#"{"body":{"token":{"error":"invalid","message":"missing or invalid API key","value":null}},"status":401}"#.into()
            )
        );
        assert_eq!(
            rendered(CommonError::RouteNotFound.into()).await,
            (
                404,
                r#"{"body":{"path":{"error":"not_found","message":"no such route","value":null}},"status":404}"#.into()
            )
        );
        let malformed = BodyError::Malformed("eof".into());
        assert_eq!(
            rendered(malformed.into()).await,
            (
                400,
                r#"{"body":{"body":{"error":"invalid","message":"malformed JSON body: eof","value":"malformed JSON body: eof"}},"status":400}"#.into()
            )
        );
    }

    #[tokio::test]
    async fn only_an_uncopyable_record_is_not_ready_for_cloning() {
        let uncopyable = EngineError::Conflict {
            reason: ConflictReason::TestRecordNotCopyable,
            message: "test record 7 is empty".into(),
        };
        assert_eq!(
            rendered(FastError::engine(uncopyable, "test_record_id", json!(7))).await,
            (
                400,
                r#"{"body":{"test_record_id":{"error":"not_ready_for_cloning","message":"test record 7 is empty","value":7}},"status":400}"#.into()
            )
        );
        let other = EngineError::conflict("a session named \"x\" is already running");
        assert_eq!(
            rendered(FastError::engine(other, "test_run", Value::Null)).await,
            (
                400,
                r#"{"body":{"test_run":{"error":"conflict","message":"a session named \"x\" is already running","value":null}},"status":400}"#.into()
            )
        );
    }

    #[tokio::test]
    async fn engine_and_field_refusals() {
        let missing = EngineError::not_found("test run", "9");
        assert_eq!(
            rendered(FastError::engine(missing, "id", json!(9))).await,
            (
                404,
                r#"{"body":{"id":{"error":"not_found","message":"test run not found: 9","value":9}},"status":404}"#.into()
            )
        );
        assert_eq!(
            rendered(FastError::field("rps", "out_of_range", json!(0))).await,
            (
                400,
                r#"{"body":{"rps":{"error":"out_of_range","value":0}},"status":400}"#.into()
            )
        );
        let said = FastError::field("rps", "out_of_range", json!(0))
            .saying("rps must be in 1..=1000".into());
        assert_eq!(
            rendered(said).await,
            (
                400,
                r#"{"body":{"rps":{"error":"out_of_range","message":"rps must be in 1..=1000","value":0}},"status":400}"#.into()
            )
        );
    }
}
