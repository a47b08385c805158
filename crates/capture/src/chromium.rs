//! Headful Debian Chromium on a display, with its DevTools port on loopback, in a sandbox with
//! its own sandbox on.
//!
//! The box sees the session's own directory (its `HOME`, with the profile in `profile/`) and the
//! read-only system. Chromium builds its usual sandbox inside (a user and PID namespace per
//! renderer, and seccomp-bpf), so it runs without `--no-sandbox`. A managed policy blocks `file:`
//! URLs however they are reached: start page, address bar, link or CDP.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::cdp::CdpClient;
use crate::process::ProcessGroup;
use crate::sandbox::{Confinement, Mount};
use crate::{CaptureError, Display};

/// How long Chromium gets to open its DevTools port.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long Chromium gets, after DevTools answers, to map its window.
const WINDOW_TIMEOUT: Duration = Duration::from_secs(5);
/// How long Chromium gets to close by itself, writing its user data out, when asked to.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Where Debian's Chromium reads its initial preferences and policies.
const CHROMIUM_ETC: &str = "/etc/chromium";
/// The managed policy of every session's browser: no `file:` URLs, and none of the browser's
/// own calls home (sign-in, component and extension updates, network time, safe browsing,
/// metrics, spelling dictionaries, search suggestions), so a recording through the proxy holds
/// only what the page did. Two calls no policy or flag stops are kept out by
/// [`through_proxy_args`].
const POLICY: &str = r#"{
  "URLBlocklist": ["file://*"],
  "BrowserSignin": 0,
  "SyncDisabled": true,
  "ComponentUpdatesEnabled": false,
  "BrowserNetworkTimeQueriesEnabled": false,
  "SafeBrowsingProtectionLevel": 0,
  "MetricsReportingEnabled": false,
  "UrlKeyedAnonymizedDataCollectionEnabled": false,
  "DomainReliabilityAllowed": false,
  "SpellcheckEnabled": false,
  "SearchSuggestEnabled": false,
  "NetworkPredictionOptions": 2,
  "TranslateEnabled": false,
  "BackgroundModeEnabled": false,
  "ExtensionInstallBlocklist": ["*"]
}"#;
/// The policy's file name, in the session's directory and among the box's managed policies.
const POLICY_FILE: &str = "tapedeck-policy.json";

/// Hosts Chromium calls by itself, with no page asking: account listing
/// (`IdentityManager` lists the cookie jar's Google accounts once the network is up, with no
/// switch or policy to stop it), component and extension updates, and network time.
const SERVICE_HOSTS: [&str; 3] = [
    "accounts.google.com",
    "update.googleapis.com",
    "clients2.google.com",
];

/// The flags that send a browser's traffic through the recording proxy at `proxy`
/// (`host:port`), trusting the proxy's CA by its SPKI SHA-256 (base64), loopback included.
/// The browser's own calls home ([`SERVICE_HOSTS`]) bypass the proxy and resolve nowhere, so
/// they never reach the proxy nor leave the box; a page of those hosts cannot load either.
pub fn through_proxy_args(proxy: &str, ca_spki_sha256: &str) -> Vec<String> {
    let bypass = SERVICE_HOSTS.join(";");
    let nowhere: Vec<String> = SERVICE_HOSTS
        .iter()
        .map(|host| format!("MAP {host} ~NOTFOUND"))
        .collect();
    vec![
        format!("--proxy-server=http://{proxy}"),
        // `<-loopback>`: without it Chromium never proxies loopback addresses.
        format!("--proxy-bypass-list=<-loopback>;{bypass}"),
        // Only bypassed hosts resolve in the browser; everything else is the proxy's to resolve.
        format!("--host-resolver-rules={}", nowhere.join(", ")),
        format!("--ignore-certificate-errors-spki-list={ca_spki_sha256}"),
    ]
}

/// How to launch a browser.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// The Chromium binary.
    pub binary: PathBuf,
    /// The session's own directory, prepared with `Sandbox::prepare_dir`: the browser's `HOME`
    /// and the only host directory its box sees; the profile is `profile/` inside.
    pub home: PathBuf,
    /// The first page; `about:blank` when `None` (Playwright's `setContent` fails on the NTP).
    pub start_url: Option<String>,
    /// Hide the toolbar (`--kiosk`).
    pub kiosk: bool,
    /// Extra environment variables for the browser process.
    pub envs: std::collections::BTreeMap<String, String>,
    /// Extra flags, appended last.
    pub extra_args: Vec<String>,
}

/// The user-data dir (`--user-data-dir`) of the browser whose home is `home`.
pub fn user_data_dir(home: &Path) -> PathBuf {
    home.join("profile")
}

