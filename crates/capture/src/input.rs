//! Real X input on a display (XTEST, through xdotool): pointer, keyboard and wheel.

use std::time::Duration;

use tapedeck_core::ui::MouseButton;

use crate::process::run_to_completion;
use crate::sandbox::Confinement;
use crate::{CaptureError, Display};

/// xdotool's number for `button`.
fn button_number(button: MouseButton) -> &'static str {
    match button {
        MouseButton::Left => "1",
        MouseButton::Middle => "2",
        MouseButton::Right => "3",
        MouseButton::Back => "8",
        MouseButton::Forward => "9",
    }
}

/// A key combination as xdotool names it (`ctrl+shift+Tab`), from the names computer-use
/// agents send (`Ctrl+t`, `Ctrl+Shift+Tab`, `Return`, `Ctrl+-`, `F5`): modifiers are
/// normalized, a literal `-` or `+` becomes `minus` or `plus`, and every part must be a plain
/// keysym name. `None` for anything else (an empty part, an option-like or odd name).
pub fn xdotool_combo(text: &str) -> Option<String> {
    // A trailing "+" is the plus key ("Ctrl++").
    let (body, plus) = match text.strip_suffix("++") {
        Some(body) => (body, true),
        None => (text, false),
    };
    let mut parts: Vec<String> = body.split('+').map(xdotool_key).collect::<Option<_>>()?;
    if plus {
        parts.push("plus".to_owned());
    }
    (!parts.is_empty() && parts.len() <= 6).then(|| parts.join("+"))
}

/// One key of a combination as xdotool names it: a modifier, punctuation, or a keysym name.
fn xdotool_key(part: &str) -> Option<String> {
    let modifier = match part.to_ascii_lowercase().as_str() {
        "ctrl" | "control" => Some("ctrl"),
        "shift" => Some("shift"),
        "alt" | "option" => Some("alt"),
        "super" | "meta" | "cmd" | "command" | "win" => Some("super"),
        "-" => Some("minus"),
        _ => None,
    };
    if let Some(name) = modifier {
        return Some(name.to_owned());
    }
    if part.len() == 1 && !part.chars().all(|c| c.is_ascii_alphanumeric()) {
        return keysym(part);
    }
    let plain = !part.is_empty()
        && part.len() <= 32
        && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !part.starts_with('_');
    plain.then(|| part.to_owned())
}

/// One step of an input gesture. Keys are xdotool names, checked by [`xdotool_combo`].
#[derive(Debug, Clone, PartialEq)]
pub enum InputStep {
    /// Moves the pointer to a screen point.
    MoveTo {
        /// Pixels from the left.
        x: i64,
        /// Pixels from the top.
        y: i64,
    },
    /// Presses a button and keeps it down.
    ButtonDown(MouseButton),
    /// Releases a button.
    ButtonUp(MouseButton),
    /// Clicks a button `count` times.
    Click {
        /// Which button.
        button: MouseButton,
        /// How many clicks, 1 for a single click.
        count: u32,
    },
    /// Turns the wheel: `dy` clicks down (negative: up), `dx` right (negative: left).
    Wheel {
        /// Clicks right.
        dx: i64,
        /// Clicks down.
        dy: i64,
    },
    /// Presses a key combination and keeps it down.
    KeyDown(String),
    /// Releases a key combination.
    KeyUp(String),
    /// Presses and releases a key combination.
    KeyTap(String),
    /// Types text as keystrokes, waiting between them.
    Type {
        /// The text.
        text: String,
        /// The pause between two keystrokes.
        delay: Duration,
    },
    /// Waits.
    Pause(Duration),
}

