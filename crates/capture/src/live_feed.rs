//! A display's live feed for viewers: the screen is watched for damage ([`DamagedScreen`]) and
//! each changed frame is encoded once as JPEG and published to every viewer. Viewers read the
//! newest frame only, so a slow one skips frames instead of falling behind, and an unchanged
//! screen costs no encode at all.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jpeg_encoder::{ColorType, Encoder};
use tokio::sync::watch;

use crate::damaged_screen::{DamagedScreen, Look};
use crate::CaptureError;

/// JPEG quality of live frames: text stays legible at a fraction of PNG's size.
const QUALITY: u8 = 70;

/// What a feed watches and how often.
#[derive(Debug, Clone, Copy)]
pub struct FeedOptions {
    /// The X display's number N of `:N`.
    pub display_number: u32,
    /// Screen width, in pixels.
    pub width: u16,
    /// Screen height, in pixels.
    pub height: u16,
    /// At most this many frames per second.
    pub framerate: u32,
}

/// One encoded frame of the feed.
#[derive(Debug, Clone)]
pub struct LiveFrame {
    /// Counts frames from 1; a viewer that saw this number has seen this frame.
    pub seq: u64,
    /// The JPEG bytes.
    pub jpeg: Arc<[u8]>,
}

/// A running feed; dropping it stops its thread within a frame interval.
pub struct LiveFeed {
    _stop: mpsc::Sender<()>,
    frames: watch::Receiver<Option<LiveFrame>>,
    thread: Option<JoinHandle<()>>,
}

impl LiveFeed {
    /// Connects to the display, publishes its first frame, and keeps publishing changed frames
    /// on a thread of its own until dropped or until the display ends.
    ///
    /// Errors: the display or one of its X extensions is missing.
    pub fn start(options: FeedOptions) -> Result<Self, CaptureError> {
        let mut screen =
            DamagedScreen::watch(options.display_number, options.width, options.height)?;
        let first = encode(screen.frame(), options.width, options.height)?;
        let (publish, frames) = watch::channel(Some(LiveFrame {
            seq: 1,
            jpeg: Arc::from(first),
        }));
        let (stop, stopped) = mpsc::channel::<()>();
        let interval = Duration::from_secs_f64(1.0 / f64::from(options.framerate.max(1)));
        let thread = std::thread::Builder::new()
            .name(format!("live:{}", options.display_number))
            .spawn(move || {
                let mut seq = 1;
                let mut next_tick = Instant::now() + interval;
                while let Err(RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(next_tick.saturating_duration_since(Instant::now()))
                {
                    next_tick = (next_tick + interval).max(Instant::now());
                    let changed = match screen.look() {
                        Ok(look) => look == Look::Changed,
                        Err(e) => {
                            tracing::debug!(error = %e, "live feed ended with its display");
                            return;
                        }
                    };
                    if !changed {
                        continue;
                    }
                    match encode(screen.frame(), options.width, options.height) {
                        Ok(jpeg) => {
                            seq += 1;
                            publish.send_replace(Some(LiveFrame {
                                seq,
                                jpeg: Arc::from(jpeg),
                            }));
                        }
                        Err(e) => tracing::warn!(error = %e, "live frame not encoded"),
                    }
                }
            })?;
        Ok(Self {
            _stop: stop,
            frames,
            thread: Some(thread),
        })
    }

    /// A receiver of the newest frame; it sees the feed end when the display does.
    pub fn frames(&self) -> watch::Receiver<Option<LiveFrame>> {
        self.frames.clone()
    }

    /// True once the feed's thread has ended (its display is gone).
    pub fn has_ended(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

/// A BGRX frame as JPEG.
fn encode(bgrx: &[u8], width: u16, height: u16) -> Result<Vec<u8>, CaptureError> {
    let mut jpeg = Vec::with_capacity(bgrx.len() / 10);
    Encoder::new(&mut jpeg, QUALITY)
        .encode(bgrx, width, height, ColorType::Bgra)
        .map_err(|e| CaptureError::Grab(format!("JPEG encoding: {e}")))?;
    Ok(jpeg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_encodes_as_a_jpeg_of_its_size() {
        let (width, height) = (16u16, 8u16);
        let bgrx: Vec<u8> = (0..usize::from(width) * usize::from(height))
            .flat_map(|_| [200, 100, 50, 0])
            .collect();
        let jpeg = encode(&bgrx, width, height).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "a JPEG starts with SOI");
        // The frame header (SOF0) carries height then width.
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let size = |at: usize| u16::from_be_bytes([jpeg[at], jpeg[at + 1]]);
        assert_eq!((size(sof + 7), size(sof + 5)), (width, height));
    }
}
