//! Computer controls: the pointer, wheel and keyboard gestures computer-use agents send
//! (Kernel's `computer/*` calls), run as real X input on a session's display. A batch holds
//! the display from its first action to its last, so no other caller's input interleaves.

use std::time::Duration;

use tapedeck_capture::clipboard::{self, ClipboardOwner, MAX_CLIPBOARD_BYTES};
use tapedeck_capture::input::{self, human_path, xdotool_combo, InputStep};
use tapedeck_capture::screenshot::Region;
use tapedeck_core::ui::MouseButton;
use tapedeck_core::{EngineError, Viewport};

use crate::actions::{action_error, check_point, MAX_WHEEL_CLICKS};
use crate::events::Moment;
use crate::{lock, Engine};

/// Most actions in one batch.
pub const MAX_BATCH: usize = 100;
/// Longest pause one action may ask for (a sleep, a key held, a delay before a drag).
pub const MAX_PAUSE: Duration = Duration::from_secs(30);
/// Longest text one typing action types.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest a smooth movement may take.
const MAX_SMOOTH: Duration = Duration::from_secs(10);
/// Most clicks one click action repeats.
const MAX_CLICKS: u32 = 10;
/// Most points a drag passes through.
const MAX_PATH_POINTS: usize = 1_000;
/// Most steps one drag segment is cut into.
const MAX_STEPS_PER_SEGMENT: u32 = 100;
/// Most keys held, or pressed in one action.
const MAX_KEYS: usize = 50;
/// Longest a typing action may run, inside xdotool's own limit.
const MAX_TYPING: Duration = Duration::from_secs(50);
/// Time between two points of a smooth movement.
const SMOOTH_STEP: Duration = Duration::from_millis(10);

/// What a click does with its button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClickKind {
    /// Presses and releases, `count` times.
    Click,
    /// Presses and keeps it down.
    Down,
    /// Releases.
    Up,
}

/// How the pointer travels to a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Motion {
    /// At once.
    Jump,
    /// Along a curved, human-like path taking `duration` (by default, by the distance).
    Smooth {
        /// How long the movement takes.
        duration: Option<Duration>,
    },
    /// In straight steps: each segment cut in `steps`, `step_delay` apart.
    Linear {
        /// Steps per segment, at least 1.
        steps: u32,
        /// Pause after each step.
        step_delay: Duration,
    },
}

/// One computer-use action. Keys are xdotool-style names (`Return`, `Ctrl+t`); `hold_keys`
/// are held down around the action.
#[derive(Debug, Clone, PartialEq)]
pub enum ComputerAction {
    /// A click (or a press, or a release) at a point.
    Click {
        /// Screen point.
        x: i64,
        /// Screen point.
        y: i64,
        /// Which button.
        button: MouseButton,
        /// Click, press or release.
        kind: ClickKind,
        /// Clicks in a row, for [`ClickKind::Click`].
        count: u32,
        /// Keys held during it.
        hold_keys: Vec<String>,
    },
    /// Moves the pointer.
    Move {
        /// Screen point.
        x: i64,
        /// Screen point.
        y: i64,
        /// How it travels.
        motion: Motion,
        /// Keys held during it.
        hold_keys: Vec<String>,
    },
    /// Presses a button at the first point, moves through the others, and releases it.
    Drag {
        /// At least 2 points.
        path: Vec<(i64, i64)>,
        /// Which button.
        button: MouseButton,
        /// Pause between the press and the first move.
        delay: Duration,
        /// How it travels between points.
        motion: Motion,
        /// Keys held during it.
        hold_keys: Vec<String>,
    },
    /// Turns the wheel at a point: `dy` clicks down (negative: up), `dx` right.
    Scroll {
        /// Screen point.
        x: i64,
        /// Screen point.
        y: i64,
        /// Clicks right.
        dx: i64,
        /// Clicks down.
        dy: i64,
        /// Keys held during it.
        hold_keys: Vec<String>,
    },
    /// Types text into the focused element.
    Type {
        /// The text.
        text: String,
        /// Pause between keystrokes.
        delay: Duration,
    },
    /// Presses key combinations in order, each tapped or held for `hold`.
    PressKeys {
        /// Combinations, e.g. `Ctrl+a`.
        keys: Vec<String>,
        /// How long each is held; `None` taps.
        hold: Option<Duration>,
        /// Keys held during it.
        hold_keys: Vec<String>,
    },
    /// Waits.
    Sleep(Duration),
}

