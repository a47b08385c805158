//! Capture on X damage: a frame is grabbed only when the screen changed.
//!
//! x11grab copies and converts every frame at the frame rate, so an unchanged screen costs as
//! much as a busy one. The grabber instead looks at a [`DamagedScreen`] at each tick of the
//! frame rate: the screen is grabbed only if something was drawn, and a grab identical to the
//! previous frame is dropped too. Changed frames are converted to I420 here and go to ffmpeg as Matroska with the grab
//! time, so the video's timeline stays true.
//! An unchanged screen is re-sent every `keepalive`, since ffmpeg hands a frame over only once
//! the next one arrives, and once more at stop, so the video lasts until the stop. The first
//! frame is re-sent after [`FIRST_REPEAT`], so even a recording cut off at once has a frame.

use std::fs::File;
use std::io::BufWriter;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::activity::ActivityLog;
use crate::colour::I420Frame;
use crate::damaged_screen::{DamagedScreen, Look};
use crate::matroska::MatroskaWriter;
use crate::CaptureError;

/// How soon the first frame is re-sent on an unchanged screen: ffmpeg writes a frame once the
/// next one arrives, so until then the recording has no video at all.
const FIRST_REPEAT: Duration = Duration::from_millis(200);

/// What the grabber needs to know.
#[derive(Debug, Clone)]
pub struct GrabOptions {
    /// The X display's number N of `:N`.
    pub display_number: u32,
    /// Captured width from the top-left corner, in pixels (even, for yuv420p).
    pub width: u16,
    /// Captured height from the top-left corner, in pixels (even, for yuv420p).
    pub height: u16,
    /// At most this many frames per second.
    pub framerate: u32,
    /// An unchanged screen is re-sent after this long.
    pub keepalive: Duration,
}

/// Frame counts of a finished capture, for logs.
#[derive(Debug, Default, Clone, Copy)]
pub struct GrabStats {
    /// Grabs that differed from the previous frame and were sent.
    pub changed: u64,
    /// Damage reports whose grab was identical to the previous frame.
    pub unchanged: u64,
    /// Re-sent unchanged frames (keepalive and the closing frame).
    pub repeated: u64,
    /// Ticks of the frame rate that passed while the grabber was still busy with an earlier
    /// one (descheduled, or ffmpeg not reading): frames that could not be grabbed.
    pub missed_ticks: u64,
    /// Timestamp of the last frame sent, in ms from the first: the video's length.
    pub last_frame_ms: u64,
}

/// A running grabber thread; dropping it stops the thread and closes ffmpeg's input.
pub struct Grabber {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<Result<GrabStats, CaptureError>>>,
    started: Instant,
    activity: ActivityLog,
}

impl Grabber {
    /// Connects to the display, sets up damage tracking and shared memory, sends the first
    /// frame to `sink`, and keeps capturing on a thread of its own.
    pub fn start(options: GrabOptions, sink: File) -> Result<Self, CaptureError> {
        let mut capture = GrabLoop::connect(&options, sink)?;
        let (started, activity) = (capture.started, capture.activity.clone());
        let (stop_tx, stop_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("grab:{}", options.display_number))
            .spawn(move || capture.run(&stop_rx))?;
        Ok(Self {
            stop: Some(stop_tx),
            thread: Some(thread),
            started,
            activity,
        })
    }

    /// When the first frame was grabbed: time 0 of the video.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The stretches in which the screen changed, as they close.
    pub fn activity(&self) -> &ActivityLog {
        &self.activity
    }

