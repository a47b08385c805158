//! Screenshots of a whole display as PNG, grabbed by ffmpeg's x11grab (one frame).

use std::time::Duration;

use crate::process::run_to_completion;
use crate::sandbox::Confinement;
use crate::{CaptureError, Display};

/// The longest a screenshot may take.
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(15);

/// One PNG of the display as it is now; ffmpeg runs in the display's sandbox and writes the PNG
/// to its standard output.
pub async fn png(ffmpeg: &std::path::Path, display: &Display) -> Result<Vec<u8>, CaptureError> {
    let size = format!("{}x{}", display.width(), display.height());
    let confinement = Confinement {
        ..Confinement::default()
    };
    let mut cmd = display.sandbox().command(ffmpeg, &confinement);
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-f", "x11grab", "-draw_mouse", "0", "-video_size", &size])
        .args(["-i", &display.name()])
        .args(["-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"]);
    let png = run_to_completion("ffmpeg", &mut cmd, SCREENSHOT_TIMEOUT).await?;
    if png.starts_with(b"\x89PNG") {
        Ok(png)
    } else {
        Err(CaptureError::Exited {
            program: "ffmpeg",
            status: "wrote no PNG".into(),
        })
    }
}
