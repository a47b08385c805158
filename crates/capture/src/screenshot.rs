//! Screenshots of a display, or of a region of it, as PNG, and small JPEG thumbnails of it: the
//! X server copies the pixels into shared memory (MIT-SHM, as the recorder's grabber does) and
//! they are encoded here. No process is spawned, so a screenshot costs one copy and one encode.

use std::time::Duration;

use crate::shared_memory::{self, SharedImage};
use crate::{CaptureError, Display};

/// The longest a screenshot may take.
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(15);
/// The frame drawn around a marked region: its width in pixels and its colour.
const MARK_THICKNESS: u32 = 2;
const MARK_RGB: [u8; 3] = [255, 0, 0];
/// JPEG quality of a thumbnail: small files for a wall of them, refreshed about once a second.
const THUMBNAIL_QUALITY: u8 = 60;

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

/// One PNG of the display as it is now, or of `region` of it (which must lie on the screen).
///
/// Errors: `Grab` when the display cannot be grabbed, `TimedOut` past 15 s.
pub async fn png(display: &Display, region: Option<Region>) -> Result<Vec<u8>, CaptureError> {
    let region = region.unwrap_or_else(|| whole(display));
    grab(display, region, move |rgb| {
        encode_png(&rgb, region.width, region.height)
    })
    .await
}

/// One grab of the whole display as two PNGs: as it is, and with a red frame drawn around each
/// of `marks` (element detection shows what it found this way).
///
/// Errors: as [`png`].
pub async fn png_and_marked(
    display: &Display,
    marks: &[Region],
) -> Result<(Vec<u8>, Vec<u8>), CaptureError> {
    let screen = whole(display);
    let marks = marks.to_vec();
    grab(display, screen, move |mut rgb| {
        let plain = encode_png(&rgb, screen.width, screen.height)?;
        for mark in &marks {
            draw_frame(&mut rgb, screen.width, screen.height, *mark);
        }
        Ok((plain, encode_png(&rgb, screen.width, screen.height)?))
    })
    .await
}

/// A JPEG of the whole display shrunk by the smallest whole factor that makes it at most
/// `max_width` pixels wide (box-averaged, so text stays legible as grey rather than aliased).
///
/// Errors: as [`png`].
pub async fn thumbnail_jpeg(display: &Display, max_width: u32) -> Result<Vec<u8>, CaptureError> {
    let screen = whole(display);
    grab(display, screen, move |rgb| {
        let factor = screen.width.div_ceil(max_width.max(1)).max(1);
        let (small, width, height) = shrink(&rgb, screen.width, screen.height, factor);
        let narrow = |v: u32| {
            u16::try_from(v).map_err(|_| CaptureError::Grab(format!("thumbnail {v} px wide")))
        };
        let mut jpeg = Vec::with_capacity(small.len() / 8);
        jpeg_encoder::Encoder::new(&mut jpeg, THUMBNAIL_QUALITY)
            .encode(
                &small,
                narrow(width)?,
                narrow(height)?,
                jpeg_encoder::ColorType::Rgb,
            )
            .map_err(|e| CaptureError::Grab(format!("JPEG encoding: {e}")))?;
        Ok(jpeg)
    })
    .await
}

/// `rgb` (`width`×`height` RGB rows) shrunk `factor` times each way by averaging each
/// `factor`×`factor` block (a partial last row or column of blocks is dropped); returns the
/// pixels and their size.
fn shrink(rgb: &[u8], width: u32, height: u32, factor: u32) -> (Vec<u8>, u32, u32) {
    let (out_w, out_h) = ((width / factor).max(1), (height / factor).max(1));
    let (f, w) = (factor.min(width).min(height) as usize, width as usize);
    let mut out = Vec::with_capacity(out_w as usize * out_h as usize * 3);
    for by in 0..out_h as usize {
        for bx in 0..out_w as usize {
            let mut sum = [0u32; 3];
            for y in by * f..(by + 1) * f {
                let row = &rgb[(y * w + bx * f) * 3..(y * w + (bx + 1) * f) * 3];
                for px in row.chunks_exact(3) {
                    sum.iter_mut()
                        .zip(px)
                        .for_each(|(s, &v)| *s += u32::from(v));
                }
            }
            let n = (f * f) as u32;
            out.extend(sum.map(|s| (s / n) as u8));
        }
    }
    (out, out_w, out_h)
}

/// The whole screen of `display`.
fn whole(display: &Display) -> Region {
    Region {
        x: 0,
        y: 0,
        width: display.width(),
        height: display.height(),
    }
}

