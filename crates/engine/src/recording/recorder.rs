//! The recorder port: what a recording's supervisor needs of a running screen capture.
//!
//! [`ScreenRecorder`] (X damage grabber → ffmpeg) is the real one. Unit tests drive the
//! supervisor and finalization with a fake that closes checked-in fMP4 segments, so the
//! engine's storage machinery is tested without a display or an encoder.

use std::future::Future;
use std::path::Path;

use tapedeck_capture::activity::ActivityLog;
use tapedeck_capture::{ScreenRecorder, SegmentList};

/// A capture writing fMP4 segments into its spool directory.
pub(crate) trait Recorder: Send + 'static {
    /// The spool directory its segments are written to.
    fn spool_dir(&self) -> &Path;
    /// The init segment and the segments closed so far.
    fn closed_segments(&self) -> SegmentList;
    /// True once it has ended by itself (a crash, or its input gone).
    fn has_exited(&mut self) -> bool;
    /// The stretches in which its screen changed, as they close.
    fn activity(&self) -> ActivityLog;
    /// Stops it and waits until its last segment is closed; the video's length in
    /// milliseconds when the recorder knows it.
    fn stop(self) -> impl Future<Output = Option<u64>> + Send;
}

impl Recorder for ScreenRecorder {
    fn spool_dir(&self) -> &Path {
        ScreenRecorder::spool_dir(self)
    }

    fn closed_segments(&self) -> SegmentList {
        ScreenRecorder::closed_segments(self)
    }

    fn has_exited(&mut self) -> bool {
        ScreenRecorder::has_exited(self)
    }

    fn activity(&self) -> ActivityLog {
        ScreenRecorder::activity(self).clone()
    }

    fn stop(self) -> impl Future<Output = Option<u64>> + Send {
        ScreenRecorder::stop(self)
    }
}
