//! OS command injection, in-band: the payload makes a shell print the product of two fresh
//! random numbers. The product is not in the payload (which holds only the factors), so an
//! answer that shows it, when no baseline replay did, ran the arithmetic. A second round with
//! fresh numbers confirms it. Blind command injection, seen on the canary, is in
//! [`super::oob`].

use super::{factors, Evidence, Payload, Probe, Seen, Step};
use crate::profile::Profile;
use crate::AttackType;

/// Shell payloads; `{o}` is the original value, `{a}` and `{b}` the factors.
const TEMPLATES: [&str; 9] = [
    "{o};echo $(({a}*{b}))",
    "{o}|echo $(({a}*{b}))",
    "{o}&&echo $(({a}*{b}))",
    "{o}$(echo $(({a}*{b})))",
    "{o}`echo $(({a}*{b}))`",
    "{o}';echo $(({a}*{b}));'",
    "{o}\";echo $(({a}*{b}));\"",
    "{o}\necho $(({a}*{b}))",
    "{o}&set /a {a}*{b}",
];

/// A probe whose payloads make something evaluate `a*b`: found when the product shows, twice,
/// with fresh numbers each time. Shared by command and template injection.
pub struct ArithmeticProbe {
    attack: AttackType,
    threat: u8,
    what: &'static str,
    original: String,
    templates: Vec<&'static str>,
    at: usize,
    round: u8,
    factors: (u64, u64),
}

impl ArithmeticProbe {
    /// A probe over these templates.
    pub fn new(
        attack: AttackType,
        threat: u8,
        what: &'static str,
        original: &str,
        templates: &[&'static str],
    ) -> Self {
        Self {
            attack,
            threat,
            what,
            original: original.to_owned(),
            templates: templates.to_vec(),
            at: 0,
            round: 0,
            factors: factors(),
        }
    }

    fn payload(&self) -> String {
        let (a, b) = self.factors;
        self.templates[self.at]
            .replace("{o}", &self.original)
            .replace("{a}", &a.to_string())
            .replace("{b}", &b.to_string())
    }
}

impl Probe for ArithmeticProbe {
    fn attack(&self) -> AttackType {
        self.attack
    }

    fn next(&mut self, profile: &Profile, seen: Seen<'_>) -> Step {
        if let Seen::Answer(answer) = seen {
            let (a, b) = self.factors;
            let product = (a * b).to_string();
            let shown = answer.text().contains(&product) && !profile.already_has(&product);
            if shown && self.round == 1 {
                let payload = self.payload();
                return Step::Found(Evidence {
                    attack: self.attack,
                    threat: self.threat,
                    title: self.what.to_owned(),
                    description: format!(
                        "The value {payload:?} made the answer show {product}, the product of {a} and {b}, which the payload does not contain; it did so twice, with fresh numbers."
                    ),
                    payload,
                });
            }
            if shown {
                self.round = 1;
            } else {
                self.round = 0;
                self.at += 1;
            }
            self.factors = factors();
        }
        if self.at >= self.templates.len() {
            return Step::Done;
        }
        Step::Send(Payload::Value(self.payload()))
    }
}

/// The in-band command injection probe for a point holding `original`.
pub fn probe(original: &str) -> ArithmeticProbe {
    ArithmeticProbe::new(
        AttackType::Rce,
        95,
        "OS command injection",
        original,
        &TEMPLATES,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::{run, value};
    use crate::profile::tests::answer;

    /// `ping -c1 <host>` through a shell: `;echo $((a*b))` runs.
    fn shell(p: &Payload) -> crate::Response {
        let v = value(p);
        let out = match v.split_once(";echo $((") {
            Some((_, rest)) => {
                let expr = rest.trim_end_matches("))");
                let (a, b) = expr.split_once('*').unwrap();
                format!(
                    "PING ok\n{}",
                    a.parse::<u64>().unwrap() * b.parse::<u64>().unwrap()
                )
            }
            None => format!("ping: {v}: Name or service not known"),
        };
        answer(200, &format!("<pre>{out}</pre>"))
    }

    fn profile() -> Profile {
        Profile::learn(&[answer(200, "<pre>PING ok</pre>")]).unwrap()
    }

    #[test]
    fn a_shell_that_runs_the_payload_is_found_twice_over() {
        let e = run(&mut probe("127.0.0.1"), &profile(), shell, |_| false).unwrap();
        assert_eq!(e.title, "OS command injection");
        assert!(e.payload.starts_with("127.0.0.1;echo"));
    }

    #[test]
    fn a_twin_that_echoes_the_payload_gives_nothing() {
        let mut echo =
            |p: &Payload| answer(200, &format!("<pre>ping: {}: invalid host</pre>", value(p)));
        assert!(run(&mut probe("127.0.0.1"), &profile(), &mut echo, |_| false).is_none());
    }
}