impl ComputerAction {
    /// The action's name as computer-use APIs call it, for error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Click { .. } => "click_mouse",
            Self::Move { .. } => "move_mouse",
            Self::Drag { .. } => "drag_mouse",
            Self::Scroll { .. } => "scroll",
            Self::Type { .. } => "type_text",
            Self::PressKeys { .. } => "press_key",
            Self::Sleep(_) => "sleep",
        }
    }
}

/// A batch stopped at an action: the ones before it ran, it and the rest did not.
#[derive(Debug)]
pub struct BatchFailure {
    /// The failed action's place in the batch, from 0.
    pub index: usize,
    /// Its name (`press_key`).
    pub action: &'static str,
    /// Why it failed.
    pub error: EngineError,
}

impl BatchFailure {
    /// The failure as a batch's caller hears it: a refusal or a timeout names the action that
    /// failed (`actions[2] (press_key): unknown key …`); other errors are as they were.
    pub fn into_batch_error(self) -> EngineError {
        let at = |why: String| format!("actions[{}] ({}): {why}", self.index, self.action);
        match self.error {
            EngineError::InvalidInput(why) => EngineError::InvalidInput(at(why)),
            EngineError::TimedOut(why) => EngineError::TimedOut(at(why)),
            other => other,
        }
    }
}

impl Engine {
    /// Runs `actions` in order on the session's display, holding it throughout, and stops at
    /// the first that is invalid or fails.
    ///
    /// Errors: a [`BatchFailure`] naming the action: `InvalidInput` for a point off the
    /// screen, an unknown key or a value out of its bound; `NotFound` for no such running
    /// session; `TimedOut` when the input tool hung.
    pub async fn perform(
        &self,
        session_id: &str,
        actions: &[ComputerAction],
    ) -> Result<(), BatchFailure> {
        let fail = |index: usize, error: EngineError| BatchFailure {
            index,
            action: actions.get(index).map_or("batch", ComputerAction::name),
            error,
        };
        if actions.len() > MAX_BATCH {
            let why = format!("a batch holds at most {MAX_BATCH} actions");
            return Err(fail(0, EngineError::InvalidInput(why)));
        }
        let live = self.live_session(session_id).map_err(|e| fail(0, e))?;
        let screen = live.session.spec.viewport;
        self.touch_session(session_id);
        let display = live.display.lock().await;
        let Some(display) = display.as_ref() else {
            return Err(fail(0, EngineError::conflict("the session is ending")));
        };
        for (index, action) in actions.iter().enumerate() {
            let from = match action {
                ComputerAction::Move {
                    motion: Motion::Smooth { .. },
                    ..
                } => input::pointer_position(display)
                    .await
                    .map_err(|e| fail(index, action_error(e)))?,
                _ => (0, 0),
            };
            let steps = steps_of(action, &screen, from).map_err(|e| fail(index, e))?;
            let began = Moment::now();
            input::perform(display, &steps)
                .await
                .map_err(|e| fail(index, action_error(e)))?;
            self.note_computer_action(session_id, began, action);
            self.touch_session(session_id);
        }
        Ok(())
    }

    /// The text on the session's clipboard (empty when there is none).
    ///
    /// Errors: `NotFound` for no such running session; `TimedOut` when the clipboard's owner
    /// (the browser) does not answer.
    pub async fn read_clipboard(&self, session_id: &str) -> Result<String, EngineError> {
        let number = self.display_number(session_id).await?;
        tokio::task::spawn_blocking(move || clipboard::read(number))
            .await
            .map_err(EngineError::internal)?
            .map_err(action_error)
    }

