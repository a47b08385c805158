//! Session events: the engine notes each action on a session's screen and each stretch of a
//! recording's screen activity as it happens; one writer task stores them in batches; clients
//! read them a page at a time (the timeline under a recording).
//!
//! Noting never waits on the database. An event that finds the writer's queue full (the
//! database stalled) or its session over [`MAX_EVENTS_PER_SESSION`] is not stored, with a log
//! line, and the action it describes goes ahead.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tapedeck_capture::activity::ActivityBand;
use tapedeck_capture::live_input::LiveInput;
use tapedeck_core::ui::MouseButton;
use tapedeck_core::{EngineError, EventKind, Recording, SessionEvent};
use tapedeck_store::meta::{EventFilter, Page};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::computer::{ClickKind, ComputerAction};
use crate::{lock, Engine};

/// Most events one session stores; later ones are dropped with one log line.
pub(crate) const MAX_EVENTS_PER_SESSION: u64 = 100_000;
/// Most events one page holds.
pub const MAX_EVENTS_PAGE: u32 = 1_000;
/// Longest typed or pasted text an event keeps, in characters.
const MAX_EVENT_TEXT_CHARS: usize = 200;
/// Most events written in one transaction.
const WRITE_BATCH: usize = 256;
/// Events waiting to be stored; a full queue means the database is stalled.
const QUEUE: usize = 4_096;
/// Longest a shutdown waits for queued events to be stored.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where an action came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActionSource {
    /// An API call (a dialect's action or computer control).
    Api,
    /// A controlling live viewer.
    LiveView,
}

impl ActionSource {
    fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::LiveView => "live_view",
        }
    }
}

/// A session's event clock and count.
pub(crate) struct SessionEvents {
    /// The session's start on the monotonic clock.
    started: Instant,
    noted: AtomicU64,
    /// Set once the cap was hit and said so, so the log line comes once.
    capped: AtomicBool,
}

impl Default for SessionEvents {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            noted: AtomicU64::new(0),
            capped: AtomicBool::new(false),
        }
    }
}

impl SessionEvents {
    /// Milliseconds from the session's start to `at`.
    pub(crate) fn elapsed_ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_millis() as u64
    }

    /// Counts one more event; false once the session has stored its most.
    fn admit(&self, session_id: &str) -> bool {
        if self.noted.fetch_add(1, Ordering::Relaxed) < MAX_EVENTS_PER_SESSION {
            return true;
        }
        if !self.capped.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                session = %session_id,
                limit = MAX_EVENTS_PER_SESSION,
                "the session has stored its most events; later ones are not stored"
            );
        }
        false
    }
}

enum Message {
    Event(SessionEvent),
    /// Answers once every event queued before it is stored.
    Flush(oneshot::Sender<()>),
}

/// The writer's queue.
pub(crate) struct EventQueue {
    tx: mpsc::Sender<Message>,
    rx: Mutex<Option<mpsc::Receiver<Message>>>,
}

impl Default for EventQueue {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

/// The moment an action began, on both clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moment {
    wall: OffsetDateTime,
    mono: Instant,
}

impl Moment {
    /// Now.
    pub(crate) fn now() -> Self {
        Self {
            wall: OffsetDateTime::now_utc(),
            mono: Instant::now(),
        }
    }
}

impl Engine {
    /// Runs until the engine is dropped: stores queued events in batches.
    pub async fn run_event_writer(self) {
        let Some(mut rx) = lock(&self.inner.events.rx).take() else {
            tracing::error!("the event writer is already running");
            return;
        };
        while let Some(first) = rx.recv().await {
            let mut events = Vec::new();
            let mut flushes = Vec::new();
            let mut next = Some(first);
            while let Some(message) = next {
                match message {
                    Message::Event(event) => events.push(event),
                    Message::Flush(done) => flushes.push(done),
                }
                next = (events.len() < WRITE_BATCH)
                    .then(|| rx.try_recv().ok())
                    .flatten();
            }
            if !events.is_empty() {
                if let Err(e) = self.inner.meta.insert_events(&mut events).await {
                    tracing::error!(error = %e, lost = events.len(), "could not store session events");
                }
            }
            for done in flushes {
                let _ = done.send(());
            }
        }
    }

