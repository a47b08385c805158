//! Rewriting an MP4's container without re-encoding (`ffmpeg -c copy`).

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

use crate::CaptureError;

/// Remuxes `input` into a regular MP4 at `output` whose timeline starts at zero, with its index
/// at the front so players can start at once. Used for extracts cut from the middle of a
/// recording, whose fragments carry the original timestamps.
pub async fn to_mp4_from_zero(
    ffmpeg: &Path,
    input: &Path,
    output: &Path,
) -> Result<(), CaptureError> {
    let result = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
        .arg(input)
        .args(["-c", "copy", "-movflags", "+faststart", "-y"])
        .arg(output)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| CaptureError::Spawn {
            program: "ffmpeg",
            source,
        })?;
    if result.status.success() {
        Ok(())
    } else {
        Err(CaptureError::Exited {
            program: "ffmpeg",
            status: format!(
                "{}: {}",
                result.status,
                String::from_utf8_lossy(&result.stderr).trim()
            ),
        })
    }
}
