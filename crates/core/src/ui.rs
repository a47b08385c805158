//! Plain data of UI actions on a session's screen: which mouse button, how keys are pressed,
//! and an element found by description. The capture layer turns these into X input.

/// A mouse button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseButton {
    /// Button 1.
    Left,
    /// Button 2.
    Middle,
    /// Button 3.
    Right,
    /// Button 8, "back" on five-button mice.
    Back,
    /// Button 9, "forward" on five-button mice.
    Forward,
}

/// How a list of keys is pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPressing {
    /// Each key is pressed and released before the next.
    OneAfterAnother,
    /// All keys are held down together, as a chord (`control` + `c`).
    Together,
}

/// What a typed text does to the focused field's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypingMode {
    /// The text is added where the caret is.
    Append,
    /// The field's content is selected first, so the text replaces it.
    Replace,
}

/// An element of the front page found by description: its role, name and centre on the screen.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedElement {
    /// Accessibility role, e.g. `button`.
    pub role: String,
    /// Accessible name, e.g. `Login`.
    pub name: String,
    /// Screen x of its centre, in pixels.
    pub x: i64,
    /// Screen y of its centre, in pixels.
    pub y: i64,
}

/// An element of the front page a person can act on, with its box on the screen.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementBounds {
    /// Accessibility role, e.g. `button`.
    pub role: String,
    /// Accessible name, e.g. `Login`.
    pub name: String,
    /// Screen x of its left edge, in pixels.
    pub x: f64,
    /// Screen y of its top edge, in pixels.
    pub y: f64,
    /// Width in pixels.
    pub width: f64,
    /// Height in pixels.
    pub height: f64,
}

/// One tab of a session's browser.
#[derive(Debug, Clone, PartialEq)]
pub struct BrowserTab {
    /// Its id (the CDP target id).
    pub id: String,
    /// Its title; empty before the page sets one.
    pub title: String,
    /// Its URL, after redirects.
    pub url: String,
    /// True for the tab in front, which the screen shows.
    pub active: bool,
    /// True until its page has fired `load` (`document.readyState` is not `complete`).
    pub loading: bool,
}
