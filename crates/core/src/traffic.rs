//! Traffic recording: test runs record baselines into test records (Wallarm FAST's model).

use std::net::SocketAddr;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Lifecycle of a test run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestRunState {
    /// Recording and/or replaying its baselines.
    Running,
    /// A newer run replaced it before it finished.
    Interrupted,
    /// Every replayed baseline matched its recording.
    Passed,
    /// At least one replayed baseline did not match.
    Failed,
}

impl TestRunState {
    /// The name on the wire and in metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Interrupted => "interrupted",
            Self::Passed => "passed",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => Self::Running,
            "interrupted" => Self::Interrupted,
            "passed" => Self::Passed,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// What a client sets when it creates (or copies) a test run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRunSpec {
    /// Its name (required by FAST).
    pub name: String,
    /// Free text.
    pub desc: String,
    /// Hosts whose requests are recorded: FQDN, `.suffix`, `*`, regex or substring; empty is all.
    pub allowed_hosts: String,
    /// `jpg|png`: baselines with these extensions are not replayed.
    pub file_extensions_to_exclude: String,
    /// Replay only the first of identical baselines.
    pub skip_duplicated_baselines: bool,
    /// Stop recording after this many seconds without a new baseline.
    pub inactivity_timeout_secs: u64,
    /// Replay against this `scheme://host:port` instead of the recorded one (FAST's TEST_RUN_URI).
    pub target: Option<String>,
    /// KiB of each request and response body its baselines keep, instead of the server's
    /// `--body-cap-kib`; within [`Self::BODY_CAP_KIB_RANGE`].
    #[serde(default)]
    pub body_cap_kib: Option<u64>,
    /// The test policy as JSON (`tapedeck_attack::policy::Policy::from_json`): with one, the
    /// testing phase attacks each baseline; without, it only replays them as a regression
    /// check. Kept raw so a copy tests exactly as its original did.
    #[serde(default)]
    pub policy: Option<String>,
}

impl TestRunSpec {
    /// Allowed inactivity timeouts in seconds (FAST's documented range).
    pub const INACTIVITY_RANGE: std::ops::RangeInclusive<u64> = 300..=86_400;
    /// Allowed per-run body caps in KiB: up to 64 MiB, since a body is held in memory whole
    /// until its exchange is stored.
    pub const BODY_CAP_KIB_RANGE: std::ops::RangeInclusive<u64> = 1..=65_536;
}

/// A test run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestRun {
    /// Integer id, as FAST's clients expect.
    pub id: i64,
    /// The record it fills (or, for a copy, replays).
    pub test_record_id: i64,
    /// What the client asked for.
    pub spec: TestRunSpec,
    /// Lifecycle state.
    pub state: TestRunState,
    /// True while requests through the proxy are being recorded.
    pub recording: bool,
    /// Replayed baselines that matched.
    pub passed_count: u64,
    /// Replayed baselines that did not match.
    pub failed_count: u64,
    /// Baselines waiting to be replayed.
    pub waiting_count: u64,
    /// Baselines not attacked because their answers changed between identical replays
    /// (FAST's `baseline_check_tech_fail_count`).
    #[serde(default)]
    pub tech_failed_count: u64,
    /// Requests the testing phase sent: replays, profiling and attacks.
    #[serde(default)]
    pub sent_requests_count: u64,
    /// Why each failed baseline failed: `(baseline id, reason)`.
    pub failures: Vec<(i64, String)>,
    /// Why it ended as it did when the state alone does not say (nothing was tested).
    #[serde(default)]
    pub problem: Option<String>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub start_time: OffsetDateTime,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339::option")]
    pub end_time: Option<OffsetDateTime>,
}

