//! `/browsers/{id}/computer/*`: Kernel's computer controls (docs/kernel.md, "Computer
//! controls"). Each call is one engine action, or a batch of them, on the browser's display.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tapedeck_core::ui::MouseButton;
use tapedeck_engine::{ClickKind, ComputerAction, EngineError, Motion, Region};

use super::KernelError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::ApiState;

/// Pause between two points of a drag cut in straight steps, when the caller names none.
const DEFAULT_STEP_DELAY: Duration = Duration::from_millis(50);
/// Straight steps per drag segment, when the caller names none.
const DEFAULT_STEPS_PER_SEGMENT: u32 = 10;
/// Pause between keystrokes, when the caller names none: what Chromium keeps up with.
const DEFAULT_TYPING_DELAY: Duration = Duration::from_millis(12);

/// A mouse button as Kernel names it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Button {
    Left,
    Right,
    Middle,
    Back,
    Forward,
}

impl From<Button> for MouseButton {
    fn from(button: Button) -> Self {
        match button {
            Button::Left => Self::Left,
            Button::Right => Self::Right,
            Button::Middle => Self::Middle,
            Button::Back => Self::Back,
            Button::Forward => Self::Forward,
        }
    }
}

/// `click_type`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ClickType {
    Down,
    Up,
    Click,
}

