//! Headful Debian Chromium on a display, with its DevTools port on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::Signal;
use tokio::process::Command;

use crate::process::ProcessGroup;
use crate::{CaptureError, Display};

/// How long Chromium gets to open its DevTools port.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long Chromium gets, after DevTools answers, to map its window.
const WINDOW_TIMEOUT: Duration = Duration::from_secs(5);

/// How to launch a browser.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// The Chromium binary.
    pub binary: PathBuf,
    /// A fresh, empty profile directory; removed when the browser stops.
    pub profile_dir: PathBuf,
    /// The first page; `about:blank` when `None` (Playwright's `setContent` fails on the NTP).
    pub start_url: Option<String>,
    /// Hide the toolbar (`--kiosk`).
    pub kiosk: bool,
    /// Extra environment variables for the browser process.
    pub envs: std::collections::BTreeMap<String, String>,
    /// Extra flags, appended last.
    pub extra_args: Vec<String>,
}

/// A running Chromium and the address of its DevTools endpoint.
pub struct Browser {
    process: ProcessGroup,
    devtools: SocketAddr,
    browser_ws_path: String,
    profile_dir: PathBuf,
}

/// The browser runs a little below the recorder's priority: when the machine is saturated,
/// the page renders a little slower rather than the video losing frames it already drew
/// (capacity benchmark: 4 busy sessions at 25 fps on 2 cores). An idle machine is unaffected.
const BROWSER_NICENESS: i32 = 5;

impl Browser {
    /// Launches Chromium on `display` and waits for its DevTools endpoint.
    pub async fn launch(display: &Display, options: &BrowserOptions) -> Result<Self, CaptureError> {
        std::fs::create_dir_all(&options.profile_dir)?;
        let mut cmd = Command::new(&options.binary);
        cmd.envs(&options.envs)
            .env("DISPLAY", display.name())
            .args([
                "--no-sandbox",
                "--test-type", // no "unsupported flag" infobar over the page
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--disable-features=Translate,MediaRouter,OptimizationHints",
                "--password-store=basic",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-position=0,0",
            ])
            .arg(format!(
                "--window-size={},{}",
                display.width(),
                display.height()
            ))
            .arg(format!("--user-data-dir={}", options.profile_dir.display()));
        if options.kiosk {
            cmd.arg("--kiosk");
        }
        cmd.args(&options.extra_args)
            .arg(options.start_url.as_deref().unwrap_or("about:blank"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: the closure runs between fork and exec, where only async-signal-safe calls
        // are allowed; it makes one raw setpriority-style syscall on the calling (child) process.
        unsafe {
            cmd.pre_exec(|| {
                // A refusal only leaves the default niceness.
                let _ = rustix::process::nice(BROWSER_NICENESS);
                Ok(())
            });
        }
        let mut process = ProcessGroup::spawn("chromium", &mut cmd, Some(Signal::KILL))?;
        let (port, browser_ws_path) = wait_for_devtools(&mut process, &options.profile_dir).await?;
        let display_number = display.number();
        // The session is handed out only once its window can take input.
        if !display.wait_for_window(WINDOW_TIMEOUT).await? {
            tracing::warn!(
                display_number,
                secs = WINDOW_TIMEOUT.as_secs(),
                "chromium's window is not mapped yet; input may be lost until it is"
            );
        }
        tracing::info!(display_number, pid = process.pid(), port, "chromium ready");
        Ok(Self {
            process,
            devtools: SocketAddr::from(([127, 0, 0, 1], port)),
            browser_ws_path,
            profile_dir: options.profile_dir.clone(),
        })
    }

    /// The loopback address of the DevTools HTTP/WebSocket server.
    pub fn devtools_addr(&self) -> SocketAddr {
        self.devtools
    }

    /// The path of the browser-level CDP WebSocket, `/devtools/browser/<uuid>`.
    pub fn browser_ws_path(&self) -> &str {
        &self.browser_ws_path
    }

    /// True while the main process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.try_exited().is_none()
    }

    /// Stops Chromium and all its helper processes, then removes the profile.
    pub async fn stop(mut self) {
        self.process
            .terminate(Signal::TERM, Duration::from_secs(3))
            .await;
        if let Err(e) = tokio::fs::remove_dir_all(&self.profile_dir).await {
            tracing::warn!(dir = %self.profile_dir.display(), error = %e, "could not remove profile");
        }
    }
}

/// Reads `DevToolsActivePort` (port, then browser path) once Chromium writes it.
async fn wait_for_devtools(
    process: &mut ProcessGroup,
    profile: &Path,
) -> Result<(u16, String), CaptureError> {
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = process.try_exited() {
            return Err(CaptureError::Exited {
                program: "chromium",
                status: status.to_string(),
            });
        }
        if let Ok(text) = tokio::fs::read_to_string(&file).await {
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                if let Ok(port) = port.trim().parse::<u16>() {
                    return Ok((port, path.trim().to_owned()));
                }
            }
        }
        if Instant::now() > deadline {
            return Err(CaptureError::NotReady {
                program: "chromium",
                secs: READY_TIMEOUT.as_secs(),
                detail: format!("no {}", file.display()),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
