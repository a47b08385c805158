//! The out-of-band canary: which tokens a target has requested at `<public url>/canary/<token>`.
//!
//! Out-of-band tests (SSRF, XXE, blind command injection) put a fresh token in each payload. A
//! request for that token's URL can only come from the target acting on that payload, so a hit
//! is proof. This plays the part of FAST's DNS marker and ZAP's OAST, served by Tapedeck itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{lock, Engine};

/// How long a hit is remembered: long enough for a slow target's late request to be matched
/// at the end of a run.
const KEEP: Duration = Duration::from_secs(15 * 60);
/// Most hits held at once; past it the oldest are forgotten first, so unauthenticated hits
/// cannot grow the map without bound.
const MOST_HITS: usize = 100_000;

/// Tokens requested lately, with when.
#[derive(Default)]
pub(crate) struct CanaryHits {
    hits: Mutex<HashMap<String, Instant>>,
}

/// True for what a test's token looks like (`td` and ten lower-case letters and digits), so
/// nothing else is kept.
fn is_token(token: &str) -> bool {
    token.len() == 12
        && token.starts_with("td")
        && token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl CanaryHits {
    fn note(&self, token: &str, now: Instant) -> bool {
        if !is_token(token) {
            return false;
        }
        let mut hits = lock(&self.hits);
        if hits.len() >= MOST_HITS {
            hits.retain(|_, at| now.duration_since(*at) < KEEP);
            if hits.len() >= MOST_HITS {
                if let Some(oldest) = hits
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(t, _)| t.clone())
                {
                    hits.remove(&oldest);
                }
            }
        }
        hits.entry(token.to_owned()).or_insert(now);
        true
    }

    fn seen(&self, token: &str) -> bool {
        lock(&self.hits)
            .get(token)
            .is_some_and(|at| at.elapsed() < KEEP)
    }
}

impl Engine {
    /// Notes that `token`'s canary URL was requested (`ANY /canary/{token}`). Returns false,
    /// and keeps nothing, when `token` is not shaped like a test's token.
    pub fn note_canary_hit(&self, token: &str) -> bool {
        self.inner.canary.note(token, Instant::now())
    }

    /// Whether `token`'s canary URL has been requested.
    pub(crate) fn canary_seen(&self, token: &str) -> bool {
        self.inner.canary.seen(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_test_tokens_are_kept_and_found() {
        let hits = CanaryHits::default();
        assert!(hits.note("tdabc123xyz9", Instant::now()));
        assert!(hits.seen("tdabc123xyz9"));
        assert!(!hits.seen("tdabc123xyz8"));
        for junk in [
            "",
            "../etc/passwd",
            "tdABC123XYZ9",
            "xxabc123xyz9",
            "tdabc123xyz9z",
        ] {
            assert!(!hits.note(junk, Instant::now()), "{junk}");
        }
        assert_eq!(lock(&hits.hits).len(), 1);
    }
}
