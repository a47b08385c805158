//! The dashboard: the single-page app built from `web/` (`npm run build`), embedded in the
//! binary by `build.rs`, served at `/` (its `index.html`) and `/assets/*` (hashed bundles).
//! It calls the native API (`/v1`) with the API key the user signs in with.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::ApiState;

mod built {
    include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));
}

/// Bundles are named by their content's hash, so a browser may keep them for good.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `index.html` names the current bundles, so a browser asks for it again every time.
const REVALIDATE: &str = "no-cache";
/// What the page may load: its own scripts and styles (Preact sets inline styles), the API on
/// the same origin, and videos from the presigned URLs, which may be a bucket's.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; media-src * blob:; object-src 'none'; base-uri 'none'";

/// Answered at `/` by a binary built before `web/dist` existed.
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Tapedeck</title>\
    <h1>Dashboard not built</h1><p>This tapedeck binary was built without the dashboard. \
    Run <code>scripts/install-deps</code> (it runs <code>npm ci</code> and \
    <code>npm run build</code> in <code>web/</code>), then <code>cargo build --release</code> \
    again. The APIs under <code>/v1</code>, <code>/kernel</code>, <code>/gbox</code> and \
    <code>/fast</code> work without it.</p>\n";

/// The routes `/` and `/assets/{*path}`.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
}

/// The bytes of the built file at `path` (below `web/dist`).
fn built(path: &str) -> Option<&'static [u8]> {
    built::ASSETS
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, bytes)| *bytes)
}

/// The `Content-Type` of a built file, by its extension: Vite emits few kinds.
fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, ext)| ext);
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// A built file with its type and caching.
fn file(path: &str, bytes: &'static [u8], cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type(path)),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /`: the app, or a page saying how to build it.
async fn index() -> Response {
    let mut response = match built("index.html") {
        Some(bytes) => file("index.html", bytes, REVALIDATE),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            NOT_BUILT,
        )
            .into_response(),
    };
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

/// `GET /assets/{*path}`: one hashed bundle.
async fn asset(Path(path): Path<String>) -> Response {
    let path = format!("assets/{path}");
    match built(&path) {
        Some(bytes) => file(&path, bytes, IMMUTABLE),
        None => (StatusCode::NOT_FOUND, "no such dashboard asset\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_are_typed_by_extension() {
        assert_eq!(
            content_type("assets/index-3f9a.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("assets/index-3f9a.css"),
            "text/css; charset=utf-8"
        );
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("assets/LICENSE"), "application/octet-stream");
    }
}
