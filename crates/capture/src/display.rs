//! Xvfb virtual displays, one per session, each in its own sandbox.
//!
//! Xvfb's `/tmp` is private to its box, so its lock file and socket file are invisible outside.
//! Two things stand in for them on the host. The server holds the display's lock file,
//! `/tmp/.XN-lock`, in X's format with its own pid, for as long as the display runs: other X
//! servers, and other Tapedeck servers on the machine, then see the number as taken. And X
//! clients (the grabber, xdotool, ffmpeg, Chromium) connect through the display's abstract
//! socket, `@/tmp/.X11-unix/XN`, which Xvfb also listens on and which belongs to the network
//! namespace the boxes share with the server.

use std::io::Write as _;
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConfigureWindowAux, ConnectionExt as _, MapState};
use x11rb::rust_connection::{DefaultStream, RustConnection};

use crate::process::ProcessGroup;
use crate::sandbox::{Confinement, Sandbox};
use crate::CaptureError;

/// How long Xvfb gets to open its socket.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the window tree is checked while waiting for a window.
const WINDOW_POLL: Duration = Duration::from_millis(10);

/// A running Xvfb server on display `:number`, and the box everything on it runs in.
pub struct Display {
    number: u32,
    width: u32,
    height: u32,
    sandbox: Sandbox,
    process: ProcessGroup,
    _lock: DisplayLock,
}

impl Display {
    /// Takes display `:number`'s lock, starts Xvfb on it in a box of `sandbox` with a 24-bit
    /// screen of `width`x`height`, and waits until it accepts connections.
    pub async fn start(
        sandbox: &Sandbox,
        number: u32,
        width: u32,
        height: u32,
    ) -> Result<Self, CaptureError> {
        let lock = DisplayLock::take(number)?;
        let confinement = Confinement {
            ..Confinement::default()
        };
        let mut cmd = sandbox.command("Xvfb", &confinement);
        cmd.arg(format!(":{number}"))
            .args(["-screen", "0", &format!("{width}x{height}x24")])
            .args(["-nolisten", "tcp", "-noreset", "-nocursor"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut process = ProcessGroup::spawn("Xvfb", &mut cmd)?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = process.try_exited() {
                // Another X server took the number after it was checked (no lock file, as with
                // `-nolock`): ours could not listen, and the caller tries another number.
                if x_socket(number).is_ok() {
                    return Err(CaptureError::DisplayTaken(number));
                }
                return Err(CaptureError::Exited {
                    program: "Xvfb",
                    status: status.to_string(),
                });
            }
            // Ready once *our* Xvfb answers: a foreign server on the same number must never be
            // taken for it (a session would run on someone else's screen).
            if served_by(number, process.pid()) {
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
            sandbox: sandbox.clone(),
            process,
            _lock: lock,
        })
    }

    /// True when a live X server holds display `:number`: a lock file whose process lives, or
    /// anything listening on its abstract socket. A lock left by a dead process does not count.
    pub fn is_taken(number: u32) -> bool {
        let locked = match std::fs::read_to_string(lock_path(number)) {
            Ok(text) => match text.trim().parse::<i32>() {
                Ok(pid) if pid > 0 => crate::process::is_alive(pid),
                _ => true,
            },
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        };
        locked || x_socket(number).is_ok()
    }

    /// The box every program on this display runs in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The X server's process group id, for stopping it without owning it
    /// ([`crate::process::kill_group`]).
    pub fn pgid(&self) -> i32 {
        self.process.pid()
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

    /// Waits until a top-level window is mapped and viewable, up to `timeout`, and makes it fill
    /// the screen; returns whether one did. A browser answers DevTools some 50–150 ms before its
    /// window is mapped, and input sent in between (xdotool's XTEST events) reaches no window
    /// and is lost. Chromium makes a window it is asked to make as large as the screen one
    /// pixel narrower and shorter (so a window manager does not take it for a fullscreen one),
    /// which left a black column and row in every video; with no window manager here, the
    /// window takes whatever size the X server is told.
    pub async fn wait_for_window(&self, timeout: Duration) -> Result<bool, CaptureError> {
        let (number, width, height) = (self.number, self.width, self.height);
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
                        let whole_screen = ConfigureWindowAux::new()
                            .x(0)
                            .y(0)
                            .width(width)
                            .height(height);
                        conn.configure_window(window, &whole_screen)
                            .map_err(|e| x_err(&e))?
                            .check()
                            .map_err(|e| x_err(&e))?;
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

    /// Stops Xvfb (its box goes with it), then gives up the display's lock.
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
/// True when the X server answering on `:number` runs in the session `leader` leads: our
/// Xvfb, below its bwrap (Xvfb makes its own process group, but keeps the session), and not
/// another server on the same number.
fn served_by(number: u32, leader: i32) -> bool {
    let Ok(stream) = x_socket(number) else {
        return false;
    };
    let Ok(peer) = rustix::net::sockopt::socket_peercred(&stream) else {
        return false;
    };
    rustix::process::getsid(Some(peer.pid)).is_ok_and(|sid| sid.as_raw_nonzero().get() == leader)
}

fn x_socket(number: u32) -> std::io::Result<UnixStream> {
    let name = format!("/tmp/.X11-unix/X{number}");
    UnixStream::connect_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)
}

/// Where X keeps display `:number`'s lock file on this machine.
fn lock_path(number: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/.X{number}-lock"))
}

/// The server's hold on a display number: the host's lock file for it, as an X server writes it
/// (its pid in ten columns and a newline), removed when dropped. The server's pid stands for the
/// sandboxed Xvfb's, which dies with the server: after a crash the lock is stale, and X servers
/// and [`Display::is_taken`] both treat it so.
struct DisplayLock {
    path: PathBuf,
}

impl DisplayLock {
    /// Takes the lock, replacing a stale one; fails if a live process holds it.
    fn take(number: u32) -> Result<Self, CaptureError> {
        let path = lock_path(number);
        // Written in full under another name and linked into place, as X servers do, so nobody
        // reads a half-written lock.
        // /tmp is everyone's: a leftover is removed, never written through (create_new follows
        // no link).
        let staged = PathBuf::from(format!("/tmp/.tX{number}-lock-{}", std::process::id()));
        let _ = std::fs::remove_file(&staged);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staged)?;
        file.write_all(format!("{:>10}\n", std::process::id()).as_bytes())?;
        drop(file);
        let mut linked = std::fs::hard_link(&staged, &path);
        if linked
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists)
            && !Display::is_taken(number)
        {
            let _ = std::fs::remove_file(&path);
            linked = std::fs::hard_link(&staged, &path);
        }
        let _ = std::fs::remove_file(&staged);
        match linked {
            Ok(()) => Ok(Self { path }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(CaptureError::DisplayTaken(number))
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for DisplayLock {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(lock = %self.path.display(), error = %e, "display lock not removed");
        }
    }
}
