//! A test record's exchanges as a table reads them: filtered and paged by the store, one
//! whole exchange at a time for its bodies.

use std::ops::RangeInclusive;

use tapedeck_core::{Baseline, EngineError, ExchangeSummary};
use tapedeck_store::meta::{ExchangeFilter, ExchangeScope, Page};

use crate::Engine;

/// Most exchanges in one page.
const MAX_EXCHANGES_PAGE: u32 = 100;
/// Longest method, host or search text a filter takes.
const MAX_FILTER_LEN: usize = 256;

/// A status filter: one code (`404`) or a class (`4xx`).
///
/// Errors: `InvalidInput` for anything else.
pub fn parse_status(text: &str) -> Result<RangeInclusive<u16>, EngineError> {
    let invalid = || {
        EngineError::InvalidInput(format!(
            "status must be a code (404) or a class (4xx) from 1xx to 5xx, got {text:?}"
        ))
    };
    let class = |digit: u8| match digit {
        b'1'..=b'5' => Ok(u16::from(digit - b'0') * 100),
        _ => Err(invalid()),
    };
    match text.as_bytes() {
        [digit, b'x' | b'X', b'x' | b'X'] => {
            let low = class(*digit)?;
            Ok(low..=low + 99)
        }
        [digit, ..] if text.len() == 3 => {
            class(*digit)?;
            let code = text.parse().map_err(|_| invalid())?;
            Ok(code..=code)
        }
        _ => Err(invalid()),
    }
}

/// Refuses a filter whose texts are empty or longer than a search needs.
fn check(filter: &ExchangeFilter) -> Result<(), EngineError> {
    let texts = [
        ("method", &filter.method),
        ("host", &filter.host),
        ("q", &filter.text),
    ];
    for (name, text) in texts {
        if let Some(text) = text {
            if text.is_empty() || text.len() > MAX_FILTER_LEN {
                return Err(EngineError::InvalidInput(format!(
                    "{name} must be 1..={MAX_FILTER_LEN} bytes"
                )));
            }
        }
    }
    Ok(())
}

impl Engine {
    /// The exchanges of one of `project`'s test records (of all of them when
    /// `test_record_id` is `None`) that match `filter`, in the order they were recorded,
    /// `limit` (at most 100) from `offset`.
    ///
    /// Errors: `NotFound` when `project` has no such record, `InvalidInput` for an empty or
    /// overlong filter text.
    pub async fn list_exchanges(
        &self,
        project: &str,
        test_record_id: Option<i64>,
        filter: &ExchangeFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<ExchangeSummary>, EngineError> {
        check(filter)?;
        let scope = match test_record_id {
            Some(id) => {
                self.get_test_record(project, id).await?;
                ExchangeScope::Record(id)
            }
            None => ExchangeScope::Project(project),
        };
        let limit = limit.clamp(1, MAX_EXCHANGES_PAGE);
        Ok(self
            .inner
            .meta
            .list_exchanges(scope, filter, limit, offset)
            .await?)
    }

    /// One exchange of one of `project`'s test records, with its headers and bodies.
    ///
    /// Errors: `NotFound` when `project` has no such record, or the record no such exchange.
    pub async fn get_exchange(
        &self,
        project: &str,
        test_record_id: i64,
        id: i64,
    ) -> Result<Baseline, EngineError> {
        self.get_test_record(project, test_record_id).await?;
        self.inner
            .meta
            .get_baseline(test_record_id, id)
            .await?
            .ok_or_else(|| EngineError::not_found("exchange", id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_is_a_code_or_a_class() {
        assert_eq!(parse_status("404").unwrap(), 404..=404);
        assert_eq!(parse_status("2xx").unwrap(), 200..=299);
        assert_eq!(parse_status("5XX").unwrap(), 500..=599);
        for bad in [
            "", "4x", "6xx", "0xx", "40", "4044", "abc", "4x4", "+04", "600",
        ] {
            assert!(parse_status(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filter_texts_are_bounded() {
        assert!(check(&ExchangeFilter::default()).is_ok());
        let long = ExchangeFilter {
            text: Some("x".repeat(MAX_FILTER_LEN + 1)),
            ..ExchangeFilter::default()
        };
        assert!(check(&long).is_err());
        let empty = ExchangeFilter {
            host: Some(String::new()),
            ..ExchangeFilter::default()
        };
        assert!(check(&empty).is_err());
    }
}
