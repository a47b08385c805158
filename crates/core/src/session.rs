//! Display sessions: one Xvfb display with one headful Chromium on it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Screen size of a session's display, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewport {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Viewport {
    /// Smallest width or height a display accepts.
    pub const MIN: u32 = 200;
    /// Largest width or height a display accepts.
    pub const MAX: u32 = 3840;

    /// Checks the bounds, so that Xvfb and the encoder are never asked for a size they refuse.
    pub fn validate(&self) -> Result<(), crate::EngineError> {
        let ok = |v: u32| (Self::MIN..=Self::MAX).contains(&v);
        if ok(self.width) && ok(self.height) {
            Ok(())
        } else {
            Err(crate::EngineError::InvalidInput(format!(
                "viewport {}x{} is out of range: width and height must be {}..={}",
                self.width,
                self.height,
                Self::MIN,
                Self::MAX
            )))
        }
    }
}

impl Default for Viewport {
    fn default() -> Self {
        Self {
            width: 1920,
            height: 1080,
        }
    }
}

/// What a session is to the client that made it; each dialect lists its own kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A browser driven over CDP (Kernel, native).
    #[default]
    Browser,
    /// A Linux desktop with a browser on it, driven by UI actions (GBOX).
    LinuxBox,
}

impl SessionKind {
    /// The name stored in metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::LinuxBox => "linux_box",
        }
    }
}

/// What a client asks for when it creates a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSpec {
    /// What kind of session this is.
    #[serde(default)]
    pub kind: SessionKind,
    /// Optional unique name, usable instead of the id.
    pub name: Option<String>,
    /// Display and window size.
    pub viewport: Viewport,
    /// The page opened at start; `about:blank` when absent.
    pub start_url: Option<String>,
    /// Seconds without a CDP connection or recording after which the session ends.
    pub timeout_seconds: u32,
    /// Chromium without its toolbar (`--kiosk`).
    pub kiosk: bool,
    /// Free-form labels, kept and returned as given.
    pub tags: serde_json::Map<String, serde_json::Value>,
    /// Environment variables of the session's desktop processes.
    #[serde(default)]
    pub envs: std::collections::BTreeMap<String, String>,
    /// Seconds after creation at which the session ends, whatever its activity.
    #[serde(default)]
    pub lifetime_secs: Option<u64>,
}

/// Lifecycle of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Its display and browser are running.
    Running,
    /// It was deleted, expired or lost with a server restart; its recordings remain.
    Deleted,
}

impl SessionState {
    /// The name stored in metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Deleted => "deleted",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(Self::Running),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }
}

/// A session as stored in metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Unique id.
    pub id: String,
    /// The project of the API key that created it; only that project's keys see it.
    pub project: String,
    /// What the client asked for.
    pub spec: SessionSpec,
    /// Current lifecycle state.
    pub state: SessionState,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it ended, if it has.
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    /// Why it ended when no client ended it: `node_lost` when the node running it was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// The fleet node that runs it (`--node-id`); `None` for a row written before nodes owned
    /// rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl Session {
    /// When the session ends by itself, if it has a lifetime.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        let secs = i64::try_from(self.spec.lifetime_secs?).ok()?;
        Some(self.created_at + time::Duration::seconds(secs))
    }
}

impl SessionSpec {
    /// A browser session of `viewport` ending after `timeout_seconds` idle, with no name,
    /// page, labels, environment or fixed lifetime; dialects fill in what their request says.
    pub fn browser(viewport: Viewport, timeout_seconds: u32) -> Self {
        Self {
            kind: SessionKind::Browser,
            name: None,
            viewport,
            start_url: None,
            timeout_seconds,
            kiosk: false,
            tags: Default::default(),
            envs: Default::default(),
            lifetime_secs: None,
        }
    }

    /// Allowed inactivity timeouts in seconds (Kernel's documented range).
    pub const TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 10..=259_200;
    /// Longest accepted name.
    pub const MAX_NAME_LEN: usize = 255;

    /// Checks every field, so a bad request fails before any process starts.
    pub fn validate(&self) -> Result<(), crate::EngineError> {
        use crate::EngineError::InvalidInput;
        self.viewport.validate()?;
        if !Self::TIMEOUT_RANGE.contains(&self.timeout_seconds) {
            return Err(InvalidInput(format!(
                "timeout_seconds must be in {}..={}, got {}",
                Self::TIMEOUT_RANGE.start(),
                Self::TIMEOUT_RANGE.end(),
                self.timeout_seconds
            )));
        }
        if let Some(name) = &self.name {
            if name.is_empty() || name.len() > Self::MAX_NAME_LEN {
                return Err(InvalidInput(format!(
                    "name must be 1..={} characters",
                    Self::MAX_NAME_LEN
                )));
            }
        }
        crate::environment::check(&self.envs)?;
        if let Some(url) = &self.start_url {
            if !is_allowed_page_url(url) {
                return Err(InvalidInput(format!(
                    "start_url must be an http or https URL, about:blank or a data: URL, got {url:?}"
                )));
            }
        }
        Ok(())
    }
}

/// True for a page a session may show, at its start or in a new tab: http(s), `about:blank` and
/// `data:` URLs, pages from the network or carried in the URL. Local
/// files (`file:`), the browser's own pages (`chrome:`) and `javascript:` are refused, and so is
/// anything starting with `-`, which Chromium would read as a flag.
pub fn is_allowed_page_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => rest.starts_with("//") && rest.len() > 2,
        "about" => rest.eq_ignore_ascii_case("blank"),
        "data" => true,
        _ => false,
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`, so an entry can never smuggle `=` or a NUL into a process's env.
#[cfg(test)]
mod tests {
    use super::{is_allowed_page_url, SessionSpec, Viewport};
    use crate::EngineError;

    fn spec() -> SessionSpec {
        SessionSpec::browser(Viewport::default(), 60)
    }

    #[test]
    fn web_blank_and_data_start_urls_are_accepted() {
        for url in [
            "http://example.com/",
            "https://example.com/a?b#c",
            "HTTPS://EXAMPLE.COM",
            "about:blank",
            "data:text/html,<h1>hi</h1>",
        ] {
            assert!(is_allowed_page_url(url), "{url}");
        }
    }

    #[test]
    fn local_browser_and_script_start_urls_are_refused() {
        for url in [
            "file:///etc/passwd",
            "FILE:///etc/passwd",
            "chrome://settings",
            "javascript:alert(1)",
            "about:version",
            "view-source:http://example.com",
            "--remote-debugging-port=9222",
            "http:",
            "example.com",
            " file:///etc/passwd",
        ] {
            assert!(!is_allowed_page_url(url), "{url}");
        }
    }

    #[test]
    fn a_refused_start_url_or_env_is_invalid_input() {
        let file = SessionSpec {
            start_url: Some("file:///etc/passwd".into()),
            ..spec()
        };
        assert!(matches!(file.validate(), Err(EngineError::InvalidInput(_))));
        let preload = SessionSpec {
            envs: [("LD_PRELOAD".to_owned(), "x".to_owned())].into(),
            ..spec()
        };
        let Err(EngineError::InvalidInput(message)) = preload.validate() else {
            panic!("LD_PRELOAD accepted");
        };
        assert!(message.contains("LD_PRELOAD"), "{message}");
        let tz = SessionSpec {
            envs: [("TZ".to_owned(), "UTC".to_owned())].into(),
            ..spec()
        };
        assert_eq!(tz.validate(), Ok(()));
    }
}
