//! `/boxes/{id}/actions/*`: tap, click, type, press_key, scroll and screenshot, as real X input
//! on the box's display. Every action answers `{actionId, message}`, plus `screenshot` when
//! `options.screenshot` asks for it (`action_shots`).

use axum::extract::{Path, State};
use axum::Extension;
use axum::Json;
use base64::Engine as _;
use bytes::Bytes;
use tapedeck_core::ui::{KeyPressing, MouseButton, TypingMode};
use tapedeck_core::EngineError;

use super::action_shots::ActionShots;
use super::boxes::running_box;
use super::storage::url_ttl;
use super::wire::{
    ActionResult, ClipboardAction, PointerAction, PressKeyAction, ScreenshotAction, ScreenshotJson,
    ScrollAction, Target, TypeAction,
};
use super::GboxError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::ApiState;

/// Pixels one wheel click scrolls in Chromium.
const PIXELS_PER_WHEEL_CLICK: f64 = 100.0;

/// `POST …/actions/tap`: a left click at `{x, y}` or on `target`.
pub async fn tap(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ActionResult>, GboxError> {
    pointer(&state, caller.project(), &id, &body, "tap").await
}

/// `POST …/actions/click`: like tap, with `button` and `double`.
pub async fn click(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ActionResult>, GboxError> {
    pointer(&state, caller.project(), &id, &body, "click").await
}

async fn pointer(
    state: &ApiState,
    project: &str,
    id: &str,
    body: &Bytes,
    verb: &str,
) -> Result<Json<ActionResult>, GboxError> {
    let session = running_box(state, project, id).await?;
    let params: PointerAction = parse_json(body)?;
    let (x, y, what) = locate(state, &session.id, params.x, params.y, params.target, verb).await?;
    let shots = ActionShots::begin(state, &session.id, &params.options).await?;
    let button = match params.button.as_deref() {
        None | Some("left") => MouseButton::Left,
        Some("right") => MouseButton::Right,
        Some("middle") => MouseButton::Middle,
        Some(other) => {
            return Err(EngineError::InvalidInput(format!(
                "button must be left, right or middle, got {other:?}"
            ))
            .into())
        }
    };
    let double = params.double.unwrap_or(false);
    state
        .engine
        .click(
            &session.id,
            x.round() as i64,
            y.round() as i64,
            button,
            double,
        )
        .await?;
    shots
        .respond(
            state,
            &session.id,
            session.spec.viewport,
            &[(x, y)],
            format!("{verb} on {what} executed successfully"),
        )
        .await
}

/// The screen point an action aims at: `x` and `y`, or its `target` (an element the client
/// detected, or one described in words and found on the front page), with words saying which.
pub(super) async fn locate(
    state: &ApiState,
    session_id: &str,
    x: Option<f64>,
    y: Option<f64>,
    target: Option<Target>,
    verb: &str,
) -> Result<(f64, f64, String), GboxError> {
    match (x, y, target) {
        (Some(x), Some(y), _) => Ok((x, y, format!("({x}, {y})"))),
        (_, _, Some(Target::Element(e))) => {
            Ok((e.center_x, e.center_y, "the detected element".into()))
        }
        (_, _, Some(Target::Description(description))) => {
            let found = state
                .engine
                .find_element(session_id, &description)
                .await?
                .ok_or_else(|| {
                    EngineError::InvalidInput(format!(
                        "no element on the page matches the target {description:?}"
                    ))
                })?;
            Ok((
                found.x as f64,
                found.y as f64,
                format!("{} {:?}", found.role, found.name),
            ))
        }
        _ => Err(EngineError::InvalidInput(format!("{verb} needs x and y, or a target")).into()),
    }
}

/// `POST …/actions/type`: types `text`, replacing the field's content with `mode: "replace"`.
pub async fn type_text(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ActionResult>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: TypeAction = parse_json(&body)?;
    let text = params
        .text
        .ok_or_else(|| EngineError::InvalidInput("text is required".into()))?;
    let mode = match params.mode.as_deref() {
        None | Some("append") => TypingMode::Append,
        Some("replace") => TypingMode::Replace,
        Some(other) => {
            return Err(EngineError::InvalidInput(format!(
                "mode must be append or replace, got {other:?}"
            ))
            .into())
        }
    };
    let enter = params.press_enter.unwrap_or(false);
    let shots = ActionShots::begin(&state, &session.id, &params.options).await?;
    state
        .engine
        .type_text(&session.id, &text, mode, enter)
        .await?;
    shots
        .respond(
            &state,
            &session.id,
            session.spec.viewport,
            &[],
            "type executed successfully".into(),
        )
        .await
}

/// `POST …/actions/press-key`: `keys` one after another, or together with `combination`.
pub async fn press_key(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ActionResult>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: PressKeyAction = parse_json(&body)?;
    let pressing = if params.combination.unwrap_or(false) {
        KeyPressing::Together
    } else {
        KeyPressing::OneAfterAnother
    };
    let shots = ActionShots::begin(&state, &session.id, &params.options).await?;
    state
        .engine
        .press_keys(&session.id, &params.keys, pressing)
        .await?;
    shots
        .respond(
            &state,
            &session.id,
            session.spec.viewport,
            &[],
            "press-key executed successfully".into(),
        )
        .await
}

/// `POST …/actions/scroll`: pixel deltas at a point, or a direction and distance.
pub async fn scroll(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ActionResult>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: ScrollAction = parse_json(&body)?;
    let viewport = session.spec.viewport;
    let x = params.x.unwrap_or(f64::from(viewport.width / 2));
    let y = params.y.unwrap_or(f64::from(viewport.height / 2));
    let (dx, dy) = match (&params.direction, params.scroll_x, params.scroll_y) {
        (Some(direction), _, _) => {
            let distance = match &params.distance {
                None => 300.0,
                Some(serde_json::Value::Number(n)) => n.as_f64().unwrap_or(300.0),
                Some(serde_json::Value::String(s)) => match s.as_str() {
                    "small" => 150.0,
                    "medium" => 300.0,
                    "large" => 600.0,
                    other => other.parse().map_err(|_| {
                        EngineError::InvalidInput(format!(
                            "distance must be small, medium, large or pixels, got {other:?}"
                        ))
                    })?,
                },
                Some(other) => {
                    return Err(
                        EngineError::InvalidInput(format!("invalid distance {other}")).into(),
                    )
                }
            };
            match direction.as_str() {
                "up" => (0.0, -distance),
                "down" => (0.0, distance),
                "left" => (-distance, 0.0),
                "right" => (distance, 0.0),
                other => {
                    return Err(EngineError::InvalidInput(format!(
                        "direction must be up, down, left or right, got {other:?}"
                    ))
                    .into())
                }
            }
        }
        (None, sx, sy) if sx.is_some() || sy.is_some() => (sx.unwrap_or(0.0), sy.unwrap_or(0.0)),
        _ => {
            return Err(EngineError::InvalidInput(
                "scroll needs scrollX/scrollY or a direction".into(),
            )
            .into())
        }
    };
    let clicks = |px: f64| {
        let n = (px / PIXELS_PER_WHEEL_CLICK).round() as i64;
        if n == 0 && px != 0.0 {
            px.signum() as i64
        } else {
            n
        }
    };
    let shots = ActionShots::begin(&state, &session.id, &params.options).await?;
    state
        .engine
        .scroll(
            &session.id,
            x.round() as i64,
            y.round() as i64,
            clicks(dx),
            clicks(dy),
        )
        .await?;
    shots
        .respond(
            &state,
            &session.id,
            session.spec.viewport,
            &[(x, y)],
            "scroll executed successfully".into(),
        )
        .await
}

/// `POST …/actions/screenshot` → `{uri}` as a PNG `data:` URI, or `{uri, presignedUrl}` with a
/// storage key when `outputFormat` is `storageKey`.
pub async fn screenshot(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ScreenshotJson>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: ScreenshotAction = parse_json(&body)?;
    let shot = take_screenshot(
        &state,
        &session.id,
        params.output_format.as_deref(),
        params.presigned_expires_in.as_deref(),
    )
    .await?;
    Ok(Json(shot))
}

async fn take_screenshot(
    state: &ApiState,
    session_id: &str,
    output_format: Option<&str>,
    expires_in: Option<&str>,
) -> Result<ScreenshotJson, GboxError> {
    let png = state.engine.screenshot_png(session_id, None).await?;
    deliver(state, session_id, png, output_format, expires_in).await
}

/// A PNG as GBOX hands screenshots out: a `data:` URI, or a storage key with a presigned URL.
pub(super) async fn deliver(
    state: &ApiState,
    session_id: &str,
    png: Vec<u8>,
    output_format: Option<&str>,
    expires_in: Option<&str>,
) -> Result<ScreenshotJson, GboxError> {
    match output_format {
        None | Some("base64") => Ok(ScreenshotJson {
            uri: format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&png)
            ),
            presigned_url: None,
        }),
        Some("storageKey") => {
            let ttl = url_ttl("presignedExpiresIn", expires_in)?;
            let key = state.engine.save_screenshot(session_id, png).await?;
            let (url, _) = state.engine.presigned_url(&key, ttl).await?;
            Ok(ScreenshotJson {
                uri: key.to_string(),
                presigned_url: Some(url),
            })
        }
        Some(other) => Err(EngineError::InvalidInput(format!(
            "outputFormat must be base64 or storageKey, got {other:?}"
        ))
        .into()),
    }
}

/// `GET …/actions/clipboard`: the clipboard's text, as `text/plain`.
pub async fn clipboard_get(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<axum::response::Response, GboxError> {
    use axum::response::IntoResponse;
    let session = running_box(&state, caller.project(), &id).await?;
    let text = state.engine.read_clipboard(&session.id).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// `POST …/actions/clipboard` `{content}`: puts the text on the clipboard.
pub async fn clipboard_set(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<axum::http::StatusCode, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: ClipboardAction = parse_json(&body)?;
    let content = params
        .content
        .ok_or_else(|| EngineError::InvalidInput("content is required".into()))?;
    state.engine.write_clipboard(&session.id, content).await?;
    Ok(axum::http::StatusCode::OK)
}
