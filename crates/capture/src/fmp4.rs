//! The timeline of fragmented-MP4 segments, read from their boxes: `init.mp4` gives the
//! timescale, each segment's `tfdt` and `trun` give where its samples start and end.
//!
//! ffmpeg's HLS playlist cannot be trusted for this: for a variable-frame-rate stream it lists
//! the last segment with the duration of its last frame only (10 ms for a segment of seconds).
//! These are decode times, which are the presentation times of the recorder's streams (x264
//! with `zerolatency` has no B-frames).

/// What `init.mp4` says about the video track's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackTime {
    /// Ticks per second (`mdhd`).
    pub timescale: u32,
    /// Sample duration when a fragment does not give one (`trex`).
    pub default_sample_duration: u32,
}

/// One box: its four-character type and its payload.
struct MediaBox<'a> {
    kind: [u8; 4],
    body: &'a [u8],
}

/// The boxes laid end to end in `data`; stops at the first malformed one.
fn boxes(mut data: &[u8]) -> impl Iterator<Item = MediaBox<'_>> {
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
        Some(MediaBox { kind, body })
    })
}

/// The first box of `kind` in `data`.
fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|b| &b.kind == kind).map(|b| b.body)
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// The video track's timescale and default sample duration from `init.mp4`.
pub fn track_time(init: &[u8]) -> Option<TrackTime> {
    let moov = child(init, b"moov")?;
    let mdhd = child(child(child(moov, b"trak")?, b"mdia")?, b"mdhd")?;
    // Version 1 has 64-bit creation and modification times before the timescale.
    let timescale = u32_at(mdhd, if mdhd.first()? == &1 { 20 } else { 12 })?;
    let default_sample_duration = child(moov, b"mvex")
        .and_then(|mvex| child(mvex, b"trex"))
        .and_then(|trex| u32_at(trex, 12))
        .unwrap_or(0);
    (timescale > 0).then_some(TrackTime {
        timescale,
        default_sample_duration,
    })
}

/// Where the samples of one segment start and end, in timescale ticks.
pub fn segment_span(segment: &[u8], time: TrackTime) -> Option<(u64, u64)> {
    let mut span: Option<(u64, u64)> = None;
    for moof in boxes(segment).filter(|b| &b.kind == b"moof") {
        for traf in boxes(moof.body).filter(|b| &b.kind == b"traf") {
            let (start, length) = fragment(traf.body, time)?;
            let (first, last) = span.unwrap_or((start, start));
            span = Some((first.min(start), last.max(start + length)));
        }
    }
    span
}

/// A track fragment's decode time (`tfdt`) and the sum of its sample durations (`trun`).
fn fragment(traf: &[u8], time: TrackTime) -> Option<(u64, u64)> {
    let tfhd = child(traf, b"tfhd")?;
    let tfhd_flags = u32_at(tfhd, 0)? & 0x00ff_ffff;
    // After version/flags and track_ID: optional base_data_offset (8), sample_description_index
    // (4), then default_sample_duration (4).
    let mut at = 8;
    if tfhd_flags & 0x01 != 0 {
        at += 8;
    }
    if tfhd_flags & 0x02 != 0 {
        at += 4;
    }
    let default_duration = if tfhd_flags & 0x08 != 0 {
        u32_at(tfhd, at)?
    } else {
        time.default_sample_duration
    };

    let tfdt = child(traf, b"tfdt")?;
    let start = if tfdt.first()? == &1 {
        u64_at(tfdt, 4)?
    } else {
        u64::from(u32_at(tfdt, 4)?)
    };

    let mut length = 0u64;
    for trun in boxes(traf).filter(|b| &b.kind == b"trun") {
        let trun = trun.body;
        let flags = u32_at(trun, 0)? & 0x00ff_ffff;
        let count = u32_at(trun, 4)?;
        let mut at = 8;
        if flags & 0x01 != 0 {
            at += 4; // data_offset
        }
        if flags & 0x04 != 0 {
            at += 4; // first_sample_flags
        }
        let per_sample = [0x100, 0x200, 0x400, 0x800]
            .iter()
            .filter(|&&bit| flags & bit != 0)
            .count()
            * 4;
        for sample in 0..count as usize {
            length += u64::from(if flags & 0x100 != 0 {
                u32_at(trun, at + sample * per_sample)?
            } else {
                default_duration
            });
        }
    }
    Some((start, length))
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
mod tests {
    use super::*;

    /// The checked-in recording (`fixtures/vfr-segments`): seven frames selected out of 6 s, the
    /// last at 5.5 s, cut into six segments at keyframes.
    fn fixture(name: &str) -> Vec<u8> {
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
}
