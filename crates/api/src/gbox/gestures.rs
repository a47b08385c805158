//! `/boxes/{id}/actions/{move,drag,long-press,swipe,touch}`: GBOX's touch-style gestures, as
//! their desktop equivalents on the box's display (docs/gbox.md, "Actions"): a drag is a held
//! left button moved along a path, a long-press holds the right button (the desktop's
//! context-menu gesture), a swipe scrolls the way the finger would have pushed the page, and a
//! touch is the left button pressed, moved and released.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use bytes::Bytes;
use tapedeck_core::duration::duration_field;
use tapedeck_core::ui::MouseButton;
use tapedeck_core::{EngineError, Session};
use tapedeck_engine::{ClickKind, ComputerAction, Motion, MAX_WHEEL_CLICKS};

use super::action_shots::ActionShots;
use super::actions::locate;
use super::boxes::running_box;
use super::wire::{
    ActionOptions, ActionResult, DragAction, LongPressAction, MoveAction, Point,
    PointOrDescription, SwipeAction, Target, TouchAction, TouchPoint,
};
use super::GboxError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::ApiState;

/// Longest a gesture's `duration` may be.
const MAX_GESTURE: Duration = Duration::from_secs(10);
/// A drag between two points, when no duration is given (GBOX's default).
const DEFAULT_DRAG: Duration = Duration::from_millis(500);
/// A drag along a path, when no duration is given (GBOX's default).
const DEFAULT_PATH_DRAG: Duration = Duration::from_millis(50);
/// A long press, when no duration is given (GBOX's default).
const DEFAULT_LONG_PRESS: Duration = Duration::from_secs(1);
/// How often the pointer moves during a drag.
const DRAG_STEP: Duration = Duration::from_millis(10);
/// A touch move, when no duration is given (GBOX's default).
const DEFAULT_TOUCH_MOVE: Duration = Duration::from_millis(200);
/// A touch wait, when no duration is given (GBOX's default).
const DEFAULT_TOUCH_WAIT: Duration = Duration::from_millis(500);
/// Most moves and waits one touch point takes.
const MAX_TOUCH_STEPS: usize = 100;
/// Pixels one wheel click scrolls in Chromium.
const PIXELS_PER_WHEEL_CLICK: f64 = 100.0;

/// `POST …/actions/move`: moves the pointer to `{x, y}`.
pub async fn move_pointer(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ActionResult>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: MoveAction = parse_json(&body)?;
    let (Some(x), Some(y)) = (params.x, params.y) else {
        return Err(EngineError::InvalidInput("move needs x and y".into()).into());
    };
    let action = ComputerAction::Move {
        x: x.round() as i64,
        y: y.round() as i64,
        motion: Motion::Jump,
        hold_keys: Vec::new(),
    };
    act(
        &state,
        &session,
        &params.options,
        &[action],
        &[(x, y)],
        format!("move to ({x}, {y}) executed successfully"),
    )
    .await
}

/// `POST …/actions/drag`: presses the left button at `start`, moves to `end` (or through
/// `path`) over `duration`, and releases it.
pub async fn drag(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ActionResult>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: DragAction = parse_json(&body)?;
    let (points, default) = match (params.path, params.start, params.end) {
        (Some(path), _, _) => (path, DEFAULT_PATH_DRAG),
        (None, Some(start), Some(end)) => (
            vec![
                point(&state, &session.id, start).await?,
                point(&state, &session.id, end).await?,
            ],
            DEFAULT_DRAG,
        ),
        _ => {
            return Err(
                EngineError::InvalidInput("drag needs start and end, or a path".into()).into(),
            )
        }
    };
    let duration = duration_field("duration", params.duration.as_deref(), default, MAX_GESTURE)?;
    let segments = u32::try_from(points.len().saturating_sub(1))
        .unwrap_or(u32::MAX)
        .max(1);
    // Moves every DRAG_STEP, spread over the segments; at least one move per segment.
    let steps = ((duration.as_millis() / DRAG_STEP.as_millis()) as u32 / segments).clamp(1, 100);
    let action = ComputerAction::Drag {
        path: points
            .iter()
            .map(|p| (p.x.round() as i64, p.y.round() as i64))
            .collect(),
        button: MouseButton::Left,
        delay: Duration::ZERO,
        motion: Motion::Linear {
            steps,
            step_delay: duration / (segments * steps),
        },
        hold_keys: Vec::new(),
    };
    act(
        &state,
        &session,
        &params.options,
        &[action],
        &points.iter().map(|p| (p.x, p.y)).collect::<Vec<_>>(),
        "drag executed successfully".into(),
    )
    .await
}

