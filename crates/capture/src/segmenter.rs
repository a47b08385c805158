//! ffmpeg's fragmented-MP4 stream → segment files in the spool, written as the fragments arrive.
//!
//! ffmpeg writes `ftyp` + `moov`, then one fragment (`moof` + `mdat`) per frame, to its stdout.
//! The segmenter writes the first two as [`INIT_FILE`] and appends each fragment to the open
//! segment the moment it is whole, starting the next segment at a keyframe once the segment
//! schedule says so (the HLS muxer's rule: segment *n* ends at the first keyframe at or after
//! *n* × the segment length). So an encoder that dies costs only the frames it had not yet
//! handed over, never a segment: on any screen, busy or still.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::fmp4::{self, TrackTime};
use crate::spool::{segment_file, SegmentList, INIT_FILE};
use crate::CaptureError;

/// The largest box taken from the encoder: far above one encoded frame (a 4K keyframe is a
/// few MiB), and a bound on what a misbehaving encoder can make the server hold.
const MAX_BOX_BYTES: u64 = 64 << 20;

/// A task splitting one encoder's output into the spool.
pub struct Segmenter {
    closed: Arc<Mutex<SegmentList>>,
    task: JoinHandle<Result<(), CaptureError>>,
}

impl Segmenter {
    /// Starts splitting `stream` into `spool_dir`, with segments of about `segment_secs`.
    pub fn start(
        stream: impl AsyncRead + Unpin + Send + 'static,
        spool_dir: PathBuf,
        segment_secs: u32,
    ) -> Self {
        let closed = Arc::new(Mutex::new(SegmentList::default()));
        let split = Split {
            spool_dir,
            segment_secs: u64::from(segment_secs.max(1)),
            closed: closed.clone(),
            time: None,
            first_start: None,
            open: None,
            started: 0,
        };
        Self {
            closed,
            task: tokio::spawn(split.run(stream)),
        }
    }

