//! A request id for every API request. It is held in a task-local while the request is
//! handled, sent back as `x-request-id`, and recorded on the request's log span. A 5xx body
//! names it instead of the internal error, so a client can quote it and an operator finds the
//! details in the log, while paths, SQL and other internals stay out of responses.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tapedeck_core::id;
use tracing::Span;

tokio::task_local! {
    /// The id of the request the current task is handling.
    static REQUEST_ID: Arc<str>;
}

/// The id of a request, in its extensions (for the log span).
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// Middleware: gives the request a new id, handles it with that id current, and answers with
/// the id in `x-request-id`.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let request_id: Arc<str> = id::new_id().into();
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let mut response = REQUEST_ID
        .scope(request_id.clone(), next.run(request))
        .await;
    // Ids are lowercase alphanumerics, always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Runs `work` with `request_id` as the current request's id.
pub async fn with_id<T>(request_id: Arc<str>, work: impl std::future::Future<Output = T>) -> T {
    REQUEST_ID.scope(request_id, work).await
}

/// The id of the request being handled, if any.
pub fn current() -> Option<Arc<str>> {
    REQUEST_ID.try_with(Arc::clone).ok()
}

/// The log span of one request: method, path and request id. The query string is left out,
/// because it carries credentials (`?jwt=` on CDP URLs, `?sig=` on presigned downloads).
pub fn span_for<B>(request: &axum::http::Request<B>) -> Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_else(|| "-".into());
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}