/// `POST …/actions/long-press`: holds the right button at a point or target for `duration`.
pub async fn long_press(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ActionResult>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: LongPressAction = parse_json(&body)?;
    let (x, y, what) = locate(
        &state,
        &session.id,
        params.x,
        params.y,
        params.target,
        "long-press",
    )
    .await?;
    let held = duration_field(
        "duration",
        params.duration.as_deref(),
        DEFAULT_LONG_PRESS,
        MAX_GESTURE,
    )?;
    let (x, y) = (x.round() as i64, y.round() as i64);
    let press = |kind| ComputerAction::Click {
        x,
        y,
        button: MouseButton::Right,
        kind,
        count: 1,
        hold_keys: Vec::new(),
    };
    let actions = [
        press(ClickKind::Down),
        ComputerAction::Sleep(held),
        press(ClickKind::Up),
    ];
    act(
        &state,
        &session,
        &params.options,
        &actions,
        &[(x as f64, y as f64)],
        format!("long-press on {what} executed successfully"),
    )
    .await
}

/// `POST …/actions/swipe`: scrolls as a finger moving `direction` (by `distance`, or from the
/// centre to the edge) or from `start` to `end` would, at the start point.
pub async fn swipe(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ActionResult>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: SwipeAction = parse_json(&body)?;
    let screen = session.spec.viewport;
    let centre = Point {
        x: f64::from(screen.width / 2),
        y: f64::from(screen.height / 2),
    };
    let (from, to) = match (params.direction.as_deref(), params.start, params.end) {
        (Some(direction), _, _) => {
            let (ux, uy) = unit(direction)?;
            let to_edge = f64::from(screen.width.min(screen.height)) / 2.0;
            let distance = swipe_distance(params.distance.as_ref(), to_edge)?;
            (
                centre,
                Point {
                    x: centre.x + ux * distance,
                    y: centre.y + uy * distance,
                },
            )
        }
        (None, Some(start), Some(end)) => (
            point(&state, &session.id, start).await?,
            point(&state, &session.id, end).await?,
        ),
        _ => {
            return Err(EngineError::InvalidInput(
                "swipe needs a direction, or start and end".into(),
            )
            .into())
        }
    };
    // The finger pushes the page: moving up scrolls down.
    let clicks = |px: f64| {
        ((px / PIXELS_PER_WHEEL_CLICK).round() as i64).clamp(-MAX_WHEEL_CLICKS, MAX_WHEEL_CLICKS)
    };
    let action = ComputerAction::Scroll {
        x: from.x.round() as i64,
        y: from.y.round() as i64,
        dx: clicks(from.x - to.x),
        dy: clicks(from.y - to.y),
        hold_keys: Vec::new(),
    };
    act(
        &state,
        &session,
        &params.options,
        &[action],
        &[(from.x, from.y), (to.x, to.y)],
        "swipe executed successfully".into(),
    )
    .await
}

/// Runs `actions` in order on the box's display, no other input between them, with the
/// screenshots `options` asks for around them; the trace frames `points`.
async fn act(
    state: &ApiState,
    session: &Session,
    options: &ActionOptions,
    actions: &[ComputerAction],
    points: &[(f64, f64)],
    message: String,
) -> Result<Json<ActionResult>, GboxError> {
    let shots = ActionShots::begin(state, &session.id, options).await?;
    state
        .engine
        .perform(&session.id, actions)
        .await
        .map_err(|failure| GboxError::from(failure.error))?;
    shots
        .respond(state, &session.id, session.spec.viewport, points, message)
        .await
}

/// Where one finger's touch goes: its start, then each move's end.
fn touch_points(finger: &TouchPoint) -> Vec<(f64, f64)> {
    std::iter::once((finger.start.x, finger.start.y))
        .chain(finger.actions.iter().filter_map(|a| Some((a.x?, a.y?))))
        .collect()
}

/// `POST …/actions/touch {points: [{start, actions: [move | wait]}]}`: one finger on a desktop
/// is the left button: pressed at `start`, moved and paused as its actions say, released where
/// it ends. A desktop has one pointer, so more than one point is refused.
pub async fn touch(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ActionResult>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: TouchAction = parse_json(&body)?;
    let [finger] = params.points.as_slice() else {
        return Err(EngineError::InvalidInput(format!(
            "touch takes exactly one point on a desktop, which has one pointer; got {}",
            params.points.len()
        ))
        .into());
    };
    let actions = touch_actions(finger)?;
    act(
        &state,
        &session,
        &params.options,
        &actions,
        &touch_points(finger),
        "touch executed successfully".into(),
    )
    .await
}

