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
    }
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

/// Runs one xdotool command against `display`, in the display's sandbox.
async fn xdotool(display: &Display, args: &[&str]) -> Result<(), CaptureError> {
    let confinement = Confinement {
        display: Some(display.name()),
        ..Confinement::default()
    };
    let mut cmd = display.sandbox().command("xdotool", &confinement);
    cmd.args(args);
    run_to_completion("xdotool", &mut cmd, XDOTOOL_TIMEOUT)
        .await
        .map(drop)
}

/// Moves the pointer to (`x`, `y`) and clicks `button`, twice when `double`.
pub async fn click(
    display: &Display,
    x: i64,
    y: i64,
    button: MouseButton,
    double: bool,
) -> Result<(), CaptureError> {
    let (x, y) = (x.to_string(), y.to_string());
    let repeat = if double { "2" } else { "1" };
    xdotool(
        display,
        &[
            "mousemove",
            "--sync",
            &x,
            &y,
            "click",
            "--repeat",
            repeat,
            button_number(button),
        ],
    )
    .await
}

/// Types `text` as keystrokes into the focused element.
pub async fn type_text(display: &Display, text: &str) -> Result<(), CaptureError> {
    xdotool(display, &["type", "--delay", "12", "--", text]).await
}

/// Presses keys or chords, e.g. `["ctrl+a", "Return"]`, in order.
pub async fn keys(display: &Display, keys: &[String]) -> Result<(), CaptureError> {
    let mut args = vec!["key", "--delay", "30", "--"];
    args.extend(keys.iter().map(String::as_str));
    xdotool(display, &args).await
}

/// Scrolls at (`x`, `y`) by wheel clicks: positive `dy` scrolls down, positive `dx` right.
pub async fn scroll(
    display: &Display,
    x: i64,
    y: i64,
    dx: i64,
    dy: i64,
) -> Result<(), CaptureError> {
    let (xs, ys) = (x.to_string(), y.to_string());
    xdotool(display, &["mousemove", "--sync", &xs, &ys]).await?;
    for (amount, negative, positive) in [(dy, "4", "5"), (dx, "6", "7")] {
        if amount != 0 {
            let button = if amount < 0 { negative } else { positive };
            let repeat = amount.unsigned_abs().to_string();
            xdotool(
                display,
                &["click", "--repeat", &repeat, "--delay", "20", button],
            )
            .await?;
        }
    }
    Ok(())
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
