//! The timeline of fragmented-MP4 segments, read from their boxes: `init.mp4` gives the
//! timescale, each segment's `tfdt` and `trun` give where its samples start and end.
//!
//! These are decode times, which are the presentation times of the recorder's streams (x264
//! with `zerolatency` has no B-frames). Every reader here takes outside bytes (a spool a crash
//! cut short, an encoder's output) and answers `None` or stops at the first malformed box
//! rather than misread or panic.

/// What `init.mp4` says about the video track's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackTime {
    /// The video track's ID (`tkhd`), which an index names.
    pub track_id: u32,
    /// Ticks per second (`mdhd`).
    pub timescale: u32,
    /// Sample duration when a fragment does not give one (`trex`).
    pub default_sample_duration: u32,
    /// Sample flags when a fragment does not give them (`trex`).
    pub default_sample_flags: u32,
}

/// What a fragment's `moof` says about its first sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHead {
    /// Its decode time, in timescale ticks (`tfdt`).
    pub start: u64,
    /// Whether it is a sync sample (a keyframe), where a segment may begin.
    pub keyframe: bool,
}

/// `sample_is_non_sync_sample` in ISO/IEC 14496-12 sample flags.
const NON_SYNC_SAMPLE: u32 = 0x0001_0000;

/// One box: its four-character type and its payload.
pub(crate) struct MediaBox<'a> {
    /// Its type.
    pub kind: [u8; 4],
    /// What follows its header.
    pub body: &'a [u8],
    /// The whole box's length, header included.
    pub size: usize,
}

/// The boxes laid end to end in `data`; stops at the first malformed one.
pub(crate) fn boxes(mut data: &[u8]) -> impl Iterator<Item = MediaBox<'_>> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as u64;
        let kind: [u8; 4] = data.get(4..8)?.try_into().ok()?;
        let (header, size) = match size {
            1 => (16, u64::from_be_bytes(data.get(8..16)?.try_into().ok()?)),
            0 => (8, data.len() as u64),
            n => (8, n),
        };
        let size = usize::try_from(size).ok()?;
        let body = data.get(header..size)?;
        data = &data[size..];
        Some(MediaBox { kind, body, size })
    })
}

/// The first box of `kind` in `data`.
fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|b| &b.kind == kind).map(|b| b.body)
}

pub(crate) fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

pub(crate) fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// The video track's ID, timescale and sample defaults from `init.mp4`.
pub fn track_time(init: &[u8]) -> Option<TrackTime> {
    let moov = child(init, b"moov")?;
    let trak = child(moov, b"trak")?;
    let tkhd = child(trak, b"tkhd")?;
    // Version 1 has 64-bit creation and modification times before the track ID.
    let track_id = u32_at(tkhd, if tkhd.first()? == &1 { 20 } else { 12 })?;
    let mdhd = child(child(trak, b"mdia")?, b"mdhd")?;
    // Version 1 has 64-bit creation and modification times before the timescale.
    let timescale = u32_at(mdhd, if mdhd.first()? == &1 { 20 } else { 12 })?;
    let trex = child(moov, b"mvex").and_then(|mvex| child(mvex, b"trex"));
    (timescale > 0).then_some(TrackTime {
        track_id,
        timescale,
        default_sample_duration: trex.and_then(|t| u32_at(t, 12)).unwrap_or(0),
        default_sample_flags: trex.and_then(|t| u32_at(t, 20)).unwrap_or(0),
    })
}

/// Where the samples of one segment start and end, in timescale ticks.
pub fn segment_span(segment: &[u8], time: TrackTime) -> Option<(u64, u64)> {
    let mut span: Option<(u64, u64)> = None;
    for moof in boxes(segment).filter(|b| &b.kind == b"moof") {
        for traf in boxes(moof.body).filter(|b| &b.kind == b"traf") {
            let TrackFragment { start, length, .. } = track_fragment(traf.body, time)?;
            let (first, last) = span.unwrap_or((start, start));
            span = Some((first.min(start), last.max(start + length)));
        }
    }
    span
}

