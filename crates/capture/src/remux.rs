//! Rewriting an MP4's container without re-encoding (`ffmpeg -c copy`).

use std::path::Path;
use std::time::Duration;

use crate::process::run_to_completion;
use crate::sandbox::{Confinement, Mount, Sandbox};
use crate::CaptureError;

/// The longest a remux may take; it copies a few minutes of video at most.
const REMUX_TIMEOUT: Duration = Duration::from_secs(120);

/// Remuxes `input` into a regular MP4 at `output` whose timeline starts at zero, with its index
/// at the front so players can start at once. Used for extracts cut from the middle of a
/// recording, whose fragments carry the original timestamps. Both files are in `work`, a
/// directory prepared with [`Sandbox::prepare_dir`]; ffmpeg runs in a box that sees only it.
pub async fn to_mp4_from_zero(
    sandbox: &Sandbox,
    ffmpeg: &Path,
    work: &Path,
    input: &Path,
    output: &Path,
) -> Result<(), CaptureError> {
    let confinement = Confinement {
        mounts: vec![Mount::Writable(work.to_owned())],
        home: Some(work.to_owned()),
        ..Confinement::default()
    };
    let mut cmd = sandbox.command(ffmpeg, &confinement);
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
        .arg(input)
        .args(["-c", "copy", "-movflags", "+faststart", "-y"])
        .arg(output);
    run_to_completion("ffmpeg", &mut cmd, REMUX_TIMEOUT)
        .await
        .map(drop)
}
