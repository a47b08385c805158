//! The engine's settings.

use std::path::PathBuf;

use tapedeck_core::Viewport;

/// Everything the engine needs to know about this machine, with defaults that work on a fresh
/// Debian with the project's packages installed.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Root of the server's state: `spool/` for segments being written, `sessions/` for profiles.
    pub data_dir: PathBuf,
    /// The Chromium binary.
    pub chromium: PathBuf,
    /// The ffmpeg binary.
    pub ffmpeg: PathBuf,
    /// Most sessions running at once; past it, create answers "capacity exhausted".
    pub max_sessions: usize,
    /// First X display number tried (`:N`).
    pub first_display: u32,
    /// Frame rate when a client does not ask for one.
    pub default_framerate: u32,
    /// Longest recording when a client does not ask for less, in seconds.
    pub max_recording_secs: u64,
    /// x264's constant rate factor for recordings (lower: better and larger).
    pub video_crf: u8,
    /// Largest recording, in bytes; a recording that reaches it stops by itself.
    pub max_recording_bytes: u64,
    /// Idle sessions kept started ahead of demand (`--warm-pool`); 0 turns the pool off.
    pub warm_pool: usize,
    /// The viewport of pooled sessions; only creates asking for it use the pool.
    pub warm_viewport: Viewport,
    /// Extra Chromium flags for every session (e.g. to browse through the recording proxy).
    pub browser_extra_args: Vec<String>,
}

impl EngineConfig {
    /// Defaults under `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            chromium: PathBuf::from("/usr/bin/chromium"),
            ffmpeg: PathBuf::from("ffmpeg"),
            max_sessions: 4,
            first_display: 100,
            default_framerate: 10,
            max_recording_secs: 4 * 3600,
            max_recording_bytes: 500 * 1024 * 1024,
            video_crf: 28,
            warm_pool: 0,
            warm_viewport: Viewport {
                width: 1280,
                height: 720,
            },
            browser_extra_args: Vec::new(),
        }
    }

    /// Where a recording's segments are written while it records.
    pub fn spool_dir(&self, recording_id: &str) -> PathBuf {
        self.data_dir.join("spool").join(recording_id)
    }

    /// A session's own files (its browser profile).
    pub fn session_dir(&self, session_id: &str) -> PathBuf {
        self.data_dir.join("sessions").join(session_id)
    }

    /// Where a session's browser profile lives.
    pub fn profile_dir(&self, session_id: &str) -> PathBuf {
        self.session_dir(session_id).join("profile")
    }
}