    /// Waits, at most [`FLUSH_TIMEOUT`], until every event noted so far is stored.
    pub(crate) async fn flush_events(&self) {
        let (done, wait) = oneshot::channel();
        let flushed = async {
            if self
                .inner
                .events
                .tx
                .send(Message::Flush(done))
                .await
                .is_ok()
            {
                let _ = wait.await;
            }
        };
        if tokio::time::timeout(FLUSH_TIMEOUT, flushed).await.is_err() {
            tracing::warn!("session events were still being stored at shutdown");
        }
    }

    /// Notes an action on `session_id`'s screen that began at `at`.
    pub(crate) fn note_action(
        &self,
        session_id: &str,
        at: Moment,
        source: ActionSource,
        mut payload: Map<String, Value>,
    ) {
        let Ok(live) = self.live_session(session_id) else {
            return;
        };
        if !live.events.admit(session_id) {
            return;
        }
        payload.insert("source".into(), source.as_str().into());
        self.queue(SessionEvent {
            id: 0,
            session_id: session_id.to_owned(),
            at: at.wall,
            elapsed_ms: live.events.elapsed_ms(at.mono),
            kind: EventKind::Action,
            payload: Value::Object(payload),
        });
    }

    /// Notes an API's `action` on `session_id`'s screen that began at `at` (a pause is not
    /// noted: nothing happens on screen).
    pub(crate) fn note_computer_action(
        &self,
        session_id: &str,
        at: Moment,
        action: &ComputerAction,
    ) {
        if let Some(payload) = computer_action_payload(action) {
            self.note_action(session_id, at, ActionSource::Api, payload);
        }
    }

    /// Notes `recording`'s closed activity `bands`; its video began `video_start_elapsed_ms`
    /// into its session. The last bands come after the session ends, so they are not counted
    /// against its cap.
    pub(crate) fn note_activity(
        &self,
        recording: &Recording,
        video_start_elapsed_ms: u64,
        bands: Vec<ActivityBand>,
    ) {
        for band in bands {
            let offset = Duration::from_millis(band.start_ms);
            self.queue(SessionEvent {
                id: 0,
                session_id: recording.session_id.clone(),
                at: recording.started_at + offset,
                elapsed_ms: video_start_elapsed_ms + band.start_ms,
                kind: EventKind::Activity,
                payload: json!({
                    "recording_id": recording.id,
                    "video_ms": band.start_ms,
                    "duration_ms": band.end_ms - band.start_ms,
                    "frames": band.frames,
                }),
            });
        }
    }

    fn queue(&self, event: SessionEvent) {
        if let Err(e) = self.inner.events.tx.try_send(Message::Event(event)) {
            tracing::warn!(error = %e, "a session event was not stored: the event writer is behind");
        }
    }

    /// A page of one of `project`'s sessions' events (ended sessions too), in the order they
    /// were written; `limit` is 1 to [`MAX_EVENTS_PAGE`].
    ///
    /// Errors: `NotFound` when `project` has no such session; `InvalidInput` for a limit out
    /// of range.
    pub async fn session_events(
        &self,
        project: &str,
        session_id: &str,
        filter: &EventFilter,
        limit: u32,
    ) -> Result<Page<SessionEvent>, EngineError> {
        if !(1..=MAX_EVENTS_PAGE).contains(&limit) {
            return Err(EngineError::InvalidInput(format!(
                "limit {limit} is out of range: 1 to {MAX_EVENTS_PAGE}"
            )));
        }
        let session = self.get_session(project, session_id, true).await?;
        Ok(self
            .inner
            .meta
            .list_events(&session.id, filter, limit)
            .await?)
    }
}

