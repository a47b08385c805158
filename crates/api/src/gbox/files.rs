//! `/boxes/{id}/fs…`: a box's files, listed, read, written, renamed and removed inside the box's
//! sandbox as the session's user (docs/gbox.md, "Files"). Paths are the box's own: relative
//! ones start at `workingDir`, itself relative to the box's home.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::{Extension, Json};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tapedeck_core::EngineError;
use tapedeck_engine::{FileAnswer, FileEntry, FileOperation};

use super::boxes::running_box;
use super::GboxError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::common::error::query;
use crate::ApiState;

/// The query of `GET …/fs/list`, `…/fs/info` and `…/fs/read`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathQuery {
    path: String,
    /// Levels listed; the SDK sends a number, possibly with a fraction part.
    depth: Option<f64>,
    working_dir: Option<String>,
}

/// The body of `POST …/fs/exists` and `DELETE …/fs`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathBody {
    path: Option<String>,
    working_dir: Option<String>,
}

/// The body of `POST …/fs/rename`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenameBody {
    old_path: Option<String>,
    new_path: Option<String>,
    working_dir: Option<String>,
}

/// The JSON body of `POST …/fs/write` (text content).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteBody {
    content: Option<String>,
    path: Option<String>,
    working_dir: Option<String>,
}

/// `{data: [File | Dir]}`.
#[derive(Debug, Serialize)]
pub struct Listing {
    data: Vec<FileEntry>,
}

/// `{content}`.
#[derive(Debug, Serialize)]
pub struct Content {
    content: String,
}

/// `{exists, type?}`.
#[derive(Debug, Serialize)]
pub struct Existence {
    exists: bool,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
}

/// `{message}`.
#[derive(Debug, Serialize)]
pub struct Removed {
    message: String,
}

/// `GET …/fs/list?path&depth&workingDir` → `{data: [File | Dir]}`, `depth` levels (default 1).
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<PathQuery>, QueryRejection>,
) -> Result<Json<Listing>, GboxError> {
    let q = query(q)?;
    let depth = q.depth.unwrap_or(1.0);
    if depth.fract() != 0.0 || !(1.0..=f64::from(u32::MAX)).contains(&depth) {
        return Err(EngineError::InvalidInput(format!(
            "depth must be a whole number ≥ 1, got {depth}"
        ))
        .into());
    }
    let operation = FileOperation::List {
        path: q.path,
        depth: depth as u32,
    };
    match perform(&state, &caller, &id, q.working_dir, operation).await? {
        FileAnswer::Entries(data) => Ok(Json(Listing { data })),
        other => Err(unexpected(other)),
    }
}

/// `GET …/fs/info?path&workingDir` → `File | Dir`.
pub async fn info(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<PathQuery>, QueryRejection>,
) -> Result<Json<FileEntry>, GboxError> {
    let q = query(q)?;
    let operation = FileOperation::Info(q.path);
    entry(perform(&state, &caller, &id, q.working_dir, operation).await?)
}

/// `GET …/fs/read?path&workingDir` → `{content}` (the file as UTF-8 text, invalid bytes
/// replaced).
pub async fn read(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<PathQuery>, QueryRejection>,
) -> Result<Json<Content>, GboxError> {
    let q = query(q)?;
    let operation = FileOperation::Read(q.path);
    match perform(&state, &caller, &id, q.working_dir, operation).await? {
        FileAnswer::Content(bytes) => Ok(Json(Content {
            content: String::from_utf8_lossy(&bytes).into_owned(),
        })),
        other => Err(unexpected(other)),
    }
}

