//! Kernel's JSON shapes (docs/kernel.md, "Wire shapes"), and how engine types become them.

use axum::http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use tapedeck_core::{EngineError, Recording, Session, SessionSpec, SessionState, Viewport};
use tapedeck_engine::{ArchiveFormat, ProfileRequest};
use time::OffsetDateTime;

use crate::common::live_view;
use crate::common::token::{self, LiveAccess};
use crate::ApiState;

/// Kernel's default inactivity timeout, in seconds.
const DEFAULT_TIMEOUT_SECS: u32 = 60;

/// `BrowserCreateParams`; every field optional, unknown fields ignored. `headless` is ignored:
/// sessions are always headful, since replays need a screen.
#[derive(Debug, Default, Deserialize)]
pub struct CreateBrowser {
    pub name: Option<String>,
    pub gpu: Option<bool>,
    pub start_url: Option<String>,
    pub timeout_seconds: Option<u32>,
    pub viewport: Option<Viewport>,
    pub kiosk_mode: Option<bool>,
    pub tags: Option<serde_json::Map<String, serde_json::Value>>,
    pub profile: Option<BrowserProfile>,
}

impl CreateBrowser {
    /// The engine's spec, with Kernel's defaults (1920x1080, 60 s timeout).
    pub fn into_spec(self) -> SessionSpec {
        let viewport = self.viewport.unwrap_or_default();
        SessionSpec {
            name: self.name,
            start_url: self.start_url,
            kiosk: self.kiosk_mode.unwrap_or(false),
            tags: self.tags.unwrap_or_default(),
            ..SessionSpec::browser(
                viewport,
                self.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECS),
            )
        }
    }
}

/// `BrowserCreateParams.profile`: the profile to load, by `id` or by `name`, and whether the
/// browser's changes are saved back to it when it ends (`save_changes`, default false).
#[derive(Debug, Default, Deserialize)]
pub struct BrowserProfile {
    pub id: Option<String>,
    pub name: Option<String>,
    pub save_changes: Option<bool>,
}

impl BrowserProfile {
    /// The engine's request; exactly one of `id` and `name` must be given.
    pub fn into_request(self) -> Result<ProfileRequest, EngineError> {
        let id_or_name = match (self.id, self.name) {
            (Some(id), None) => id,
            (None, Some(name)) => name,
            _ => {
                return Err(EngineError::InvalidInput(
                    "profile takes either an id or a name".into(),
                ))
            }
        };
        Ok(ProfileRequest {
            id_or_name,
            save_changes: self.save_changes.unwrap_or(false),
        })
    }
}

/// The Browser object. Every field PySDK 0.131 requires is always present; `base_url` is
/// omitted because the direct-to-VM subresources are not served (docs/kernel.md, "Browser").
#[derive(Debug, Serialize)]
pub struct Browser {
    pub session_id: String,
    pub cdp_ws_url: String,
    pub webdriver_ws_url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub headless: bool,
    pub stealth: bool,
    pub gpu: bool,
    pub timeout_seconds: u32,
    pub memory: &'static str,
    pub region: &'static str,
    pub kiosk_mode: bool,
    /// The live view of a running browser; `?readOnly=true` makes it watch-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_live_view_url: Option<String>,
    pub viewport: Viewport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub tags: serde_json::Map<String, serde_json::Value>,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_save_changes: Option<bool>,
}

impl Browser {
    /// The Kernel view of a session and the profile it holds, with a fresh CDP token.
    pub fn from_session(
        state: &ApiState,
        session: Session,
        profile: Option<tapedeck_core::Profile>,
    ) -> Self {
        let ws = state.public_ws_url();
        let jwt = token::issue(&state.signer, &session, token::CDP_TOKEN_TTL);
        Self {
            cdp_ws_url: format!("{ws}/kernel/browsers/{}/cdp?jwt={jwt}", session.id),
            // Required by the schema; WebDriver is not served by Tapedeck (see README).
            webdriver_ws_url: format!("{ws}/kernel/browsers/{}/webdriver?jwt={jwt}", session.id),
            created_at: session.created_at,
            headless: false,
            stealth: false,
            gpu: false,
            timeout_seconds: session.spec.timeout_seconds,
            memory: "8GiB",
            region: "us-east",
            kiosk_mode: session.spec.kiosk,
            browser_live_view_url: (session.state == SessionState::Running).then(|| {
                live_view::urls(
                    state,
                    &session,
                    LiveAccess::Control,
                    token::CDP_TOKEN_TTL,
                    session.spec.kiosk,
                )
                .url
            }),
            viewport: session.spec.viewport,
            name: session.spec.name,
            start_url: session.spec.start_url,
            tags: session.spec.tags,
            deleted_at: session.deleted_at,
            session_id: session.id,
            profile_save_changes: profile
                .as_ref()
                .and_then(|p| p.in_use.as_ref())
                .map(|used| used.save_changes),
            profile: profile.map(Profile::from),
        }
    }
}

