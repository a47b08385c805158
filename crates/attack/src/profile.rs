//! Baseline profiling: what a baseline's answer looks like when nothing is injected.
//!
//! The testing phase replays a baseline two or three times before attacking it. From those
//! answers a [`Profile`] learns the status, a normalised body (numbers, dates, UUIDs and long
//! tokens masked, so a clock or a CSRF token does not look like an effect), how similar the
//! replays are to each other (the noise floor a test answer is judged against), the slowest
//! answer, and every text that was already there, so a detector never reports an error message
//! or a file signature the page shows anyway. When the replays disagree on the status, or their
//! bodies differ more than masking explains, the baseline is unstable and is not attacked: any
//! difference a payload made could not be told from its own noise.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use crate::Response;

/// Replays less similar to each other than this make a baseline unstable.
pub const STABLE_SIMILARITY: f64 = 0.9;

/// How far below the noise floor an answer must fall to count as different.
pub const MARGIN: f64 = 0.05;

/// Why a baseline cannot be attacked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unstable {
    /// No replay answered.
    #[error("no replay of the baseline answered")]
    NoAnswer,
    /// The replays answered with different statuses.
    #[error("replays answered with different statuses: {0:?}")]
    Status(Vec<u16>),
    /// The replays' bodies differ beyond what masking explains.
    #[error("replays' bodies differ (similarity {0:.2} below {STABLE_SIMILARITY})")]
    Body(f64),
}

/// What a stable baseline's answer looks like.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The status every replay answered with.
    pub status: u16,
    tokens: HashMap<String, usize>,
    /// The lowest similarity between two replays: 1.0 for a fully static page.
    pub floor: f64,
    /// The slowest replay.
    pub max_latency: Duration,
    /// Every replay's body and header values, lower case: what a detector must not credit to
    /// its payload.
    seen: String,
}

impl Profile {
    /// Learns a profile from the replays' answers, or says why the baseline is unstable.
    pub fn learn(answers: &[Response]) -> Result<Self, Unstable> {
        let first = answers.first().ok_or(Unstable::NoAnswer)?;
        if answers.iter().any(|a| a.status != first.status) {
            return Err(Unstable::Status(answers.iter().map(|a| a.status).collect()));
        }
        let bags: Vec<_> = answers
            .iter()
            .map(|a| tokens(&normalise(&a.text())))
            .collect();
        let mut floor: f64 = 1.0;
        for (i, a) in bags.iter().enumerate() {
            for b in &bags[i + 1..] {
                floor = floor.min(dice(a, b));
            }
        }
        if floor < STABLE_SIMILARITY {
            return Err(Unstable::Body(floor));
        }
        let mut seen = String::new();
        for a in answers {
            seen.push_str(&a.text().to_lowercase());
            for (name, value) in &a.headers {
                seen.push('\n');
                seen.push_str(&name.to_lowercase());
                seen.push_str(": ");
                seen.push_str(&value.to_lowercase());
            }
        }
        Ok(Self {
            status: first.status,
            tokens: bags.into_iter().next().unwrap_or_default(),
            floor,
            max_latency: answers.iter().map(|a| a.elapsed).max().unwrap_or_default(),
            seen,
        })
    }

    /// How alike a test answer's normalised body is to the baseline's, from 0 to 1.
    pub fn similarity(&self, answer: &Response) -> f64 {
        dice(&self.tokens, &tokens(&normalise(&answer.text())))
    }

    /// True when a test answer is what the baseline answers: same status, body within noise.
    pub fn matches(&self, answer: &Response) -> bool {
        answer.status == self.status && self.similarity(answer) >= self.floor - MARGIN
    }

    /// True when this text (case-insensitive) was already in a replay's body or headers.
    pub fn already_has(&self, text: &str) -> bool {
        self.seen.contains(&text.to_lowercase())
    }

    /// True when this regex already matches a replay's lower-cased body or headers.
    pub fn already_matches(&self, re: &Regex) -> bool {
        re.is_match(&self.seen)
    }
}

