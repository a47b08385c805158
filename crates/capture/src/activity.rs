//! Activity bands: the stretches of a capture in which the screen kept changing, for the
//! timeline under a recording. Changed frames less than [`BAND_GAP`] apart belong to one band;
//! a longer pause closes it.

use std::sync::{Arc, Mutex};

/// The longest pause between two changed frames of one band, in ms: a screen idle longer than
/// this is an idle stretch a viewer may skip.
pub const BAND_GAP_MS: u64 = 1_000;

/// One stretch of changes, in ms from the capture's first frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityBand {
    /// The first changed frame's time.
    pub start_ms: u64,
    /// The last changed frame's time.
    pub end_ms: u64,
    /// How many changed frames it holds.
    pub frames: u64,
}

/// Bands as the grabber finds them, shared with whoever collects the closed ones.
#[derive(Debug, Clone, Default)]
pub struct ActivityLog {
    inner: Arc<Mutex<Bands>>,
}

#[derive(Debug, Default)]
struct Bands {
    open: Option<ActivityBand>,
    closed: Vec<ActivityBand>,
}

impl ActivityLog {
    /// Notes a changed frame at `at_ms`; times only grow.
    pub(crate) fn changed(&self, at_ms: u64) {
        let mut bands = self.lock();
        match &mut bands.open {
            Some(band) if at_ms.saturating_sub(band.end_ms) <= BAND_GAP_MS => {
                band.end_ms = at_ms;
                band.frames += 1;
            }
            open => {
                let next = ActivityBand {
                    start_ms: at_ms,
                    end_ms: at_ms,
                    frames: 1,
                };
                if let Some(done) = open.replace(next) {
                    bands.closed.push(done);
                }
            }
        }
    }

    /// Closes the open band when the screen has been still since before `now_ms - gap`.
    pub(crate) fn idle_at(&self, now_ms: u64) {
        let mut bands = self.lock();
        if bands
            .open
            .is_some_and(|band| now_ms.saturating_sub(band.end_ms) > BAND_GAP_MS)
        {
            let done = bands.open.take();
            bands.closed.extend(done);
        }
    }

    /// Closes the open band: the capture has ended.
    pub(crate) fn finish(&self) {
        let mut bands = self.lock();
        let done = bands.open.take();
        bands.closed.extend(done);
    }

    /// The bands closed since the last call, oldest first.
    pub fn take_closed(&self) -> Vec<ActivityBand> {
        std::mem::take(&mut self.lock().closed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bands> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(start_ms: u64, end_ms: u64, frames: u64) -> ActivityBand {
        ActivityBand {
            start_ms,
            end_ms,
            frames,
        }
    }

    #[test]
    fn changes_close_together_make_one_band_and_a_pause_longer_than_the_gap_starts_another() {
        let log = ActivityLog::default();
        for at in [0, 40, 80, 1_080] {
            log.changed(at);
        }
        assert!(log.take_closed().is_empty(), "the band is still open");
        log.changed(2_500);
        assert_eq!(log.take_closed(), [band(0, 1_080, 4)]);
        log.idle_at(3_000);
        assert!(
            log.take_closed().is_empty(),
            "500 ms of stillness is within the gap"
        );
        log.idle_at(3_501);
        assert_eq!(log.take_closed(), [band(2_500, 2_500, 1)]);
        log.changed(9_000);
        log.finish();
        assert_eq!(log.take_closed(), [band(9_000, 9_000, 1)]);
        assert!(log.take_closed().is_empty());
    }
}