/// The Profile object.
#[derive(Debug, Serialize)]
pub struct Profile {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<OffsetDateTime>,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<tapedeck_core::Profile> for Profile {
    fn from(profile: tapedeck_core::Profile) -> Self {
        Self {
            id: profile.id,
            name: profile.name,
            created_at: profile.created_at,
            updated_at: profile.updated_at,
            last_used_at: profile.last_used_at,
        }
    }
}

/// `ProfileCreateParams` and `ProfileUpdateParams` (where `name` is required).
#[derive(Debug, Default, Deserialize)]
pub struct ProfileName {
    pub name: Option<String>,
}

/// Query of `GET /profiles`.
#[derive(Debug, Default, Deserialize)]
pub struct ListProfiles {
    pub limit: Option<u32>,
    pub offset: Option<u64>,
    pub name: Option<String>,
    pub query: Option<String>,
}

/// Query of `GET /profiles/{id_or_name}/download`.
#[derive(Debug, Default, Deserialize)]
pub struct DownloadProfile {
    pub format: Option<DownloadFormat>,
}

/// `ProfileDownloadParams.format`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub enum DownloadFormat {
    #[serde(rename = "tar.zst")]
    TarZst,
    #[serde(rename = "tar")]
    Tar,
}

impl DownloadFormat {
    /// The engine's format.
    pub fn archive_format(self) -> ArchiveFormat {
        match self {
            Self::TarZst => ArchiveFormat::TarZst,
            Self::Tar => ArchiveFormat::Tar,
        }
    }

    /// The file extension a download in this format gets.
    pub fn extension(self) -> &'static str {
        match self {
            Self::TarZst => "tar.zst",
            Self::Tar => "tar",
        }
    }
}

/// The headers of one page of a list (docs/kernel.md, "Listing pages"): `X-Has-More` always,
/// `X-Next-Offset` when more remain, `X-Limit` and `X-Offset` echoing the query.
pub fn page_headers(has_more: bool, offset: u64, count: u64, limit: u32) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-has-more",
        HeaderValue::from_static(if has_more { "true" } else { "false" }),
    );
    if has_more {
        headers.insert("x-next-offset", HeaderValue::from(offset + count));
    }
    headers.insert("x-limit", HeaderValue::from(limit));
    headers.insert("x-offset", HeaderValue::from(offset));
    headers
}

/// `ReplayStartParams`.
#[derive(Debug, Default, Deserialize)]
pub struct StartReplay {
    pub framerate: Option<u32>,
    pub max_duration_in_seconds: Option<u64>,
    pub record_audio: Option<bool>,
}

/// `BrowserReplay`.
#[derive(Debug, Serialize)]
pub struct Replay {
    pub replay_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_view_url: Option<String>,
}

impl Replay {
    /// The Kernel view of a recording; `replay_view_url` is a presigned link to the MP4 once
    /// it exists.
    pub async fn from_recording(
        state: &ApiState,
        recording: Recording,
    ) -> Result<Self, EngineError> {
        let key = recording
            .is_downloadable()
            .then_some(recording.storage_key.as_deref())
            .flatten()
            .and_then(|key| tapedeck_store::StorageKey::parse(key).ok());
        let replay_view_url = match key {
            Some(key) => Some(state.engine.presigned_url(&key, REPLAY_URL_TTL).await?.0),
            None => None,
        };
        Ok(Self {
            replay_id: recording.id,
            started_at: recording.started_at,
            // Kernel shows a finished time only once the video is final.
            finished_at: if recording.state.in_flight() {
                None
            } else {
                recording.finished_at
            },
            replay_view_url,
        })
    }
}

/// How long a `replay_view_url` stays valid.
const REPLAY_URL_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Query of `GET /browsers`.
#[derive(Debug, Default, Deserialize)]
pub struct ListBrowsers {
    pub limit: Option<u32>,
    pub offset: Option<u64>,
    pub include_deleted: Option<bool>,
    pub status: Option<String>,
}

/// Query of `GET /browsers/{id}` and `DELETE /browsers`.
#[derive(Debug, Default, Deserialize)]
pub struct LookupQuery {
    pub include_deleted: Option<bool>,
    pub persistent_id: Option<String>,
}
