//! The native API's JSON shapes.

use serde::{Deserialize, Serialize};
use tapedeck_core::{
    EngineError, ExchangeSummary, Recording, Session, SessionKind, SessionSpec, SessionState,
    TestRun, Viewport,
};
use tapedeck_store::meta::{ExchangeFilter, RecordingFilter, SessionFilter};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
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
    /// `browser` (native, Kernel) or `linux_box` (GBOX).
    pub kind: String,
    /// Its labels (Kernel tags, GBOX labels).
    #[schema(value_type = Object)]
    pub tags: serde_json::Map<String, serde_json::Value>,
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
            kind: session.spec.kind.as_str().to_owned(),
            tags: session.spec.tags,
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

/// Query of `GET /v1/test-records` and `GET /v1/test-runs`.
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
    /// Include ended sessions (the same as `state=all`).
    pub include_deleted: Option<bool>,
}

/// The session filter of `GET /v1/sessions` and `GET /v1/recordings`, read from the same query
/// string as their paging.
#[derive(Debug, Default, Deserialize)]
pub struct SessionQuery {
    /// `browser` or `linux_box`.
    pub kind: Option<String>,
    /// `running`, `deleted` or `all`.
    pub state: Option<String>,
    /// Part of the name, in any case.
    pub name: Option<String>,
    /// `key:value`: sessions with this tag (label) set to this value.
    pub tag: Option<String>,
}

impl SessionQuery {
    /// The store's filter; ended sessions are in it when `state` says `deleted` or `all`, or
    /// when it says nothing and `default_state` is `None`.
    pub fn filter(self, default_state: Option<SessionState>) -> Result<SessionFilter, EngineError> {
        let invalid = |what: &str| EngineError::InvalidInput(what.to_owned());
        let kind = match self.kind.as_deref() {
            None => None,
            Some("browser") => Some(SessionKind::Browser),
            Some("linux_box") => Some(SessionKind::LinuxBox),
            Some(_) => return Err(invalid("kind must be browser or linux_box")),
        };
        let state = match self.state.as_deref() {
            None => default_state,
            Some("all") => None,
            Some(state) => Some(
                SessionState::parse(state)
                    .ok_or_else(|| invalid("state must be running, deleted or all"))?,
            ),
        };
        let tag = match self.tag {
            None => None,
            Some(tag) => match tag.split_once(':') {
                Some((key, value)) if !key.is_empty() => Some((key.to_owned(), value.to_owned())),
                _ => return Err(invalid("tag must be key:value")),
            },
        };
        Ok(SessionFilter {
            kind,
            state,
            name: self.name.filter(|name| !name.is_empty()),
            tag,
        })
    }
}

/// Query of `GET /v1/recordings`.
#[derive(Debug, Default, Deserialize)]
pub struct RecordingQuery {
    /// Page size, 1..=100 (default 20).
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u64>,
    /// Only recordings started at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only recordings started before this RFC 3339 time.
    pub until: Option<String>,
}

impl RecordingQuery {
    /// The store's filter, with `session` on the recorded sessions (in any state unless it
    /// says).
    pub fn filter(self, session: SessionQuery) -> Result<RecordingFilter, EngineError> {
        Ok(RecordingFilter {
            since: rfc3339_param("since", self.since)?,
            until: rfc3339_param("until", self.until)?,
            session: session.filter(None)?,
        })
    }
}

/// The time in query parameter `name`, when given.
///
/// Errors: `InvalidInput` naming `name` when it is not an RFC 3339 time.
pub fn rfc3339_param(
    name: &str,
    text: Option<String>,
) -> Result<Option<OffsetDateTime>, EngineError> {
    text.map(|text| {
        OffsetDateTime::parse(&text, &Rfc3339)
            .map_err(|_| EngineError::InvalidInput(format!("{name} must be an RFC 3339 time")))
    })
    .transpose()
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

/// A recording in a project-wide list, with what identifies its session.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedRecording {
    /// The recording.
    #[serde(flatten)]
    pub recording: RecordingJson,
    /// The recorded session's name, if it had one.
    pub session_name: Option<String>,
    /// The recorded session's kind: `browser` or `linux_box`.
    pub session_kind: String,
    /// The recorded session's labels.
    #[schema(value_type = Object)]
    pub session_tags: serde_json::Map<String, serde_json::Value>,
}

impl ListedRecording {
    /// A recording with its session's spec.
    pub fn new(recording: Recording, spec: SessionSpec) -> Self {
        Self {
            recording: recording.into(),
            session_name: spec.name,
            session_kind: spec.kind.as_str().to_owned(),
            session_tags: spec.tags,
        }
    }
}

/// A page of a project's recordings, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingPage {
    /// The recordings of this page.
    pub items: Vec<ListedRecording>,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<u64>,
}

