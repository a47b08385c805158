//! GBOX's JSON shapes (camelCase), and how engine sessions become boxes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tapedeck_core::ui::BrowserTab;
use tapedeck_core::{Session, SessionState};
use time::OffsetDateTime;

/// `POST /boxes/linux` body; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBox {
    pub config: Option<BoxConfigParams>,
    /// How long to wait for the box to run; validated only, since creation always waits.
    pub timeout: Option<String>,
}

/// `config` of a create request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BoxConfigParams {
    #[serde(default)]
    pub envs: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub expires_in: Option<String>,
}

/// A Linux box, complete as `LinuxBox` validates it (docs/gbox.md, "Wire shapes").
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxBox {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    pub config: BoxConfig,
}

/// A box's resources and settings.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoxConfig {
    pub cpu: f64,
    pub memory: f64,
    pub storage: f64,
    pub envs: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub os: BoxOs,
    pub working_dir: String,
}

/// The box's operating system.
#[derive(Debug, Serialize)]
pub struct BoxOs {
    pub version: &'static str,
}

/// The labels of a box, kept in the session's tags.
pub fn labels_of(session: &Session) -> BTreeMap<String, String> {
    session
        .spec
        .tags
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

impl LinuxBox {
    /// The GBOX view of a session.
    pub fn from_session(session: Session) -> Self {
        let status = match session.state {
            SessionState::Running => "running",
            SessionState::Deleted => "terminated",
        };
        Self {
            status,
            kind: "linux",
            created_at: session.created_at,
            updated_at: session.deleted_at.unwrap_or(session.created_at),
            expires_at: session.expires_at(),
            config: BoxConfig {
                cpu: std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
                memory: 2048.0,
                storage: 10.0,
                labels: labels_of(&session),
                envs: session.spec.envs,
                os: BoxOs {
                    version: "debian-12",
                },
                working_dir: "/root".into(),
            },
            id: session.id,
        }
    }
}

/// `GET /boxes` reply.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoxPage {
    pub data: Vec<LinuxBox>,
    pub page: u64,
    pub page_size: u64,
    pub total: u64,
}

/// `options` of an action: `screenshot` is honoured; `model` is ignored (no AI model here).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionOptions {
    pub screenshot: Option<ScreenshotOption>,
}

/// `options.screenshot`: a flag, or settings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ScreenshotOption {
    Flag(bool),
    Settings(ScreenshotSettings),
}

/// `options.screenshot` settings.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotSettings {
    pub output_format: Option<String>,
    pub presigned_expires_in: Option<String>,
    pub phases: Option<Vec<String>>,
    pub delay: Option<String>,
}

/// `target` of tap and click: a description or a detected element.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Target {
    Description(String),
    Element(DetectedElement),
}

/// An element a client detected itself; only its centre is used.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedElement {
    pub center_x: f64,
    pub center_y: f64,
}

/// A screen point.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// Where a drag or swipe starts or ends: a point, or a description of an element.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PointOrDescription {
    Point(Point),
    Description(String),
}

/// `screen-layout` answer: the front page's HTML.
#[derive(Debug, Serialize)]
pub struct ScreenLayout {
    pub content: String,
}

/// `elements/detect` body.
#[derive(Debug, Default, Deserialize)]
pub struct DetectElementsAction {
    #[serde(default)]
    pub screenshot: ScreenshotSettings,
}

/// One detected element, as GBOX describes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedElementJson {
    pub id: String,
    pub center_x: f64,
    pub center_y: f64,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub label: String,
    pub path: String,
    pub source: &'static str,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `elements/detect` answer.
#[derive(Debug, Serialize)]
pub struct DetectedElementsJson {
    pub elements: Vec<DetectedElementJson>,
    pub screenshot: DetectionScreenshots,
}

/// The screenshots of a detection: as taken, and with the elements framed.
#[derive(Debug, Serialize)]
pub struct DetectionScreenshots {
    pub marked: ScreenshotJson,
    pub source: ScreenshotJson,
}

/// `commands` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunCommandAction {
    pub command: Option<String>,
    #[serde(default)]
    pub envs: std::collections::BTreeMap<String, String>,
    pub timeout: Option<String>,
    pub working_dir: Option<String>,
}

/// `run-code` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunCodeAction {
    pub code: Option<String>,
    pub language: Option<String>,
    #[serde(default)]
    pub argv: Vec<String>,
    #[serde(default)]
    pub envs: std::collections::BTreeMap<String, String>,
    pub timeout: Option<String>,
    pub working_dir: Option<String>,
}

/// What `commands` and `run-code` answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramOutputJson {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `clipboard` body.
#[derive(Debug, Default, Deserialize)]
pub struct ClipboardAction {
    pub content: Option<String>,
}

/// `move` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MoveAction {
    pub x: Option<f64>,
    pub y: Option<f64>,
    #[serde(default)]
    pub options: ActionOptions,
}

/// `drag` body: `start` and `end`, or a `path`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DragAction {
    pub start: Option<PointOrDescription>,
    pub end: Option<PointOrDescription>,
    pub path: Option<Vec<Point>>,
    pub duration: Option<String>,
    #[serde(default)]
    pub options: ActionOptions,
}

/// `live-view-url` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveViewRequest {
    pub expires_in: Option<String>,
}

/// `live-view-url` answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveViewUrl {
    pub url: String,
    pub raw_url: String,
}

