//! Detectors: one module per attack type, each with its payloads and its judgement.
//!
//! A test is a [`Probe`], a small state machine with no I/O. The driver asks it what to send
//! ([`Probe::next`] with [`Seen::Nothing`]); it answers [`Step::Send`] with a [`Payload`]; the
//! driver puts that payload at the probe's insertion point ([`crate::insertion::inject`]),
//! sends the request, and gives the answer back ([`Seen::Answer`]). Out-of-band probes may ask
//! the driver to wait for the canary ([`Step::AwaitCanary`]) and are told whether it was hit
//! ([`Seen::Canary`]). A probe ends with [`Step::Found`], whose evidence the last exchange
//! proves, or [`Step::Done`].
//!
//! Every judgement is made against the baseline's [`Profile`]: a detector reports only what
//! the payload caused, never what the page shows anyway.

pub mod crlf;
pub mod oob;
pub mod ptrav;
pub mod rce;
pub mod redir;
pub mod sqli;
pub mod ssti;
pub mod xss;

use rand::Rng;

use crate::insertion::Point;
use crate::profile::Profile;
use crate::{AttackType, Response};

/// What a test found, and why it is sure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The kind of vulnerability.
    pub attack: AttackType,
    /// How bad it is, 0 to 100.
    pub threat: u8,
    /// One line for a list.
    pub title: String,
    /// What was sent, what came back, and why that proves it.
    pub description: String,
    /// The payload of the exchange that proves it.
    pub payload: String,
}

/// What a probe wants put at its insertion point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A value, encoded for its place by [`crate::insertion::inject`].
    Value(String),
    /// Raw XML markup at an XML text point, with a prolog before the root element
    /// ([`crate::insertion::inject_xml_markup`]).
    XmlMarkup {
        /// Goes right before the root element: a DOCTYPE.
        prolog: String,
        /// Replaces the text node: an entity reference.
        markup: String,
    },
}

impl Payload {
    /// The payload as one line of text, for a finding.
    pub fn text(&self) -> String {
        match self {
            Self::Value(v) => v.clone(),
            Self::XmlMarkup { prolog, markup } => format!("{prolog} … {markup}"),
        }
    }
}

/// What the driver saw since the probe's last step.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    /// Nothing yet: the probe starts.
    Nothing,
    /// The answer to the last payload.
    Answer(&'a Response),
    /// Whether the canary was requested while the driver waited.
    Canary(bool),
}

/// What a probe asks of the driver next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the baseline with this payload at the point, then report [`Seen::Answer`].
    Send(Payload),
    /// Wait for a request to `<canary base>/canary/<token>`, then report [`Seen::Canary`].
    AwaitCanary(String),
    /// The last exchange proves this.
    Found(Evidence),
    /// Nothing found.
    Done,
}

/// A security test at one insertion point.
pub trait Probe: Send {
    /// The attack it tests for.
    fn attack(&self) -> AttackType;
    /// Its next step, given what was seen since the last one.
    fn next(&mut self, profile: &Profile, seen: Seen<'_>) -> Step;
}

/// What probes are built from besides the point.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Run time-based tests.
    pub time_based: bool,
    /// Where Tapedeck serves the out-of-band canary, e.g. `https://tapedeck.example:7600`;
    /// without it, out-of-band tests do not run.
    pub canary_base: Option<String>,
}

/// The probes of one attack type at one insertion point.
pub fn probes(attack: AttackType, point: &Point, setup: &Setup) -> Vec<Box<dyn Probe>> {
    match attack {
        AttackType::Sqli => sqli::probes(point, setup),
        AttackType::Xss => vec![Box::new(xss::XssProbe::new())],
        AttackType::Ptrav => vec![Box::new(ptrav::probe())],
        AttackType::Rce => {
            let mut p: Vec<Box<dyn Probe>> = vec![Box::new(rce::probe(&point.value))];
            p.extend(
                setup
                    .canary_base
                    .as_deref()
                    .map(|base| Box::new(oob::blind_rce(base, &point.value)) as Box<dyn Probe>),
            );
            p
        }
        AttackType::Xxe => oob::xxe(point, setup.canary_base.as_deref()),
        AttackType::Ssrf => setup
            .canary_base
            .as_deref()
            .map(|base| vec![Box::new(oob::ssrf(base)) as Box<dyn Probe>])
            .unwrap_or_default(),
        AttackType::Redir => vec![Box::new(redir::probe(setup.canary_base.as_deref()))],
        AttackType::Crlf => vec![Box::new(crlf::probe(&point.value))],
        AttackType::Ssti => vec![Box::new(ssti::probe())],
    }
}

/// A fresh token: `td` and ten lower-case letters and digits, unlikely on any page.
pub fn token() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..10)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect();
    format!("td{tail}")
}

/// Two numbers whose product is six digits or more and never a number a page shows by chance.
pub fn factors() -> (u64, u64) {
    let mut rng = rand::rng();
    (rng.random_range(1000..9999), rng.random_range(1000..9999))
}

/// How one answer is judged.
pub type Judge = Box<dyn Fn(&Profile, &Response) -> Option<Evidence> + Send>;

/// The common probe: payloads tried in turn, each judged by its own rule; the first evidence
/// ends it.
pub struct Attempts {
    attack: AttackType,
    items: Vec<(Payload, Judge)>,
    at: usize,
}

impl Attempts {
    /// A probe trying these payloads in order.
    pub fn new(attack: AttackType, items: Vec<(Payload, Judge)>) -> Self {
        Self {
            attack,
            items,
            at: 0,
        }
    }
}

impl Probe for Attempts {
    fn attack(&self) -> AttackType {
        self.attack
    }

    fn next(&mut self, profile: &Profile, seen: Seen<'_>) -> Step {
        if let Seen::Answer(answer) = seen {
            if let Some((_, judge)) = self.items.get(self.at) {
                if let Some(evidence) = judge(profile, answer) {
                    self.at = self.items.len();
                    return Step::Found(evidence);
                }
            }
            self.at += 1;
        }
        match self.items.get(self.at) {
            Some((payload, _)) => Step::Send(payload.clone()),
            None => Step::Done,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Runs a probe against a fake application: `app` answers each payload; the canary counts
    /// as hit when `canary_hit` says so for the token.
    pub(crate) fn run(
        probe: &mut dyn Probe,
        profile: &Profile,
        mut app: impl FnMut(&Payload) -> Response,
        canary_hit: impl Fn(&str) -> bool,
    ) -> Option<Evidence> {
        let mut step = probe.next(profile, Seen::Nothing);
        for _ in 0..100 {
            step = match step {
                Step::Send(payload) => {
                    let answer = app(&payload);
                    probe.next(profile, Seen::Answer(&answer))
                }
                Step::AwaitCanary(token) => probe.next(profile, Seen::Canary(canary_hit(&token))),
                Step::Found(e) => return Some(e),
                Step::Done => return None,
            };
        }
        panic!("probe did not end");
    }

    /// The payload as a value.
    pub(crate) fn value(p: &Payload) -> &str {
        match p {
            Payload::Value(v) => v,
            Payload::XmlMarkup { markup, .. } => markup,
        }
    }

    #[test]
    fn tokens_and_factors_are_fresh() {
        assert_ne!(token(), token());
        assert_eq!(token().len(), 12);
        let (a, b) = factors();
        assert!(a * b >= 1_000_000);
    }
}
