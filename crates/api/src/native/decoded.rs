//! Undoing a response's `Content-Encoding` for export: baselines keep the bytes as they crossed
//! the proxy (replay compares those), while HAR's `content.text` is the decoded body.

use std::io::Read;

/// Decoded bodies larger than this stay encoded: a small compressed body can expand enormously.
const MAX_DECODED_BYTES: u64 = 32 * 1024 * 1024;

/// The codings a `Content-Encoding` value names, in the order they were applied, without
/// `identity`: empty when the body is not encoded.
pub fn codings(content_encoding: Option<&str>) -> Vec<String> {
    content_encoding
        .unwrap_or_default()
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect()
}

/// The body decoded from `content_encoding` (`gzip`, `x-gzip`, `deflate`, `br`, `zstd`, or a
/// chain of them), or `None` when it is not encoded, uses another coding, is cut short (a
/// truncated baseline), or would decode to more than [`MAX_DECODED_BYTES`].
pub fn decoded_body(content_encoding: Option<&str>, body: &[u8]) -> Option<Vec<u8>> {
    let codings = codings(content_encoding);
    if codings.is_empty() {
        return None;
    }
    let mut bytes = body.to_vec();
    // Codings are listed in the order they were applied, so they are undone last first.
    for coding in codings.iter().rev() {
        bytes = decode_one(coding, &bytes)?;
    }
    Some(bytes)
}

fn decode_one(coding: &str, body: &[u8]) -> Option<Vec<u8>> {
    let reader: Box<dyn Read + '_> = match coding {
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(body)),
        // RFC 9110's deflate is zlib-wrapped.
        "deflate" => Box::new(flate2::read::ZlibDecoder::new(body)),
        "br" => Box::new(brotli_decompressor::Decompressor::new(body, 4096)),
        "zstd" => Box::new(ruzstd::decoding::StreamingDecoder::new(body).ok()?),
        _ => return None,
    };
    let mut out = Vec::new();
    reader
        .take(MAX_DECODED_BYTES + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() as u64 <= MAX_DECODED_BYTES).then_some(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn decodes_zstd_alone_and_chained_after_gzip() {
        let page = b"<html>zstd, as Chromium asks for it</html>".repeat(20);
        let zstd = ruzstd::encoding::compress_to_vec(
            &page[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert_eq!(
            decoded_body(Some("zstd"), &zstd).as_deref(),
            Some(&page[..])
        );
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&zstd).unwrap();
        let chained = gzip.finish().unwrap();
        assert_eq!(
            decoded_body(Some("zstd, gzip"), &chained).as_deref(),
            Some(&page[..])
        );
        assert_eq!(decoded_body(Some("zstd"), &zstd[..zstd.len() / 2]), None);
        assert_eq!(codings(Some(" identity , ZSTD")), ["zstd"]);
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn decodes_gzip_and_deflate_and_leaves_other_bodies_alone() {
        let text = b"hello hello hello hello".as_slice();
        assert_eq!(
            decoded_body(Some("gzip"), &gzip(text)).as_deref(),
            Some(text)
        );
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(text).unwrap();
        let zlib = zlib.finish().unwrap();
        assert_eq!(decoded_body(Some("Deflate"), &zlib).as_deref(), Some(text));
        assert_eq!(decoded_body(None, text), None);
        assert_eq!(decoded_body(Some("identity"), text), None);
        assert_eq!(decoded_body(Some("zstd"), text), None);
    }

    #[test]
    fn a_truncated_body_stays_encoded() {
        let body = gzip(&[7u8; 100_000]);
        assert_eq!(decoded_body(Some("gzip"), &body[..body.len() / 2]), None);
    }

    #[test]
    fn decodes_brotli() {
        // "hello" compressed by `brotli -c` (quality 11).
        let br = [0x0b, 0x02, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x03];
        assert_eq!(
            decoded_body(Some("br"), &br).as_deref(),
            Some(b"hello".as_slice())
        );
    }
}

/// Property tests on outside input (`scripts/fuzz` runs them longer).
#[cfg(test)]
mod fuzz {
    use std::io::Write;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_body_under_any_coding_decodes_within_the_bound_or_stays_encoded(
            coding in "(gzip|x-gzip|deflate|br|identity|zstd| |,){0,4}",
            body in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            if let Some(decoded) = decoded_body(Some(&coding), &body) {
                prop_assert!(decoded.len() as u64 <= MAX_DECODED_BYTES);
            }
        }

        #[test]
        fn a_gzipped_body_decodes_to_itself(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&body).unwrap();
            let gzipped = encoder.finish().unwrap();
            prop_assert_eq!(decoded_body(Some("gzip"), &gzipped), Some(body));
        }
    }
}