/// An action's event payload: its name and its points, keys or text; `None` for a pause,
/// which does nothing on screen.
fn computer_action_payload(action: &ComputerAction) -> Option<Map<String, Value>> {
    let mut payload = named(action.name());
    match action {
        ComputerAction::Click {
            x,
            y,
            button,
            kind,
            count,
            ..
        } => {
            let clicks = match kind {
                ClickKind::Click => *count,
                ClickKind::Down | ClickKind::Up => 0,
            };
            payload.extend(point(*x, *y));
            payload.insert("button".into(), button_name(*button).into());
            payload.insert("clicks".into(), clicks.into());
        }
        ComputerAction::Move { x, y, .. } => payload.extend(point(*x, *y)),
        ComputerAction::Drag { path, button, .. } => {
            let points: Vec<Value> = path.iter().map(|(x, y)| json!([x, y])).collect();
            if let Some(&(x, y)) = path.first() {
                payload.extend(point(x, y));
            }
            payload.insert("path".into(), points.into());
            payload.insert("button".into(), button_name(*button).into());
        }
        ComputerAction::Scroll { x, y, dx, dy, .. } => {
            payload.extend(point(*x, *y));
            payload.insert("dx".into(), (*dx).into());
            payload.insert("dy".into(), (*dy).into());
        }
        ComputerAction::Type { text, .. } => payload.extend(typed(text)),
        ComputerAction::PressKeys { keys, .. } => {
            payload.insert("keys".into(), keys.clone().into());
        }
        ComputerAction::Sleep(_) => return None,
    }
    Some(payload)
}

/// A live viewer's input as an event payload, with the pointer at `pointer`; `None` for what
/// the timeline leaves out (moves, and releases, which follow their press).
pub(crate) fn live_input_payload(
    input: &LiveInput,
    pointer: (i16, i16),
) -> Option<Map<String, Value>> {
    let (x, y) = (i64::from(pointer.0), i64::from(pointer.1));
    let payload = match input {
        LiveInput::Button { button, down: true } => {
            let mut payload = named("mouse_down");
            payload.extend(point(x, y));
            let name = match button {
                2 => "middle",
                3 => "right",
                _ => "left",
            };
            payload.insert("button".into(), name.into());
            payload
        }
        LiveInput::Wheel { dx, dy } => {
            let mut payload = named("scroll");
            payload.extend(point(x, y));
            payload.insert("dx".into(), (*dx).into());
            payload.insert("dy".into(), (*dy).into());
            payload
        }
        LiveInput::Key { key, down: true } => {
            let mut payload = named("key_down");
            payload.insert("keys".into(), vec![key.clone()].into());
            payload
        }
        LiveInput::Move { .. } | LiveInput::Button { .. } | LiveInput::Key { .. } => return None,
    };
    Some(payload)
}

/// A live viewer's paste of `text` as an event payload.
pub(crate) fn pasted(text: &str) -> Map<String, Value> {
    let mut payload = named("paste");
    payload.extend(typed(text));
    payload
}

/// A payload holding only the action's name.
fn named(action: &str) -> Map<String, Value> {
    let mut payload = Map::new();
    payload.insert("action".into(), action.into());
    payload
}

/// `x` and `y` as payload fields.
fn point(x: i64, y: i64) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("x".into(), x.into());
    fields.insert("y".into(), y.into());
    fields
}

/// Typed or pasted `text` as payload fields: its first [`MAX_EVENT_TEXT_CHARS`] characters
/// and its full length.
fn typed(text: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    let kept: String = text.chars().take(MAX_EVENT_TEXT_CHARS).collect();
    fields.insert("text".into(), kept.into());
    fields.insert("chars".into(), text.chars().count().into());
    fields
}