/// `POST …/fs/exists {path, workingDir?}` → `{exists: true, type}` or `{exists: false}`.
pub async fn exists(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Existence>, GboxError> {
    let params: PathBody = parse_json(&body)?;
    let operation = FileOperation::Exists(required(params.path, "path")?);
    match perform(&state, &caller, &id, params.working_dir, operation).await? {
        FileAnswer::Exists(kind) => Ok(Json(Existence {
            exists: kind.is_some(),
            kind,
        })),
        other => Err(unexpected(other)),
    }
}

/// `POST …/fs/rename {oldPath, newPath, workingDir?}` → the moved `File | Dir`; refused with a
/// 409 when `newPath` exists.
pub async fn rename(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<FileEntry>, GboxError> {
    let params: RenameBody = parse_json(&body)?;
    let operation = FileOperation::Rename {
        from: required(params.old_path, "oldPath")?,
        to: required(params.new_path, "newPath")?,
    };
    entry(perform(&state, &caller, &id, params.working_dir, operation).await?)
}

/// `POST …/fs/write`, JSON `{content, path, workingDir?}` or multipart with a `content` file
/// part → the written `File`. Missing directories are made; a file there is replaced.
pub async fn write(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<FileEntry>, GboxError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let params = match multer::parse_boundary(content_type) {
        Ok(boundary) => multipart_write(boundary, body).await?,
        Err(_) => {
            let params: WriteBody = parse_json(&body)?;
            MultipartWrite {
                content: required(params.content, "content")?.into_bytes(),
                path: params.path,
                working_dir: params.working_dir,
            }
        }
    };
    let operation = FileOperation::Write {
        path: required(params.path, "path")?,
        content: params.content,
    };
    entry(perform(&state, &caller, &id, params.working_dir, operation).await?)
}

/// `DELETE …/fs {path, workingDir?}` → `{message}`; a directory goes with all it holds.
pub async fn remove(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Removed>, GboxError> {
    let params: PathBody = parse_json(&body)?;
    let operation = FileOperation::Remove(required(params.path, "path")?);
    match perform(&state, &caller, &id, params.working_dir, operation).await? {
        FileAnswer::Removed(message) => Ok(Json(Removed { message })),
        other => Err(unexpected(other)),
    }
}

/// A write's fields, from either body.
struct MultipartWrite {
    content: Vec<u8>,
    path: Option<String>,
    working_dir: Option<String>,
}

/// Reads a multipart write: the `content` part's bytes and the `path` and `workingDir` fields.
async fn multipart_write(boundary: String, body: Bytes) -> Result<MultipartWrite, GboxError> {
    let invalid = |e: multer::Error| EngineError::InvalidInput(format!("multipart body: {e}"));
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut write = MultipartWrite {
        content: Vec::new(),
        path: None,
        working_dir: None,
    };
    let mut has_content = false;
    while let Some(part) = parts.next_field().await.map_err(invalid)? {
        match part.name() {
            Some("content") => {
                write.content = part.bytes().await.map_err(invalid)?.to_vec();
                has_content = true;
            }
            Some("path") => write.path = Some(part.text().await.map_err(invalid)?),
            Some("workingDir") => write.working_dir = Some(part.text().await.map_err(invalid)?),
            _ => {}
        }
    }
    if !has_content {
        return Err(EngineError::InvalidInput("content is required".into()).into());
    }
    Ok(write)
}

/// Runs `operation` in the caller's running box `id`.
async fn perform(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    working_dir: Option<String>,
    operation: FileOperation,
) -> Result<FileAnswer, GboxError> {
    let session = running_box(state, caller.project(), id).await?;
    Ok(state
        .engine
        .box_file(&session.id, working_dir.as_deref(), operation)
        .await?)
}

/// The entry an info, write or rename answered.
fn entry(answer: FileAnswer) -> Result<Json<FileEntry>, GboxError> {
    match answer {
        FileAnswer::Entry(entry) => Ok(Json(entry)),
        other => Err(unexpected(other)),
    }
}

/// An answer of another operation's kind: a server fault.
fn unexpected(_: FileAnswer) -> GboxError {
    EngineError::Internal("the box's file program answered another operation's kind".into()).into()
}

/// `value`, or a 400 naming the missing `field`.
fn required<T>(value: Option<T>, field: &str) -> Result<T, GboxError> {
    value.ok_or_else(|| EngineError::InvalidInput(format!("{field} is required")).into())
}