/// The pointer actions of one finger's touch.
fn touch_actions(finger: &TouchPoint) -> Result<Vec<ComputerAction>, EngineError> {
    if finger.actions.len() > MAX_TOUCH_STEPS {
        return Err(EngineError::InvalidInput(format!(
            "a touch point takes at most {MAX_TOUCH_STEPS} actions"
        )));
    }
    let mut at = (finger.start.x.round() as i64, finger.start.y.round() as i64);
    let button = |kind, (x, y): (i64, i64)| ComputerAction::Click {
        x,
        y,
        button: MouseButton::Left,
        kind,
        count: 1,
        hold_keys: Vec::new(),
    };
    let mut actions = vec![button(ClickKind::Down, at)];
    for step in &finger.actions {
        match (step.kind.as_str(), step.x, step.y) {
            ("move", Some(x), Some(y)) => {
                let duration = duration_field(
                    "duration",
                    step.duration.as_deref(),
                    DEFAULT_TOUCH_MOVE,
                    MAX_GESTURE,
                )?;
                let steps = (duration.as_millis() / DRAG_STEP.as_millis()).clamp(1, 100) as u32;
                let to = (x.round() as i64, y.round() as i64);
                actions.push(ComputerAction::Drag {
                    path: vec![at, to],
                    button: MouseButton::Left,
                    delay: Duration::ZERO,
                    motion: Motion::Linear {
                        steps,
                        step_delay: duration / steps,
                    },
                    hold_keys: Vec::new(),
                });
                at = to;
            }
            ("wait", _, _) => actions.push(ComputerAction::Sleep(duration_field(
                "duration",
                step.duration.as_deref(),
                DEFAULT_TOUCH_WAIT,
                MAX_GESTURE,
            )?)),
            ("move", _, _) => {
                return Err(EngineError::InvalidInput(
                    "a touch move needs x and y".into(),
                ))
            }
            (other, _, _) => {
                return Err(EngineError::InvalidInput(format!(
                    "a touch action's type is move or wait, got {other:?}"
                )))
            }
        }
    }
    actions.push(button(ClickKind::Up, at));
    Ok(actions)
}

/// A point, or the centre of the element a description finds.
async fn point(
    state: &ApiState,
    session_id: &str,
    at: PointOrDescription,
) -> Result<Point, GboxError> {
    match at {
        PointOrDescription::Point(p) => Ok(p),
        PointOrDescription::Description(d) => {
            let (x, y, _) = locate(
                state,
                session_id,
                None,
                None,
                Some(Target::Description(d)),
                "swipe",
            )
            .await?;
            Ok(Point { x, y })
        }
    }
}

/// The unit vector of a GBOX direction.
fn unit(direction: &str) -> Result<(f64, f64), EngineError> {
    let diagonal = std::f64::consts::FRAC_1_SQRT_2;
    Ok(match direction {
        "up" => (0.0, -1.0),
        "down" => (0.0, 1.0),
        "left" => (-1.0, 0.0),
        "right" => (1.0, 0.0),
        "upLeft" => (-diagonal, -diagonal),
        "upRight" => (diagonal, -diagonal),
        "downLeft" => (-diagonal, diagonal),
        "downRight" => (diagonal, diagonal),
        other => {
            return Err(EngineError::InvalidInput(format!(
                "direction must be up, down, left, right, upLeft, upRight, downLeft or downRight, got {other:?}"
            )))
        }
    })
}

/// A swipe's `distance` in pixels: a number, or tiny, short, medium or long; by default from
/// the centre to the nearest edge (`to_edge`).
fn swipe_distance(distance: Option<&serde_json::Value>, to_edge: f64) -> Result<f64, EngineError> {
    let invalid = || {
        EngineError::InvalidInput(
            "distance must be pixels (0 to 10000), or tiny, short, medium or long".into(),
        )
    };
    match distance {
        None => Ok(to_edge),
        Some(serde_json::Value::Number(n)) => n
            .as_f64()
            .filter(|px| (0.0..=10_000.0).contains(px))
            .ok_or_else(invalid),
        Some(serde_json::Value::String(s)) => match s.as_str() {
            "tiny" => Ok(100.0),
            "short" => Ok(200.0),
            "medium" => Ok(400.0),
            "long" => Ok(800.0),
            _ => Err(invalid()),
        },
        Some(_) => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swipe_distances_and_directions_are_read_or_refused() {
        assert_eq!(swipe_distance(None, 360.0).unwrap(), 360.0);
        assert_eq!(
            swipe_distance(Some(&serde_json::json!("short")), 360.0).unwrap(),
            200.0
        );
        assert_eq!(
            swipe_distance(Some(&serde_json::json!(250)), 360.0).unwrap(),
            250.0
        );
        assert!(swipe_distance(Some(&serde_json::json!(-1)), 360.0).is_err());
        assert!(swipe_distance(Some(&serde_json::json!("far")), 360.0).is_err());
        assert_eq!(unit("up").unwrap(), (0.0, -1.0));
        assert!(unit("sideways").is_err());
    }
}
