//! The errors every dialect shares, their HTTP status and wire code, and the `{code, message}`
//! body that the native API and Kernel both use. Each dialect wraps [`CommonError`] and renders
//! it in its own format in its own `error.rs`.

use std::collections::BTreeMap;
use std::sync::Mutex;

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
            Self::Engine(EngineError::TooLarge(_)) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
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

    /// Which kind of failure this is, as a stable snake_case name for metrics: the engine's
    /// own [`EngineError::kind`] for an engine error.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Engine(e) => e.kind(),
            Self::Body(_) => "malformed_body",
            Self::Query(_) => "malformed_query",
            Self::Unauthorized => "unauthorized",
            Self::RouteNotFound => "route_not_found",
            Self::NotServed(_) => "not_served",
        }
    }

    /// The `{code, message}` body with this error's code.
    ///
    /// Every dialect renders its answer from this, once per failed request, so this is where
    /// each answered error is counted by [`Self::kind`] (see [`answered_errors`]).
    /// A server failure is logged with its details and the request's id, and its message names
    /// only that id: internal text (paths, SQL, a child's stderr) never reaches a client.
    pub fn body(&self) -> ErrorBody {
        *lock_answered().entry(self.kind()).or_default() += 1;
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

/// How many errors of each kind the server answered since it started, by kind. A process-wide
/// count, since [`CommonError::body`], where every dialect's errors pass, has no engine at hand.
static ANSWERED: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

/// Locks [`ANSWERED`], ignoring poisoning: it holds plain counts.
fn lock_answered() -> std::sync::MutexGuard<'static, BTreeMap<&'static str, u64>> {
    ANSWERED.lock().unwrap_or_else(|e| e.into_inner())
}

/// The errors answered so far, by [`CommonError::kind`] in name order: each kind seen at least
/// once.
pub fn answered_errors() -> Vec<(&'static str, u64)> {
    lock_answered().iter().map(|(&k, &n)| (k, n)).collect()
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
    fn each_rendered_error_is_counted_under_its_kind() {
        let answered = |kind| {
            answered_errors()
                .into_iter()
                .find(|&(k, _)| k == kind)
                .map_or(0, |(_, n)| n)
        };
        // No other test renders these two, so the counts move only here.
        let before = (answered("forbidden"), answered("not_served"));
        CommonError::Engine(EngineError::Forbidden("a tampered key".into())).body();
        CommonError::NotServed("use /v1").body();
        CommonError::NotServed("use /v1").body();
        assert_eq!(
            (answered("forbidden"), answered("not_served")),
            (before.0 + 1, before.1 + 2)
        );
        let kinds: Vec<_> = answered_errors().into_iter().map(|(k, _)| k).collect();
        assert!(kinds.windows(2).all(|w| w[0] < w[1]), "{kinds:?}");
    }

    #[test]
    fn a_client_mistake_keeps_its_message() {
        let mistake = CommonError::Engine(EngineError::InvalidInput("width must be even".into()));
        assert_eq!(mistake.body().message, "width must be even");
    }
}
