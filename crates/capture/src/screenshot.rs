//! Screenshots of a display, or of a region of it, as PNG, grabbed by ffmpeg's x11grab (one
//! frame).

use std::time::Duration;

use crate::process::run_to_completion;
use crate::sandbox::Confinement;
use crate::{CaptureError, Display};

/// The longest a screenshot may take.
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(15);

/// A rectangle of the screen, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width, at least 1.
    pub width: u32,
    /// Height, at least 1.
    pub height: u32,
}

/// One PNG of the display as it is now, or of `region` of it (which must lie on the screen);
/// ffmpeg runs in the display's sandbox and writes the PNG to its standard output.
pub async fn png(
    ffmpeg: &std::path::Path,
    display: &Display,
    region: Option<Region>,
) -> Result<Vec<u8>, CaptureError> {
    grab(ffmpeg, display, region, &[]).await
}

/// One PNG of the whole display with a red frame drawn around each of `marks` (ffmpeg's
/// `drawbox`), as element detection shows what it found.
pub async fn png_marked(
    ffmpeg: &std::path::Path,
    display: &Display,
    marks: &[Region],
) -> Result<Vec<u8>, CaptureError> {
    grab(ffmpeg, display, None, marks).await
}

async fn grab(
    ffmpeg: &std::path::Path,
    display: &Display,
    region: Option<Region>,
    marks: &[Region],
) -> Result<Vec<u8>, CaptureError> {
    let region = region.unwrap_or(Region {
        x: 0,
        y: 0,
        width: display.width(),
        height: display.height(),
    });
    let size = format!("{}x{}", region.width, region.height);
    let input = format!("{}+{},{}", display.name(), region.x, region.y);
    let confinement = Confinement {
        ..Confinement::default()
    };
    let mut cmd = display.sandbox().command(ffmpeg, &confinement);
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-f", "x11grab", "-draw_mouse", "0", "-video_size", &size])
        .args(["-i", &input]);
    if !marks.is_empty() {
        let boxes: Vec<String> = marks
            .iter()
            .map(|m| {
                format!(
                    "drawbox=x={}:y={}:w={}:h={}:color=red@0.9:t=2",
                    m.x, m.y, m.width, m.height
                )
            })
            .collect();
        cmd.args(["-vf", &boxes.join(",")]);
    }
    cmd.args(["-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"]);
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
