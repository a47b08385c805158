//! A live viewer's input, injected as real X input (XTEST) on the session's display: pointer
//! moves, buttons, wheel clicks and keys, one X request each, in the order they arrive. The
//! actions' xdotool runs use the same XTEST extension; a viewer's events are too frequent for a
//! process each.

use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::xproto::{self, ConnectionExt as _};
use x11rb::protocol::xtest::{self, ConnectionExt as _};
use x11rb::rust_connection::RustConnection;

use crate::CaptureError;

/// One input event from a viewer, in screen pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveInput {
    /// The pointer moves to a point.
    Move {
        /// Screen x.
        x: i16,
        /// Screen y.
        y: i16,
    },
    /// A mouse button goes down or up: 1 left, 2 middle, 3 right.
    Button {
        /// The X button number, 1..=3.
        button: u8,
        /// Pressed (`true`) or released.
        down: bool,
    },
    /// Wheel clicks: `dy` down (negative: up), `dx` right.
    Wheel {
        /// Clicks right.
        dx: i8,
        /// Clicks down.
        dy: i8,
    },
    /// A key goes down or up; `key` is the browser's `KeyboardEvent.key` (`a`, `A`, `Enter`).
    Key {
        /// The key's name or character.
        key: String,
        /// Pressed (`true`) or released.
        down: bool,
    },
}

/// An X connection that injects a viewer's input on one display.
pub struct InputInjector {
    conn: RustConnection,
    root: u32,
    min_keycode: u8,
    keysyms_per_keycode: usize,
    /// The keyboard mapping: `keysyms_per_keycode` keysyms for each keycode from `min_keycode`.
    keysyms: Vec<u32>,
}

impl InputInjector {
    /// Connects to display `:number` and reads its keyboard mapping.
    ///
    /// Errors: the display is gone, or lacks the XTEST extension.
    pub fn connect(number: u32) -> Result<Self, CaptureError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            CaptureError::Grab(format!("live input {what}: {e}"))
        };
        let conn = crate::display::connect(number)?;
        if conn
            .extension_information(xtest::X11_EXTENSION_NAME)
            .map_err(|e| failed("extensions", &e))?
            .is_none()
        {
            return Err(CaptureError::Grab("the X server lacks XTEST".into()));
        }
        let setup = conn.setup();
        let (min_keycode, max_keycode) = (setup.min_keycode, setup.max_keycode);
        let root = setup.roots[0].root;
        let mapping = conn
            .get_keyboard_mapping(min_keycode, max_keycode - min_keycode + 1)
            .map_err(|e| failed("keyboard", &e))?
            .reply()
            .map_err(|e| failed("keyboard", &e))?;
        Ok(Self {
            conn,
            root,
            min_keycode,
            keysyms_per_keycode: usize::from(mapping.keysyms_per_keycode.max(1)),
            keysyms: mapping.keysyms,
        })
    }

    /// Injects `input`. A key the keyboard has no code for is bound to a spare keycode first, as
    /// xdotool does; a key without a known keysym is skipped (logged at debug).
    ///
    /// Errors: the X connection broke (the display ended).
    pub fn inject(&mut self, input: &LiveInput) -> Result<(), CaptureError> {
        match input {
            LiveInput::Move { x, y } => self.fake(xproto::MOTION_NOTIFY_EVENT, 0, *x, *y)?,
            LiveInput::Button { button, down } => {
                let kind = if *down {
                    xproto::BUTTON_PRESS_EVENT
                } else {
                    xproto::BUTTON_RELEASE_EVENT
                };
                self.fake(kind, *button, 0, 0)?;
            }
            LiveInput::Wheel { dx, dy } => {
                // X wheels are buttons: 4 up, 5 down, 6 left, 7 right, one click per press.
                let clicks = [
                    (*dy < 0, 4u8, dy),
                    (*dy > 0, 5, dy),
                    (*dx < 0, 6, dx),
                    (*dx > 0, 7, dx),
                ];
                for (applies, button, count) in clicks {
                    for _ in 0..if applies { count.unsigned_abs() } else { 0 } {
                        self.fake(xproto::BUTTON_PRESS_EVENT, button, 0, 0)?;
                        self.fake(xproto::BUTTON_RELEASE_EVENT, button, 0, 0)?;
                    }
                }
            }
            LiveInput::Key { key, down } => {
                let Some(keysym) = keysym_of(key) else {
                    tracing::debug!(key, "a live-view key without a keysym was skipped");
                    return Ok(());
                };
                let keycode = self.keycode_of(keysym)?;
                let kind = if *down {
                    xproto::KEY_PRESS_EVENT
                } else {
                    xproto::KEY_RELEASE_EVENT
                };
                self.fake(kind, keycode, 0, 0)?;
            }
        }
        self.conn
            .flush()
            .map_err(|e| CaptureError::Grab(format!("live input: {e}")))
    }

    /// Sends one XTEST event: `kind` with `detail` (button or keycode) at (`x`, `y`) for moves.
    fn fake(&self, kind: u8, detail: u8, x: i16, y: i16) -> Result<(), CaptureError> {
        self.conn
            .xtest_fake_input(kind, detail, x11rb::CURRENT_TIME, self.root, x, y, 0)
            .map(drop)
            .map_err(|e| CaptureError::Grab(format!("live input: {e}")))
    }

    /// The keycode that types `keysym`, binding it to a spare keycode when none does.
    fn keycode_of(&mut self, keysym: u32) -> Result<u8, CaptureError> {
        let per = self.keysyms_per_keycode;
        let code_at = |index: usize| self.min_keycode + (index / per) as u8;
        if let Some(index) = self.keysyms.iter().position(|&s| s == keysym) {
            return Ok(code_at(index));
        }
        let spare = self
            .keysyms
            .chunks(per)
            .rposition(|syms| syms.iter().all(|&s| s == 0))
            .ok_or_else(|| CaptureError::Grab("no spare keycode for a live-view key".into()))?;
        let keycode = self.min_keycode + spare as u8;
        let syms = vec![keysym; per];
        self.conn
            .change_keyboard_mapping(1, keycode, per as u8, &syms)
            .map_err(|e| CaptureError::Grab(format!("live input keyboard: {e}")))?;
        self.keysyms[spare * per..(spare + 1) * per].copy_from_slice(&syms);
        Ok(keycode)
    }
}

