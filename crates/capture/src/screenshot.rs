//! Screenshots of a whole display as PNG, grabbed by ffmpeg's x11grab (one frame).

use tokio::process::Command;

use crate::process::run_to_completion;
use crate::{CaptureError, Display};

/// One PNG of the display as it is now.
pub async fn png(ffmpeg: &std::path::Path, display: &Display) -> Result<Vec<u8>, CaptureError> {
    let size = format!("{}x{}", display.width(), display.height());
    let mut cmd = Command::new(ffmpeg);
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-f", "x11grab", "-draw_mouse", "0", "-video_size", &size])
        .args(["-i", &display.name()])
        .args(["-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"]);
    let png = run_to_completion("ffmpeg", &mut cmd).await?;
    if png.starts_with(b"\x89PNG") {
        Ok(png)
    } else {
        Err(CaptureError::Exited {
            program: "ffmpeg",
            status: "wrote no PNG".into(),
        })
    }
}