    /// Puts `text` on the session's clipboard, where a paste (`Ctrl+v`) finds it until the
    /// browser copies something else.
    ///
    /// Errors: `InvalidInput` past [`MAX_CLIPBOARD_BYTES`]; `NotFound` for no such running
    /// session.
    pub async fn write_clipboard(&self, session_id: &str, text: String) -> Result<(), EngineError> {
        if text.len() > MAX_CLIPBOARD_BYTES {
            return Err(EngineError::InvalidInput(format!(
                "clipboard text is limited to {MAX_CLIPBOARD_BYTES} bytes"
            )));
        }
        let number = self.display_number(session_id).await?;
        let owner = tokio::task::spawn_blocking(move || ClipboardOwner::hold(number, text))
            .await
            .map_err(EngineError::internal)?
            .map_err(action_error)?;
        let live = self.live_session(session_id)?;
        // The new owner took the selection; the old one's thread has ended or ends now.
        let old = lock(&live.clipboard).replace(owner);
        drop(old);
        self.touch_session(session_id);
        Ok(())
    }

    /// The number N of the running session's display `:N`.
    ///
    /// Errors: `NotFound` for no such running session; `Conflict` while it is ending.
    pub(crate) async fn display_number(&self, session_id: &str) -> Result<u32, EngineError> {
        let live = self.live_session(session_id)?;
        let display = live.display.lock().await;
        display
            .as_ref()
            .map(|d| d.number())
            .ok_or_else(|| EngineError::conflict("the session is ending"))
    }

    /// Where the session's pointer is, in screen pixels.
    ///
    /// Errors: `NotFound` for no such running session; `TimedOut` when the tool hung.
    pub async fn pointer_position(&self, session_id: &str) -> Result<(i64, i64), EngineError> {
        self.on_display(session_id, async |d| input::pointer_position(d).await)
            .await
    }
}

/// The input steps of `action` on `screen`, the pointer being at `from`.
fn steps_of(
    action: &ComputerAction,
    screen: &Viewport,
    from: (i64, i64),
) -> Result<Vec<InputStep>, EngineError> {
    let steps = match action {
        ComputerAction::Click {
            x,
            y,
            button,
            kind,
            count,
            hold_keys,
        } => {
            check_point(screen, *x, *y)?;
            let press = match kind {
                ClickKind::Click => {
                    if !(1..=MAX_CLICKS).contains(count) {
                        return Err(EngineError::InvalidInput(format!(
                            "num_clicks must be 1 to {MAX_CLICKS}"
                        )));
                    }
                    InputStep::Click {
                        button: *button,
                        count: *count,
                    }
                }
                ClickKind::Down => InputStep::ButtonDown(*button),
                ClickKind::Up => InputStep::ButtonUp(*button),
            };
            holding(hold_keys, vec![InputStep::MoveTo { x: *x, y: *y }, press])?
        }
        ComputerAction::Move {
            x,
            y,
            motion,
            hold_keys,
        } => {
            check_point(screen, *x, *y)?;
            holding(hold_keys, travel(from, (*x, *y), *motion)?)?
        }
        ComputerAction::Drag {
            path,
            button,
            delay,
            motion,
            hold_keys,
        } => {
            if !(2..=MAX_PATH_POINTS).contains(&path.len()) {
                return Err(EngineError::InvalidInput(format!(
                    "a drag's path has 2 to {MAX_PATH_POINTS} points"
                )));
            }
            for &(x, y) in path {
                check_point(screen, x, y)?;
            }
            let (x, y) = path[0];
            let mut steps = vec![
                InputStep::MoveTo { x, y },
                InputStep::ButtonDown(*button),
                InputStep::Pause(pause(*delay, "delay")?),
            ];
            for pair in path.windows(2) {
                steps.extend(travel(pair[0], pair[1], *motion)?);
            }
            steps.push(InputStep::ButtonUp(*button));
            holding(hold_keys, steps)?
        }
        ComputerAction::Scroll {
            x,
            y,
            dx,
            dy,
            hold_keys,
        } => {
            check_point(screen, *x, *y)?;
            if dx.abs() > MAX_WHEEL_CLICKS || dy.abs() > MAX_WHEEL_CLICKS {
                return Err(EngineError::InvalidInput(format!(
                    "a scroll turns the wheel at most {MAX_WHEEL_CLICKS} clicks either way"
                )));
            }
            let wheel = InputStep::Wheel { dx: *dx, dy: *dy };
            holding(hold_keys, vec![InputStep::MoveTo { x: *x, y: *y }, wheel])?
        }
        ComputerAction::Type { text, delay } => {
            let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
            if chars as usize > MAX_TEXT_CHARS || delay.saturating_mul(chars) > MAX_TYPING {
                return Err(EngineError::InvalidInput(format!(
                    "type_text types at most {MAX_TEXT_CHARS} characters, in at most {} s",
                    MAX_TYPING.as_secs()
                )));
            }
            vec![InputStep::Type {
                text: text.clone(),
                delay: *delay,
            }]
        }
        ComputerAction::PressKeys {
            keys,
            hold,
            hold_keys,
        } => {
            if keys.is_empty() || keys.len() > MAX_KEYS {
                return Err(EngineError::InvalidInput(format!(
                    "press_key presses 1 to {MAX_KEYS} keys"
                )));
            }
            let mut steps = Vec::new();
            for combo in keys.iter().map(|k| key_combo(k)) {
                let combo = combo?;
                match hold {
                    Some(held) => steps.extend([
                        InputStep::KeyDown(combo.clone()),
                        InputStep::Pause(pause(*held, "duration")?),
                        InputStep::KeyUp(combo),
                    ]),
                    None => steps.push(InputStep::KeyTap(combo)),
                }
            }
            holding(hold_keys, steps)?
        }
        ComputerAction::Sleep(duration) => vec![InputStep::Pause(pause(*duration, "sleep")?)],
    };
    Ok(steps)
}

