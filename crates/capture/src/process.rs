//! Child processes that lead their own session and process group and die with the server.
//!
//! Every child is a session leader (`setsid`): its process group can be signalled as one, and
//! it has no controlling terminal, so nothing it runs can reach the terminal the server was
//! started from (TIOCSTI).

use std::process::ExitStatus;
use std::time::Duration;

use rustix::fs::OFlags;
use rustix::process::{Pid, Signal};
use tokio::process::{Child, Command};

use crate::CaptureError;

/// A running child that leads its own session and process group (so its helpers are signalled
/// with it).
pub struct ProcessGroup {
    program: &'static str,
    child: Child,
    pid: Option<Pid>,
    reaped: bool,
}

impl ProcessGroup {
    /// Spawns `cmd` as the leader of a new session and process group.
    ///
    /// The child gets SIGKILL when the server dies, even by SIGKILL (`PR_SET_PDEATHSIG`).
    /// That signal fires when the spawning *thread* exits, so this must be called
    /// from a runtime worker thread, never from a `spawn_blocking` thread that may be retired.
    pub fn spawn(program: &'static str, cmd: &mut Command) -> Result<Self, CaptureError> {
        // SAFETY: the closure runs between fork and exec, where only async-signal-safe calls are
        // allowed; it makes raw setsid and prctl syscalls on the calling (child) process. It runs
        // after std has switched the child's uid (`Command::uid`), which would clear the
        // parent-death signal had it been set before.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::setsid()?;
                rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|source| CaptureError::Spawn { program, source })?;
        let pid = child.id().and_then(|p| Pid::from_raw(p as i32));
        tracing::debug!(program, pid = pid.map(Pid::as_raw_nonzero), "spawned");
        Ok(Self {
            program,
            child,
            pid,
            reaped: false,
        })
    }

    /// The child's pid, which is also its process group id; 0 if it had none.
    pub fn pid(&self) -> i32 {
        Pid::as_raw(self.pid)
    }

    /// The child's piped stdin as a blocking file (for a writer thread), once.
    pub fn take_stdin(&mut self) -> Option<std::fs::File> {
        let fd = self.child.stdin.take()?.into_owned_fd().ok()?;
        // tokio made the pipe non-blocking for its reactor; a plain thread wants it blocking.
        let flags = rustix::fs::fcntl_getfl(&fd).ok()?;
        rustix::fs::fcntl_setfl(&fd, flags - OFlags::NONBLOCK).ok()?;
        Some(std::fs::File::from(fd))
    }

    /// The child's piped stdout, once.
    pub fn take_stdout(&mut self) -> Option<tokio::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Sends `signal` to the child alone.
    pub fn signal(&self, signal: Signal) {
        if let Some(pid) = self.pid.filter(|_| !self.reaped) {
            // A pid we have not reaped is still ours; ESRCH if it just exited is harmless.
            let _ = rustix::process::kill_process(pid, signal);
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
    pub async fn terminate(&mut self, first: Signal, grace: Duration) -> Option<ExitStatus> {
        let mut status = None;
        for (signal, wait) in [
            (first, grace),
            (Signal::TERM, Duration::from_secs(2)),
            (Signal::KILL, Duration::from_secs(5)),
        ] {
            if let Some(done) = self.try_exited() {
                status = Some(done);
                break;
            }
            self.signal(signal);
            // A stopped process (SIGSTOP, a debugger) cannot act on TERM until it runs again.
            self.signal(Signal::CONT);
            if let Ok(Ok(done)) = tokio::time::timeout(wait, self.child.wait()).await {
                self.reaped = true;
                status = Some(done);
                break;
            }
            tracing::warn!(
                program = self.program,
                pid = self.pid(),
                signal = signal.as_raw(),
                "did not exit in time; escalating"
            );
        }
        self.kill_group_now();
        status
    }

    /// SIGKILLs the whole group; the leader's own exit status may already be collected.
    fn kill_group_now(&self) {
        kill_group(self.pid());
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

/// SIGKILLs the process group `pgid` (a [`ProcessGroup`]'s pid) at once, for an owner that
/// cannot wait: a server past its shutdown deadline. A group already gone is no error.
pub fn kill_group(pgid: i32) {
    if let Some(pgid) = Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
    }
}

/// True when a process with `pid` exists (signal 0 checks without sending anything). A zombie
/// or a reused pid also counts, so callers bound any wait built on this.
pub fn is_alive(pid: i32) -> bool {
    Pid::from_raw(pid).is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok())
}

/// Runs a short-lived tool to completion and returns its stdout; a failure carries its stderr.
/// A tool still running after `timeout` is killed (with its box, which dies with it).
pub async fn run_to_completion(
    program: &'static str,
    cmd: &mut Command,
    timeout: Duration,
) -> Result<Vec<u8>, CaptureError> {
    // SAFETY: as in `ProcessGroup::spawn`: one raw setsid syscall between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()?;
            Ok(())
        });
    }
    let output = cmd
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(timeout, output)
        .await
        .map_err(|_| CaptureError::TimedOut {
            program,
            secs: timeout.as_secs(),
        })?
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
