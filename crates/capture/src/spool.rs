//! A recording's spool directory: `init.mp4` and the numbered segments the segmenter writes.
//!
//! While recording, the segmenter says which segments are closed. Once the recorder is gone
//! (stopped, or killed with the server) every file in the spool is final, and listing the
//! directory is the truth.

use std::path::Path;

/// The init segment's file name: `ftyp` + `moov`, which every segment needs in front of it.
pub const INIT_FILE: &str = "init.mp4";

/// The init segment and segments of a spool, by file name, in playback order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentList {
    /// [`INIT_FILE`], once written.
    pub init: Option<String>,
    /// Closed segments, oldest first.
    pub segments: Vec<String>,
}

/// The file name of segment `index`: `seg_00000.m4s`, `seg_00001.m4s`… (names sort in order).
pub fn segment_file(index: u32) -> String {
    format!("seg_{index:05}.m4s")
}

/// True for a name [`segment_file`] makes.
fn is_segment_file(name: &str) -> bool {
    name.strip_prefix("seg_")
        .and_then(|rest| rest.strip_suffix(".m4s"))
        .is_some_and(|digits| digits.len() >= 5 && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Every init and segment file in `spool_dir`, for a spool no recorder writes any more. An
/// absent or unreadable directory lists nothing.
pub async fn list_spool(spool_dir: &Path) -> SegmentList {
    let mut list = SegmentList::default();
    let Ok(mut entries) = tokio::fs::read_dir(spool_dir).await else {
        return list;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name == INIT_FILE {
            list.init = Some(name);
        } else if is_segment_file(&name) {
            list.segments.push(name);
        }
    }
    // Zero-padded numbers sort as numbers; a longer number (past 99 999) sorts after.
    list.segments
        .sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lists_init_and_segments_in_playback_order_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "seg_00010.m4s",
            "seg_00002.m4s",
            "seg_100000.m4s",
            "init.mp4",
            "ffmpeg.log",
            "seg_00003.unreadable",
            "seg_x.m4s",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let list = list_spool(dir.path()).await;
        assert_eq!(list.init.as_deref(), Some(INIT_FILE));
        assert_eq!(
            list.segments,
            ["seg_00002.m4s", "seg_00010.m4s", "seg_100000.m4s"]
        );
        assert_eq!(segment_file(7), "seg_00007.m4s");
    }

    #[tokio::test]
    async fn a_missing_spool_lists_nothing() {
        let list = list_spool(Path::new("/nonexistent/spool")).await;
        assert_eq!(list, SegmentList::default());
    }
}
