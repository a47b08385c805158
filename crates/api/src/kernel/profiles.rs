//! `/profiles`: create, list, retrieve, rename, delete, and download a profile's saved user data
//! (docs/kernel.md, "Profiles").

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use bytes::Bytes;
use futures::stream;
use tapedeck_core::EngineError;
use tapedeck_store::meta::ProfileFilter;

use super::wire::{
    page_headers, DownloadFormat, DownloadProfile, ListProfiles, Profile, ProfileName,
};
use super::KernelError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::common::error::query;
use crate::ApiState;

type QueryResult<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

/// Default page size of `GET /profiles`.
const DEFAULT_LIMIT: u32 = 20;
/// Page sizes `GET /profiles` accepts.
const LIMITS: std::ops::RangeInclusive<u32> = 1..=100;

/// `POST /profiles` → 200 + Profile, empty until a browser saves its changes to it.
pub async fn create(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<Profile>, KernelError> {
    let params: ProfileName = parse_json(&body)?;
    let profile = state
        .engine
        .create_profile(caller.project(), params.name)
        .await?;
    Ok(Json(profile.into()))
}

/// `GET /profiles?limit&offset&name&query` → a JSON array with the paging headers.
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: QueryResult<ListProfiles>,
) -> Result<Response, KernelError> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !LIMITS.contains(&limit) {
        return Err(EngineError::InvalidInput(format!(
            "limit must be in {}..={}, got {limit}",
            LIMITS.start(),
            LIMITS.end()
        ))
        .into());
    }
    let offset = q.offset.unwrap_or(0);
    let filter = ProfileFilter {
        name: q.name,
        query: q.query,
    };
    let page = state
        .engine
        .list_profiles(caller.project(), &filter, limit, offset)
        .await?;
    let headers = page_headers(page.has_more, offset, page.items.len() as u64, limit);
    let profiles: Vec<Profile> = page.items.into_iter().map(Profile::from).collect();
    Ok((headers, Json(profiles)).into_response())
}

/// `GET /profiles/{id_or_name}`.
pub async fn retrieve(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Profile>, KernelError> {
    let profile = state.engine.get_profile(caller.project(), &id).await?;
    Ok(Json(profile.into()))
}

/// `PATCH /profiles/{id_or_name}` with `{name}` → 200 + Profile.
pub async fn update(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Profile>, KernelError> {
    let params: ProfileName = parse_json(&body)?;
    let name = params
        .name
        .ok_or_else(|| EngineError::InvalidInput("name is required".into()))?;
    let profile = state
        .engine
        .rename_profile(caller.project(), &id, &name)
        .await?;
    Ok(Json(profile.into()))
}

/// `DELETE /profiles/{id_or_name}` → 204; 409 while a browser uses it.
pub async fn delete(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, KernelError> {
    state.engine.delete_profile(caller.project(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /profiles/{id_or_name}/download?format=tar.zst|tar` → 200 `application/octet-stream`:
/// the saved user data as a zstd-compressed tar (the default) or a plain tar.
pub async fn download(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: QueryResult<DownloadProfile>,
) -> Result<Response, KernelError> {
    let format = query(q)?.format.unwrap_or(DownloadFormat::TarZst);
    let (profile, chunks) = state
        .engine
        .profile_archive(caller.project(), &id, format.archive_format())
        .await?;
    let body = Body::from_stream(stream::unfold(chunks, |mut chunks| async move {
        chunks.recv().await.map(|chunk| (chunk, chunks))
    }));
    let file = format!(
        "attachment; filename=\"{}.{}\"",
        profile.name.as_deref().unwrap_or(&profile.id),
        format.extension()
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    // Names and ids are letters, digits, dots, underscores and hyphens: always a valid header.
    if let Ok(file) = HeaderValue::try_from(file) {
        headers.insert(header::CONTENT_DISPOSITION, file);
    }
    Ok(response)
}