/// `steps` with `keys` pressed before and released after, in reverse order.
fn holding(keys: &[String], steps: Vec<InputStep>) -> Result<Vec<InputStep>, EngineError> {
    if keys.len() > MAX_KEYS {
        return Err(EngineError::InvalidInput(format!(
            "at most {MAX_KEYS} keys are held"
        )));
    }
    let keys: Vec<String> = keys
        .iter()
        .map(|k| key_combo(k))
        .collect::<Result<_, _>>()?;
    let down = keys.iter().cloned().map(InputStep::KeyDown);
    let up = keys.iter().rev().cloned().map(InputStep::KeyUp);
    Ok(down.chain(steps).chain(up).collect())
}

/// The pointer's travel from `from` to `to`.
fn travel(from: (i64, i64), to: (i64, i64), motion: Motion) -> Result<Vec<InputStep>, EngineError> {
    let move_to = |(x, y): (i64, i64)| InputStep::MoveTo { x, y };
    Ok(match motion {
        Motion::Jump => vec![move_to(to)],
        Motion::Smooth { duration } => {
            let distance = ((to.0 - from.0) as f64).hypot((to.1 - from.1) as f64);
            // About what a hand takes: a quarter second, plus a second per 1,500 pixels.
            let natural = Duration::from_millis(250 + (distance / 1.5) as u64);
            let duration = duration.unwrap_or(natural);
            if duration > MAX_SMOOTH {
                return Err(EngineError::InvalidInput(format!(
                    "duration_ms is at most {}",
                    MAX_SMOOTH.as_millis()
                )));
            }
            let steps = (duration.as_millis() / SMOOTH_STEP.as_millis()).clamp(2, 1_000) as u32;
            let pause = duration / steps;
            human_path(from, to, steps)
                .into_iter()
                .flat_map(|point| [move_to(point), InputStep::Pause(pause)])
                .collect()
        }
        Motion::Linear { steps, step_delay } => {
            if !(1..=MAX_STEPS_PER_SEGMENT).contains(&steps) {
                return Err(EngineError::InvalidInput(format!(
                    "steps_per_segment must be 1 to {MAX_STEPS_PER_SEGMENT}"
                )));
            }
            let step_delay = pause(step_delay, "step_delay_ms")?;
            (1..=i64::from(steps))
                .flat_map(|i| {
                    let n = i64::from(steps);
                    let point = (
                        from.0 + (to.0 - from.0) * i / n,
                        from.1 + (to.1 - from.1) * i / n,
                    );
                    [move_to(point), InputStep::Pause(step_delay)]
                })
                .collect()
        }
    })
}