/// `GET /boxes/{id}/display`.
#[derive(Debug, Serialize)]
pub struct BoxDisplay {
    pub orientation: &'static str,
    pub resolution: Resolution,
}

/// A screen's size in pixels (GBOX sends and reads numbers).
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    pub width: f64,
    pub height: f64,
}

impl Resolution {
    /// The size of `screen`.
    pub fn of(screen: tapedeck_core::Viewport) -> Self {
        Self {
            width: f64::from(screen.width),
            height: f64::from(screen.height),
        }
    }
}

/// `touch` body: the points (fingers) and what each does after touching down.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TouchAction {
    #[serde(default)]
    pub points: Vec<TouchPoint>,
    #[serde(default)]
    pub options: ActionOptions,
}

/// One finger: where it touches down, then its moves and waits.
#[derive(Debug, Deserialize)]
pub struct TouchPoint {
    pub start: Point,
    #[serde(default)]
    pub actions: Vec<TouchStep>,
}

/// A finger's `move` to `{x, y}` over `duration`, or `wait` for `duration`.
#[derive(Debug, Deserialize)]
pub struct TouchStep {
    #[serde(rename = "type")]
    pub kind: String,
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub duration: Option<String>,
}

/// `long-press` body: a point or a target.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LongPressAction {
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub target: Option<Target>,
    pub duration: Option<String>,
    #[serde(default)]
    pub options: ActionOptions,
}

/// `swipe` body: a direction (and distance) from the centre or `location`, or `start`/`end`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwipeAction {
    pub direction: Option<String>,
    pub distance: Option<serde_json::Value>,
    pub start: Option<PointOrDescription>,
    pub end: Option<PointOrDescription>,
    #[serde(default)]
    pub options: ActionOptions,
}

/// `tap` and `click` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointerAction {
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub target: Option<Target>,
    pub button: Option<String>,
    pub double: Option<bool>,
    #[serde(default)]
    pub options: ActionOptions,
}

/// `type` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeAction {
    pub text: Option<String>,
    pub mode: Option<String>,
    pub press_enter: Option<bool>,
    #[serde(default)]
    pub options: ActionOptions,
}

/// `press_key` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PressKeyAction {
    #[serde(default)]
    pub keys: Vec<String>,
    pub combination: Option<bool>,
    #[serde(default)]
    pub options: ActionOptions,
}

/// `scroll` body: a point and pixel deltas, or a direction and distance.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScrollAction {
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub scroll_x: Option<f64>,
    pub scroll_y: Option<f64>,
    pub direction: Option<String>,
    pub distance: Option<serde_json::Value>,
    #[serde(default)]
    pub options: ActionOptions,
}

/// `screenshot` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotAction {
    pub output_format: Option<String>,
    pub presigned_expires_in: Option<String>,
}

/// A screenshot: a `data:` URI, or a storage key with its presigned URL.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotJson {
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presigned_url: Option<String>,
}

/// Screenshots attached to an action result.
#[derive(Debug, Serialize)]
pub struct ActionScreenshots {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<ScreenshotJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<ScreenshotJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<ScreenshotJson>,
}

/// Every action's reply.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    pub action_id: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screenshot: Option<ActionScreenshots>,
}

/// `recording/start` body (older SDKs send `duration`).
#[derive(Debug, Default, Deserialize)]
pub struct StartRecording {
    pub duration: Option<String>,
}

/// `rewind/extract` body.
#[derive(Debug, Default, Deserialize)]
pub struct ExtractRewind {
    pub duration: Option<String>,
}

/// A stored artifact: `{storageKey, presignedUrl}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredArtifact {
    pub storage_key: String,
    pub presigned_url: String,
}

/// `storage/presigned-url` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignRequest {
    pub storage_key: Option<String>,
    pub expires_in: Option<String>,
}

/// `GET /boxes` query; `labels[k]=v` pairs arrive as extra keys.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub page: Option<u64>,
    pub page_size: Option<u64>,
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub rest: BTreeMap<String, String>,
}

/// `POST …/browser/connect-url/cdp`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdpUrlRequest {
    /// The URL's lifetime (`30m`); 120m when absent.
    pub expires_in: Option<String>,
}

/// `POST …/browser/open`. The browser already runs, so `size` is only checked, and `maximize`
/// and `showControls` are ignored like every unknown field.
#[derive(Debug, Default, Deserialize)]
pub struct BrowserOpenRequest {
    /// `<width>x<height>`.
    pub size: Option<String>,
}

/// `POST …/browser/tabs`.
#[derive(Debug, Default, Deserialize)]
pub struct OpenTabRequest {
    /// The page to open.
    pub url: Option<String>,
}

/// One tab, as GBOX describes it.
#[derive(Debug, Serialize)]
pub struct TabJson {
    /// The tab id.
    pub id: String,
    /// True for the tab in front.
    pub active: bool,
    /// The favicon; empty, since it is not looked up.
    pub favicon: String,
    /// True until the page has fired `load`.
    pub loading: bool,
    /// The tab title.
    pub title: String,
    /// The tab URL.
    pub url: String,
}

impl From<BrowserTab> for TabJson {
    fn from(tab: BrowserTab) -> Self {
        Self {
            id: tab.id,
            active: tab.active,
            favicon: String::new(),
            loading: tab.loading,
            title: tab.title,
            url: tab.url,
        }
    }
}

/// `GET …/browser/tabs`.
#[derive(Debug, Serialize)]
pub struct TabList {
    /// The tabs, in the browser's order.
    pub data: Vec<TabJson>,
}