/// A body with what changes between identical requests masked: lower case, UUIDs, long hex or
/// base64-like tokens, dates and times, and every number.
pub fn normalise(body: &str) -> String {
    static MASKS: LazyLock<[(Regex, &str); 4]> = LazyLock::new(|| {
        [
            (
                Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap(),
                "<uuid>",
            ),
            // Tokens: long runs of letters and digits that hold at least one digit.
            (Regex::new(r"[a-z0-9+/_=-]*[0-9][a-z0-9+/_=-]*").unwrap(), "<t>"),
            (
                Regex::new(r"\b(mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b").unwrap(),
                "<d>",
            ),
            (Regex::new(r"(<t>[\s:.,tz-]*)+").unwrap(), "<t> "),
        ]
    });
    let mut text = body.to_lowercase();
    for (re, with) in MASKS.iter() {
        text = re.replace_all(&text, *with).into_owned();
    }
    text
}

fn tokens(text: &str) -> HashMap<String, usize> {
    static WORD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<t>|<uuid>|<d>|\w+|[^\w\s]").unwrap());
    let mut bag = HashMap::new();
    for m in WORD.find_iter(text) {
        *bag.entry(m.as_str().to_owned()).or_insert(0) += 1;
    }
    bag
}

/// Dice similarity of two token multisets; two empty bodies are alike.
fn dice(a: &HashMap<String, usize>, b: &HashMap<String, usize>) -> f64 {
    let total: usize = a.values().sum::<usize>() + b.values().sum::<usize>();
    if total == 0 {
        return 1.0;
    }
    let common: usize = a
        .iter()
        .map(|(t, n)| (*n).min(b.get(t).copied().unwrap_or(0)))
        .sum();
    2.0 * common as f64 / total as f64
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An answer with this status and body, taking 20 ms.
    pub(crate) fn answer(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: body.as_bytes().to_vec(),
            elapsed: Duration::from_millis(20),
        }
    }

    const PAGE: &str = "<html><body><h1>Orders</h1><p>Generated 2024-05-01T10:11:12Z, request id 7f3a9c2e1b4d5f60</p><ul><li>Tea x 2</li><li>Cake x 1</li></ul><input name=csrf value=Zk81aQ9mPp2>";

    #[test]
    fn clocks_ids_and_tokens_are_masked_so_replays_look_alike() {
        let other = PAGE
            .replace("2024-05-01T10:11:12Z", "2025-12-31T23:59:59Z")
            .replace("7f3a9c2e1b4d5f60", "00aa11bb22cc33dd")
            .replace("Zk81aQ9mPp2", "Qq7LmN0zx1");
        assert_eq!(normalise(PAGE), normalise(&other));
        let profile =
            Profile::learn(&[answer(200, PAGE), answer(200, &other), answer(200, PAGE)]).unwrap();
        assert_eq!(profile.floor, 1.0);
        assert!(profile.matches(&answer(200, &other)));
    }

    #[test]
    fn a_different_list_or_status_does_not_match() {
        let profile = Profile::learn(&[answer(200, PAGE), answer(200, PAGE)]).unwrap();
        let empty = "<html><body><h1>Orders</h1><p>No orders found</p></body></html>";
        assert!(profile.similarity(&answer(200, empty)) < profile.floor - MARGIN);
        assert!(!profile.matches(&answer(200, empty)));
        assert!(!profile.matches(&answer(500, PAGE)));
    }

    #[test]
    fn replays_that_disagree_make_the_baseline_unstable() {
        assert_eq!(Profile::learn(&[]).unwrap_err(), Unstable::NoAnswer);
        assert_eq!(
            Profile::learn(&[answer(200, PAGE), answer(502, PAGE)]).unwrap_err(),
            Unstable::Status(vec![200, 502])
        );
        let random = "<p>quote of the day: the quick brown fox jumps over the lazy dog</p>";
        let other = "<p>quote of the day: all that glitters is not gold, said someone wise</p>";
        assert!(matches!(
            Profile::learn(&[answer(200, random), answer(200, other)]),
            Err(Unstable::Body(_))
        ));
    }

    #[test]
    fn what_the_baseline_already_shows_is_known() {
        let profile =
            Profile::learn(&[answer(200, "<p>Warning: SQL syntax help page</p>")]).unwrap();
        assert!(profile.already_has("sql SYNTAX"));
        assert!(profile.already_has("content-type: text/html"));
        assert!(!profile.already_has("root:x:0:0"));
    }
}