/// The decode time and keyframe flag of the first sample of a fragment, from its `moof` box
/// (header included).
pub fn fragment_head(moof: &[u8], time: TrackTime) -> Option<FragmentHead> {
    let traf = child(child(moof, b"moof")?, b"traf")?;
    let fragment = track_fragment(traf, time)?;
    Some(FragmentHead {
        start: fragment.start,
        keyframe: fragment.first_sample_flags & NON_SYNC_SAMPLE == 0,
    })
}

/// How many leading bytes of `data` are whole boxes ending in a whole fragment (`moof` then
/// its `mdat`): what is worth keeping of a segment whose writing a crash cut short.
pub fn whole_fragments_len(data: &[u8]) -> usize {
    let mut at = 0;
    let mut kept = 0;
    for media_box in boxes(data) {
        at += media_box.size;
        if &media_box.kind == b"mdat" {
            kept = at;
        }
    }
    kept
}

/// What one track fragment says about its samples.
struct TrackFragment {
    /// Decode time of the first sample (`tfdt`).
    start: u64,
    /// The sum of the sample durations (`trun`).
    length: u64,
    /// The first sample's flags.
    first_sample_flags: u32,
}

fn track_fragment(traf: &[u8], time: TrackTime) -> Option<TrackFragment> {
    let tfhd = child(traf, b"tfhd")?;
    let tfhd_flags = u32_at(tfhd, 0)? & 0x00ff_ffff;
    // After version/flags and track_ID come the optional fields, in this order:
    // base_data_offset (8), sample_description_index (4), default_sample_duration (4),
    // default_sample_size (4), default_sample_flags (4).
    let mut at = 8;
    let mut optional = |flag: u32, width: usize| {
        let here = at;
        if tfhd_flags & flag != 0 {
            at += width;
            Some(here)
        } else {
            None
        }
    };
    optional(0x01, 8);
    optional(0x02, 4);
    let duration_at = optional(0x08, 4);
    optional(0x10, 4);
    let flags_at = optional(0x20, 4);
    let default_duration = match duration_at {
        Some(at) => u32_at(tfhd, at)?,
        None => time.default_sample_duration,
    };
    let default_flags = match flags_at {
        Some(at) => u32_at(tfhd, at)?,
        None => time.default_sample_flags,
    };

    let tfdt = child(traf, b"tfdt")?;
    let start = if tfdt.first()? == &1 {
        u64_at(tfdt, 4)?
    } else {
        u64::from(u32_at(tfdt, 4)?)
    };

    let mut length = 0u64;
    let mut first_sample_flags = None;
    for trun in boxes(traf).filter(|b| &b.kind == b"trun") {
        let trun = trun.body;
        let flags = u32_at(trun, 0)? & 0x00ff_ffff;
        let count = u32_at(trun, 4)?;
        let mut at = 8;
        if flags & 0x01 != 0 {
            at += 4; // data_offset
        }
        if flags & 0x04 != 0 {
            first_sample_flags.get_or_insert(u32_at(trun, at)?);
            at += 4;
        }
        // Per sample: duration, size, flags, composition offset, each 4 bytes when present.
        let present = |bit: u32| flags & bit != 0;
        let per_sample = [0x100, 0x200, 0x400, 0x800]
            .into_iter()
            .filter(|&bit| present(bit))
            .count()
            * 4;
        let flags_offset = if present(0x100) { 4 } else { 0 } + if present(0x200) { 4 } else { 0 };
        for sample in 0..count as usize {
            let sample_at = at + sample * per_sample;
            length += u64::from(if present(0x100) {
                u32_at(trun, sample_at)?
            } else {
                default_duration
            });
            if sample == 0 && present(0x400) {
                first_sample_flags.get_or_insert(u32_at(trun, sample_at + flags_offset)?);
            }
        }
    }
    Some(TrackFragment {
        start,
        length,
        first_sample_flags: first_sample_flags.unwrap_or(default_flags),
    })
}