    /// True once the thread has ended by itself (display gone, or ffmpeg stopped reading).
    pub fn has_ended(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Sends the closing frame, closes ffmpeg's input, and returns the frame counts.
    pub async fn stop(mut self) -> Result<GrabStats, CaptureError> {
        self.stop.take();
        let Some(thread) = self.thread.take() else {
            return Ok(GrabStats::default());
        };
        let joined = tokio::task::spawn_blocking(move || thread.join()).await;
        match joined {
            Ok(Ok(outcome)) => outcome,
            _ => Err(CaptureError::Grab("the grabber thread panicked".into())),
        }
    }
}

/// The grabber thread's state: the watched screen and the output.
struct GrabLoop {
    screen: DamagedScreen,
    interval: Duration,
    keepalive: Duration,
    /// The frame last sent, as encoded.
    frame: I420Frame,
    out: MatroskaWriter<BufWriter<File>>,
    started: Instant,
    /// When an unchanged screen is re-sent next.
    repeat_at: Instant,
    /// The timestamp of the frame last sent; none before the first.
    last_sent_ms: Option<u64>,
    stats: GrabStats,
    activity: ActivityLog,
}

impl GrabLoop {
    fn connect(options: &GrabOptions, sink: File) -> Result<Self, CaptureError> {
        let screen = DamagedScreen::watch(options.display_number, options.width, options.height)?;
        let out = MatroskaWriter::start(
            BufWriter::with_capacity(64 * 1024, sink),
            u32::from(options.width),
            u32::from(options.height),
        )?;
        let started = Instant::now();
        let mut capture = Self {
            screen,
            interval: Duration::from_secs_f64(1.0 / f64::from(options.framerate.max(1))),
            keepalive: options.keepalive,
            frame: I420Frame::new(options.width, options.height),
            out,
            started,
            repeat_at: started,
            last_sent_ms: None,
            stats: GrabStats::default(),
            activity: ActivityLog::default(),
        };
        // The first frame goes out at once: a video always starts at its start time.
        capture.frame.fill_from_bgrx(capture.screen.frame())?;
        capture.send(started)?;
        capture.stats.changed += 1;
        capture.repeat_at = started + FIRST_REPEAT;
        Ok(capture)
    }

    fn run(&mut self, stop: &mpsc::Receiver<()>) -> Result<GrabStats, CaptureError> {
        let mut next_tick = self.started + self.interval;
        // Ends when stop is asked for or the recorder dropped its handle.
        while let Err(RecvTimeoutError::Timeout) =
            stop.recv_timeout(next_tick.saturating_duration_since(Instant::now()))
        {
            let now = Instant::now();
            // Ticks missed while the machine was busy are skipped, not caught up.
            let late = now.saturating_duration_since(next_tick);
            self.stats.missed_ticks += (late.as_secs_f64() / self.interval.as_secs_f64()) as u64;
            next_tick = (next_tick + self.interval).max(now);
            match self.screen.look()? {
                Look::Changed => {
                    self.frame.fill_from_bgrx(self.screen.frame())?;
                    self.send(now)?;
                    self.stats.changed += 1;
                    self.activity.changed(self.ms_at(now));
                    continue;
                }
                Look::Unchanged => self.stats.unchanged += 1,
                Look::Undamaged => {}
            }
            self.activity.idle_at(self.ms_at(now));
            if now >= self.repeat_at {
                self.send(now)?;
                self.stats.repeated += 1;
            }
        }
        self.send(Instant::now())?;
        self.stats.repeated += 1;
        self.stats.last_frame_ms = self.last_sent_ms.unwrap_or_default();
        self.activity.finish();
        Ok(self.stats)
    }

    /// `at` as ms from the first frame.
    fn ms_at(&self, at: Instant) -> u64 {
        (at - self.started).as_millis() as u64
    }

    /// Writes the current frame stamped with `at`, unless a frame already holds that millisecond.
    fn send(&mut self, at: Instant) -> Result<(), CaptureError> {
        let at_ms = self.ms_at(at);
        if self.last_sent_ms.is_some_and(|last| at_ms <= last) {
            return Ok(());
        }
        self.out.write_frame(at_ms, self.frame.planes())?;
        self.repeat_at = at + self.keepalive;
        self.last_sent_ms = Some(at_ms);
        Ok(())
    }
}
