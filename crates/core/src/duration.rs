//! Duration strings as GBOX writes them: `500ms`, `30s`, `5m`, `1h` (`\d+(ms|s|m|h)`).

use std::time::Duration;

use crate::EngineError;

/// Parses `\d+(ms|s|m|h)`; anything else is an [`EngineError::InvalidInput`] naming `field`.
pub fn parse_duration(field: &str, text: &str) -> Result<Duration, EngineError> {
    let invalid = || {
        EngineError::InvalidInput(format!(
            "{field} must be a duration like 500ms, 30s, 5m or 1h, got {text:?}"
        ))
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits.parse().map_err(|_| invalid())?;
    let millis = match unit {
        "ms" => Some(value),
        "s" => value.checked_mul(1_000),
        "m" => value.checked_mul(60_000),
        "h" => value.checked_mul(3_600_000),
        _ => None,
    }
    .ok_or_else(invalid)?;
    Ok(Duration::from_millis(millis))
}

/// Parses an optional duration field, checks it against `max`, and falls back to `default`.
pub fn duration_field(
    field: &str,
    text: Option<&str>,
    default: Duration,
    max: Duration,
) -> Result<Duration, EngineError> {
    let value = text
        .map(|t| parse_duration(field, t))
        .transpose()?
        .unwrap_or(default);
    if value.is_zero() || value > max {
        return Err(EngineError::InvalidInput(format!(
            "{field} must be more than 0 and at most {}s, got {}ms",
            max.as_secs(),
            value.as_millis()
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_refuses_the_rest() {
        assert_eq!(
            parse_duration("d", "500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(parse_duration("d", "30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("d", "5m").unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_duration("d", "1h").unwrap(),
            Duration::from_secs(3600)
        );
        for bad in [
            "",
            "30",
            "s",
            "-1s",
            "1.5s",
            "10d",
            "3 s",
            "99999999999999999999h",
        ] {
            assert!(parse_duration("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_default_and_respect_their_maximum() {
        let max = Duration::from_secs(300);
        let default = Duration::from_secs(30);
        assert_eq!(duration_field("d", None, default, max).unwrap(), default);
        assert_eq!(duration_field("d", Some("5m"), default, max).unwrap(), max);
        assert!(duration_field("d", Some("6m"), default, max).is_err());
        assert!(duration_field("d", Some("0s"), default, max).is_err());
    }
}

/// Property tests on outside input (`scripts/fuzz` runs them longer).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_text_parses_or_is_an_input_error(text in ".{0,40}") {
            match parse_duration("timeout", &text) {
                Ok(_) => prop_assert!(text.ends_with(['s', 'm', 'h'])),
                Err(e) => prop_assert!(matches!(e, EngineError::InvalidInput(m) if m.contains("timeout"))),
            }
        }

        #[test]
        fn every_written_duration_reads_back(value in 0u64..1_000_000, unit in 0usize..4) {
            let (suffix, millis) = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)][unit];
            let parsed = parse_duration("d", &format!("{value}{suffix}")).unwrap();
            prop_assert_eq!(parsed, Duration::from_millis(value * millis));
        }
    }
}
