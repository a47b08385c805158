//! The segment index (`sidx`) that lets a player start a long video after reading its head.
//!
//! Without an index, FFmpeg's mov demuxer (ffprobe, and Chromium's `<video>`) walks every
//! fragment of a fragmented MP4 to learn where the fragments are and how long the video is, so
//! a player reads the whole file before it can start. A `sidx` after the `moov` whose
//! references reach the end of the file tells it both: it marks its fragment index complete and
//! stops reading at the first fragment, and takes the duration from the references.
//!
//! The index's place is held by a `free` box ([`placeholder`]) written right after `init.mp4`
//! when the video starts, and [`index`] fills exactly that space once the last segment is known,
//! so no byte of video moves. One reference per segment, or per run of adjacent segments once
//! there are more segments than the space holds.

use crate::fmp4::{segment_span, TrackTime};

/// References the index has room for: 17 minutes of 2 s segments one by one; a longer video
/// shares references between adjacent segments (seeking then starts a few segments earlier).
const MAX_REFERENCES: usize = 512;
/// A version-1 `sidx` before its references: header 8, version and flags 4, reference_ID 4,
/// timescale 4, earliest_presentation_time 8, first_offset 8, reserved 2, reference_count 2.
const SIDX_HEAD: usize = 40;
/// One reference: type and size 4, duration 4, SAP fields 4.
const REFERENCE_LEN: usize = 12;
/// The bytes reserved for the index right after `init.mp4`.
pub const INDEX_SPACE: usize = SIDX_HEAD + MAX_REFERENCES * REFERENCE_LEN;
/// `starts_with_SAP` set, SAP type 1 (a keyframe at the start of the subsegment).
const STARTS_WITH_KEYFRAME: u32 = 0x9000_0000;

/// One segment as the index sees it: its length and where its samples start and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedSegment {
    /// Its size in bytes.
    pub size: u64,
    /// Decode time of its first sample, in timescale ticks.
    pub start: u64,
    /// Where its last sample ends, in timescale ticks.
    pub end: u64,
}

impl IndexedSegment {
    /// The segment `segment` (whole `moof` + `mdat` fragments), or `None` when its boxes
    /// cannot be read.
    pub fn of(segment: &[u8], time: TrackTime) -> Option<Self> {
        let (start, end) = segment_span(segment, time)?;
        Some(Self {
            size: segment.len() as u64,
            start,
            end,
        })
    }
}

/// The `free` box that holds the index's place: [`INDEX_SPACE`] bytes.
pub fn placeholder() -> Vec<u8> {
    free_box(INDEX_SPACE)
}

/// The index of `segments`, laid end to end in playback order right after it, as exactly
/// [`INDEX_SPACE`] bytes to write over the [`placeholder`]: a `free` box padding the unused
/// room, then the `sidx`, which so ends where the first segment begins.
///
/// `None` when there is no segment, the segments' times go backwards, or a reference would
/// overflow its field (2 GiB, 2^32 ticks); the placeholder then stays, and the video plays as
/// it would without an index.
pub fn index(time: TrackTime, segments: &[IndexedSegment]) -> Option<Vec<u8>> {
    let first = segments.first()?;
    // Each reference covers `per_reference` adjacent segments; it spans from its first
    // segment's start to the next reference's start, so gaps between segments are covered.
    let per_reference = segments.len().div_ceil(MAX_REFERENCES);
    let runs: Vec<&[IndexedSegment]> = segments.chunks(per_reference).collect();
    let mut references = Vec::with_capacity(runs.len() * REFERENCE_LEN);
    for (at, run) in runs.iter().enumerate() {
        let start = run.first()?.start;
        let end = match runs.get(at + 1) {
            Some(next) => next.first()?.start,
            None => run.last()?.end,
        };
        let size = u32::try_from(run.iter().map(|s| s.size).sum::<u64>()).ok()?;
        // The top bit of the size is the reference type (0: media).
        let size = (size < 0x8000_0000).then_some(size)?;
        let duration = u32::try_from(end.checked_sub(start)?).ok()?;
        references.extend_from_slice(&size.to_be_bytes());
        references.extend_from_slice(&duration.to_be_bytes());
        references.extend_from_slice(&STARTS_WITH_KEYFRAME.to_be_bytes());
    }

    let sidx_len = SIDX_HEAD + references.len();
    // The room left is a multiple of a reference's 12 bytes: none, or enough for a box.
    let mut out = match INDEX_SPACE - sidx_len {
        0 => Vec::with_capacity(INDEX_SPACE),
        room => free_box(room),
    };
    out.extend_from_slice(&(sidx_len as u32).to_be_bytes());
    out.extend_from_slice(b"sidx");
    out.extend_from_slice(&0x0100_0000u32.to_be_bytes()); // version 1, no flags
    out.extend_from_slice(&time.track_id.to_be_bytes());
    out.extend_from_slice(&time.timescale.to_be_bytes());
    out.extend_from_slice(&first.start.to_be_bytes()); // earliest_presentation_time
    out.extend_from_slice(&0u64.to_be_bytes()); // first_offset: the first segment follows
    out.extend_from_slice(&0u16.to_be_bytes()); // reserved
    out.extend_from_slice(&(runs.len() as u16).to_be_bytes());
    out.extend_from_slice(&references);
    Some(out)
}

