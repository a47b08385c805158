//! Xvfb virtual displays, one per session.
//!
//! X clients in the server (the grabber, the window wait) connect through the display's
//! abstract socket, `@/tmp/.X11-unix/XN`, which Xvfb listens on beside its socket file and which
//! any process in the same network namespace reaches, whatever its view of `/tmp`.

use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use tokio::process::Command;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, MapState};
use x11rb::rust_connection::{DefaultStream, RustConnection};

use crate::process::ProcessGroup;
use crate::CaptureError;

/// How long Xvfb gets to open its socket.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the window tree is checked while waiting for a window.
const WINDOW_POLL: Duration = Duration::from_millis(10);

/// A running Xvfb server on display `:number`.
pub struct Display {
    number: u32,
    width: u32,
    height: u32,
    process: ProcessGroup,
}

impl Display {
    /// Starts Xvfb on `:number` with a 24-bit screen of `width`x`height` and waits until it
    /// accepts connections.
    pub async fn start(number: u32, width: u32, height: u32) -> Result<Self, CaptureError> {
        let mut cmd = Command::new("Xvfb");
        cmd.arg(format!(":{number}"))
            .args(["-screen", "0", &format!("{width}x{height}x24")])
            .args(["-nolisten", "tcp", "-noreset", "-nocursor"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut process = ProcessGroup::spawn("Xvfb", &mut cmd, Some(Signal::KILL))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = process.try_exited() {
                return Err(CaptureError::Exited {
                    program: "Xvfb",
                    status: status.to_string(),
                });
            }
            if x_socket(number).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err(CaptureError::NotReady {
                    program: "Xvfb",
                    secs: READY_TIMEOUT.as_secs(),
                    detail: format!("nothing listens on @/tmp/.X11-unix/X{number}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        tracing::info!(
            display_number = number,
            width,
            height,
            pid = process.pid(),
            "display ready"
        );
        Ok(Self {
            number,
            width,
            height,
            process,
        })
    }

    /// True when a live X server holds display `:number`: a lock file whose process lives, or
    /// anything listening on its abstract socket. A lock left by a dead server does not count:
    /// Xvfb replaces stale locks itself.
    pub fn is_taken(number: u32) -> bool {
        let lock = PathBuf::from(format!("/tmp/.X{number}-lock"));
        let locked = match std::fs::read_to_string(lock) {
            Ok(text) => match text.trim().parse::<i32>() {
                Ok(pid) if pid > 0 => crate::process::is_alive(pid),
                _ => true,
            },
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        };
        locked || x_socket(number).is_ok()
    }

    /// The display number N of `:N`.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The `DISPLAY` value, `:N`.
    pub fn name(&self) -> String {
        format!(":{}", self.number)
    }

    /// Screen width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Screen height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Waits until a top-level window is mapped and viewable, up to `timeout`; returns whether
    /// one is. A browser answers DevTools some 50–150 ms before its window is mapped, and input
    /// sent in between (xdotool's XTEST events) reaches no window and is lost.
    pub async fn wait_for_window(&self, timeout: Duration) -> Result<bool, CaptureError> {
        let number = self.number;
        tokio::task::spawn_blocking(move || {
            let name = format!(":{number}");
            let x_err =
                |e: &dyn std::fmt::Display| CaptureError::Window(format!("X on {name}: {e}"));
            let conn = connect(number)?;
            let screen = 0;
            let root = conn.setup().roots[screen].root;
            let deadline = Instant::now() + timeout;
            loop {
                let children = conn
                    .query_tree(root)
                    .map_err(|e| x_err(&e))?
                    .reply()
                    .map_err(|e| x_err(&e))?
                    .children;
                for window in children {
                    // A window can vanish between the listing and this question; skip it.
                    let Ok(Ok(attributes)) = conn.get_window_attributes(window).map(|c| c.reply())
                    else {
                        continue;
                    };
                    if attributes.map_state == MapState::VIEWABLE && !attributes.override_redirect {
                        return Ok(true);
                    }
                }
                if Instant::now() >= deadline {
                    return Ok(false);
                }
                std::thread::sleep(WINDOW_POLL);
            }
        })
        .await
        .map_err(|e| CaptureError::Window(e.to_string()))?
    }

    /// Stops Xvfb; its lock and socket go with it.
    pub async fn stop(mut self) {
        self.process
            .terminate(Signal::TERM, Duration::from_secs(2))
            .await;
    }
}

/// Connects to display `:number` through its abstract socket. Xvfb runs without `-auth`, so no
/// authorization is sent.
pub(crate) fn connect(number: u32) -> Result<RustConnection, CaptureError> {
    let failed = |detail: String| CaptureError::Connect {
        display: number,
        detail,
    };
    let stream = x_socket(number).map_err(|e| failed(e.to_string()))?;
    let (stream, _) = DefaultStream::from_unix_stream(stream).map_err(|e| failed(e.to_string()))?;
    RustConnection::connect_to_stream(stream, 0).map_err(|e| failed(e.to_string()))
}

/// A stream connected to display `:number`'s abstract socket, `@/tmp/.X11-unix/XN`.
fn x_socket(number: u32) -> std::io::Result<UnixStream> {
    let name = format!("/tmp/.X11-unix/X{number}");
    UnixStream::connect_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)
}
