//! Screenshots of a whole display as PNG, grabbed by ffmpeg's x11grab (one frame).

use std::process::Stdio;

use tokio::process::Command;

use crate::{CaptureError, Display};

/// One PNG of the display as it is now.
pub async fn png(ffmpeg: &std::path::Path, display: &Display) -> Result<Vec<u8>, CaptureError> {
    let size = format!("{}x{}", display.width(), display.height());
    let output = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args([
            "-f",
            "x11grab",
            "-draw_mouse",
            "0",
            "-video_size",
            &size,
            "-i",
            &display.name(),
        ])
        .args(["-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| CaptureError::Spawn {
            program: "ffmpeg",
            source,
        })?;
    if output.status.success() && output.stdout.starts_with(b"\x89PNG") {
        Ok(output.stdout)
    } else {
        Err(CaptureError::Exited {
            program: "ffmpeg",
            status: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
    }
}
