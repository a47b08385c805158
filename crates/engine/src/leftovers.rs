//! Folders in the sandbox dir that a crash left behind: session homes (with their browser
//! profiles) and recording spools whose session or recording is over.
//!
//! Several servers may share one sandbox dir (every root server defaults to the same one), so a
//! folder is swept only when this server's metadata knows its id and says it is over. A folder
//! it does not know belongs to another server, which sweeps its own at its start; a session or
//! recording still running, or one whose row is not written yet, keeps its folder.

use std::path::Path;

use tapedeck_core::{RecordingState, SessionState};

use crate::Engine;

/// Removes every leftover folder; returns how many.
pub(crate) async fn sweep_leftover_folders(engine: &Engine) -> usize {
    let sandbox_dir = &engine.config().sandbox_dir;
    let mut swept = 0;
    for id in folder_names(&sandbox_dir.join("sessions")).await {
        let over = match engine.inner.meta.get_session(&id).await {
            Ok(Some(session)) => session.state == SessionState::Deleted,
            _ => false,
        };
        if over && remove(&engine.config().session_dir(&id)).await {
            swept += 1;
        }
    }
    for id in folder_names(&sandbox_dir.join("spool")).await {
        let over = match engine.inner.meta.get_recording(&id).await {
            Ok(Some(recording)) => !matches!(
                recording.state,
                RecordingState::Recording | RecordingState::Stopping
            ),
            _ => false,
        };
        if over && remove(&engine.config().spool_dir(&id)).await {
            swept += 1;
        }
    }
    swept
}

/// The names of the folders in `dir`; none when it cannot be read.
async fn folder_names(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return names;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let is_dir = entry.file_type().await.is_ok_and(|t| t.is_dir());
        if let (true, Ok(name)) = (is_dir, entry.file_name().into_string()) {
            names.push(name);
        }
    }
    names
}

async fn remove(dir: &Path) -> bool {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove a leftover folder");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{engine, recording_row};

    #[tokio::test]
    async fn only_folders_of_sessions_and_recordings_known_to_be_over_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let config = engine.config();
        let finished = recording_row(&engine, RecordingState::Finished, 1 << 30).await;
        let recording = recording_row(&engine, RecordingState::Recording, 1 << 30).await;
        let (ended, live) = (&finished.session_id, &recording.session_id);
        engine
            .inner
            .meta
            .mark_session_deleted(ended, time::OffsetDateTime::now_utc())
            .await
            .unwrap();
        let folders = [
            config.session_dir(ended),
            config.session_dir(live),
            config.session_dir("another-servers-session"),
            config.spool_dir(&finished.id),
            config.spool_dir(&recording.id),
            config.spool_dir("another-servers-recording"),
        ];
        for folder in &folders {
            std::fs::create_dir_all(folder.join("profile")).unwrap();
        }
        assert_eq!(sweep_leftover_folders(&engine).await, 2);
        let kept: Vec<bool> = folders.iter().map(|f| f.exists()).collect();
        assert_eq!(kept, [false, true, true, false, true, true]);
    }
}
