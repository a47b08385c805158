//! `/boxes/{id}/actions/screen-layout` and `/boxes/{id}/actions/elements/detect`: what is on a
//! Linux box's screen, read from its browser: the front page's HTML, and the elements a person
//! can act on, from the page's accessibility tree, with their screen boxes.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use bytes::Bytes;

use super::actions::deliver;
use super::boxes::running_box;
use super::wire::{
    DetectElementsAction, DetectedElementJson, DetectedElementsJson, DetectionScreenshots,
    ScreenLayout,
};
use super::GboxError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::ApiState;

/// `GET …/actions/screen-layout` → `{content}`: the HTML of the page in front, as GBOX
/// describes a browser box's layout.
pub async fn screen_layout(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<ScreenLayout>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let content = state.engine.front_page_html(&session.id).await?;
    Ok(Json(ScreenLayout { content }))
}

/// `POST …/actions/elements/detect` → the interactive elements of the page in front, with a
/// screenshot and the same screenshot with each element framed.
pub async fn detect_elements(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<DetectedElementsJson>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: DetectElementsAction = parse_json(&body)?;
    let detected = state.engine.detect_elements(&session.id).await?;
    let (format, expires) = (
        params.screenshot.output_format.as_deref(),
        params.screenshot.presigned_expires_in.as_deref(),
    );
    let source = deliver(&state, &session.id, detected.source, format, expires).await?;
    let marked = deliver(&state, &session.id, detected.marked, format, expires).await?;
    let elements = detected
        .elements
        .into_iter()
        .enumerate()
        .map(|(n, e)| DetectedElementJson {
            id: (n + 1).to_string(),
            center_x: e.x + e.width / 2.0,
            center_y: e.y + e.height / 2.0,
            x: e.x,
            y: e.y,
            width: e.width,
            height: e.height,
            label: e.name,
            path: String::new(),
            source: "accessibility",
            kind: e.role,
        })
        .collect();
    Ok(Json(DetectedElementsJson {
        elements,
        screenshot: DetectionScreenshots { marked, source },
    }))
}
