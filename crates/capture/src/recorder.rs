//! The screen recorder: ffmpeg `x11grab` → libx264 → fragmented MP4 segments (HLS/fMP4).
//!
//! ffmpeg writes `init.mp4`, then `seg_00000.m4s`, `seg_00001.m4s`… of about
//! [`SEGMENT_SECS`] each into a spool directory, and lists each one in `index.m3u8` once it is
//! closed. `init.mp4` followed by the segments, byte for byte, is a valid fragmented MP4.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::time::Instant;

use crate::playlist::Playlist;
use crate::process::ProcessGroup;
use crate::{CaptureError, Display};

/// Default segment length in seconds: a crash loses at most about this much video.
pub const DEFAULT_SEGMENT_SECS: u32 = 2;
/// The playlist's file name in the spool directory.
const PLAYLIST: &str = "index.m3u8";
/// How long ffmpeg gets after SIGINT to close its last segment before SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Shortest capture: ffmpeg interrupted before its encoder produced a frame (about 0.5 s on two
/// cores) writes no video at all, so a stop that early waits until this much has run.
const MIN_CAPTURE: Duration = Duration::from_secs(1);

/// How to record.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// The ffmpeg binary.
    pub ffmpeg: PathBuf,
    /// An empty directory for segments; the caller persists and removes them.
    pub spool_dir: PathBuf,
    /// Frames captured per second.
    pub framerate: u32,
    /// Length of each segment in seconds; also the keyframe interval, so it is the granularity
    /// of crash loss and of extracts.
    pub segment_secs: u32,
}

/// A running ffmpeg capturing a display.
pub struct ScreenRecorder {
    process: ProcessGroup,
    spool_dir: PathBuf,
    started: Instant,
}

impl ScreenRecorder {
    /// Starts capturing `display` into `options.spool_dir`.
    pub async fn start(display: &Display, options: &RecorderOptions) -> Result<Self, CaptureError> {
        tokio::fs::create_dir_all(&options.spool_dir).await?;
        let log = std::fs::File::create(options.spool_dir.join("ffmpeg.log"))?;
        // yuv420p needs even dimensions; drop an odd last row or column rather than pad.
        let (width, height) = (display.width() & !1, display.height() & !1);
        let fps = options.framerate.to_string();
        let segment_secs = options.segment_secs.max(1);
        let keyframe_every = format!("expr:gte(t,n_forced*{segment_secs})");
        // Frames identical to the previous one are not encoded (variable frame rate): a static
        // page costs a fraction of a busy one. At most a quarter second of frames is dropped in a
        // row, so timestamps stay true, segments still close on time, and a recording stopped
        // on an unchanged screen still lasts its wall-clock time.
        let drop_duplicates = format!("mpdecimate=max={}", (options.framerate / 4).max(1));
        let mut cmd = Command::new(&options.ffmpeg);
        cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin"])
            .args(["-f", "x11grab", "-draw_mouse", "1", "-framerate", &fps])
            .args([
                "-video_size",
                &format!("{width}x{height}"),
                "-i",
                &display.name(),
            ])
            .args(["-vf", &drop_duplicates, "-fps_mode", "vfr"])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-tune",
                "zerolatency",
            ])
            .args(["-crf", "28", "-pix_fmt", "yuv420p", "-threads", "1"])
            // A keyframe every segment length, so segments close on time even on a static page.
            .args(["-force_key_frames", &keyframe_every])
            .args(["-f", "hls", "-hls_time", &segment_secs.to_string()])
            .args([
                "-hls_segment_type",
                "fmp4",
                "-hls_fmp4_init_filename",
                "init.mp4",
            ])
            .args(["-hls_list_size", "0", "-hls_playlist_type", "event"])
            .arg("-hls_segment_filename")
            .arg(options.spool_dir.join("seg_%05d.m4s"))
            .arg(options.spool_dir.join(PLAYLIST))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let mut process = ProcessGroup::spawn("ffmpeg", &mut cmd, libc::SIGINT)?;
        let started = Instant::now();
        // Catch an immediate failure (bad display, missing encoder) before reporting success.
        tokio::time::sleep(Duration::from_millis(150)).await;
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
            spool_dir: options.spool_dir.clone(),
            started,
        })
    }

    /// The spool directory.
    pub fn spool_dir(&self) -> &Path {
        &self.spool_dir
    }

    /// ffmpeg's pid.
    pub fn pid(&self) -> i32 {
        self.process.pid()
    }

    /// The closed segments so far.
    pub async fn playlist(&self) -> Playlist {
        read_playlist(&self.spool_dir).await
    }

    /// True once ffmpeg has exited by itself.
    pub fn has_exited(&mut self) -> bool {
        self.process.try_exited().is_some()
    }

    /// Stops capture: SIGINT makes ffmpeg close its last segment and end the playlist. One call
    /// sends one SIGINT; a second SIGINT would make ffmpeg abort without flushing.
    pub async fn stop(mut self) {
        tokio::time::sleep_until(self.started + MIN_CAPTURE).await;
        self.process.terminate(libc::SIGINT, STOP_GRACE).await;
    }
}

/// Reads the playlist in `spool_dir`; an absent or unreadable one is an empty playlist.
pub async fn read_playlist(spool_dir: &Path) -> Playlist {
    match tokio::fs::read_to_string(spool_dir.join(PLAYLIST)).await {
        Ok(text) => Playlist::parse(&text),
        Err(_) => Playlist::default(),
    }
}