    /// The init segment and the segments closed so far.
    pub fn closed(&self) -> SegmentList {
        self.closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// True once the stream has ended (the encoder exited) or could not be written.
    pub fn has_ended(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits until the stream has ended and the last segment is closed.
    pub async fn finish(self) -> Result<(), CaptureError> {
        self.task
            .await
            .map_err(|e| CaptureError::Grab(format!("segmenter: {e}")))?
    }
}

/// The segment being written.
struct OpenSegment {
    name: String,
    file: tokio::fs::File,
}

/// The segmenter task's state.
struct Split {
    spool_dir: PathBuf,
    segment_secs: u64,
    closed: Arc<Mutex<SegmentList>>,
    /// From the init segment, once read.
    time: Option<TrackTime>,
    /// The decode time of the first fragment: the schedule's zero.
    first_start: Option<u64>,
    open: Option<OpenSegment>,
    /// Segments started so far.
    started: u32,
}

impl Split {
    async fn run(mut self, mut stream: impl AsyncRead + Unpin) -> Result<(), CaptureError> {
        let mut init = Vec::new();
        let mut moof: Option<Vec<u8>> = None;
        let outcome = loop {
            let media_box = match read_box(&mut stream).await {
                Ok(Some(media_box)) => media_box,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            };
            let written = match &media_box[4..8] {
                b"ftyp" => {
                    init = media_box;
                    Ok(())
                }
                b"moov" => {
                    init.extend_from_slice(&media_box);
                    self.write_init(&init).await
                }
                b"moof" => {
                    moof = Some(media_box);
                    Ok(())
                }
                b"mdat" => match moof.take() {
                    Some(moof) => self.append_fragment(moof, &media_box).await,
                    None => Ok(()),
                },
                // Index boxes (sidx, mfra) describe offsets in ffmpeg's single file; not ours.
                _ => Ok(()),
            };
            if let Err(e) = written {
                break Err(e);
            }
        };
        // Whatever ended the stream, what was written is whole fragments: close it.
        self.close_open().await?;
        outcome
    }

    async fn write_init(&mut self, init: &[u8]) -> Result<(), CaptureError> {
        self.time = fmp4::track_time(init);
        if self.time.is_none() {
            return Err(CaptureError::Grab(
                "the encoder's init segment is unreadable".into(),
            ));
        }
        tokio::fs::write(self.spool_dir.join(INIT_FILE), init).await?;
        self.list(|list| list.init = Some(INIT_FILE.to_owned()));
        Ok(())
    }

    async fn append_fragment(&mut self, moof: Vec<u8>, mdat: &[u8]) -> Result<(), CaptureError> {
        let Some(time) = self.time else {
            return Err(CaptureError::Grab(
                "a fragment came before the init segment".into(),
            ));
        };
        let head = fmp4::fragment_head(&moof, time)
            .ok_or_else(|| CaptureError::Grab("the encoder wrote an unreadable fragment".into()))?;
        let first = *self.first_start.get_or_insert(head.start);
        let due = u64::from(self.started) * self.segment_secs * u64::from(time.timescale);
        if self.open.is_none() || (head.keyframe && head.start.saturating_sub(first) >= due) {
            self.close_open().await?;
            let name = segment_file(self.started);
            let file = tokio::fs::File::create(self.spool_dir.join(&name)).await?;
            self.open = Some(OpenSegment { name, file });
            self.started += 1;
        }
        if let Some(open) = &mut self.open {
            // One write per fragment: a crash mid-write leaves at most one partial fragment,
            // which recovery trims (`fmp4::whole_fragments_len`).
            let mut fragment = moof;
            fragment.extend_from_slice(mdat);
            open.file.write_all(&fragment).await?;
            open.file.flush().await?;
        }
        Ok(())
    }

    /// Closes the open segment, if any, and lists it as closed.
    async fn close_open(&mut self) -> Result<(), CaptureError> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        open.file.flush().await?;
        drop(open.file);
        self.list(|list| list.segments.push(open.name));
        Ok(())
    }

    fn list(&self, change: impl FnOnce(&mut SegmentList)) {
        change(&mut self.closed.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Reads one whole top-level box (header included); `None` at the end of the stream, where a
/// box cut short by the encoder's death is dropped.
async fn read_box(stream: &mut (impl AsyncRead + Unpin)) -> Result<Option<Vec<u8>>, CaptureError> {
    let mut header = [0u8; 8];
    if !read_whole(stream, &mut header).await? {
        return Ok(None);
    }
    let mut media_box = header.to_vec();
    let size = match u32::from_be_bytes([header[0], header[1], header[2], header[3]]) {
        1 => {
            let mut large = [0u8; 8];
            if !read_whole(stream, &mut large).await? {
                return Ok(None);
            }
            media_box.extend_from_slice(&large);
            u64::from_be_bytes(large)
        }
        n => u64::from(n),
    };
    let header_len = media_box.len() as u64;
    if size < header_len || size > MAX_BOX_BYTES {
        return Err(CaptureError::Grab(format!(
            "the encoder wrote a box of {size} bytes; expected {header_len} to {MAX_BOX_BYTES}"
        )));
    }
    let start = media_box.len();
    media_box.resize(size as usize, 0);
    if !read_whole(stream, &mut media_box[start..]).await? {
        return Ok(None);
    }
    Ok(Some(media_box))
}

/// Fills `buf`; false if the stream ended first.
async fn read_whole(
    stream: &mut (impl AsyncRead + Unpin),
    buf: &mut [u8],
) -> Result<bool, CaptureError> {
    match stream.read_exact(buf).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::list_spool;

    /// ffmpeg's output for seven frames at 0, 0.5, 1.5, 2.2, 3.9, 4.5 and 5.5 s, all keyframes
    /// but the one at 0.5 s (`fixtures/vfr-stream`).
    pub(super) fn stream() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/vfr-stream/stream.mp4"
        ))
        .expect("fixture")
    }

    /// Splits `input` into a fresh spool; returns the spool, the outcome and the closed list.
    pub(super) async fn split(
        input: Vec<u8>,
        segment_secs: u32,
    ) -> (tempfile::TempDir, Result<(), CaptureError>, SegmentList) {
        let dir = tempfile::tempdir().unwrap();
        let segmenter =
            Segmenter::start(std::io::Cursor::new(input), dir.path().into(), segment_secs);
        while !segmenter.has_ended() {
            tokio::task::yield_now().await;
        }
        let closed = segmenter.closed();
        let outcome = segmenter.finish().await;
        (dir, outcome, closed)
    }

    fn frame_times(dir: &std::path::Path, segment: &str) -> Vec<u64> {
        let init = std::fs::read(dir.join(INIT_FILE)).unwrap();
        let time = fmp4::track_time(&init).unwrap();
        let bytes = std::fs::read(dir.join(segment)).unwrap();
        let mut times = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            if &bytes[at + 4..at + 8] == b"moof" {
                let head = fmp4::fragment_head(&bytes[at..at + size], time).unwrap();
                times.push(head.start * 1000 / u64::from(time.timescale));
            }
            at += size;
        }
        times
    }

