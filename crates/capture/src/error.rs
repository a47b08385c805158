//! Errors of the capture layer.

use thiserror::Error;

/// A display, browser or recorder could not be started or driven.
#[derive(Debug, Error)]
pub enum CaptureError {
    /// A program could not be spawned, usually because it is not installed.
    #[error("could not start {program}: {source} (is it installed? run scripts/install-deps)")]
    Spawn {
        /// The program name.
        program: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A program started but did not become ready in time.
    #[error("{program} did not become ready within {secs} s: {detail}")]
    NotReady {
        /// The program name.
        program: &'static str,
        /// How long we waited.
        secs: u64,
        /// What was observed.
        detail: String,
    },
    /// A program exited while it was needed.
    #[error("{program} exited unexpectedly ({status})")]
    Exited {
        /// The program name.
        program: &'static str,
        /// Its exit status.
        status: String,
    },
    /// A DevTools protocol call failed.
    #[error("CDP: {0}")]
    Cdp(String),
    /// The X11 screen grabber failed (connection, extension, shared memory or grab).
    #[error("screen grab: {0}")]
    Grab(String),
    /// Asking the X server whether the browser's window is mapped failed.
    #[error("browser window wait: {0}")]
    Window(String),
    /// Connecting to a display's X server failed.
    #[error("could not connect to X display :{display}: {detail}")]
    Connect {
        /// The display number.
        display: u32,
        /// What failed.
        detail: String,
    },
    /// File I/O in a spool or profile directory failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}
