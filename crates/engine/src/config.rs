//! The engine's settings.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use tapedeck_capture::Sandbox;
use tapedeck_core::Viewport;

/// Everything the engine needs to know about this machine, with defaults that work on a fresh
/// Debian with the project's packages installed.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Root of the server's own state (metadata, blobs, secrets); no session process sees it.
    pub data_dir: PathBuf,
    /// Root of what session processes write: `sessions/<id>` (a browser's home and profile) and
    /// `spool/<recording>` (segments being written). The session user must be able to reach
    /// it, so when the server is root it lies outside the data dir.
    pub sandbox_dir: PathBuf,
    /// How session processes are confined.
    pub sandbox: Sandbox,
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
    /// Free space, in bytes, below which no recording starts and the ones in flight stop
    /// (`disk_full`), on the spool's and a local blob store's filesystems.
    pub min_free_disk_bytes: u64,
    /// Idle sessions kept started ahead of demand (`--warm-pool`); 0 turns the pool off.
    pub warm_pool: usize,
    /// The viewport of pooled sessions; only creates asking for it use the pool.
    pub warm_viewport: Viewport,
    /// Extra Chromium flags for every session (e.g. to browse through the recording proxy).
    pub browser_extra_args: Vec<String>,
    /// Where targets reach this server's out-of-band canary (`<base>/canary/<token>`), usually
    /// its public URL; `None` turns out-of-band security tests off.
    pub canary_base: Option<String>,
}

impl EngineConfig {
    /// Defaults under `data_dir`, with sessions running as the server's own user.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            sandbox_dir: data_dir.clone(),
            sandbox: Sandbox::new(PathBuf::from("bwrap"), None),
            data_dir,
            chromium: PathBuf::from("/usr/bin/chromium"),
            ffmpeg: PathBuf::from("ffmpeg"),
            max_sessions: 4,
            first_display: 100,
            default_framerate: 10,
            max_recording_secs: 4 * 3600,
            max_recording_bytes: 500 * 1024 * 1024,
            min_free_disk_bytes: 512 * 1024 * 1024,
            video_crf: 28,
            warm_pool: 0,
            warm_viewport: Viewport {
                width: 1280,
                height: 720,
            },
            browser_extra_args: Vec::new(),
            canary_base: None,
        }
    }

    /// Where a recording's segments are written while it records.
    pub fn spool_dir(&self, recording_id: &str) -> PathBuf {
        self.sandbox_dir.join("spool").join(recording_id)
    }

    /// A session's own files: its browser's home, with the profile in `profile/`.
    pub fn session_dir(&self, session_id: &str) -> PathBuf {
        self.sandbox_dir.join("sessions").join(session_id)
    }

    /// Creates the sandbox dir with its `sessions/` and `spool/`, each mode 0711 (unless it is
    /// the data dir): the session user can reach its own directory inside but list nothing.
    pub fn prepare_sandbox_dir(&self) -> std::io::Result<()> {
        let traverse_only = std::fs::Permissions::from_mode(0o711);
        for dir in ["sessions", "spool"] {
            std::fs::create_dir_all(self.sandbox_dir.join(dir))?;
            std::fs::set_permissions(self.sandbox_dir.join(dir), traverse_only.clone())?;
        }
        if self.sandbox_dir != self.data_dir {
            std::fs::set_permissions(&self.sandbox_dir, traverse_only)?;
        }
        Ok(())
    }
}
