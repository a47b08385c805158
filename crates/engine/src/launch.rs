//! Starting and stopping a session's processes: its Xvfb display and the Chromium on it. The
//! one path every session takes, pooled or created on demand.

use std::path::Path;

use bytes::Bytes;
use tapedeck_capture::{Browser, BrowserOptions, CaptureError, Display};
use tapedeck_core::{EngineError, Viewport};
use tokio::sync::OwnedSemaphorePermit;

use crate::config::EngineConfig;
use crate::displays::DisplayLease;
use crate::endpoints::EndpointClaim;
use crate::profiles::HeldProfile;
use crate::Engine;

/// Display numbers tried again when another X server took the one leased.
const DISPLAY_ATTEMPTS: u32 = 3;

/// What a session's browser starts with besides the machine-wide settings.
#[derive(Debug, Default)]
pub(crate) struct LaunchOptions {
    pub(crate) start_url: Option<String>,
    pub(crate) kiosk: bool,
    pub(crate) envs: std::collections::BTreeMap<String, String>,
    /// A profile's saved user data, unpacked into the browser's user-data dir before it starts.
    pub(crate) user_data: Option<(HeldProfile, Bytes)>,
}

/// A started session's processes, with the display number and capacity slot it holds: a
/// pooled session waiting for a create, or one a create just started.
pub(crate) struct StartedSession {
    pub(crate) id: String,
    pub(crate) display: Display,
    pub(crate) browser: Browser,
    pub(crate) lease: DisplayLease,
    pub(crate) slot: OwnedSemaphorePermit,
    /// Lists the browser's DevTools endpoint for the proxy to refuse, until the session ends.
    pub(crate) devtools_claim: EndpointClaim,
}

impl StartedSession {
    /// Stops the browser and display and removes the session's directory.
    pub(crate) async fn stop(self, config: &EngineConfig) {
        let dir = config.session_dir(&self.id);
        stop_session_processes(Some(self.browser), Some(self.display), &dir).await;
    }
}

/// Stops a session's browser, then its display, then removes its directory (profile and
/// downloads); whichever of the processes is still held.
pub(crate) async fn stop_session_processes(
    browser: Option<Browser>,
    display: Option<Display>,
    session_dir: &Path,
) {
    stop_processes(browser, display).await;
    remove_session_dir(session_dir).await;
}

/// Stops a session's browser, then its display; whichever is still held.
pub(crate) async fn stop_processes(browser: Option<Browser>, display: Option<Display>) {
    if let Some(browser) = browser {
        browser.stop().await;
    }
    if let Some(display) = display {
        display.stop().await;
    }
}

/// Removes a session's directory: its browser's home, user data and downloads.
pub(crate) async fn remove_session_dir(session_dir: &Path) {
    if let Err(e) = tokio::fs::remove_dir_all(session_dir).await {
        tracing::debug!(dir = %session_dir.display(), error = %e, "session dir not removed");
    }
}

impl Engine {
    /// Leases a display number for the new session `id`, starts Xvfb on it and Chromium on
    /// that (with the profile's user data in place first, when given); the session holds
    /// `slot` for as long as it lives.
    pub(crate) async fn launch(
        &self,
        id: String,
        slot: OwnedSemaphorePermit,
        viewport: Viewport,
        options: LaunchOptions,
    ) -> Result<StartedSession, EngineError> {
        let config = &self.inner.config;
        let home = config.session_dir(&id);
        config
            .sandbox
            .prepare_dir(&home)
            .map_err(EngineError::internal)?;
        if let Some((held, archive)) = options.user_data {
            if let Err(e) = self.restore_user_data(&held, archive, &home).await {
                remove_session_dir(&home).await;
                return Err(e);
            }
        }
        let mut attempts = 0;
        let (lease, display) = loop {
            let lease =
                self.inner.displays.lease().ok_or_else(|| {
                    EngineError::CapacityExhausted("no free X display number".into())
                })?;
            let started = Display::start(
                &config.sandbox,
                lease.number(),
                viewport.width,
                viewport.height,
            )
            .await;
            match started {
                Ok(display) => break (lease, display),
                // Another X server took the number meanwhile; the next lease skips it.
                Err(CaptureError::DisplayTaken(number)) if attempts < DISPLAY_ATTEMPTS => {
                    tracing::warn!(
                        display_number = number,
                        "display taken by another X server; trying the next"
                    );
                    attempts += 1;
                }
                Err(e) => {
                    stop_session_processes(None, None, &home).await;
                    return Err(EngineError::internal(e));
                }
            }
        };
        let options = BrowserOptions {
            binary: config.chromium.clone(),
            home,
            start_url: options.start_url,
            kiosk: options.kiosk,
            envs: options.envs,
            extra_args: config.browser_extra_args.clone(),
        };
        match Browser::launch(&display, &options).await {
            Ok(browser) => Ok(StartedSession {
                devtools_claim: self.inner.own_endpoints.claim(browser.devtools_addr()),
                id,
                display,
                browser,
                lease,
                slot,
            }),
            Err(e) => {
                stop_session_processes(None, Some(display), &options.home).await;
                Err(EngineError::internal(e))
            }
        }
    }
}