    #[tokio::test]
    async fn cuts_at_the_first_keyframe_due_on_the_segment_schedule() {
        let input = stream();
        let (dir, outcome, closed) = split(input.clone(), 2).await;
        outcome.unwrap();
        assert_eq!(closed.init.as_deref(), Some(INIT_FILE));
        assert_eq!(closed.segments.len(), 3, "{closed:?}");
        // Segment n ends at the first keyframe at or after n × 2 s.
        let times: Vec<_> = closed
            .segments
            .iter()
            .map(|s| frame_times(dir.path(), s))
            .collect();
        assert_eq!(
            times,
            [vec![0, 500, 1500], vec![2200, 3900], vec![4500, 5500]]
        );
        // Byte for byte, init + segments is the stream.
        let mut joined = std::fs::read(dir.path().join(INIT_FILE)).unwrap();
        for segment in &closed.segments {
            joined.extend(std::fs::read(dir.path().join(segment)).unwrap());
        }
        assert_eq!(joined, input);
        assert_eq!(list_spool(dir.path()).await, closed);
    }

    #[tokio::test]
    async fn a_stream_cut_mid_frame_keeps_every_whole_frame_before_it() {
        let mut input = stream();
        // The encoder dies halfway through the last frame's data.
        input.truncate(input.len() - 20);
        let (dir, outcome, closed) = split(input, 1).await;
        outcome.unwrap();
        let times: Vec<_> = closed
            .segments
            .iter()
            .map(|s| frame_times(dir.path(), s))
            .collect();
        assert_eq!(
            times,
            [vec![0, 500], vec![1500], vec![2200], vec![3900], vec![4500]]
        );
    }

    #[tokio::test]
    async fn an_oversized_box_ends_the_stream_with_an_error_and_keeps_what_came_before() {
        let mut input = stream();
        input.extend_from_slice(&(u32::MAX).to_be_bytes());
        input.extend_from_slice(b"mdat");
        let (_dir, outcome, closed) = split(input, 2).await;
        assert!(matches!(outcome, Err(CaptureError::Grab(m)) if m.contains("box of")));
        assert_eq!(closed.segments.len(), 3);
    }

    #[tokio::test]
    async fn a_fragment_before_the_init_segment_is_refused() {
        let input = stream();
        // Drop ftyp + moov (28 + 748 bytes).
        let (_dir, outcome, closed) = split(input[776..].to_vec(), 2).await;
        assert!(outcome.is_err());
        assert_eq!(closed, SegmentList::default());
    }
}

/// Property tests on outside input (`scripts/fuzz` runs them longer): an encoder's output,
/// damaged or cut anywhere.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::tests::{split, stream};

    proptest! {
        #[test]
        fn a_damaged_stream_ends_cleanly_and_writes_only_what_it_was_given(
            writes in proptest::collection::vec((0..2362usize, any::<u8>()), 0..6),
            cut in 0..=2362usize,
        ) {
            let mut input = stream();
            for (at, value) in writes {
                if let Some(byte) = input.get_mut(at) {
                    *byte = value;
                }
            }
            input.truncate(cut);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (dir, _, closed) = runtime.block_on(split(input.clone(), 1));
            let mut written = 0;
            for name in closed.init.iter().chain(&closed.segments) {
                written += std::fs::metadata(dir.path().join(name)).unwrap().len() as usize;
            }
            prop_assert!(written <= input.len());
        }
    }
}