/// Milliseconds from the start of the first segment to the end of the last one.
pub fn span_ms(init: &[u8], first: &[u8], last: &[u8]) -> Option<u64> {
    let time = track_time(init)?;
    let (start, _) = segment_span(first, time)?;
    let (_, end) = segment_span(last, time)?;
    let ticks = end.checked_sub(start)?;
    Some(ticks * 1000 / u64::from(time.timescale))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The checked-in recording (`fixtures/vfr-segments`): seven frames selected out of 6 s, the
    /// last at 5.5 s, cut into six segments at keyframes.
    pub(crate) fn fixture(name: &str) -> Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vfr-segments/");
        std::fs::read(format!("{dir}{name}")).expect("fixture")
    }

    #[test]
    fn reads_the_span_of_ffmpeg_segments_with_variable_frame_rate() {
        let init = fixture("init.mp4");
        let ms = span_ms(&init, &fixture("seg_00000.m4s"), &fixture("seg_00005.m4s"));
        // The last frame starts at 5.5 s and lasts one frame of the source's 10 fps.
        assert_eq!(ms, Some(5600));
    }

    #[test]
    fn a_single_segment_spans_its_own_frames() {
        let init = fixture("init.mp4");
        let first = fixture("seg_00000.m4s");
        // Frames at 0 and 0.5 s; the segment ends where the next begins, at 1.5 s.
        let ms = span_ms(&init, &first, &first).expect("a span");
        assert!((500..=1500).contains(&ms), "{ms} ms");
    }

    #[test]
    fn truncated_boxes_are_refused_not_misread() {
        let init = fixture("init.mp4");
        let last = fixture("seg_00005.m4s");
        assert_eq!(span_ms(&init[..init.len() / 2], &last, &last), None);
        assert_eq!(span_ms(&init, &last[..last.len() / 2], &last), None);
    }

    #[test]
    fn finds_the_keyframes_the_hls_muxer_cut_at() {
        let init = fixture("init.mp4");
        let time = track_time(&init).unwrap();
        for name in ["seg_00000.m4s", "seg_00003.m4s"] {
            let segment = fixture(name);
            let moof_at = segment
                .windows(4)
                .position(|w| w == b"moof")
                .expect("a moof")
                - 4;
            let head = fragment_head(&segment[moof_at..], time).expect("a head");
            assert!(head.keyframe, "{name}");
        }
    }

    #[test]
    fn whole_fragments_stop_before_a_fragment_cut_short() {
        let segment = fixture("seg_00002.m4s");
        assert_eq!(whole_fragments_len(&segment), segment.len());
        assert_eq!(whole_fragments_len(&segment[..segment.len() - 1]), 0);
        let mut two = segment.clone();
        two.extend_from_slice(&segment[..segment.len() - 10]);
        assert_eq!(whole_fragments_len(&two), segment.len());
    }
}

/// Property tests on outside input (`scripts/fuzz` runs them longer): damaged spools and
/// encoder output.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::tests::fixture;
    use super::*;

    /// A real segment with some bytes overwritten, cut at some length.
    fn damaged(segment: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
        let len = segment.len();
        (
            proptest::collection::vec((0..len, any::<u8>()), 0..8),
            0..=len,
        )
            .prop_map(move |(writes, cut)| {
                let mut bytes = segment.clone();
                for (at, value) in writes {
                    bytes[at] = value;
                }
                bytes.truncate(cut);
                bytes
            })
    }

    proptest! {
        #[test]
        fn damaged_boxes_are_read_or_refused_never_misread_past_their_end(
            segment in damaged(fixture("seg_00000.m4s")),
            init in damaged(fixture("init.mp4")),
        ) {
            let time = track_time(&init);
            let time = time.unwrap_or(TrackTime { track_id: 1, timescale: 1000, default_sample_duration: 0, default_sample_flags: 0 });
            let whole = whole_fragments_len(&segment);
            prop_assert!(whole <= segment.len());
            let _ = segment_span(&segment, time);
            let _ = fragment_head(&segment, time);
            let _ = span_ms(&init, &segment, &segment);
        }

        #[test]
        fn arbitrary_bytes_are_never_a_whole_fragment_past_their_length(
            bytes in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            prop_assert!(whole_fragments_len(&bytes) <= bytes.len());
            let _ = track_time(&bytes);
        }
    }
}
