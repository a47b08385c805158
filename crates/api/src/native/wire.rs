//! The native API's JSON shapes.

use serde::{Deserialize, Serialize};
use tapedeck_core::{Recording, Session, SessionSpec, Viewport};
use utoipa::ToSchema;

use crate::common::timestamp::rfc3339;
use crate::common::token;
use crate::ApiState;

/// Inactivity timeout when none is given, in seconds.
const DEFAULT_TIMEOUT_SECS: u32 = 300;
/// Display size when none is given.
const DEFAULT_VIEWPORT: Viewport = Viewport {
    width: 1280,
    height: 720,
};

/// A request to create a session; every field is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateSession {
    /// Unique name, usable instead of the id while the session runs.
    pub name: Option<String>,
    /// Display size; 1280x720 by default.
    pub viewport: Option<ViewportJson>,
    /// First page; `about:blank` by default.
    pub start_url: Option<String>,
    /// Seconds without a CDP connection or recording before the session ends; 300 by default.
    pub timeout_seconds: Option<u32>,
    /// Hide the browser toolbar.
    pub kiosk: Option<bool>,
}

/// Width and height in pixels.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct ViewportJson {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl CreateSession {
    /// The engine's spec with the native defaults.
    pub fn into_spec(self) -> SessionSpec {
        let viewport = self
            .viewport
            .map(|v| Viewport {
                width: v.width,
                height: v.height,
            })
            .unwrap_or(DEFAULT_VIEWPORT);
        SessionSpec {
            name: self.name,
            start_url: self.start_url,
            kiosk: self.kiosk.unwrap_or(false),
            ..SessionSpec::browser(
                viewport,
                self.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECS),
            )
        }
    }
}

/// A session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionJson {
    /// Unique id.
    pub id: String,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// `running` or `deleted`.
    pub state: String,
    /// Display size.
    pub viewport: ViewportJson,
    /// First page.
    pub start_url: Option<String>,
    /// Inactivity timeout in seconds.
    pub timeout_seconds: u32,
    /// CDP WebSocket URL for Playwright's `connectOverCDP` or Puppeteer's `connect`.
    pub cdp_ws_url: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 end time, once ended.
    pub deleted_at: Option<String>,
    /// Why it ended when no client ended it (`node_lost`, `server_restarted`).
    pub end_reason: Option<String>,
    /// The fleet node running it (`--node-id`); any node answers for it.
    pub node: Option<String>,
}

impl SessionJson {
    /// The native view of a session, with a fresh CDP token.
    pub fn new(state: &ApiState, session: Session) -> Self {
        let jwt = token::issue(&state.signer, &session, token::CDP_TOKEN_TTL);
        Self {
            cdp_ws_url: format!(
                "{}/v1/sessions/{}/cdp?jwt={jwt}",
                state.public_ws_url(),
                session.id
            ),
            name: session.spec.name,
            state: session.state.as_str().to_owned(),
            viewport: ViewportJson {
                width: session.spec.viewport.width,
                height: session.spec.viewport.height,
            },
            start_url: session.spec.start_url,
            timeout_seconds: session.spec.timeout_seconds,
            created_at: rfc3339(session.created_at),
            deleted_at: session.deleted_at.map(rfc3339),
            end_reason: session.end_reason,
            node: session.node,
            id: session.id,
        }
    }
}

/// A page of sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionPage {
    /// The sessions of this page, oldest first.
    pub items: Vec<SessionJson>,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<u64>,
}

/// Query of `GET /v1/test-records`.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// Page size, 1..=100 (default 20).
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u64>,
}

/// One test record in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestRecordSummary {
    /// Its integer id (FAST's `test_record_id`).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// How many baselines it holds.
    pub baseline_count: u64,
}

/// A page of test records, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestRecordPage {
    /// The records of this page.
    pub items: Vec<TestRecordSummary>,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<u64>,
}

/// Query of `GET /v1/sessions`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Page size, 1..=100 (default 20).
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u64>,
    /// Include ended sessions.
    pub include_deleted: Option<bool>,
}

/// A request to start a recording.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StartRecording {
    /// Highest frames per second, 1..=30 (default 10); unchanged frames are not encoded.
    pub framerate: Option<u32>,
    /// Stop by itself after this many seconds.
    pub max_duration_secs: Option<u64>,
}

/// A recording.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingJson {
    /// Unique id.
    pub id: String,
    /// The recorded session.
    pub session_id: String,
    /// `recording`, `stopping`, `finished`, `interrupted` or `failed`.
    pub state: String,
    /// Why it stopped: `requested`, `max_duration`, `max_size`, `session_ended`,
    /// `recorder_exited` or `recovered`.
    pub stop_reason: Option<String>,
    /// Frames per second.
    pub framerate: u32,
    /// RFC 3339 start time.
    pub started_at: String,
    /// RFC 3339 end time, once stopped.
    pub finished_at: Option<String>,
    /// `storage://tapedeck/...` once the MP4 exists.
    pub storage_key: Option<String>,
    /// MP4 size in bytes.
    pub size_bytes: Option<u64>,
    /// MP4 duration in milliseconds.
    pub duration_ms: Option<u64>,
    /// What went wrong, for people: why it failed, or what its recovery left out.
    pub problem: Option<String>,
}

impl From<Recording> for RecordingJson {
    fn from(r: Recording) -> Self {
        Self {
            id: r.id,
            session_id: r.session_id,
            state: r.state.as_str().to_owned(),
            stop_reason: r.stop_reason.map(|s| s.as_str().to_owned()),
            framerate: r.limits.framerate,
            started_at: rfc3339(r.started_at),
            finished_at: r.finished_at.map(rfc3339),
            storage_key: r.storage_key,
            size_bytes: r.size_bytes,
            duration_ms: r.duration_ms,
            problem: r.problem,
        }
    }
}

/// A list of recordings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingList {
    /// Oldest first.
    pub items: Vec<RecordingJson>,
}

/// Query of `GET /v1/recordings/{id}/download-url`.
#[derive(Debug, Default, Deserialize)]
pub struct DownloadQuery {
    /// Seconds the URL stays valid, 1..=604800 (default 3600).
    pub expires_in_secs: Option<u64>,
}

/// Query of `GET /v1/test-records/{id}` and its HAR export.
#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    /// `false` keeps Authorization, Cookie and Set-Cookie values (default: redacted).
    pub redact: Option<bool>,
}

/// A presigned download URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadUrl {
    /// The artifact's storage key.
    pub storage_key: String,
    /// URL that downloads it without credentials until `expires_at`.
    pub url: String,
    /// RFC 3339 expiry.
    pub expires_at: String,
    /// Size in bytes.
    pub size_bytes: u64,
}
