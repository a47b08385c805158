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
    /// A short-lived tool did not finish in time and was killed.
    #[error("{program} did not finish within {secs} s and was stopped")]
    TimedOut {
        /// The program name.
        program: &'static str,
        /// How long it had.
        secs: u64,
    },
    /// Connecting to a display's X server failed.
    #[error("could not connect to X display :{display}: {detail}")]
    Connect {
        /// The display number.
        display: u32,
        /// What failed.
        detail: String,
    },
    /// Another X server (of this machine or another Tapedeck) holds the display number.
    #[error("X display :{0} is taken by another X server")]
    DisplayTaken(u32),
    /// The account sessions should run as cannot be used.
    #[error("session user {name:?}: {problem}")]
    SessionUser {
        /// The name that was configured.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The session sandbox (bubblewrap) does not work on this machine.
    #[error(
        "the session sandbox does not work: {0} (scripts/install-deps installs bubblewrap; \
         sessions need unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone, \
         user.max_user_namespaces), and the session user must reach --sandbox-dir)"
    )]
    Sandbox(String),
    /// A browser's user data is over what an archive of it may hold (caches left out).
    #[error("the browser's user data holds {0}, more than a profile may hold (caches left out)")]
    UserDataTooLarge(String),
    /// An archive of user data is not a zstd-compressed tar, or names a path outside its
    /// directory.
    #[error("user-data archive: {0}")]
    Archive(String),
    /// A box refused a file operation (GBOX's `fs`), for the reason given.
    #[error("{message}")]
    BoxFile {
        /// Why, for the status a client gets.
        refusal: crate::box_files::FileRefusal,
        /// What the box said, naming the path.
        message: String,
    },
    /// File I/O in a spool or profile directory failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}
