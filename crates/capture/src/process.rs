//! Child processes that live in their own process group and die with the server.

use std::os::fd::AsRawFd;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::CaptureError;

/// A running child that leads its own process group (so its helpers are signalled with it).
pub struct ProcessGroup {
    program: &'static str,
    child: Child,
    pid: i32,
    reaped: bool,
}

impl ProcessGroup {
    /// Spawns `cmd` as the leader of a new process group.
    ///
    /// `death_signal` is delivered to the child when the server dies, even by SIGKILL (SIGKILL for
    /// displays and browsers). `None` leaves the child running: ffmpeg stops by itself when its
    /// input pipe closes with the server, and a signal would abort it mid-segment.
    /// The parent-death signal fires when the spawning *thread* exits, so this must be called
    /// from a runtime worker thread, never from a `spawn_blocking` thread that may be retired.
    pub fn spawn(
        program: &'static str,
        cmd: &mut Command,
        death_signal: Option<i32>,
    ) -> Result<Self, CaptureError> {
        cmd.process_group(0);
        if let Some(signal) = death_signal {
            // SAFETY: prctl is async-signal-safe and touches only the calling (child) process.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd
            .spawn()
            .map_err(|source| CaptureError::Spawn { program, source })?;
        let pid = child.id().map(|p| p as i32).unwrap_or_default();
        tracing::debug!(program, pid, "spawned");
        Ok(Self {
            program,
            child,
            pid,
            reaped: false,
        })
    }

    /// The child's pid, which is also its process group id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The child's piped stdin as a blocking file (for a writer thread), once.
    pub fn take_stdin(&mut self) -> Option<std::fs::File> {
        let fd = self.child.stdin.take()?.into_owned_fd().ok()?;
        // tokio made the pipe non-blocking for its reactor; a plain thread wants it blocking.
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
        Some(std::fs::File::from(fd))
    }

    /// The program's short name, for logs.
    pub fn program(&self) -> &'static str {
        self.program
    }

    /// Sends `signal` to the child alone.
    pub fn signal(&self, signal: i32) {
        if !self.reaped && self.pid > 0 {
            // SAFETY: plain syscall on a pid we own and have not reaped.
            unsafe { libc::kill(self.pid, signal) };
        }
    }

    /// The exit status if the child has exited, without waiting.
    pub fn try_exited(&mut self) -> Option<ExitStatus> {
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.reaped = true;
                Some(status)
            }
            _ => None,
        }
    }

    /// Waits for the child to exit.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait().await?;
        self.reaped = true;
        Ok(status)
    }

    /// Stops the child in phases: `first` signal and wait `grace`, then SIGTERM for 2 s, then
    /// SIGKILL. Helpers in the group get SIGKILL at the end whatever happened.
    pub async fn terminate(&mut self, first: i32, grace: Duration) -> Option<ExitStatus> {
        let mut status = None;
        for (signal, wait) in [
            (first, grace),
            (libc::SIGTERM, Duration::from_secs(2)),
            (libc::SIGKILL, Duration::from_secs(5)),
        ] {
            if let Some(done) = self.try_exited() {
                status = Some(done);
                break;
            }
            self.signal(signal);
            if let Ok(Ok(done)) = tokio::time::timeout(wait, self.child.wait()).await {
                self.reaped = true;
                status = Some(done);
                break;
            }
            tracing::warn!(
                program = self.program,
                pid = self.pid,
                signal,
                "did not exit in time; escalating"
            );
        }
        self.kill_group_now();
        status
    }

    /// SIGKILLs the whole group; the leader's own exit status may already be collected.
    fn kill_group_now(&self) {
        if self.pid > 0 {
            // SAFETY: as in signal_group; ESRCH when the group is already gone is harmless.
            unsafe { libc::killpg(self.pid, libc::SIGKILL) };
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // Last resort when an owner is dropped without terminate(): never leave orphans.
        if !self.reaped {
            self.kill_group_now();
        }
    }
}

/// Runs a short-lived tool to completion and returns its stdout; a failure carries its stderr.
pub async fn run_to_completion(
    program: &'static str,
    cmd: &mut Command,
) -> Result<Vec<u8>, CaptureError> {
    let output = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|source| CaptureError::Spawn { program, source })?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(CaptureError::Exited {
            program,
            status: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
    }
}