/// A test run: its state and counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestRunJson {
    /// Integer id (FAST's `test_run_id`).
    pub id: i64,
    /// The test record it records into or replays.
    pub test_record_id: i64,
    /// Its name.
    pub name: String,
    /// `running`, `interrupted`, `passed` or `failed`.
    pub state: String,
    /// True while requests through the proxy are recorded into it.
    pub recording: bool,
    /// Replayed baselines that matched.
    pub passed_count: u64,
    /// Replayed baselines that did not match.
    pub failed_count: u64,
    /// Baselines waiting to be replayed.
    pub waiting_count: u64,
    /// Baselines not attacked because identical replays answered differently.
    pub tech_failed_count: u64,
    /// Requests the testing phase sent: replays, profiling and attacks.
    pub sent_requests_count: u64,
    /// Each failed baseline with why it failed.
    pub failures: Vec<FailureJson>,
    /// Why it ended as it did when the state alone does not say.
    pub problem: Option<String>,
    /// When it started (RFC 3339).
    pub start_time: String,
    /// When it ended (RFC 3339).
    pub end_time: Option<String>,
}

/// A replayed baseline that did not match its recording.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailureJson {
    /// The baseline's id (an exchange of the record).
    pub baseline_id: i64,
    /// What differed.
    pub reason: String,
}

impl From<TestRun> for TestRunJson {
    fn from(run: TestRun) -> Self {
        Self {
            id: run.id,
            test_record_id: run.test_record_id,
            name: run.spec.name,
            state: run.state.as_str().to_owned(),
            recording: run.recording,
            passed_count: run.passed_count,
            failed_count: run.failed_count,
            waiting_count: run.waiting_count,
            tech_failed_count: run.tech_failed_count,
            sent_requests_count: run.sent_requests_count,
            failures: run
                .failures
                .into_iter()
                .map(|(baseline_id, reason)| FailureJson {
                    baseline_id,
                    reason,
                })
                .collect(),
            problem: run.problem,
            start_time: rfc3339(run.start_time),
            end_time: run.end_time.map(rfc3339),
        }
    }
}

/// A page of test runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestRunPage {
    /// The runs of this page.
    pub items: Vec<TestRunJson>,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<u64>,
}

/// Query of `GET /v1/test-records/{id}/exchanges`.
#[derive(Debug, Default, Deserialize)]
pub struct ExchangeQuery {
    /// Page size, 1..=100 (default 50).
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u64>,
    /// Only this request method.
    pub method: Option<String>,
    /// Only this status (`404`) or class (`4xx`).
    pub status: Option<String>,
    /// Only this host, or `host:port`.
    pub host: Option<String>,
    /// Only exchanges with this text in the URL or a body.
    pub q: Option<String>,
    /// Only requests started at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only requests started before this RFC 3339 time.
    pub until: Option<String>,
}

impl ExchangeQuery {
    /// The store's filter; empty parameters filter nothing.
    pub fn filter(&self) -> Result<ExchangeFilter, EngineError> {
        let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        Ok(ExchangeFilter {
            since: rfc3339_param("since", given(&self.since))?,
            until: rfc3339_param("until", given(&self.until))?,
            method: given(&self.method),
            status: given(&self.status)
                .map(|s| tapedeck_engine::parse_status(&s))
                .transpose()?,
            host: given(&self.host),
            text: given(&self.q),
        })
    }
}

/// One exchange in a list: what a table row shows. Its headers and bodies are at
/// `GET /v1/test-records/{id}/exchanges/{exchange_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExchangeJson {
    /// Its id (the baseline's).
    pub id: i64,
    /// The test record holding it.
    pub test_record_id: i64,
    /// When the request started (RFC 3339).
    pub started_at: String,
    /// Milliseconds from request start to the end of the response body.
    pub duration_ms: u64,
    /// Request method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Response status code.
    pub status: u16,
    /// Bytes of request body kept.
    pub request_bytes: u64,
    /// Bytes of response body kept, as received (still content-encoded).
    pub response_bytes: u64,
    /// True when a body was longer than what is kept.
    pub truncated: bool,
    /// The response's `Content-Type`.
    pub response_content_type: Option<String>,
}

impl From<ExchangeSummary> for ExchangeJson {
    fn from(e: ExchangeSummary) -> Self {
        Self {
            id: e.id,
            test_record_id: e.test_record_id,
            started_at: rfc3339(e.started_at),
            duration_ms: e.duration_ms,
            method: e.method,
            url: e.url,
            status: e.status,
            request_bytes: e.request_bytes,
            response_bytes: e.response_bytes,
            truncated: e.truncated,
            response_content_type: e.response_content_type,
        }
    }
}

/// A page of a test record's exchanges, in the order they were recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExchangePage {
    /// The exchanges of this page.
    pub items: Vec<ExchangeJson>,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<u64>,
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