/// A `free` box of `len` bytes (at least 8), header included.
fn free_box(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.extend_from_slice(b"free");
    out.resize(len, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmp4::{boxes, track_time, u32_at, u64_at};

    /// What a written index says: (track, timescale, earliest time, first_offset, references
    /// as (size, duration, SAP fields)).
    type Parsed = (u32, u32, u64, u64, Vec<(u32, u32, u32)>);

    /// Reads back the `sidx` of an index, checking the boxes fill the reserved space exactly.
    fn parse(index: &[u8]) -> Parsed {
        let all: Vec<_> = boxes(index).collect();
        assert_eq!(all.iter().map(|b| b.size).sum::<usize>(), INDEX_SPACE);
        let sidx = all
            .iter()
            .find(|b| &b.kind == b"sidx")
            .expect("a sidx")
            .body;
        assert_eq!(
            &all.last().unwrap().kind,
            b"sidx",
            "the sidx ends the space"
        );
        assert_eq!(sidx[0], 1, "version 1");
        let count = u16::from_be_bytes([sidx[30], sidx[31]]) as usize;
        let references = (0..count)
            .map(|i| {
                let at = 32 + i * REFERENCE_LEN;
                let field = |k: usize| u32_at(sidx, at + 4 * k).unwrap();
                (field(0), field(1), field(2))
            })
            .collect();
        (
            u32_at(sidx, 4).unwrap(),
            u32_at(sidx, 8).unwrap(),
            u64_at(sidx, 12).unwrap(),
            u64_at(sidx, 20).unwrap(),
            references,
        )
    }

    fn time() -> TrackTime {
        TrackTime {
            track_id: 1,
            timescale: 1000,
            default_sample_duration: 0,
            default_sample_flags: 0,
        }
    }

    fn segment(size: u64, start: u64, end: u64) -> IndexedSegment {
        IndexedSegment { size, start, end }
    }

    #[test]
    fn the_placeholder_is_one_free_box_filling_the_space() {
        let held = placeholder();
        let all: Vec<_> = boxes(&held).collect();
        assert_eq!(all.len(), 1);
        assert_eq!((&all[0].kind, all[0].size), (b"free", INDEX_SPACE));
    }

    #[test]
    fn indexes_each_segment_of_the_recorded_fixture() {
        let init = crate::fmp4::tests::fixture("init.mp4");
        let time = track_time(&init).unwrap();
        let segments: Vec<_> = (0..6)
            .map(|n| crate::fmp4::tests::fixture(&format!("seg_{n:05}.m4s")))
            .collect();
        let indexed: Vec<_> = segments
            .iter()
            .map(|s| IndexedSegment::of(s, time).expect("a readable segment"))
            .collect();
        let (track, timescale, earliest, first_offset, references) =
            parse(&index(time, &indexed).unwrap());
        assert_eq!((track, timescale, first_offset), (1, time.timescale, 0));
        assert_eq!(earliest, indexed[0].start);
        let sizes: Vec<u64> = references.iter().map(|r| u64::from(r.0)).collect();
        let lengths: Vec<u64> = segments.iter().map(|s| s.len() as u64).collect();
        assert_eq!(sizes, lengths);
        assert!(references.iter().all(|r| r.2 == STARTS_WITH_KEYFRAME));
        // The references add up to the video's 5.6 s (see `fmp4`'s span test).
        let ticks: u64 = references.iter().map(|r| u64::from(r.1)).sum();
        assert_eq!(ticks * 1000 / u64::from(timescale), 5600);
    }

    #[test]
    fn a_reference_reaches_the_next_segment_so_gaps_are_covered() {
        let segments = [
            segment(10, 0, 1900),
            segment(20, 2000, 3900),
            segment(30, 4000, 4500),
        ];
        let (.., references) = parse(&index(time(), &segments).unwrap());
        let durations: Vec<u32> = references.iter().map(|r| r.1).collect();
        assert_eq!(durations, [2000, 2000, 500]);
    }

    #[test]
    fn more_segments_than_room_share_references_and_still_cover_everything() {
        let segments: Vec<_> = (0..1300u64)
            .map(|n| segment(100 + n, n * 2000, n * 2000 + 2000))
            .collect();
        let (.., references) = parse(&index(time(), &segments).unwrap());
        // 1300 segments, 3 to a reference.
        assert_eq!(references.len(), 434);
        let size: u64 = references.iter().map(|r| u64::from(r.0)).sum();
        assert_eq!(size, segments.iter().map(|s| s.size).sum::<u64>());
        let ticks: u64 = references.iter().map(|r| u64::from(r.1)).sum();
        assert_eq!(ticks, 1300 * 2000);
    }

    #[test]
    fn the_fullest_index_still_fits_its_space() {
        let segments: Vec<_> = (0..MAX_REFERENCES as u64)
            .map(|n| segment(1, n, n + 1))
            .collect();
        let (.., references) = parse(&index(time(), &segments).unwrap());
        assert_eq!(references.len(), MAX_REFERENCES);
    }

    #[test]
    fn what_a_reference_cannot_hold_is_not_indexed() {
        assert_eq!(index(time(), &[]), None);
        assert_eq!(index(time(), &[segment(1 << 31, 0, 10)]), None);
        assert_eq!(index(time(), &[segment(1, 0, 1 << 32)]), None);
        assert_eq!(
            index(time(), &[segment(1, 50, 60), segment(1, 10, 20)]),
            None
        );
    }
}
