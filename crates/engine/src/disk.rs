//! The free-space floor (`--min-free-disk-mib`): below it no recording starts and the ones in
//! flight stop (`disk_full`), so a full disk costs the rest of those recordings, never what is
//! already stored.

use std::path::{Path, PathBuf};

use tapedeck_core::EngineError;

use crate::Engine;

/// Bytes free for the server's user on the filesystem holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    let stats = rustix::fs::statvfs(dir).ok()?;
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

impl Engine {
    /// The local directories recordings write to: the spool, and a local blob store.
    fn recording_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.config().sandbox_dir.clone()];
        dirs.extend(self.blobs().local_root().map(Path::to_path_buf));
        dirs
    }

    /// The fewest bytes free among the recording directories, when that is below the floor.
    pub(crate) fn disk_below_floor(&self) -> Option<u64> {
        let floor = self.config().min_free_disk_bytes;
        self.recording_dirs()
            .iter()
            .filter_map(|dir| free_bytes(dir))
            .min()
            .filter(|free| *free < floor)
    }

    /// Refuses a new recording below the floor.
    ///
    /// Errors: `CapacityExhausted`, naming what is free and the floor.
    pub(crate) fn ensure_disk_room(&self) -> Result<(), EngineError> {
        match self.disk_below_floor() {
            Some(free) => Err(EngineError::CapacityExhausted(format!(
                "the recording disk has {} MiB free, below this server's floor of {} MiB; \
                 free space or delete recordings before starting another",
                free >> 20,
                self.config().min_free_disk_bytes >> 20
            ))),
            None => Ok(()),
        }
    }
}
