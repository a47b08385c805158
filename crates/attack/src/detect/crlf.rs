//! CRLF injection: a line break in the value starts a new response header. It is a finding
//! when the answer carries a header named after a fresh token, which only the payload could
//! have added. Variants: CRLF, a bare LF, and `%0d%0a` for applications that decode twice.

use super::{token, Attempts, Evidence, Judge, Payload};
use crate::AttackType;

/// The CRLF injection probe for a point holding `original`.
pub fn probe(original: &str) -> Attempts {
    let tok = token();
    let header = format!("X-Td-{tok}");
    let payloads = [
        format!("{original}\r\n{header}: {tok}"),
        format!("{original}\n{header}: {tok}"),
        format!("{original}%0d%0a{header}:%20{tok}"),
    ];
    let items = payloads
        .into_iter()
        .map(|payload| {
            let header = header.clone();
            let p = payload.clone();
            let judge: Judge = Box::new(move |_profile, answer| {
                answer.header(&header).map(|value| Evidence {
                    attack: AttackType::Crlf,
                    threat: 55,
                    title: "CRLF injection into response headers".into(),
                    description: format!(
                        "The value {p:?} added the header {header}: {value} to the answer: line breaks in the value reach the response head."
                    ),
                    payload: p.clone(),
                })
            });
            (Payload::Value(payload), judge)
        })
        .collect();
    Attempts::new(AttackType::Crlf, items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::{run, value};
    use crate::profile::tests::answer;
    use crate::profile::Profile;

    /// Sets `X-Lang: <value>`; a vulnerable app writes the value raw into the head.
    fn app(vulnerable: bool) -> impl FnMut(&Payload) -> crate::Response {
        move |p| {
            let mut a = answer(200, "ok");
            let v = value(p);
            if vulnerable {
                let mut lines = v.split('\n');
                a.headers
                    .push(("X-Lang".into(), lines.next().unwrap().trim_end().into()));
                for line in lines {
                    if let Some((n, val)) = line.split_once(": ") {
                        a.headers.push((n.into(), val.into()));
                    }
                }
            } else {
                a.headers
                    .push(("X-Lang".into(), v.replace(['\r', '\n'], "")));
            }
            a
        }
    }

    #[test]
    fn an_injected_header_is_found_and_a_stripped_one_is_not() {
        let profile = Profile::learn(&[answer(200, "ok")]).unwrap();
        let e = run(&mut probe("en"), &profile, app(true), |_| false).unwrap();
        assert!(e.description.contains("X-Td-td"));
        assert!(run(&mut probe("en"), &profile, app(false), |_| false).is_none());
    }
}
