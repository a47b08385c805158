//! UI actions on a session's display: real X input, screenshots, and finding elements by
//! description through the browser's accessibility tree.

use std::net::SocketAddr;
use std::time::Duration;

use tapedeck_capture::box_files::FileRefusal;
use tapedeck_capture::input;
use tapedeck_capture::screenshot::Region;
use tapedeck_capture::{element, screenshot, tabs, CaptureError, Display};
use tapedeck_core::session::is_allowed_page_url;
use tapedeck_core::ui::{
    BrowserTab, ElementBounds, KeyPressing, LocatedElement, MouseButton, TypingMode,
};
use tapedeck_core::{EngineError, Viewport};

use tapedeck_store::StorageKey;

use crate::computer::check_region;
use crate::computer::{ClickKind, ComputerAction};
use crate::events::Moment;
use crate::layout::session_object_key;
use crate::Engine;

/// Most wheel clicks one scroll turns either way; each is one xdotool click, and Chromium
/// scrolls about 100 pixels per click.
pub const MAX_WHEEL_CLICKS: i64 = 100;
/// Widest thumbnail, in pixels.
pub const MAX_THUMBNAIL_WIDTH: u32 = 1_280;

impl Engine {
    /// Runs `action` with the session's display, holding it so actions on one session run one
    /// at a time, and counts as activity.
    pub(crate) async fn on_display<T>(
        &self,
        session_id: &str,
        action: impl AsyncFnOnce(&Display) -> Result<T, CaptureError>,
    ) -> Result<T, EngineError> {
        self.touch_session(session_id);
        self.with_display(session_id, action).await
    }

    /// Runs `action` with the session's display, holding it, without counting as activity:
    /// for watching, which must not keep an abandoned session alive.
    async fn with_display<T>(
        &self,
        session_id: &str,
        action: impl AsyncFnOnce(&Display) -> Result<T, CaptureError>,
    ) -> Result<T, EngineError> {
        let live = self.live_session(session_id)?;
        let display = live.display.lock().await;
        let display = display
            .as_ref()
            .ok_or_else(|| EngineError::conflict("the session is ending"))?;
        action(display).await.map_err(action_error)
    }

    /// Clicks at screen point (`x`, `y`).
    pub async fn click(
        &self,
        session_id: &str,
        x: i64,
        y: i64,
        button: MouseButton,
        double: bool,
    ) -> Result<(), EngineError> {
        check_point(&self.live_session(session_id)?.session.spec.viewport, x, y)?;
        let began = Moment::now();
        self.on_display(session_id, async |d| {
            input::click(d, x, y, button, double).await
        })
        .await?;
        let action = ComputerAction::Click {
            x,
            y,
            button,
            kind: ClickKind::Click,
            count: 1 + u32::from(double),
            hold_keys: Vec::new(),
        };
        self.note_computer_action(session_id, began, &action);
        Ok(())
    }

    /// Types `text` into the focused element, then presses Enter when `press_enter`.
    pub async fn type_text(
        &self,
        session_id: &str,
        text: &str,
        mode: TypingMode,
        press_enter: bool,
    ) -> Result<(), EngineError> {
        let began = Moment::now();
        self.on_display(session_id, async |d| {
            if mode == TypingMode::Replace {
                input::keys(d, &["ctrl+a".to_owned()]).await?;
            }
            input::type_text(d, text).await?;
            if press_enter {
                input::keys(d, &["Return".to_owned()]).await?;
            }
            Ok(())
        })
        .await?;
        let action = ComputerAction::Type {
            text: text.to_owned(),
            delay: Duration::ZERO,
        };
        self.note_computer_action(session_id, began, &action);
        Ok(())
    }

