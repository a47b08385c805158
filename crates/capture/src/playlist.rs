//! The HLS playlist ffmpeg writes beside its segments: which segments are complete.
//!
//! ffmpeg lists a segment only once it is closed, so the playlist is the source of truth for
//! what can be persisted while recording continues, and for what survived a crash.

/// One closed segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// File name in the spool directory, e.g. `seg_00003.m4s`.
    pub file: String,
}

/// The parsed playlist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Playlist {
    /// The init segment's file name (`#EXT-X-MAP`), once written.
    pub init: Option<String>,
    /// Closed segments, in order.
    pub segments: Vec<Segment>,
}

impl Playlist {
    /// Parses playlist text; unknown tags are ignored, and a file name must be a plain name.
    pub fn parse(text: &str) -> Self {
        let mut playlist = Self::default();
        // A segment's name follows its #EXTINF. Its duration there is not used: for a variable
        // frame rate ffmpeg under-counts the last segment (see `fmp4`).
        let mut segment_next = false;
        for line in text.lines().map(str::trim) {
            if let Some(map) = line.strip_prefix("#EXT-X-MAP:") {
                playlist.init = attribute(map, "URI").filter(|f| is_plain_name(f));
            } else if line.starts_with("#EXTINF:") {
                segment_next = true;
            } else if !line.is_empty()
                && !line.starts_with('#')
                && std::mem::take(&mut segment_next)
                && is_plain_name(line)
            {
                playlist.segments.push(Segment {
                    file: line.to_owned(),
                });
            }
        }
        playlist
    }
}

fn attribute(list: &str, name: &str) -> Option<String> {
    list.split(',').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FFMPEG_OUTPUT: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n\
        #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI=\"init.mp4\"\n\
        #EXTINF:2.000000,\nseg_00000.m4s\n#EXTINF:2.000000,\nseg_00001.m4s\n\
        #EXTINF:0.900000,\nseg_00002.m4s\n#EXT-X-ENDLIST\n";

    #[test]
    fn parses_what_ffmpeg_writes() {
        let p = Playlist::parse(FFMPEG_OUTPUT);
        assert_eq!(p.init.as_deref(), Some("init.mp4"));
        assert_eq!(p.segments.len(), 3);
        assert_eq!(p.segments[2].file, "seg_00002.m4s");
    }

    #[test]
    fn refuses_paths_outside_the_spool() {
        let p = Playlist::parse("#EXT-X-MAP:URI=\"../x\"\n#EXTINF:2.0,\n../../etc/passwd\n#EXTINF:2.0,\nseg_00000.m4s\n");
        assert_eq!(p.init, None);
        assert_eq!(
            p.segments,
            vec![Segment {
                file: "seg_00000.m4s".into()
            }]
        );
    }
}
