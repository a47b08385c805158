//! Rewriting an MP4's container without re-encoding (`ffmpeg -c copy`).

use std::path::Path;

use tokio::process::Command;

use crate::process::run_to_completion;
use crate::CaptureError;

/// Remuxes `input` into a regular MP4 at `output` whose timeline starts at zero, with its index
/// at the front so players can start at once. Used for extracts cut from the middle of a
/// recording, whose fragments carry the original timestamps.
pub async fn to_mp4_from_zero(
    ffmpeg: &Path,
    input: &Path,
    output: &Path,
) -> Result<(), CaptureError> {
    let mut cmd = Command::new(ffmpeg);
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
        .arg(input)
        .args(["-c", "copy", "-movflags", "+faststart", "-y"])
        .arg(output);
    run_to_completion("ffmpeg", &mut cmd).await.map(drop)
}
