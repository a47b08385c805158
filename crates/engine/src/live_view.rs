//! Live view: a session's screen to any number of viewers, and a controlling viewer's input
//! back onto it. One feed per session runs while anyone watches (capture's `live_feed`: only
//! changed frames are encoded, once, for all), and stops with its last viewer. Input goes to
//! the display like an action's, after any action or batch that holds the display, so a
//! viewer's input never lands inside an agent's batch. A watching viewer counts as activity.

use std::sync::{Arc, Mutex, Weak};

use tapedeck_capture::live_feed::{FeedOptions, LiveFeed, LiveFrame};
use tapedeck_capture::live_input::{InputInjector, LiveInput};
use tapedeck_core::{EngineError, Viewport};
use tokio::sync::watch;

use crate::actions::action_error;
use crate::events::{live_input_payload, pasted, ActionSource, Moment};
use crate::session::{ConnectionGuard, LiveSession};
use crate::{lock, Engine};

/// Frames per second a live feed publishes at most.
const LIVE_FRAMERATE: u32 = 25;

/// A session's live-view state: its running feed, its input connection, and the time before
/// which every live-view URL it handed out is revoked.
pub(crate) struct LiveViewState {
    /// Held while a feed starts, so viewers arriving together share one.
    feed: tokio::sync::Mutex<Weak<LiveFeed>>,
    injector: Mutex<Option<InputInjector>>,
    /// Where the viewers' last move left the pointer, for the timeline's presses.
    pointer: Mutex<(i16, i16)>,
    /// Unix milliseconds; URLs issued before it are refused, and their viewers closed (0: none
    /// revoked).
    revoked_before: watch::Sender<i64>,
}

impl Default for LiveViewState {
    fn default() -> Self {
        Self {
            feed: tokio::sync::Mutex::default(),
            injector: Mutex::default(),
            pointer: Mutex::default(),
            revoked_before: watch::Sender::new(0),
        }
    }
}

/// One viewer's hold on a session's live feed; the feed stops when the last one drops.
pub struct LiveWatch {
    _feed: Arc<LiveFeed>,
    _active: ConnectionGuard,
    /// The newest frame; `changed()` fails once the display has ended.
    pub frames: watch::Receiver<Option<LiveFrame>>,
    /// The screen's size, which every frame has.
    pub screen: Viewport,
    /// Unix milliseconds before which the session's live-view URLs are revoked; a viewer
    /// whose URL is older must be closed when it changes.
    pub revoked_before: watch::Receiver<i64>,
}

impl Engine {
    /// Starts watching session `session_id`'s screen, joining its feed if one runs.
    ///
    /// Errors: `NotFound` for no such session on this node; `Conflict` while it is ending;
    /// `Internal` when its display cannot be watched.
    pub async fn watch_live(&self, session_id: &str) -> Result<LiveWatch, EngineError> {
        let live = self.live_session(session_id)?;
        let number = self.display_number(session_id).await?;
        let viewport = live.session.spec.viewport;
        let mut running = live.live_view.feed.lock().await;
        let existing = running.upgrade().filter(|feed| !feed.has_ended());
        let feed = match existing {
            Some(feed) => feed,
            None => {
                let options = FeedOptions {
                    display_number: number,
                    width: viewport.width as u16,
                    height: viewport.height as u16,
                    framerate: LIVE_FRAMERATE,
                };
                let feed = tokio::task::spawn_blocking(move || LiveFeed::start(options))
                    .await
                    .map_err(EngineError::internal)?
                    .map_err(action_error)?;
                let feed = Arc::new(feed);
                *running = Arc::downgrade(&feed);
                feed
            }
        };
        drop(running);
        Ok(LiveWatch {
            frames: feed.frames(),
            screen: viewport,
            revoked_before: live.live_view.revoked_before.subscribe(),
            _feed: feed,
            _active: self.hold_open(live),
        })
    }

    /// Injects a controlling viewer's `input` on the session's display, after whatever action
    /// holds it, and notes it for the timeline.
    ///
    /// Errors: `NotFound` for no such session; `Conflict` while it is ending.
    pub async fn live_input(&self, session_id: &str, input: LiveInput) -> Result<(), EngineError> {
        let began = Moment::now();
        let live = self.inject_live(session_id, input.clone()).await?;
        let pointer = {
            let mut pointer = lock(&live.live_view.pointer);
            if let LiveInput::Move { x, y } = input {
                *pointer = (x, y);
            }
            *pointer
        };
        if let Some(payload) = live_input_payload(&input, pointer) {
            self.note_action(session_id, began, ActionSource::LiveView, payload);
        }
        Ok(())
    }

    /// Injects `input` on the session's display, after whatever action holds it; returns the
    /// session.
    async fn inject_live(
        &self,
        session_id: &str,
        input: LiveInput,
    ) -> Result<Arc<LiveSession>, EngineError> {
        let live = self.live_session(session_id)?;
        self.touch_session(session_id);
        let display = live.display.lock().await;
        let number = display
            .as_ref()
            .ok_or_else(|| EngineError::conflict("the session is ending"))?
            .number();
        // The display stays held while the event goes out, so it orders with actions.
        let session = live.clone();
        tokio::task::spawn_blocking(move || {
            let mut injector = lock(&session.live_view.injector);
            if injector.is_none() {
                *injector = Some(InputInjector::connect(number)?);
            }
            let result = injector.as_mut().map_or(Ok(()), |i| i.inject(&input));
            if result.is_err() {
                // A broken connection is made again at the next event.
                *injector = None;
            }
            result
        })
        .await
        .map_err(EngineError::internal)?
        .map_err(action_error)?;
        drop(display);
        Ok(live)
    }

    /// Pastes `text` from a controlling viewer: puts it on the session's clipboard and
    /// presses Ctrl+V, after whatever action holds the display.
    ///
    /// Errors: as [`Engine::write_clipboard`] and [`Engine::live_input`].
    pub async fn live_paste(&self, session_id: &str, text: String) -> Result<(), EngineError> {
        let began = Moment::now();
        let payload = pasted(&text);
        self.write_clipboard(session_id, text).await?;
        let key = |key: &str, down| LiveInput::Key {
            key: key.into(),
            down,
        };
        let chord = [
            key("Control", true),
            key("v", true),
            key("v", false),
            key("Control", false),
        ];
        for input in chord {
            self.inject_live(session_id, input).await?;
        }
        self.note_action(session_id, began, ActionSource::LiveView, payload);
        Ok(())
    }

    /// Refuses every live-view URL of the session issued before `now_ms` (Unix milliseconds),
    /// and closes their viewers. The session's node keeps this, and every live-view connection
    /// is served there.
    ///
    /// Errors: `NotFound` for no such session on this node.
    pub fn revoke_live_views(&self, session_id: &str, now_ms: i64) -> Result<(), EngineError> {
        let live = self.live_session(session_id)?;
        live.live_view.revoked_before.send_replace(now_ms);
        Ok(())
    }

    /// True when a live-view URL issued at `issued_at_ms` (Unix milliseconds) was revoked since.
    pub fn live_view_revoked(&self, session_id: &str, issued_at_ms: i64) -> bool {
        self.live_session(session_id)
            .is_ok_and(|live| issued_at_ms < *live.live_view.revoked_before.borrow())
    }
}