/// A running Chromium and the address of its DevTools endpoint.
pub struct Browser {
    process: ProcessGroup,
    devtools: SocketAddr,
    browser_ws_path: String,
}

/// The browser runs a little below the recorder's priority: when the machine is saturated,
/// the page renders a little slower rather than the video losing frames it already drew
/// (capacity benchmark: 4 busy sessions at 25 fps on 2 cores). An idle machine is unaffected.
const BROWSER_NICENESS: i32 = 5;

/// Waits, up to [`WINDOW_TIMEOUT`], until the front page has drawn two frames at the window's
/// full size: its window is as large as the screen, and what the screen shows is the page.
async fn wait_for_painted_window(
    devtools: SocketAddr,
    browser_ws_path: &str,
    display: &Display,
) -> Result<(), CaptureError> {
    // Two animation frames: the first is the frame being made, the second comes after it was
    // presented.
    const PAINTED: &str = "new Promise((painted) => requestAnimationFrame(() => \
        requestAnimationFrame(() => painted([outerWidth, outerHeight]))))";
    let screen = serde_json::json!([display.width(), display.height()]);
    let mut cdp = CdpClient::connect(devtools, browser_ws_path).await?;
    let Some(tab) = crate::tabs::front(&mut cdp).await? else {
        return Ok(());
    };
    let deadline = Instant::now() + WINDOW_TIMEOUT;
    loop {
        let answer = cdp
            .call(
                "Runtime.evaluate",
                serde_json::json!({"expression": PAINTED, "awaitPromise": true, "returnByValue": true}),
                Some(&tab.session),
            )
            .await?;
        if answer["result"]["value"] == screen || Instant::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Browser {
    /// Launches Chromium on `display`, in the display's sandbox, and waits for its DevTools
    /// endpoint.
    pub async fn launch(display: &Display, options: &BrowserOptions) -> Result<Self, CaptureError> {
        let profile_dir = user_data_dir(&options.home);
        let policy = options.home.join(POLICY_FILE);
        // Written by the server into the fresh directory: when the server is root, the session
        // user can replace the directory entry but not this file's content, which is what the
        // box mounts.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&policy)?
            .write_all(POLICY.as_bytes())?;
        let mut mounts = vec![Mount::Writable(options.home.clone())];
        mounts.extend(policy_mounts(Path::new(CHROMIUM_ETC), &policy)?);
        let confinement = Confinement {
            mounts,
            home: Some(options.home.clone()),
            display: Some(display.name()),
            envs: options.envs.clone(),
            user_namespaces: true,
        };
        let mut cmd = display.sandbox().command(&options.binary, &confinement);
        cmd.args([
            "--test-type", // no "unsupported flag" infobar over the page
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--disable-default-apps",
            "--no-pings",
            "--disable-dev-shm-usage",
            // The last three only save memory, about 50 MiB a session (BENCHMARKS.md,
            // "Sessions per machine"), and no page can tell: the address bar's suggestion
            // popups are drawn natively instead of by a WebUI renderer kept loaded, and no
            // spare renderer waits for a next site (one starts when a navigation needs it).
            "--disable-features=Translate,MediaRouter,OptimizationHints,\
             NetworkTimeServiceQuerying,AutofillServerCommunication,\
             CertificateTransparencyComponentUpdater,WebUIOmniboxPopup,WebUIOmniboxAimPopup,\
             SpareRendererForSitePerProcess",
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
        .arg(format!("--user-data-dir={}", profile_dir.display()));
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
        let mut process = ProcessGroup::spawn("chromium", &mut cmd)?;
        let (port, browser_ws_path) = wait_for_devtools(&mut process, &profile_dir).await?;
        let display_number = display.number();
        // The session is handed out only once its window can take input.
        if !display.wait_for_window(WINDOW_TIMEOUT).await? {
            tracing::warn!(
                display_number,
                secs = WINDOW_TIMEOUT.as_secs(),
                "chromium's window is not mapped yet; input may be lost until it is"
            );
        }
        let devtools = SocketAddr::from(([127, 0, 0, 1], port));
        // A recording started as soon as the session is handed out would otherwise open on
        // the grey of a window not painted yet.
        if let Err(e) = wait_for_painted_window(devtools, &browser_ws_path, display).await {
            tracing::warn!(display_number, error = %e, "chromium's first frame was not confirmed");
        }
        tracing::info!(display_number, pid = process.pid(), port, "chromium ready");
        Ok(Self {
            process,
            devtools,
            browser_ws_path,
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

    /// Asks Chromium to close (CDP `Browser.close`), as a user closing its last window would,
    /// and waits up to [`CLOSE_TIMEOUT`] for it to exit. Chromium writes out what it holds in
    /// memory (cookies, local storage) only when it closes this way: on a signal its sandbox
    /// takes it down at once. Call before reading its user data; [`Browser::stop`] follows.
    ///
    /// Errors: [`CaptureError::TimedOut`] when it is still running, CDP failures.
    pub async fn close(&mut self) -> Result<(), CaptureError> {
        let mut cdp = CdpClient::connect(self.devtools, &self.browser_ws_path).await?;
        // Chromium may close the connection before it answers: the exit is what counts.
        if let Err(e) = cdp.call("Browser.close", serde_json::json!({}), None).await {
            tracing::debug!(error = %e, "Browser.close had no answer");
        }
        match tokio::time::timeout(CLOSE_TIMEOUT, self.process.wait()).await {
            Ok(exited) => exited.map(drop).map_err(CaptureError::from),
            Err(_) => Err(CaptureError::TimedOut {
                program: "chromium",
                secs: CLOSE_TIMEOUT.as_secs(),
            }),
        }
    }

    /// Stops Chromium and all its helper processes. Its user data stays on disk, for its owner
    /// to save or remove.
    pub async fn stop(mut self) {
        self.process
            .terminate(Signal::TERM, Duration::from_secs(3))
            .await;
    }
}

/// The mounts that give the box the host's `/etc/chromium` (initial preferences, and any
/// policies the machine's administrator set) with `policy` added to its managed policies: an
/// empty directory over it, then the host's entries one by one, then ours.
fn policy_mounts(etc: &Path, policy: &Path) -> Result<Vec<Mount>, CaptureError> {
    if !etc.is_dir() {
        return Err(CaptureError::Sandbox(format!(
            "{} is missing (Debian's chromium package creates it); without it the browser \
             cannot be kept from file: URLs",
            etc.display()
        )));
    }
    let same = |path: PathBuf| Mount::ReadOnly {
        host: path.clone(),
        at: path,
    };
    let mut mounts = vec![Mount::Empty(etc.to_owned())];
    for entry in std::fs::read_dir(etc)? {
        let entry = entry?;
        if entry.file_name() != "policies" {
            mounts.push(same(entry.path()));
        }
    }
    for kind in ["managed", "recommended"] {
        // Absent on most machines.
        let Ok(entries) = std::fs::read_dir(etc.join("policies").join(kind)) else {
            continue;
        };
        for entry in entries {
            mounts.push(same(entry?.path()));
        }
    }
    mounts.push(Mount::ReadOnly {
        host: policy.to_owned(),
        at: etc.join("policies/managed").join(POLICY_FILE),
    });
    Ok(mounts)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_keeps_the_hosts_chromium_config_and_adds_the_url_policy() {
        let etc = std::env::temp_dir().join(format!("tapedeck-etc-{}", std::process::id()));
        std::fs::create_dir_all(etc.join("policies/managed")).unwrap();
        std::fs::write(etc.join("master_preferences"), "{}").unwrap();
        std::fs::write(etc.join("policies/managed/admin.json"), "{}").unwrap();
        let policy = Path::new("/sessions/s1/tapedeck-policy.json");
        let mounts = policy_mounts(&etc, policy).unwrap();
        let read_only = |path: PathBuf| Mount::ReadOnly {
            host: path.clone(),
            at: path,
        };
        let expected = vec![
            Mount::Empty(etc.clone()),
            read_only(etc.join("master_preferences")),
            read_only(etc.join("policies/managed/admin.json")),
            Mount::ReadOnly {
                host: policy.to_owned(),
                at: etc.join("policies/managed/tapedeck-policy.json"),
            },
        ];
        std::fs::remove_dir_all(&etc).unwrap();
        assert_eq!(mounts, expected);
        assert!(matches!(
            policy_mounts(&etc, policy),
            Err(CaptureError::Sandbox(_))
        ));
    }

    #[test]
    fn through_the_proxy_the_service_hosts_bypass_it_and_resolve_nowhere() {
        let args = through_proxy_args("127.0.0.1:8081", "c3BraQ==");
        assert_eq!(args[0], "--proxy-server=http://127.0.0.1:8081");
        assert!(args[1].starts_with("--proxy-bypass-list=<-loopback>;accounts.google.com;"));
        assert!(args[2].contains("MAP update.googleapis.com ~NOTFOUND, MAP clients2.google.com"));
        assert_eq!(args[3], "--ignore-certificate-errors-spki-list=c3BraQ==");
    }

    #[test]
    fn the_policy_blocks_file_urls_and_sign_in() {
        let policy: serde_json::Value = serde_json::from_str(POLICY).unwrap();
        assert_eq!(policy["URLBlocklist"], serde_json::json!(["file://*"]));
        assert_eq!(policy["BrowserSignin"], 0);
    }
}