/// The X keysym of a browser `KeyboardEvent.key`: a named key, or the character's own keysym.
fn keysym_of(key: &str) -> Option<u32> {
    let named = match key {
        "Enter" => 0xff0d,
        "Tab" => 0xff09,
        "Backspace" => 0xff08,
        "Escape" => 0xff1b,
        "Delete" => 0xffff,
        "Insert" => 0xff63,
        "Home" => 0xff50,
        "End" => 0xff57,
        "PageUp" => 0xff55,
        "PageDown" => 0xff56,
        "ArrowLeft" => 0xff51,
        "ArrowUp" => 0xff52,
        "ArrowRight" => 0xff53,
        "ArrowDown" => 0xff54,
        "Shift" => 0xffe1,
        "Control" => 0xffe3,
        "Alt" => 0xffe9,
        "Meta" => 0xffeb,
        "CapsLock" => 0xffe5,
        _ => 0,
    };
    if named != 0 {
        return Some(named);
    }
    if let Some(n) = key.strip_prefix('F').and_then(|n| n.parse::<u32>().ok()) {
        return (1..=12).contains(&n).then_some(0xffbe + n - 1);
    }
    let mut chars = key.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return None;
    };
    let code = u32::from(c);
    // Latin-1 characters are their own keysyms; the rest of Unicode is offset (X11 keysymdef).
    match code {
        0x20..=0x7e | 0xa0..=0xff => Some(code),
        0x100.. => Some(0x0100_0000 | code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_keys_map_to_x_keysyms() {
        assert_eq!(keysym_of("a"), Some(0x61));
        assert_eq!(keysym_of("A"), Some(0x41));
        assert_eq!(keysym_of(" "), Some(0x20));
        assert_eq!(keysym_of("Enter"), Some(0xff0d));
        assert_eq!(keysym_of("F5"), Some(0xffc2));
        assert_eq!(keysym_of("€"), Some(0x0100_20ac));
        assert_eq!(keysym_of("F13"), None);
        assert_eq!(keysym_of("Dead"), None);
        assert_eq!(keysym_of("\u{7}"), None);
    }
}