/// A test record: a named set of baselines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestRecord {
    /// Integer id.
    pub id: i64,
    /// The project of the API key whose run created it; its runs and baselines belong there too.
    pub project: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One recorded request and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Integer id (0 before it is stored).
    pub id: i64,
    /// The record it belongs to.
    pub test_record_id: i64,
    /// When the request started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Milliseconds from request start to the end of the response body.
    pub duration_ms: u64,
    /// Request method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Request headers in order, as sent.
    pub request_headers: Vec<(String, String)>,
    /// Request body, up to the size cap.
    pub request_body: Vec<u8>,
    /// True when the request body was longer than what is kept.
    pub request_truncated: bool,
    /// Response status code.
    pub status: u16,
    /// Response headers in order.
    pub response_headers: Vec<(String, String)>,
    /// Response body as received (still content-encoded), up to the size cap.
    pub response_body: Vec<u8>,
    /// True when the response body was longer than what is kept.
    pub response_truncated: bool,
}

/// One recorded exchange as a table row shows it: a [`Baseline`] without its headers and
/// bodies, which can be large.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExchangeSummary {
    /// The baseline's id.
    pub id: i64,
    /// The test record holding it.
    pub test_record_id: i64,
    /// When the request started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
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
    /// Bytes of response body kept (as received, still content-encoded).
    pub response_bytes: u64,
    /// True when either body was longer than what is kept.
    pub truncated: bool,
    /// The response's `Content-Type`, if it had one.
    pub response_content_type: Option<String>,
}

/// Whose traffic a request through the proxy is: the API key that authenticated it stands for
/// a project, and the request is recorded into that project's test run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Principal {
    /// An active API key.
    Key {
        /// The key's id.
        key_id: String,
        /// The key's project.
        project: String,
    },
}

impl Principal {
    /// The project whose test run records this principal's requests.
    pub fn project(&self) -> &str {
        match self {
            Self::Key { project, .. } => project,
        }
    }
}

/// The answer of [`TrafficSink::authenticate`], which may have to ask the metadata.
pub type Authentication<'a> = Pin<Box<dyn Future<Output = Option<Principal>> + Send + 'a>>;

/// The answer of [`TrafficSink::admit`], which may wait for room in the recording pipeline.
pub type Admission<'a> = Pin<Box<dyn Future<Output = Option<Box<dyn RecordSlot>>> + Send + 'a>>;

/// A place in the recording pipeline, held by one admitted exchange from its start until the
/// proxy hands it over. The proxy waits for one before it forwards a recorded request, so a
/// writer that falls behind slows the clients down rather than losing their exchanges or
/// buffering them without bound.
pub trait RecordSlot: Send {
    /// The test record the exchange is recorded into.
    fn test_record_id(&self) -> i64;
    /// Bytes of each body kept, when the recording run set its own cap; `None` leaves the
    /// proxy's.
    fn body_cap(&self) -> Option<usize>;
    /// Hands over the finished exchange, without blocking. It is stored if its run still
    /// records now, as the exchange finishes; an exchange that outlived its run's stop is
    /// dropped, since the record holds what finished before the stop.
    fn submit(self: Box<Self>, baseline: Baseline);
}

/// Where the recording proxy sends the exchanges it records: the port between the proxy and
/// the engine, which implements it.
///
/// The proxy decides who may use it and where it may connect; it asks the sink who an API key
/// is ([`authenticate`](Self::authenticate)), which of Tapedeck's own endpoints it must not
/// reach ([`own_endpoints`](Self::own_endpoints)), and whether a request is recorded
/// ([`admit`](Self::admit)).
pub trait TrafficSink: Send + Sync + 'static {
    /// The principal an API key presented to the proxy (the password of its
    /// `Proxy-Authorization: Basic`) stands for, or `None` when it is no active key.
    fn authenticate<'a>(&'a self, api_key: &'a str) -> Authentication<'a>;
    /// Decides, as a request starts, whether it is recorded: `Some` slot when a run of the
    /// principal's project records and matches `host`, once the pipeline has room. `principal`
    /// is who authenticated the request; `None` is a loopback client that sent no credentials,
    /// recorded for the default project.
    fn admit<'a>(&'a self, principal: Option<&'a Principal>, host: &'a str) -> Admission<'a>;
    /// The loopback endpoints Tapedeck runs for its own use besides its listeners (today every
    /// browser's DevTools server), which the proxy must not connect to. Changes as sessions
    /// start and end.
    fn own_endpoints(&self) -> Vec<SocketAddr>;
}
