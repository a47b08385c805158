//! Programs a client runs inside a box (GBOX's `commands` and `run-code`): in the box's own
//! sandbox, as the session's unprivileged user, with the box's home as the only writable place
//! and the box's display, bounded in time and in output. They never run as the server's user
//! and never see the data dir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::sandbox::{Confinement, Mount, Sandbox};
use crate::CaptureError;

/// Most bytes of stdout, and of stderr, a client's program hands back.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// The exit code of a run stopped at its timeout, as coreutils' `timeout` reports it.
pub const TIMED_OUT_EXIT_CODE: i32 = 124;

/// A program to run in a box.
#[derive(Debug, Clone)]
pub struct BoxProgram {
    /// The program, found on the box's `PATH`.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables beyond the box's own, already checked.
    pub envs: BTreeMap<String, String>,
    /// Where it starts: the box's home, or a directory inside it.
    pub working_dir: Option<PathBuf>,
    /// Longest it may run; then it is killed with everything it started.
    pub timeout: Duration,
    /// What it reads on stdin, then end of file.
    pub stdin: Vec<u8>,
    /// Most bytes of stdout, and of stderr, handed back ([`MAX_OUTPUT_BYTES`] for a client's
    /// programs); the rest is read and dropped.
    pub max_output: usize,
}

/// What a run left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramOutput {
    /// Its exit code; [`TIMED_OUT_EXIT_CODE`] when stopped at its timeout, 128 + the signal
    /// when killed by one.
    pub exit_code: i32,
    /// What it wrote to stdout, at most [`BoxProgram::max_output`] bytes.
    pub stdout: Vec<u8>,
    /// What it wrote to stderr, likewise.
    pub stderr: Vec<u8>,
}

/// Runs `program` in `sandbox`'s box whose home is `home`, on display `display_name` (`:N`).
///
/// Errors: the sandbox could not start it.
pub async fn run(
    sandbox: &Sandbox,
    display_name: String,
    home: &Path,
    program: &BoxProgram,
) -> Result<ProgramOutput, CaptureError> {
    let confinement = Confinement {
        mounts: vec![Mount::Writable(home.to_path_buf())],
        home: Some(home.to_path_buf()),
        display: Some(display_name),
        envs: program.envs.clone(),
        user_namespaces: false,
    };
    // A shell inside the box moves to the working directory, so a path that leaves the home
    // or does not exist fails there, as the session's user, and never on the server.
    let mut cmd = sandbox.command("/bin/sh", &confinement);
    let working_dir = program
        .working_dir
        .clone()
        .unwrap_or_else(|| home.to_path_buf());
    cmd.args(["-c", r#"cd -- "$0" && exec "$@""#])
        .arg(&working_dir)
        .arg(&program.program)
        .args(&program.args)
        .stdin(if program.stdin.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| CaptureError::Spawn {
        program: "box program",
        source,
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        let input = program.stdin.clone();
        // Fed beside the readers: a program that writes before it has read everything would
        // otherwise block on a full pipe while this side blocks on its stdin.
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            let _ = stdin.write_all(&input).await;
        });
    }
    let stdout = tokio::spawn(read_capped(child.stdout.take(), program.max_output));
    let stderr = tokio::spawn(read_capped(child.stderr.take(), program.max_output));
    let exit_code = match tokio::time::timeout(program.timeout, child.wait()).await {
        Ok(Ok(status)) => {
            use std::os::unix::process::ExitStatusExt;
            status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .unwrap_or(-1)
        }
        Ok(Err(source)) => {
            return Err(CaptureError::Spawn {
                program: "box program",
                source,
            })
        }
        Err(_) => {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                crate::process::kill_group(pid);
            }
            let _ = child.wait().await;
            TIMED_OUT_EXIT_CODE
        }
    };
    Ok(ProgramOutput {
        exit_code,
        stdout: stdout.await.unwrap_or_default(),
        stderr: stderr.await.unwrap_or_default(),
    })
}

/// Everything `stream` yields until it closes, keeping the first `cap` bytes.
async fn read_capped(stream: Option<impl AsyncRead + Unpin>, cap: usize) -> Vec<u8> {
    let Some(mut stream) = stream else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
    }
    kept
}
