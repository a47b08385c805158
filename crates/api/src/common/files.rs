//! `GET /files/<path>?expires=<unix>&sig=<hex>`: presigned downloads from the local blob store.
//!
//! No API key is needed; the signature and expiry are the authorization. Range requests get
//! 206, so a browser's video player can seek.

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tapedeck_store::{PresignError, StorageKey};
use time::OffsetDateTime;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::error::ErrorBody;
use crate::ApiState;

/// The query of a presigned URL.
#[derive(Debug, Deserialize)]
pub struct Presigned {
    expires: i64,
    sig: String,
}

/// The `/files` route.
pub fn router() -> Router<ApiState> {
    Router::new().route("/files/{*path}", get(serve))
}

fn refuse(status: StatusCode, code: &'static str, message: &str) -> Response {
    let body = ErrorBody {
        code,
        message: message.to_owned(),
    };
    (status, Json(body)).into_response()
}

async fn serve(
    State(state): State<ApiState>,
    Path(path): Path<String>,
    query: Result<Query<Presigned>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Response {
    let Ok(Query(presigned)) = query else {
        return refuse(StatusCode::FORBIDDEN, "forbidden", "missing expires or sig");
    };
    let Ok(key) = StorageKey::for_path(&path) else {
        return refuse(StatusCode::FORBIDDEN, "forbidden", "invalid path");
    };
    let verdict = state.engine.presigner().verify(
        &key,
        presigned.expires,
        &presigned.sig,
        OffsetDateTime::now_utc(),
    );
    match verdict {
        Ok(()) => {}
        Err(PresignError::BadSignature) => {
            return refuse(StatusCode::FORBIDDEN, "forbidden", "signature mismatch")
        }
        Err(PresignError::Expired) => {
            return refuse(StatusCode::FORBIDDEN, "forbidden", "URL expired")
        }
    }
    let Some(file) = state.engine.blobs().local_path(&key) else {
        return refuse(StatusCode::NOT_FOUND, "not_found", "not a local object");
    };
    if !tokio::fs::try_exists(&file).await.unwrap_or(false) {
        return refuse(StatusCode::NOT_FOUND, "not_found", "no such object");
    }
    match ServeFile::new(file).oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            &e.to_string(),
        ),
    }
}