/// `duration`, refused past [`MAX_PAUSE`] (named `what` in the error).
fn pause(duration: Duration, what: &str) -> Result<Duration, EngineError> {
    if duration > MAX_PAUSE {
        return Err(EngineError::InvalidInput(format!(
            "{what} is at most {} ms",
            MAX_PAUSE.as_millis()
        )));
    }
    Ok(duration)
}

/// A key combination as xdotool names it, or `InvalidInput` naming the key.
fn key_combo(name: &str) -> Result<String, EngineError> {
    xdotool_combo(name).ok_or_else(|| {
        EngineError::InvalidInput(format!(
            "unknown key {name:?}: use X11 key names such as Return, Tab, F5, or combinations such as Ctrl+t"
        ))
    })
}

/// A screenshot region checked against `screen`.
pub(crate) fn check_region(screen: &Viewport, region: Region) -> Result<Region, EngineError> {
    let fits = |start: u32, size: u32, max: u32| {
        size > 0 && start.checked_add(size).is_some_and(|end| end <= max)
    };
    if fits(region.x, region.width, screen.width) && fits(region.y, region.height, screen.height) {
        Ok(region)
    } else {
        Err(EngineError::InvalidInput(format!(
            "region {}x{} at ({}, {}) is not inside the {}x{} screen",
            region.width, region.height, region.x, region.y, screen.width, screen.height
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCREEN: Viewport = Viewport {
        width: 1280,
        height: 720,
    };

    #[test]
    fn a_drag_presses_moves_through_its_points_and_releases_with_keys_held_around_it() {
        let drag = ComputerAction::Drag {
            path: vec![(10, 10), (20, 30)],
            button: MouseButton::Left,
            delay: Duration::ZERO,
            motion: Motion::Linear {
                steps: 2,
                step_delay: Duration::ZERO,
            },
            hold_keys: vec!["Shift".into()],
        };
        let steps = steps_of(&drag, &SCREEN, (0, 0)).unwrap();
        let moves: Vec<_> = steps
            .iter()
            .filter_map(|s| match s {
                InputStep::MoveTo { x, y } => Some((*x, *y)),
                _ => None,
            })
            .collect();
        assert_eq!(moves, [(10, 10), (15, 20), (20, 30)]);
        assert_eq!(steps.first(), Some(&InputStep::KeyDown("shift".into())));
        assert_eq!(steps.last(), Some(&InputStep::KeyUp("shift".into())));
        assert_eq!(steps[2], InputStep::ButtonDown(MouseButton::Left));
        assert_eq!(
            steps[steps.len() - 2],
            InputStep::ButtonUp(MouseButton::Left)
        );
    }

    #[test]
    fn off_screen_points_unknown_keys_and_unbounded_values_are_refused() {
        let click = |x, y, count| ComputerAction::Click {
            x,
            y,
            button: MouseButton::Left,
            kind: ClickKind::Click,
            count,
            hold_keys: vec![],
        };
        let invalid = |action: &ComputerAction| {
            matches!(
                steps_of(action, &SCREEN, (0, 0)),
                Err(EngineError::InvalidInput(_))
            )
        };
        assert!(!invalid(&click(1279, 719, 1)));
        assert!(invalid(&click(1280, 10, 1)));
        assert!(invalid(&click(-1, 10, 1)));
        assert!(invalid(&click(10, 10, 0)));
        assert!(invalid(&ComputerAction::PressKeys {
            keys: vec!["Ctrl+$(reboot)".into()],
            hold: None,
            hold_keys: vec![]
        }));
        assert!(invalid(&ComputerAction::Sleep(
            MAX_PAUSE + Duration::from_millis(1)
        )));
        assert!(invalid(&ComputerAction::Type {
            text: "x".repeat(100),
            delay: Duration::from_secs(1)
        }));
        assert!(check_region(
            &SCREEN,
            Region {
                x: 1200,
                y: 0,
                width: 81,
                height: 10
            }
        )
        .is_err());
        assert!(check_region(
            &SCREEN,
            Region {
                x: 1200,
                y: 0,
                width: 80,
                height: 10
            }
        )
        .is_ok());
    }
}