impl InputStep {
    /// The xdotool command words of this step.
    fn words(&self) -> Vec<String> {
        let w = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        match self {
            Self::MoveTo { x, y } => w(&["mousemove", "--sync", &x.to_string(), &y.to_string()]),
            Self::ButtonDown(b) => w(&["mousedown", button_number(*b)]),
            Self::ButtonUp(b) => w(&["mouseup", button_number(*b)]),
            Self::Click { button, count } => w(&[
                "click",
                "--repeat",
                &count.to_string(),
                "--delay",
                "60",
                button_number(*button),
            ]),
            Self::Wheel { dx, dy } => {
                let mut words = Vec::new();
                for (amount, negative, positive) in [(dy, "4", "5"), (dx, "6", "7")] {
                    if *amount != 0 {
                        let button = if *amount < 0 { negative } else { positive };
                        let repeat = amount.unsigned_abs().to_string();
                        words.extend(w(&["click", "--repeat", &repeat, "--delay", "20", button]));
                    }
                }
                words
            }
            Self::KeyDown(keys) => w(&["keydown", "--", keys]),
            Self::KeyUp(keys) => w(&["keyup", "--", keys]),
            Self::KeyTap(keys) => w(&["key", "--delay", "30", "--", keys]),
            Self::Type { text, delay } => w(&[
                "type",
                "--delay",
                &delay.as_millis().to_string(),
                "--",
                text,
            ]),
            Self::Pause(pause) => w(&["sleep", &format!("{:.3}", pause.as_secs_f64())]),
        }
    }
}

/// Performs `steps` in order, in as few xdotool runs as it can: the steps chain into one run,
/// except that typing ends a run (xdotool's `type` takes every word after it as text).
///
/// Errors: xdotool failed or did not finish within its timeout.
pub async fn perform(display: &Display, steps: &[InputStep]) -> Result<(), CaptureError> {
    let mut words: Vec<String> = Vec::new();
    for step in steps {
        words.extend(step.words());
        if matches!(step, InputStep::Type { .. }) {
            xdotool(display, &words).await?;
            words.clear();
        }
    }
    if !words.is_empty() {
        xdotool(display, &words).await?;
    }
    Ok(())
}

/// Where the pointer is now, in screen pixels.
///
/// Errors: xdotool failed, or printed no position.
pub async fn pointer_position(display: &Display) -> Result<(i64, i64), CaptureError> {
    let out = xdotool_output(display, &["getmouselocation", "--shell"]).await?;
    let text = String::from_utf8_lossy(&out);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('=')?.trim().parse().ok())
    };
    match (field("X"), field("Y")) {
        (Some(x), Some(y)) => Ok((x, y)),
        _ => Err(CaptureError::Exited {
            program: "xdotool",
            status: format!("no pointer position in {text:?}"),
        }),
    }
}

/// A human-like path from `from` to `to` in `steps` points (the last is `to`): a gentle curve
/// to one side, slow at both ends and fast in the middle, as a hand moves a mouse.
pub fn human_path(from: (i64, i64), to: (i64, i64), steps: u32) -> Vec<(i64, i64)> {
    let (x0, y0) = (from.0 as f64, from.1 as f64);
    let (x3, y3) = (to.0 as f64, to.1 as f64);
    let (dx, dy) = (x3 - x0, y3 - y0);
    // Control points a fifth of the way off the straight line, on one side.
    let (nx, ny) = (-dy * 0.2, dx * 0.2);
    let (x1, y1) = (x0 + dx / 3.0 + nx, y0 + dy / 3.0 + ny);
    let (x2, y2) = (x0 + 2.0 * dx / 3.0 + nx, y0 + 2.0 * dy / 3.0 + ny);
    let steps = steps.max(1);
    (1..=steps)
        .map(|i| {
            let t = f64::from(i) / f64::from(steps);
            let t = t * t * (3.0 - 2.0 * t); // ease in and out
            let u = 1.0 - t;
            let bezier = |a: f64, b: f64, c: f64, d: f64| {
                u * u * u * a + 3.0 * u * u * t * b + 3.0 * u * t * t * c + t * t * t * d
            };
            (
                bezier(x0, x1, x2, x3).round() as i64,
                bezier(y0, y1, y2, y3).round() as i64,
            )
        })
        .collect()
}

