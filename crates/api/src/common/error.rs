//! The errors every dialect shares, their HTTP status and wire code, and the `{code, message}`
//! body that the native API and Kernel both use. Each dialect wraps [`CommonError`] and renders
//! it in its own format in its own `error.rs`.

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;
use tapedeck_engine::EngineError;
use thiserror::Error;

use super::body::BodyError;
use super::request_id;

/// `{"code": "...", "message": "..."}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
}

/// A failure of any dialect's request.
#[derive(Debug, Error)]
pub enum CommonError {
    /// From the engine.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A malformed or mistyped JSON body.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// A malformed query string.
    #[error("invalid query: {0}")]
    Query(String),
    /// Missing or wrong API key, or a bad connection token.
    #[error("missing or invalid API key")]
    Unauthorized,
    /// No such route.
    #[error("no such route")]
    RouteNotFound,
    /// A route a dialect's wire format names, which Tapedeck does not serve; says what to use.
    #[error("{0}")]
    NotServed(&'static str),
}

impl CommonError {
    /// The HTTP status and wire code. Client mistakes are never 408, 409, 429 or 5xx except
    /// for real conflicts (docs/kernel.md, "Errors and retries"), because the official SDKs retry those.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Engine(EngineError::InvalidInput(_)) | Self::Body(_) | Self::Query(_) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            Self::Engine(EngineError::NotFound { .. }) | Self::RouteNotFound => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            Self::Engine(EngineError::Conflict { .. } | EngineError::NotReady(_)) => {
                (StatusCode::CONFLICT, "conflict")
            }
            Self::Engine(EngineError::CapacityExhausted(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "capacity_exhausted")
            }
            Self::Engine(EngineError::Forbidden(_)) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::Engine(EngineError::TimedOut(_)) => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            Self::Engine(EngineError::Unavailable(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            Self::Engine(EngineError::Internal(_)) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
            }
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::NotServed(_) => (StatusCode::NOT_IMPLEMENTED, "not_implemented"),
        }
    }

    /// The status for clients whose SDKs retry every 409 (GBOX's and FAST's): a conflict, or a
    /// thing not ready, is a 400 for them, because a replayed request would meet the same state.
    pub fn status_for_409_retrying_sdks(&self) -> StatusCode {
        match self.status_and_code().0 {
            StatusCode::CONFLICT => StatusCode::BAD_REQUEST,
            status => status,
        }
    }

    /// The `{code, message}` body with this error's code.
    ///
    /// A server failure is logged with its details and the request's id, and its message names
    /// only that id: internal text (paths, SQL, a child's stderr) never reaches a client.
    pub fn body(&self) -> ErrorBody {
        // Only a failure of the server itself hides its text: a route that is not served, a
        // full server, a session or database that does not answer all say what happened.
        let failed = matches!(self, Self::Engine(EngineError::Internal(_)));
        let message = if failed {
            let request_id = request_id::current().unwrap_or_else(|| "-".into());
            tracing::error!(%request_id, error = %self, "request failed");
            format!(
                "the request failed; the server log has the details under request id {request_id}"
            )
        } else {
            self.to_string()
        };
        ErrorBody {
            code: self.status_and_code().1,
            message,
        }
    }
}

/// Seconds a client is told to wait before retrying a 503.
const RETRY_AFTER_SECS: u32 = 5;

/// Response layer: every 503 (a database outage, capacity, recovery) says when to try again,
/// whichever dialect answered; the Kernel and GBOX SDKs retry a 503.
pub async fn retry_after_unavailable(mut response: Response) -> Response {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from(RETRY_AFTER_SECS));
    }
    response
}

/// Unwraps an optional-rejection query extractor into a [`CommonError::Query`].
pub fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, CommonError> {
    q.map(|Query(q)| q)
        .map_err(|e| CommonError::Query(e.body_text()))
}

/// Implements `From` for each source of a [`CommonError`] on a dialect's error newtype.
#[macro_export]
macro_rules! dialect_error_from {
    ($dialect:ty) => {
        impl From<$crate::common::error::CommonError> for $dialect {
            fn from(e: $crate::common::error::CommonError) -> Self {
                Self(e)
            }
        }
        impl From<tapedeck_engine::EngineError> for $dialect {
            fn from(e: tapedeck_engine::EngineError) -> Self {
                Self(e.into())
            }
        }
        impl From<$crate::common::body::BodyError> for $dialect {
            fn from(e: $crate::common::body::BodyError) -> Self {
                Self(e.into())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_failure_names_the_request_not_its_internals() {
        let failure = CommonError::Engine(EngineError::Internal(
            "open /var/lib/tapedeck/blobs/x: permission denied".into(),
        ));
        let body = request_id::with_id("req123".into(), async { failure.body() }).await;
        assert_eq!(body.code, "internal_error");
        assert!(body.message.contains("req123"), "{}", body.message);
        assert!(!body.message.contains("/var/lib"), "{}", body.message);
    }

    #[test]
    fn a_client_mistake_keeps_its_message() {
        let mistake = CommonError::Engine(EngineError::InvalidInput("width must be even".into()));
        assert_eq!(mistake.body().message, "width must be even");
    }
}