/// Grabs `region` of `display` as RGB rows and hands them to `encode`, off the async threads.
async fn grab<T: Send + 'static>(
    display: &Display,
    region: Region,
    encode: impl FnOnce(Vec<u8>) -> Result<T, CaptureError> + Send + 'static,
) -> Result<T, CaptureError> {
    let number = display.number();
    let grabbing = tokio::task::spawn_blocking(move || encode(grab_rgb(number, region)?));
    // A stopped X server would block the grab; the caller is answered at the bound, and the
    // thread ends when the display does.
    match tokio::time::timeout(SCREENSHOT_TIMEOUT, grabbing).await {
        Ok(done) => done.map_err(|e| CaptureError::Grab(format!("screenshot: {e}")))?,
        Err(_) => Err(CaptureError::TimedOut {
            program: "the display's screenshot",
            secs: SCREENSHOT_TIMEOUT.as_secs(),
        }),
    }
}

/// The pixels of `region` of display `:number`, as RGB rows.
fn grab_rgb(number: u32, region: Region) -> Result<Vec<u8>, CaptureError> {
    use x11rb::connection::Connection as _;
    let conn = crate::display::connect(number)?;
    shared_memory::check_server(&conn)?;
    let root = conn.setup().roots[0].root;
    let narrow = |v: u32| {
        u16::try_from(v).map_err(|_| CaptureError::Grab(format!("{v} is off any X screen")))
    };
    let (width, height) = (narrow(region.width)?, narrow(region.height)?);
    let (x, y) = (narrow(region.x)? as i16, narrow(region.y)? as i16);
    let image = SharedImage::attach(&conn, usize::from(width) * usize::from(height) * 4)?;
    image.fill(&conn, root, x, y, width, height)?;
    Ok(image
        .bytes()
        .chunks_exact(4)
        .flat_map(|bgrx| [bgrx[2], bgrx[1], bgrx[0]])
        .collect())
}

/// Draws a [`MARK_THICKNESS`] frame just inside `mark` on the `width`×`height` RGB image.
fn draw_frame(rgb: &mut [u8], width: u32, height: u32, mark: Region) {
    let (right, bottom) = (
        (mark.x + mark.width).min(width),
        (mark.y + mark.height).min(height),
    );
    for y in mark.y..bottom {
        for x in mark.x..right {
            let edge = x < mark.x + MARK_THICKNESS
                || y < mark.y + MARK_THICKNESS
                || x + MARK_THICKNESS >= mark.x + mark.width
                || y + MARK_THICKNESS >= mark.y + mark.height;
            if edge {
                let at = ((y * width + x) * 3) as usize;
                rgb[at..at + 3].copy_from_slice(&MARK_RGB);
            }
        }
    }
}

/// `rgb` (`width`×`height`, 8-bit RGB rows) as a PNG, compressed for speed: screenshots are
/// asked for between an agent's steps.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, CaptureError> {
    let failed = |e: png::EncodingError| CaptureError::Grab(format!("PNG encoding: {e}"));
    let mut out = Vec::with_capacity(rgb.len() / 4);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(rgb).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_region_gets_a_frame_and_keeps_its_inside() {
        let (width, height) = (10, 8);
        let mut rgb = vec![0u8; (width * height * 3) as usize];
        let mark = Region {
            x: 2,
            y: 1,
            width: 6,
            height: 5,
        };
        draw_frame(&mut rgb, width, height, mark);
        let red = |x: u32, y: u32| rgb[((y * width + x) * 3) as usize] == 255;
        assert!(red(2, 1) && red(7, 5) && red(3, 3) && red(6, 3));
        assert!(!red(4, 3), "the inside stays as it was");
        assert!(!red(1, 1) && !red(8, 5), "nothing outside the mark");
    }

    #[test]
    fn a_shrunk_image_averages_each_block_and_drops_a_partial_edge() {
        // 5×2 pixels: two 2×2 blocks (grey 10/30 and red/blue mixes) and a last column dropped.
        #[rustfmt::skip]
        let rgb: Vec<u8> = [
            [10, 10, 10], [30, 30, 30], [200, 0, 0], [0, 0, 200], [9, 9, 9],
            [10, 10, 10], [30, 30, 30], [200, 0, 0], [0, 0, 200], [9, 9, 9],
        ].concat();
        let (small, width, height) = shrink(&rgb, 5, 2, 2);
        assert_eq!((width, height), (2, 1));
        assert_eq!(small, [20, 20, 20, 100, 0, 100]);
    }

    #[test]
    fn an_encoded_screenshot_decodes_to_the_same_pixels() {
        let (width, height) = (3, 2);
        let rgb: Vec<u8> = (0..18).map(|v| v * 10).collect();
        let encoded = encode_png(&rgb, width, height).unwrap();
        let mut decoder = png::Decoder::new(std::io::Cursor::new(encoded))
            .read_info()
            .unwrap();
        let mut decoded = vec![0; decoder.output_buffer_size().unwrap()];
        let frame = decoder.next_frame(&mut decoded).unwrap();
        assert_eq!((frame.width, frame.height), (width, height));
        assert_eq!(&decoded[..frame.buffer_size()], &rgb[..]);
    }
}