/// The X keysym (as xdotool names it) of a key named the way web APIs name keys: DOM
/// `KeyboardEvent.key`-style names as GBOX and Playwright use them (`enter`, `control`,
/// `arrowUp`, `numpad5`, `;`, `f5`), case-insensitive. `None` for a name it does not know.
pub fn keysym(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let named = match lower.as_str() {
        "enter" | "return" => "Return",
        "control" | "ctrl" => "ctrl",
        "shift" => "shift",
        "alt" | "option" => "alt",
        "meta" | "cmd" | "command" | "super" | "win" => "super",
        "escape" | "esc" => "Escape",
        "backspace" => "BackSpace",
        "delete" | "del" => "Delete",
        "insert" => "Insert",
        "tab" => "Tab",
        "space" => "space",
        "arrowup" | "up" => "Up",
        "arrowdown" | "down" => "Down",
        "arrowleft" | "left" => "Left",
        "arrowright" | "right" => "Right",
        "home" => "Home",
        "end" => "End",
        "pageup" => "Prior",
        "pagedown" => "Next",
        "capslock" => "Caps_Lock",
        "numlock" => "Num_Lock",
        "scrolllock" => "Scroll_Lock",
        "pause" => "Pause",
        "printscreen" => "Print",
        ";" => "semicolon",
        "=" => "equal",
        "," => "comma",
        "-" => "minus",
        "." => "period",
        "/" => "slash",
        "`" => "grave",
        "[" => "bracketleft",
        "\\" => "backslash",
        "]" => "bracketright",
        "'" => "apostrophe",
        "numpadadd" => "KP_Add",
        "numpadsubtract" => "KP_Subtract",
        "numpadmultiply" => "KP_Multiply",
        "numpaddivide" => "KP_Divide",
        "numpaddecimal" => "KP_Decimal",
        "numpadenter" => "KP_Enter",
        "numpadequal" => "KP_Equal",
        "volumeup" => "XF86AudioRaiseVolume",
        "volumedown" => "XF86AudioLowerVolume",
        "volumemute" => "XF86AudioMute",
        "mediaplaypause" => "XF86AudioPlay",
        "mediastop" => "XF86AudioStop",
        "medianexttrack" => "XF86AudioNext",
        "mediaprevioustrack" => "XF86AudioPrev",
        _ => "",
    };
    if !named.is_empty() {
        return Some(named.to_owned());
    }
    if lower.len() == 1 && lower.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Some(lower);
    }
    if let Some(digit) = lower
        .strip_prefix("numpad")
        .filter(|d| d.len() == 1 && d.chars().all(|c| c.is_ascii_digit()))
    {
        return Some(format!("KP_{digit}"));
    }
    if let Some(n) = lower
        .strip_prefix('f')
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|n| (1..=12).contains(n))
    {
        return Some(format!("F{n}"));
    }
    None
}

/// The longest one xdotool run may take; typing is paced at 12 ms a character, so this allows
/// a few thousand of them.
const XDOTOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs one xdotool command line against `display`, in the display's sandbox.
async fn xdotool(display: &Display, args: &[impl AsRef<str>]) -> Result<(), CaptureError> {
    xdotool_output(display, args).await.map(drop)
}

/// Runs one xdotool command line and returns what it printed.
async fn xdotool_output(
    display: &Display,
    args: &[impl AsRef<str>],
) -> Result<Vec<u8>, CaptureError> {
    let confinement = Confinement {
        display: Some(display.name()),
        ..Confinement::default()
    };
    let mut cmd = display.sandbox().command("xdotool", &confinement);
    cmd.args(args.iter().map(AsRef::as_ref));
    run_to_completion("xdotool", &mut cmd, XDOTOOL_TIMEOUT).await
}

/// Moves the pointer to (`x`, `y`) and clicks `button`, twice when `double`.
pub async fn click(
    display: &Display,
    x: i64,
    y: i64,
    button: MouseButton,
    double: bool,
) -> Result<(), CaptureError> {
    let count = if double { 2 } else { 1 };
    perform(
        display,
        &[
            InputStep::MoveTo { x, y },
            InputStep::Click { button, count },
        ],
    )
    .await
}

