//! A minimal Matroska stream of raw I420 (YUV 4:2:0 planar) frames, each with its own timestamp.
//!
//! The grabber hands ffmpeg only the frames that changed, so the input has a variable frame
//! rate; raw video on a pipe has no timestamps, and ffmpeg's wall-clock stamping would record
//! when ffmpeg got round to reading a frame rather than when it was grabbed. Matroska carries the
//! grab time with every frame (one cluster per frame, as Playwright's recorder does for JPEGs),
//! and ffmpeg's demuxer reads `V_UNCOMPRESSED` with an `I420` colour-space FourCC as raw video.

use std::io::{self, Write};

const EBML: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const CLUSTER: u32 = 0x1F43_B675;
const CLUSTER_TIMESTAMP: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;
/// The largest size an 8-byte EBML length can carry (all ones means "unknown").
const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
/// Block header: track number 1 (as an EBML varint), relative timestamp 0, keyframe flag.
const BLOCK_HEADER: [u8; 4] = [0x81, 0x00, 0x00, 0x80];

/// Writes the stream header, then one frame at a time.
pub struct MatroskaWriter<W: Write> {
    out: W,
    frame_bytes: usize,
}

impl<W: Write> MatroskaWriter<W> {
    /// Writes the EBML header, an endless segment and the one video track.
    pub fn start(mut out: W, width: u32, height: u32) -> io::Result<Self> {
        let mut header = Vec::new();
        element(
            &mut header,
            EBML,
            &[
                uint(0x4286, 1),            // EBMLVersion
                uint(0x42F7, 1),            // EBMLReadVersion
                uint(0x42F2, 4),            // EBMLMaxIDLength
                uint(0x42F3, 8),            // EBMLMaxSizeLength
                bytes(0x4282, b"matroska"), // DocType
                uint(0x4287, 4),            // DocTypeVersion
                uint(0x4285, 2),            // DocTypeReadVersion
            ]
            .concat(),
        );
        header.extend_from_slice(&id_bytes(SEGMENT));
        header.extend_from_slice(&UNKNOWN_SIZE);
        // Timestamps are in milliseconds.
        element(&mut header, INFO, &uint(TIMESTAMP_SCALE, 1_000_000));
        let video = [
            uint(0xB0, u64::from(width)),  // PixelWidth
            uint(0xBA, u64::from(height)), // PixelHeight
            bytes(0x2E_B524, b"I420"),     // UncompressedFourCC
        ]
        .concat();
        let track = [
            uint(0xD7, 1),                  // TrackNumber
            uint(0x73C5, 1),                // TrackUID
            uint(0x83, 1),                  // TrackType: video
            bytes(0x86, b"V_UNCOMPRESSED"), // CodecID
            bytes(0xE0, &video),            // Video
        ]
        .concat();
        element(&mut header, TRACKS, &bytes(TRACK_ENTRY, &track));
        out.write_all(&header)?;
        out.flush()?;
        Ok(Self {
            out,
            frame_bytes: i420_bytes(width, height),
        })
    }

    /// Writes one I420 frame, given as its Y, U and V planes, shown from `at_ms`.
    pub fn write_frame(&mut self, at_ms: u64, planes: [&[u8]; 3]) -> io::Result<()> {
        let len: usize = planes.iter().map(|plane| plane.len()).sum();
        if len != self.frame_bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("frame of {len} bytes, expected {}", self.frame_bytes),
            ));
        }
        let timestamp = uint(CLUSTER_TIMESTAMP, at_ms);
        let block_len = BLOCK_HEADER.len() + len;
        let block_head = [id_bytes(SIMPLE_BLOCK), size_bytes(block_len as u64)].concat();
        let cluster_len = timestamp.len() + block_head.len() + block_len;
        let mut head = [id_bytes(CLUSTER), size_bytes(cluster_len as u64)].concat();
        head.extend_from_slice(&timestamp);
        head.extend_from_slice(&block_head);
        head.extend_from_slice(&BLOCK_HEADER);
        self.out.write_all(&head)?;
        for plane in planes {
            self.out.write_all(plane)?;
        }
        self.out.flush()
    }
}

/// Bytes of an I420 frame: full-size luma, quarter-size chroma planes.
fn i420_bytes(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
}

fn element(out: &mut Vec<u8>, id: u32, payload: &[u8]) {
    out.extend_from_slice(&id_bytes(id));
    out.extend_from_slice(&size_bytes(payload.len() as u64));
    out.extend_from_slice(payload);
}

fn bytes(id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    element(&mut out, id, payload);
    out
}

fn uint(id: u32, value: u64) -> Vec<u8> {
    let significant = (8 - value.leading_zeros() as usize / 8).max(1);
    bytes(id, &value.to_be_bytes()[8 - significant..])
}

/// An element ID keeps its length marker, so it is written as its significant bytes.
fn id_bytes(id: u32) -> Vec<u8> {
    let significant = (4 - id.leading_zeros() as usize / 8).max(1);
    id.to_be_bytes()[4 - significant..].to_vec()
}

/// An EBML variable-length size: the shortest form whose value is not all ones.
fn size_bytes(size: u64) -> Vec<u8> {
    let length = (1..=8usize)
        .find(|&len| size < (1u64 << (7 * len)) - 1)
        .unwrap_or(8);
    let marked = size | (1u64 << (7 * length));
    marked.to_be_bytes()[8 - length..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_the_shortest_form_that_is_not_reserved() {
        assert_eq!(size_bytes(0), vec![0x80]);
        assert_eq!(size_bytes(126), vec![0xFE]);
        // 127 in one byte would be all ones, which means "unknown size".
        assert_eq!(size_bytes(127), vec![0x40, 0x7F]);
        assert_eq!(size_bytes(3_686_404), vec![0x10, 0x38, 0x40, 0x04]);
    }

    #[test]
    fn ids_and_unsigned_values_drop_leading_zero_bytes() {
        assert_eq!(id_bytes(CLUSTER), vec![0x1F, 0x43, 0xB6, 0x75]);
        assert_eq!(id_bytes(SIMPLE_BLOCK), vec![0xA3]);
        assert_eq!(uint(CLUSTER_TIMESTAMP, 0), vec![0xE7, 0x81, 0x00]);
        assert_eq!(uint(CLUSTER_TIMESTAMP, 1000), vec![0xE7, 0x82, 0x03, 0xE8]);
    }

    #[test]
    fn a_frame_is_one_cluster_sized_to_its_pixels() {
        let mut writer = MatroskaWriter::start(Vec::new(), 4, 2).unwrap();
        let header_len = writer.out.len();
        writer.write_frame(40, [&[7; 8], &[8; 2], &[9; 2]]).unwrap();
        let cluster = &writer.out[header_len..];
        assert_eq!(&cluster[..4], &id_bytes(CLUSTER)[..]);
        // size byte, then timestamp (3 bytes), block id + size (2), header (4), planes (12).
        assert_eq!(cluster[4], 0x80 | (3 + 2 + 4 + 12));
        assert_eq!(&cluster[5..8], &[0xE7, 0x81, 40]);
        assert!(cluster.ends_with(&[7, 7, 8, 8, 9, 9]));
        assert!(writer.write_frame(80, [&[0; 8], &[0; 2], &[0; 1]]).is_err());
    }
}