    /// Presses the keys named in `names` (web key names: `enter`, `control`, `arrowUp`, `a`;
    /// see [`input::keysym`]) one after another or together as a chord.
    ///
    /// Errors: [`EngineError::InvalidInput`] when `names` is empty or names an unknown key.
    pub async fn press_keys(
        &self,
        session_id: &str,
        names: &[String],
        pressing: KeyPressing,
    ) -> Result<(), EngineError> {
        if names.is_empty() {
            return Err(EngineError::InvalidInput(
                "keys must name at least one key".into(),
            ));
        }
        let keysyms = names
            .iter()
            .map(|name| {
                input::keysym(name)
                    .ok_or_else(|| EngineError::InvalidInput(format!("unknown key {name:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let keys = match pressing {
            KeyPressing::OneAfterAnother => keysyms,
            KeyPressing::Together => vec![keysyms.join("+")],
        };
        let began = Moment::now();
        self.on_display(session_id, async |d| input::keys(d, &keys).await)
            .await?;
        let action = ComputerAction::PressKeys {
            keys: names.to_vec(),
            hold: None,
            hold_keys: Vec::new(),
        };
        self.note_computer_action(session_id, began, &action);
        Ok(())
    }

    /// Scrolls at screen point (`x`, `y`) by `dx` and `dy` wheel clicks (negative: left, up).
    ///
    /// Errors: [`EngineError::InvalidInput`] for a point off the screen or more than
    /// [`MAX_WHEEL_CLICKS`] clicks either way.
    pub async fn scroll(
        &self,
        session_id: &str,
        x: i64,
        y: i64,
        dx: i64,
        dy: i64,
    ) -> Result<(), EngineError> {
        check_point(&self.live_session(session_id)?.session.spec.viewport, x, y)?;
        if dx.abs() > MAX_WHEEL_CLICKS || dy.abs() > MAX_WHEEL_CLICKS {
            return Err(EngineError::InvalidInput(format!(
                "scroll of ({dx}, {dy}) wheel clicks is out of range: at most {MAX_WHEEL_CLICKS} \
                 each way"
            )));
        }
        let began = Moment::now();
        self.on_display(session_id, async |d| input::scroll(d, x, y, dx, dy).await)
            .await?;
        let action = ComputerAction::Scroll {
            x,
            y,
            dx,
            dy,
            hold_keys: Vec::new(),
        };
        self.note_computer_action(session_id, began, &action);
        Ok(())
    }

    /// A PNG of the whole display, or of `region` of it.
    ///
    /// Errors: `InvalidInput` for a region not inside the screen.
    pub async fn screenshot_png(
        &self,
        session_id: &str,
        region: Option<Region>,
    ) -> Result<Vec<u8>, EngineError> {
        if let Some(region) = region {
            check_region(
                &self.live_session(session_id)?.session.spec.viewport,
                region,
            )?;
        }
        self.on_display(session_id, async |d| screenshot::png(d, region).await)
            .await
    }

    /// A JPEG thumbnail of the display at most `max_width` pixels wide (16 to
    /// [`MAX_THUMBNAIL_WIDTH`]), for a wall of live sessions. It does not count as activity.
    ///
    /// Errors: `InvalidInput` for a width out of range; `NotFound` for no such running session.
    pub async fn thumbnail_jpeg(
        &self,
        session_id: &str,
        max_width: u32,
    ) -> Result<Vec<u8>, EngineError> {
        if !(16..=MAX_THUMBNAIL_WIDTH).contains(&max_width) {
            return Err(EngineError::InvalidInput(format!(
                "thumbnail width {max_width} is out of range: 16 to {MAX_THUMBNAIL_WIDTH}"
            )));
        }
        self.with_display(session_id, async |d| {
            screenshot::thumbnail_jpeg(d, max_width).await
        })
        .await
    }

    /// One screenshot of the whole display as two PNGs: as it is, and with a red frame around
    /// each of `marks` (clipped to the screen).
    pub async fn screenshot_marked(
        &self,
        session_id: &str,
        marks: &[Region],
    ) -> Result<(Vec<u8>, Vec<u8>), EngineError> {
        self.on_display(session_id, async |d| {
            screenshot::png_and_marked(d, marks).await
        })
        .await
    }

    /// Stores a screenshot (PNG bytes) among the session's own objects
    /// (`sessions/<id>/screenshots/…`) and returns its key.
    pub async fn save_screenshot(
        &self,
        session_id: &str,
        png: Vec<u8>,
    ) -> Result<StorageKey, EngineError> {
        let key = session_object_key(session_id, "screenshots", "png")?;
        self.blobs().put(&key, png.into()).await?;
        Ok(key)
    }

    /// The element of the front page best matching `description`, with its screen centre;
    /// `None` when nothing on the page matches.
    pub async fn find_element(
        &self,
        session_id: &str,
        description: &str,
    ) -> Result<Option<LocatedElement>, EngineError> {
        let live = self.live_session(session_id)?;
        self.touch_session(session_id);
        element::find_by_description(live.devtools, &live.browser_ws_path, description)
            .await
            .map_err(action_error)
    }
}

impl Engine {
    /// The elements of the session's front page a person can act on, with their screen boxes
    /// (at most [`element::MAX_ELEMENTS`]), a screenshot, and the same screenshot with each
    /// element framed in red.
    pub async fn detect_elements(&self, session_id: &str) -> Result<DetectedElements, EngineError> {
        let live = self.live_session(session_id)?;
        self.touch_session(session_id);
        let elements = element::interactive(live.devtools, &live.browser_ws_path)
            .await
            .map_err(action_error)?;
        let screen = live.session.spec.viewport;
        let marks: Vec<Region> = elements
            .iter()
            .filter_map(|e| {
                let (x, y) = (e.x.max(0.0) as u32, e.y.max(0.0) as u32);
                let width = (e.width as u32).min(screen.width.saturating_sub(x));
                let height = (e.height as u32).min(screen.height.saturating_sub(y));
                (width > 0 && height > 0).then_some(Region {
                    x,
                    y,
                    width,
                    height,
                })
            })
            .collect();
        let (source, marked) = self.screenshot_marked(session_id, &marks).await?;
        Ok(DetectedElements {
            elements,
            source,
            marked,
        })
    }

    /// The HTML of the session's front page (empty when no tab is open).
    pub async fn front_page_html(&self, session_id: &str) -> Result<String, EngineError> {
        let (addr, path) = self.devtools_of(session_id)?;
        let html = tabs::front_html(addr, &path).await.map_err(action_error)?;
        Ok(html.unwrap_or_default())
    }

    /// The tabs of the session's browser, in the browser's order (at most
    /// [`tabs::MAX_TABS`]).
    pub async fn browser_tabs(&self, session_id: &str) -> Result<Vec<BrowserTab>, EngineError> {
        let (addr, path) = self.devtools_of(session_id)?;
        tabs::list(addr, &path).await.map_err(action_error)
    }

    /// Opens `url` in a new tab in front of the session's browser, and answers once its DOM
    /// has loaded (or after 10 s, still loading).
    ///
    /// Errors: [`EngineError::InvalidInput`] for a URL that is not http(s), `about:blank` or
    /// `data:`, the pages a session may show.
    pub async fn open_tab(&self, session_id: &str, url: &str) -> Result<BrowserTab, EngineError> {
        check_page_url(url)?;
        let (addr, path) = self.devtools_of(session_id)?;
        tabs::open(addr, &path, url).await.map_err(action_error)
    }

    /// Loads `url` in tab `tab_id` of the session's browser, and answers once its DOM has
    /// loaded (or after 10 s, still loading).
    ///
    /// Errors: `InvalidInput` for a URL a session may not show; `NotFound` for no such tab.
    pub async fn navigate_tab(
        &self,
        session_id: &str,
        tab_id: &str,
        url: &str,
    ) -> Result<BrowserTab, EngineError> {
        check_page_url(url)?;
        let (addr, path) = self.devtools_of(session_id)?;
        tabs::navigate(addr, &path, tab_id, url)
            .await
            .map_err(action_error)?
            .ok_or_else(|| EngineError::not_found("tab", tab_id))
    }

    /// Brings tab `tab_id` of the session's browser to the front.
    ///
    /// Errors: `NotFound` for no such tab.
    pub async fn switch_tab(
        &self,
        session_id: &str,
        tab_id: &str,
    ) -> Result<BrowserTab, EngineError> {
        let (addr, path) = self.devtools_of(session_id)?;
        tabs::switch(addr, &path, tab_id)
            .await
            .map_err(action_error)?
            .ok_or_else(|| EngineError::not_found("tab", tab_id))
    }

    /// Closes tab `tab_id` of the session's browser.
    ///
    /// Errors: `NotFound` for no such tab.
    pub async fn close_tab(&self, session_id: &str, tab_id: &str) -> Result<(), EngineError> {
        let (addr, path) = self.devtools_of(session_id)?;
        if tabs::close(addr, &path, tab_id)
            .await
            .map_err(action_error)?
        {
            Ok(())
        } else {
            Err(EngineError::not_found("tab", tab_id))
        }
    }

    /// Closes every tab of the session's browser, leaving one blank tab in front (the browser
    /// runs for the session's whole life); answers how many tabs were closed.
    pub async fn close_all_tabs(&self, session_id: &str) -> Result<usize, EngineError> {
        let (addr, path) = self.devtools_of(session_id)?;
        tabs::close_all(addr, &path).await.map_err(action_error)
    }

    /// The session's DevTools address and browser path, counting the call as activity.
    fn devtools_of(&self, session_id: &str) -> Result<(SocketAddr, String), EngineError> {
        let live = self.live_session(session_id)?;
        self.touch_session(session_id);
        Ok((live.devtools, live.browser_ws_path.clone()))
    }
}

/// Refuses URLs a session may not show: only http(s), `about:blank` and `data:`.
fn check_page_url(url: &str) -> Result<(), EngineError> {
    if is_allowed_page_url(url) {
        Ok(())
    } else {
        Err(EngineError::InvalidInput(format!(
            "url must be an http or https URL, about:blank or a data: URL, got {url:?}"
        )))
    }
}

/// What element detection found on a session's screen.
#[derive(Debug)]
pub struct DetectedElements {
    /// The elements, in document order.
    pub elements: Vec<ElementBounds>,
    /// A PNG of the screen.
    pub source: Vec<u8>,
    /// The same PNG with each element framed.
    pub marked: Vec<u8>,
}

/// A failed action as the client hears it: a tool or the browser that did not answer in time
/// is the session's state ([`EngineError::TimedOut`]); anything else is the server's failure.
pub(crate) fn action_error(e: CaptureError) -> EngineError {
    match e {
        CaptureError::TimedOut { program, secs } => EngineError::TimedOut(format!(
            "{program} did not answer within {secs} s; the action was abandoned"
        )),
        CaptureError::BoxFile { refusal, message } => match refusal {
            FileRefusal::NotFound => EngineError::not_found("file", message),
            FileRefusal::Exists => EngineError::conflict(message),
            FileRefusal::Denied => EngineError::Forbidden(message),
            FileRefusal::TooLarge => EngineError::TooLarge(message),
            FileRefusal::Invalid => EngineError::InvalidInput(message),
        },
        other => EngineError::internal(other),
    }
}

/// Refuses points outside the screen, which X would silently clamp to its edge.
pub(crate) fn check_point(screen: &Viewport, x: i64, y: i64) -> Result<(), EngineError> {
    let inside = |v: i64, max: u32| (0..i64::from(max)).contains(&v);
    if inside(x, screen.width) && inside(y, screen.height) {
        Ok(())
    } else {
        Err(EngineError::InvalidInput(format!(
            "point ({x}, {y}) is outside the {}x{} screen",
            screen.width, screen.height
        )))
    }
}
