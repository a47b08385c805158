//! Timestamps on the wire.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `t` as RFC 3339 (`2026-11-29T10:15:00.5Z`), the form every dialect writes times in.
///
/// Formatting fails only for years outside 0..=9999, which no clock here reaches; such a time
/// is written as an empty string rather than failing the request.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn writes_utc_with_a_z() {
        assert_eq!(
            rfc3339(datetime!(2026-11-29 10:15:00.5 UTC)),
            "2026-11-29T10:15:00.5Z"
        );
    }
}
