//! The screen recorder: X damage grabber → ffmpeg (libx264) → fragmented MP4 → segment files.
//!
//! The [`Grabber`] sends only changed frames, with their grab times, to ffmpeg's stdin. ffmpeg
//! writes a fragmented MP4 with one fragment per frame to its stdout, and the [`Segmenter`]
//! cuts it into `init.mp4`, `seg_00000.m4s`, `seg_00001.m4s`… in the spool directory, writing
//! each fragment as it arrives. `init.mp4` followed by the segments, byte for byte, is a valid
//! fragmented MP4.
//!
//! ffmpeg writes a frame's fragment once the next frame arrives (its duration is known then),
//! and the grabber sends the screen at least every keepalive interval (1 s). So whatever ends
//! the recording (a stop, ffmpeg killed, the server killed) the spool holds the video up to
//! about a second before it: no keyframe spacing, however long on a still screen, widens that.
//! ffmpeg runs without access to the spool; the server writes every file.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rustix::process::Signal;

use crate::activity::ActivityLog;
use crate::grabber::{GrabOptions, Grabber};
use crate::process::ProcessGroup;
use crate::sandbox::Confinement;
use crate::segmenter::Segmenter;
use crate::spool::SegmentList;
use crate::{CaptureError, Display};

/// Default segment length in seconds on a changing screen: the unit in which segments are
/// persisted while recording.
pub const DEFAULT_SEGMENT_SECS: u32 = 2;
/// How long ffmpeg gets, once its input is closed, to write its last fragments before SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// On a screen that changes rarely, a keyframe (and so a segment) comes at least this often.
/// Keyframes are most of a still video's size, so they are spaced by frames, not only by time;
/// what a fault can lose does not depend on this (see the module comment).
const MAX_KEYFRAME_SECS: u32 = 60;
/// Pipe sizes to try, largest first. 8 MiB holds about five 720p I420 frames: when ffmpeg is
/// briefly descheduled on a loaded machine, the grabber keeps its ticks instead of blocking on
/// the write (the last size is the limit without CAP_SYS_RESOURCE).
const PIPE_BYTES: [usize; 2] = [8 << 20, 1 << 20];

/// How to record.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// The ffmpeg binary.
    pub ffmpeg: PathBuf,
    /// An empty directory for segments; the caller persists and removes them.
    pub spool_dir: PathBuf,
    /// Frames captured per second.
    pub framerate: u32,
    /// Length of each segment in seconds on a changing screen; the granularity of extracts.
    pub segment_secs: u32,
    /// Keyframes exactly every segment, even on a static screen (rewind rings, which are cut
    /// into extracts by segment).
    pub strict_keyframes: bool,
    /// x264's constant rate factor: lower is better quality and larger files.
    pub crf: u8,
}

/// A running capture: the grabber thread feeding ffmpeg, and the segmenter writing its output.
pub struct ScreenRecorder {
    process: ProcessGroup,
    grabber: Grabber,
    segmenter: Segmenter,
    spool_dir: PathBuf,
}