/// Types `text` as keystrokes into the focused element.
pub async fn type_text(display: &Display, text: &str) -> Result<(), CaptureError> {
    let typing = InputStep::Type {
        text: text.to_owned(),
        delay: Duration::from_millis(12),
    };
    perform(display, &[typing]).await
}

/// Presses keys or chords, e.g. `["ctrl+a", "Return"]`, in order.
pub async fn keys(display: &Display, keys: &[String]) -> Result<(), CaptureError> {
    let taps: Vec<InputStep> = keys.iter().cloned().map(InputStep::KeyTap).collect();
    perform(display, &taps).await
}

/// Scrolls at (`x`, `y`) by wheel clicks: positive `dy` scrolls down, positive `dx` right.
pub async fn scroll(
    display: &Display,
    x: i64,
    y: i64,
    dx: i64,
    dy: i64,
) -> Result<(), CaptureError> {
    perform(
        display,
        &[InputStep::MoveTo { x, y }, InputStep::Wheel { dx, dy }],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::keysym;

    #[test]
    fn web_key_names_become_keysyms() {
        assert_eq!(keysym("Enter").as_deref(), Some("Return"));
        assert_eq!(keysym("arrowUp").as_deref(), Some("Up"));
        assert_eq!(keysym("numpad5").as_deref(), Some("KP_5"));
        assert_eq!(keysym(";").as_deref(), Some("semicolon"));
        assert_eq!(keysym("F12").as_deref(), Some("F12"));
        assert_eq!(keysym("a").as_deref(), Some("a"));
    }

    #[test]
    fn agent_key_combinations_become_xdotool_combinations() {
        use super::xdotool_combo;
        assert_eq!(xdotool_combo("Ctrl+t").as_deref(), Some("ctrl+t"));
        assert_eq!(
            xdotool_combo("Ctrl+Shift+Tab").as_deref(),
            Some("ctrl+shift+Tab")
        );
        assert_eq!(xdotool_combo("Return").as_deref(), Some("Return"));
        assert_eq!(xdotool_combo("Ctrl+-").as_deref(), Some("ctrl+minus"));
        assert_eq!(xdotool_combo("Ctrl++").as_deref(), Some("ctrl+plus"));
        assert_eq!(xdotool_combo("Ctrl+minus").as_deref(), Some("ctrl+minus"));
        for bad in ["", "Ctrl+", "--help", "a b", "Ctrl+$(x)", "+"] {
            assert_eq!(xdotool_combo(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_human_path_curves_and_ends_on_its_target() {
        let path = super::human_path((0, 0), (400, 0), 20);
        assert_eq!(path.len(), 20);
        assert_eq!(path.last(), Some(&(400, 0)));
        assert!(path.iter().any(|&(_, y)| y.abs() > 20), "{path:?}");
        assert!(
            path.windows(2).all(|w| w[1].0 >= w[0].0),
            "x only advances: {path:?}"
        );
    }

    #[test]
    fn gestures_chain_into_xdotool_words() {
        use super::InputStep;
        assert_eq!(
            InputStep::Wheel { dx: -2, dy: 3 }.words(),
            [
                "click", "--repeat", "3", "--delay", "20", "5", "click", "--repeat", "2",
                "--delay", "20", "6"
            ]
        );
        assert_eq!(
            InputStep::Pause(std::time::Duration::from_millis(1500)).words(),
            ["sleep", "1.500"]
        );
    }

    #[test]
    fn unknown_names_and_keysym_injection_are_refused() {
        assert_eq!(keysym("f13"), None);
        assert_eq!(keysym("ctrl+alt+Delete"), None);
        assert_eq!(keysym("--help"), None);
        assert_eq!(keysym(""), None);
    }
}

/// Property tests on outside input (`scripts/fuzz` runs them longer).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_known_key_becomes_one_plain_keysym_and_nothing_else_passes(name in "\\PC{0,24}") {
            if let Some(sym) = keysym(&name) {
                // One xdotool argument: no option, separator, space or control character.
                prop_assert!(!sym.is_empty() && !sym.starts_with('-'));
                prop_assert!(sym.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{}", sym);
            }
        }
    }
}
