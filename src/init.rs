//! Tapedeck as a container's PID 1: a minimal init in front of the real server.
//!
//! Processes whose parent dies are re-parented to PID 1, and the sessions' sandboxes leave
//! such orphans every time a browser is torn down. A server that is PID 1 would keep them as
//! zombies, because its own runtime only waits for the children it spawned. So PID 1 runs the
//! same command again as its only child, reaps every process that ends under it, forwards the
//! stop signals to that child, and exits as it did (what `tini` or `docker run --init` do).

use std::process::ExitCode;

use rustix::process::{Pid, Signal, WaitOptions};
use tokio::signal::unix::{signal, SignalKind};

/// Whether this process is the first of its PID namespace.
pub fn is_pid_1() -> bool {
    rustix::process::getpid().as_raw_nonzero().get() == 1
}

/// Runs this binary again, with the same arguments, as a child; reaps every process that ends
/// under PID 1 until that child has ended; and answers its exit status (128 + the signal when
/// a signal ended it, as shells report).
pub fn run() -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(supervise())
}

async fn supervise() -> anyhow::Result<ExitCode> {
    // Listening before the child exists, so no SIGCHLD or stop signal is missed.
    let mut ended = signal(SignalKind::child())?;
    let mut forwarded = [
        (signal(SignalKind::terminate())?, Signal::TERM),
        (signal(SignalKind::interrupt())?, Signal::INT),
        (signal(SignalKind::hangup())?, Signal::HUP),
        (signal(SignalKind::quit())?, Signal::QUIT),
    ];
    let server = std::process::Command::new(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .spawn()?;
    let server = Pid::from_child(&server);
    loop {
        if let Some(code) = reap_all(server)? {
            return Ok(code);
        }
        let [term, int, hup, quit] = &mut forwarded;
        let signal = tokio::select! {
            _ = ended.recv() => continue,
            _ = term.0.recv() => term.1,
            _ = int.0.recv() => int.1,
            _ = hup.0.recv() => hup.1,
            _ = quit.0.recv() => quit.1,
        };
        // ESRCH only means the server has just ended; its SIGCHLD is on its way.
        let _ = rustix::process::kill_process(server, signal);
    }
}

/// Waits for every child that has ended, without blocking; the server's exit code once it is
/// among them.
fn reap_all(server: Pid) -> anyhow::Result<Option<ExitCode>> {
    let mut server_code = None;
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some((pid, status))) if pid == server => {
                let code = status
                    .exit_status()
                    .or_else(|| status.terminating_signal().map(|s| 128 + s))
                    .unwrap_or(1);
                server_code = Some(ExitCode::from(u8::try_from(code).unwrap_or(1)));
            }
            Ok(Some(_orphan)) => {}
            Ok(None) | Err(rustix::io::Errno::CHILD) => return Ok(server_code),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
