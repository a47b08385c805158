//! Open redirect: the value names where to go next, and the answer redirects to a host the
//! payload chose. It is a finding when a 3xx answer's `Location`, resolved as a browser would
//! (protocol-relative `//host`, backslashes as slashes), points at the canary host.

use super::{Attempts, Evidence, Judge, Payload};
use crate::AttackType;

/// The host redirects are aimed at when no canary is served.
pub const FALLBACK_HOST: &str = "redirect-canary.tapedeck.invalid";

/// The open redirect probe; `canary_base` is Tapedeck's public URL, whose host is the target.
pub fn probe(canary_base: Option<&str>) -> Attempts {
    let host = canary_base
        .and_then(|b| url::Url::parse(b).ok())
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| FALLBACK_HOST.to_owned());
    let payloads = [
        format!("https://{host}/"),
        format!("//{host}/"),
        format!("/\\{host}/"),
        format!("https:{host}/"),
    ];
    let items = payloads
        .into_iter()
        .map(|payload| {
            let host = host.clone();
            let p = payload.clone();
            let judge: Judge = Box::new(move |_profile, answer| {
                let location = answer.header("location")?;
                if !(300..400).contains(&answer.status) {
                    return None;
                }
                let base = url::Url::parse("http://origin.tapedeck.invalid/a/b").ok()?;
                let target = base.join(location.trim()).ok()?;
                target.host_str().filter(|h| h.eq_ignore_ascii_case(&host))?;
                Some(Evidence {
                    attack: AttackType::Redir,
                    threat: 50,
                    title: "Open redirect".into(),
                    description: format!(
                        "The value {p:?} made the answer redirect ({}) to {location}, a host the request chose.",
                        answer.status
                    ),
                    payload: p.clone(),
                })
            });
            (Payload::Value(payload), judge)
        })
        .collect();
    Attempts::new(AttackType::Redir, items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::{run, value};
    use crate::profile::tests::answer;
    use crate::profile::Profile;

    fn redirect(to: &str) -> crate::Response {
        let mut a = answer(302, "");
        a.headers.push(("Location".into(), to.into()));
        a
    }

    #[test]
    fn a_redirect_to_the_chosen_host_is_found() {
        let profile = Profile::learn(&[redirect("/home")]).unwrap();
        let e = run(
            &mut probe(Some("https://td.example:7600")),
            &profile,
            |p| redirect(value(p)),
            |_| false,
        )
        .unwrap();
        assert!(e.description.contains("td.example"));
        // An app that forces one leading slash still lets `/\\host` through: browsers read a
        // backslash as a slash, so it is protocol-relative.
        let mut prefixing =
            |p: &Payload| redirect(&format!("/{}", value(p).trim_start_matches('/')));
        let e = run(&mut probe(None), &profile, &mut prefixing, |_| false).unwrap();
        assert_eq!(e.payload, format!("/\\{FALLBACK_HOST}/"));
    }

    #[test]
    fn a_twin_that_only_redirects_to_its_own_paths_gives_nothing() {
        let profile = Profile::learn(&[redirect("/home")]).unwrap();
        let mut safe = |p: &Payload| {
            redirect(
                if value(p).starts_with('/')
                    && !value(p).starts_with("//")
                    && !value(p).starts_with("/\\")
                {
                    value(p)
                } else {
                    "/home"
                },
            )
        };
        assert!(run(&mut probe(None), &profile, &mut safe, |_| false).is_none());
    }
}
