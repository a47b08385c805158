//! Real X input on a display (XTEST, through xdotool): pointer, keyboard and wheel.

use tokio::process::Command;

use crate::process::run_to_completion;
use crate::{CaptureError, Display};

/// A mouse button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseButton {
    /// Button 1.
    Left,
    /// Button 2.
    Middle,
    /// Button 3.
    Right,
}

impl MouseButton {
    fn number(self) -> &'static str {
        match self {
            Self::Left => "1",
            Self::Middle => "2",
            Self::Right => "3",
        }
    }
}

/// Runs one xdotool command against `display`.
async fn xdotool(display: &Display, args: &[&str]) -> Result<(), CaptureError> {
    let mut cmd = Command::new("xdotool");
    cmd.env("DISPLAY", display.name()).args(args);
    run_to_completion("xdotool", &mut cmd).await.map(drop)
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
            button.number(),
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