/// The button's name as the APIs spell it.
fn button_name(button: MouseButton) -> &'static str {
    match button {
        MouseButton::Left => "left",
        MouseButton::Middle => "middle",
        MouseButton::Right => "right",
        MouseButton::Back => "back",
        MouseButton::Forward => "forward",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_payload_names_the_action_with_its_points_and_a_pause_has_none() {
        let click = ComputerAction::Click {
            x: 10,
            y: 20,
            button: MouseButton::Right,
            kind: ClickKind::Click,
            count: 2,
            hold_keys: vec![],
        };
        assert_eq!(
            Value::Object(computer_action_payload(&click).unwrap()),
            json!({"action": "click_mouse", "x": 10, "y": 20, "button": "right", "clicks": 2})
        );
        let drag = ComputerAction::Drag {
            path: vec![(1, 2), (3, 4)],
            button: MouseButton::Left,
            delay: Duration::ZERO,
            motion: crate::computer::Motion::Jump,
            hold_keys: vec![],
        };
        assert_eq!(
            Value::Object(computer_action_payload(&drag).unwrap()),
            json!({"action": "drag_mouse", "x": 1, "y": 2, "path": [[1, 2], [3, 4]], "button": "left"})
        );
        assert!(computer_action_payload(&ComputerAction::Sleep(Duration::ZERO)).is_none());
    }

    #[test]
    fn typed_text_is_cut_to_its_bound_and_keeps_its_length() {
        let long = "é".repeat(MAX_EVENT_TEXT_CHARS + 5);
        let fields = typed(&long);
        assert_eq!(
            fields["text"].as_str().unwrap().chars().count(),
            MAX_EVENT_TEXT_CHARS
        );
        assert_eq!(fields["chars"], MAX_EVENT_TEXT_CHARS + 5);
    }

    #[test]
    fn a_live_press_is_noted_where_the_pointer_is_and_moves_and_releases_are_not() {
        let press = LiveInput::Button {
            button: 3,
            down: true,
        };
        assert_eq!(
            Value::Object(live_input_payload(&press, (5, 6)).unwrap()),
            json!({"action": "mouse_down", "x": 5, "y": 6, "button": "right"})
        );
        assert!(live_input_payload(&LiveInput::Move { x: 1, y: 1 }, (0, 0)).is_none());
        let release = LiveInput::Button {
            button: 1,
            down: false,
        };
        assert!(live_input_payload(&release, (0, 0)).is_none());
    }

    #[tokio::test]
    async fn noted_events_are_stored_in_order_and_read_back_by_the_sessions_project_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = crate::test_support::engine(dir.path()).await;
        tokio::spawn(engine.clone().run_event_writer());
        let recording = crate::test_support::recording_row(
            &engine,
            tapedeck_core::RecordingState::Finished,
            1 << 40,
        )
        .await;
        let band = |start_ms, end_ms| ActivityBand {
            start_ms,
            end_ms,
            frames: 3,
        };
        engine.note_activity(&recording, 700, vec![band(0, 400), band(2_000, 2_100)]);
        engine.flush_events().await;
        let page = engine
            .session_events(
                crate::test_support::PROJECT,
                &recording.session_id,
                &EventFilter::default(),
                10,
            )
            .await
            .expect("events");
        let videos: Vec<_> = page
            .items
            .iter()
            .map(|e| e.payload["video_ms"].clone())
            .collect();
        assert_eq!(videos, [json!(0), json!(2_000)]);
        assert_eq!(page.items[1].elapsed_ms, 2_700);
        // The store keeps microseconds.
        let off = page.items[1].at - (recording.started_at + Duration::from_secs(2));
        assert!(off.abs() < time::Duration::microseconds(1), "{off}");
        assert!(matches!(
            engine
                .session_events("team-b", &recording.session_id, &EventFilter::default(), 10)
                .await,
            Err(EngineError::NotFound { .. })
        ));
        assert!(matches!(
            engine
                .session_events(
                    crate::test_support::PROJECT,
                    &recording.session_id,
                    &EventFilter::default(),
                    0
                )
                .await,
            Err(EngineError::InvalidInput(_))
        ));
    }
}