#[derive(Debug, Deserialize)]
struct ClickMouse {
    x: i64,
    y: i64,
    button: Option<Button>,
    click_type: Option<ClickType>,
    #[serde(default)]
    hold_keys: Vec<String>,
    num_clicks: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct MoveMouse {
    x: i64,
    y: i64,
    duration_ms: Option<u64>,
    #[serde(default)]
    hold_keys: Vec<String>,
    smooth: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct DragMouse {
    path: Vec<[i64; 2]>,
    button: Option<Button>,
    delay: Option<u64>,
    duration_ms: Option<u64>,
    #[serde(default)]
    hold_keys: Vec<String>,
    smooth: Option<bool>,
    step_delay_ms: Option<u64>,
    steps_per_segment: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct Scroll {
    x: i64,
    y: i64,
    delta_x: Option<i64>,
    delta_y: Option<i64>,
    #[serde(default)]
    hold_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct TypeText {
    text: String,
    delay: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct PressKey {
    keys: Vec<String>,
    duration: Option<u64>,
    #[serde(default)]
    hold_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Sleep {
    duration_ms: u64,
}

/// `cursor` body, and a batch's `set_cursor`.
#[derive(Debug, Deserialize)]
struct CursorVisibility {
    hidden: bool,
}

/// One action of a batch: `type` names the field that holds its parameters.
#[derive(Debug, Deserialize)]
struct BatchAction {
    #[serde(rename = "type")]
    kind: String,
    click_mouse: Option<ClickMouse>,
    move_mouse: Option<MoveMouse>,
    drag_mouse: Option<DragMouse>,
    scroll: Option<Scroll>,
    type_text: Option<TypeText>,
    press_key: Option<PressKey>,
    sleep: Option<Sleep>,
    set_cursor: Option<CursorVisibility>,
}

#[derive(Debug, Deserialize)]
struct Batch {
    actions: Vec<BatchAction>,
}

#[derive(Debug, Default, Deserialize)]
struct Screenshot {
    region: Option<ScreenRegion>,
}

#[derive(Debug, Deserialize)]
struct ScreenRegion {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

/// `get_mouse_position`'s answer.
#[derive(Debug, Serialize)]
pub struct MousePosition {
    x: i64,
    y: i64,
}

fn millis(ms: Option<u64>) -> Option<Duration> {
    ms.map(Duration::from_millis)
}

impl From<ClickMouse> for ComputerAction {
    fn from(c: ClickMouse) -> Self {
        Self::Click {
            x: c.x,
            y: c.y,
            button: c.button.map_or(MouseButton::Left, Into::into),
            kind: match c.click_type.unwrap_or(ClickType::Click) {
                ClickType::Click => ClickKind::Click,
                ClickType::Down => ClickKind::Down,
                ClickType::Up => ClickKind::Up,
            },
            count: c.num_clicks.unwrap_or(1),
            hold_keys: c.hold_keys,
        }
    }
}

impl From<MoveMouse> for ComputerAction {
    fn from(m: MoveMouse) -> Self {
        Self::Move {
            x: m.x,
            y: m.y,
            motion: if m.smooth.unwrap_or(false) {
                Motion::Smooth {
                    duration: millis(m.duration_ms),
                }
            } else {
                Motion::Jump
            },
            hold_keys: m.hold_keys,
        }
    }
}

impl From<DragMouse> for ComputerAction {
    fn from(d: DragMouse) -> Self {
        Self::Drag {
            path: d.path.into_iter().map(|[x, y]| (x, y)).collect(),
            button: d.button.map_or(MouseButton::Left, Into::into),
            delay: millis(d.delay).unwrap_or_default(),
            motion: if d.smooth.unwrap_or(false) {
                Motion::Smooth {
                    duration: millis(d.duration_ms),
                }
            } else {
                Motion::Linear {
                    steps: d.steps_per_segment.unwrap_or(DEFAULT_STEPS_PER_SEGMENT),
                    step_delay: millis(d.step_delay_ms).unwrap_or(DEFAULT_STEP_DELAY),
                }
            },
            hold_keys: d.hold_keys,
        }
    }
}

impl From<Scroll> for ComputerAction {
    fn from(s: Scroll) -> Self {
        Self::Scroll {
            x: s.x,
            y: s.y,
            dx: s.delta_x.unwrap_or(0),
            dy: s.delta_y.unwrap_or(0),
            hold_keys: s.hold_keys,
        }
    }
}

impl From<TypeText> for ComputerAction {
    fn from(t: TypeText) -> Self {
        Self::Type {
            text: t.text,
            delay: millis(t.delay).unwrap_or(DEFAULT_TYPING_DELAY),
        }
    }
}

impl From<PressKey> for ComputerAction {
    fn from(p: PressKey) -> Self {
        Self::PressKeys {
            keys: p.keys,
            hold: millis(p.duration).filter(|held| !held.is_zero()),
            hold_keys: p.hold_keys,
        }
    }
}

impl BatchAction {
    /// The engine action, or why this one cannot be one.
    fn into_action(self) -> Result<ComputerAction, String> {
        let missing = || format!("a {:?} action needs its {:?} field", self.kind, self.kind);
        let action = match self.kind.as_str() {
            "click_mouse" => self.click_mouse.map(Into::into),
            "move_mouse" => self.move_mouse.map(Into::into),
            "drag_mouse" => self.drag_mouse.map(Into::into),
            "scroll" => self.scroll.map(Into::into),
            "type_text" => self.type_text.map(Into::into),
            "press_key" => self.press_key.map(Into::into),
            "sleep" => self
                .sleep
                .map(|s| ComputerAction::Sleep(Duration::from_millis(s.duration_ms))),
            // The cursor is never drawn, so hiding it is already done: an empty pause keeps
            // the batch's action numbers.
            "set_cursor" => self
                .set_cursor
                .map(|c| cursor_hidden(c.hidden).map(|()| ComputerAction::Sleep(Duration::ZERO)))
                .transpose()?,
            other => return Err(format!("unknown action type {other:?}")),
        };
        action.ok_or_else(missing)
    }
}

/// The body, which these calls require.
fn required<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, KernelError> {
    parse_json::<Option<T>>(body)?
        .ok_or_else(|| EngineError::InvalidInput("a JSON body is required".into()).into())
}

/// Runs one action on browser `id` of the caller's project.
async fn perform_one(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    action: ComputerAction,
) -> Result<StatusCode, KernelError> {
    let session = state
        .engine
        .get_session(caller.project(), id, false)
        .await?;
    state
        .engine
        .perform(&session.id, &[action])
        .await
        .map_err(|failure| KernelError::from(failure.error))?;
    Ok(StatusCode::OK)
}

macro_rules! single_action {
    ($(#[$doc:meta])* $name:ident, $wire:ty) => {
        $(#[$doc])*
        pub async fn $name(
            State(state): State<ApiState>,
            Extension(caller): Extension<Caller>,
            Path(id): Path<String>,
            body: Bytes,
        ) -> Result<StatusCode, KernelError> {
            let params: $wire = required(&body)?;
            perform_one(&state, &caller, &id, params.into()).await
        }
    };
}

single_action!(
    /// `POST /browsers/{id}/computer/click_mouse`: a click, press or release at a point.
    click_mouse, ClickMouse
);
single_action!(
    /// `POST /browsers/{id}/computer/move_mouse`: moves the pointer, at once or smoothly.
    move_mouse, MoveMouse
);
single_action!(
    /// `POST /browsers/{id}/computer/drag_mouse`: presses, moves along a path, releases.
    drag_mouse, DragMouse
);
single_action!(
    /// `POST /browsers/{id}/computer/scroll`: turns the wheel at a point.
    scroll, Scroll
);
single_action!(
    /// `POST /browsers/{id}/computer/type`: types text into the focused element.
    type_text, TypeText
);
single_action!(
    /// `POST /browsers/{id}/computer/press_key`: presses key combinations (`Ctrl+t`).
    press_key, PressKey
);

/// `POST /browsers/{id}/computer/batch`: runs the actions in order, holding the display, and
/// stops at the first that fails; the error names it (`actions[2] (press_key): …`).
pub async fn batch(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, KernelError> {
    let params: Batch = required(&body)?;
    let session = state
        .engine
        .get_session(caller.project(), &id, false)
        .await?;
    // Actions run up to the first that cannot be one; then its error is answered.
    let mut actions = Vec::new();
    let mut unreadable = None;
    for (index, action) in params.actions.into_iter().enumerate() {
        match action.into_action() {
            Ok(action) => actions.push(action),
            Err(why) => {
                unreadable = Some(EngineError::InvalidInput(format!(
                    "actions[{index}]: {why}"
                )));
                break;
            }
        }
    }
    state
        .engine
        .perform(&session.id, &actions)
        .await
        .map_err(|failure| KernelError::from(failure.into_batch_error()))?;
    match unreadable {
        Some(error) => Err(error.into()),
        None => Ok(StatusCode::OK),
    }
}

/// `POST /browsers/{id}/computer/screenshot`: a PNG of the screen, or of `region`.
pub async fn screenshot(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, KernelError> {
    let params: Screenshot = parse_json(&body)?;
    let session = state
        .engine
        .get_session(caller.project(), &id, false)
        .await?;
    let region = params.region.map(|r| Region {
        x: r.x,
        y: r.y,
        width: r.width,
        height: r.height,
    });
    let png = state.engine.screenshot_png(&session.id, region).await?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// `POST /browsers/{id}/computer/get_mouse_position` → `{x, y}`.
pub async fn get_mouse_position(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<MousePosition>, KernelError> {
    let session = state
        .engine
        .get_session(caller.project(), &id, false)
        .await?;
    let (x, y) = state.engine.pointer_position(&session.id).await?;
    Ok(Json(MousePosition { x, y }))
}

#[derive(Debug, Deserialize)]
struct ClipboardText {
    text: String,
}

/// `POST /browsers/{id}/computer/clipboard/read` → `{text}`.
pub async fn read_clipboard(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, KernelError> {
    let session = state
        .engine
        .get_session(caller.project(), &id, false)
        .await?;
    let text = state.engine.read_clipboard(&session.id).await?;
    Ok(Json(serde_json::json!({ "text": text })))
}

/// `POST /browsers/{id}/computer/clipboard/write` `{text}`: a paste finds it there.
pub async fn write_clipboard(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, KernelError> {
    let params: ClipboardText = required(&body)?;
    let session = state
        .engine
        .get_session(caller.project(), &id, false)
        .await?;
    state
        .engine
        .write_clipboard(&session.id, params.text)
        .await?;
    Ok(StatusCode::OK)
}

/// `POST /browsers/{id}/computer/cursor {hidden}` → `{ok: true}`. Displays here never draw a
/// pointer (Xvfb runs without one), so `hidden: true` is how the cursor already is, and
/// `hidden: false` is a 400 saying so.
pub async fn set_cursor(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, KernelError> {
    let params: CursorVisibility = required(&body)?;
    state
        .engine
        .get_session(caller.project(), &id, false)
        .await?;
    cursor_hidden(params.hidden).map_err(EngineError::InvalidInput)?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

/// `Ok` when the cursor is asked to be hidden, as it always is here.
fn cursor_hidden(hidden: bool) -> Result<(), String> {
    if hidden {
        Ok(())
    } else {
        Err(
            "the cursor cannot be shown: this server's displays never draw a pointer, so \
             replays and screenshots never show one"
                .into(),
        )
    }
}