impl ScreenRecorder {
    /// Starts capturing `display` into `options.spool_dir`, which is created for the server
    /// alone (mode 0700). ffmpeg runs in the display's sandbox with no writable directory; the
    /// grabber and the segmenter run in the server.
    pub async fn start(display: &Display, options: &RecorderOptions) -> Result<Self, CaptureError> {
        let sandbox = display.sandbox();
        std::fs::create_dir_all(&options.spool_dir)?;
        std::fs::set_permissions(
            &options.spool_dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        let log = std::fs::File::create(options.spool_dir.join("ffmpeg.log"))?;
        // yuv420p needs even dimensions; drop an odd last row or column rather than pad.
        let (width, height) = (display.width() & !1, display.height() & !1);
        let confinement = Confinement {
            ..Confinement::default()
        };
        let mut cmd = sandbox.command(&options.ffmpeg, &confinement);
        cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin"])
            .args([
                "-f",
                "matroska",
                "-probesize",
                "32",
                "-analyzeduration",
                "0",
            ])
            .args(["-fpsprobesize", "0", "-i", "pipe:0"])
            // The grab times are the frame times: no frame is duplicated or dropped.
            .args(["-fps_mode", "passthrough", "-c:v", "libx264"])
            .args(x264_speed(options.framerate))
            .args(["-tune", "zerolatency"])
            .args(["-crf", &options.crf.to_string(), "-pix_fmt", "yuv420p"])
            // The grabber converts with BT.709 (HD) coefficients; say so in the stream.
            .args([
                "-colorspace",
                "bt709",
                "-color_primaries",
                "bt709",
                "-color_trc",
                "bt709",
            ])
            .args(["-threads", "1", "-force_key_frames", &keyframes(options)])
            // A fragment per frame (any duration ends a fragment), flushed as it is written,
            // with no index at the end: the segmenter's input.
            .args([
                "-f",
                "mp4",
                "-movflags",
                "empty_moov+default_base_moof+skip_trailer",
            ])
            .args(["-frag_duration", "1", "-flush_packets", "1", "pipe:1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log);
        // The pipe closing is ffmpeg's graceful stop; on a signal it would drop its last frames.
        // With the server gone, nothing reads its output, so it dies with the server.
        let mut process = ProcessGroup::spawn("ffmpeg", &mut cmd)?;
        let stdin = process
            .take_stdin()
            .ok_or_else(|| CaptureError::Grab("ffmpeg has no stdin".into()))?;
        let stdout = process
            .take_stdout()
            .ok_or_else(|| CaptureError::Grab("ffmpeg has no stdout".into()))?;
        widen_pipe(&stdin);
        let segmenter = Segmenter::start(stdout, options.spool_dir.clone(), options.segment_secs);
        let grab = GrabOptions {
            display_number: display.number(),
            width: u16::try_from(width)
                .map_err(|_| CaptureError::Grab("display too wide".into()))?,
            height: u16::try_from(height)
                .map_err(|_| CaptureError::Grab("display too tall".into()))?,
            framerate: options.framerate,
            // Half a segment, so even an unchanged screen closes segments on time.
            keepalive: Duration::from_millis(500 * u64::from(options.segment_secs.clamp(1, 2))),
        };
        // Connecting and the first grab are blocking X11 round trips.
        let grabber = tokio::task::spawn_blocking(move || Grabber::start(grab, stdin))
            .await
            .map_err(|e| CaptureError::Grab(format!("grabber start: {e}")))?;
        let grabber = match grabber {
            Ok(grabber) => grabber,
            Err(e) => {
                process
                    .terminate(Signal::TERM, Duration::from_secs(2))
                    .await;
                return Err(e);
            }
        };
        // Catch an immediate failure (missing encoder) before reporting success.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(status) = process.try_exited() {
            let log =
                std::fs::read_to_string(options.spool_dir.join("ffmpeg.log")).unwrap_or_default();
            return Err(CaptureError::Exited {
                program: "ffmpeg",
                status: format!("{status}: {}", log.trim()),
            });
        }
        let display_number = display.number();
        tracing::debug!(
            display_number,
            pid = process.pid(),
            fps = options.framerate,
            "recorder started"
        );
        Ok(Self {
            process,
            grabber,
            segmenter,
            spool_dir: options.spool_dir.clone(),
        })
    }

    /// When the first frame was grabbed: time 0 of the video.
    pub fn started(&self) -> std::time::Instant {
        self.grabber.started()
    }

    /// The stretches in which the screen changed, as they close.
    pub fn activity(&self) -> &ActivityLog {
        self.grabber.activity()
    }

    /// The spool directory.
    pub fn spool_dir(&self) -> &Path {
        &self.spool_dir
    }

    /// ffmpeg's pid.
    pub fn pid(&self) -> i32 {
        self.process.pid()
    }

    /// The init segment and the segments closed so far.
    pub fn closed_segments(&self) -> SegmentList {
        self.segmenter.closed()
    }

    /// True once ffmpeg, the grabber or the segmenter has ended by itself.
    pub fn has_exited(&mut self) -> bool {
        self.process.try_exited().is_some()
            || self.grabber.has_ended()
            || self.segmenter.has_ended()
    }

    /// Stops capture: the grabber sends the screen once more, stamped now, and closes ffmpeg's
    /// input; ffmpeg then writes its last fragments and exits, and the segmenter closes the
    /// last segment.
    ///
    /// Returns the video's length in ms when the grabber ran to the stop.
    pub async fn stop(mut self) -> Option<u64> {
        let length_ms = match self.grabber.stop().await {
            Ok(stats) => {
                tracing::info!(
                    changed = stats.changed,
                    unchanged = stats.unchanged,
                    repeated = stats.repeated,
                    missed_ticks = stats.missed_ticks,
                    "grabber stopped"
                );
                Some(stats.last_frame_ms)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the grabber had stopped with an error");
                None
            }
        };
        let exited = tokio::time::timeout(STOP_GRACE, self.process.wait()).await;
        if !matches!(exited, Ok(Ok(_))) {
            self.process
                .terminate(Signal::TERM, Duration::from_secs(2))
                .await;
        }
        // ffmpeg is gone, so its output has ended; the segmenter only has files to close.
        if let Err(e) = self.segmenter.finish().await {
            tracing::warn!(error = %e, "the segmenter had stopped with an error");
        }
        length_ms
    }
}

/// x264's speed settings by frame rate. At 15 fps and below, `veryfast` keeps files small for
/// little CPU. Above, most frames of a busy screen are encoded and `ultrafast` halves their
/// cost. 4x4 intra blocks are put back: text (a static page's keyframes and changes) costs about
/// a tenth fewer bytes for next to no CPU. CABAC is not: its work grows with the bitrate, and
/// on a busy 720p screen it was a fifth of x264's CPU for 10-13 % smaller files. Sessions per
/// machine win that trade; a static page pays it only in its rare keyframes.
fn x264_speed(framerate: u32) -> &'static [&'static str] {
    if framerate > 15 {
        &["-preset", "ultrafast", "-x264-params", "partitions=i4x4"]
    } else {
        &["-preset", "veryfast"]
    }
}

/// When ffmpeg forces a keyframe, which is also where a segment may close.
///
/// A rewind ring keeps strict segment-length keyframes, since extracts are cut on them. A
/// recording forces one once a segment's time has passed *and* a segment's worth of frames at
/// the full rate have been encoded since the last, or after [`MAX_KEYFRAME_SECS`]: a busy
/// screen gets segment-length keyframes, a static one (a clock: about one frame a second) one
/// every 20 s at 10 fps and every 50 s at 25 fps.
fn keyframes(options: &RecorderOptions) -> String {
    let secs = options.segment_secs.max(1);
    if options.strict_keyframes {
        return format!("expr:gte(t,n_forced*{secs})");
    }
    let frames = (secs * options.framerate).max(1);
    format!(
        "expr:if(isnan(prev_forced_t),1,\
         gte(t-prev_forced_t,{secs})*gte(n-prev_forced_n,{frames})+gte(t-prev_forced_t,{MAX_KEYFRAME_SECS}))"
    )
}

/// Grows a pipe's buffer to the largest size allowed; the default still works if all are refused.
fn widen_pipe(pipe: &impl AsFd) {
    for bytes in PIPE_BYTES {
        // A refusal leaves the size as it was.
        if rustix::pipe::fcntl_setpipe_size(pipe, bytes).is_ok() {
            return;
        }
    }
}
