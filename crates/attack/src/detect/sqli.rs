//! SQL injection, three ways, each confirmed before it is reported.
//!
//! - Error-based: a quote that breaks the statement makes a DBMS error message appear that the
//!   baseline never shows; confirmed when a variant that keeps the statement valid (the quote
//!   doubled, or a harmless `AND`) answers without it.
//! - Boolean-blind: `AND <true>` answers like the baseline and `AND <false>` does not, in the
//!   string (`'`, `"`) or numeric context; confirmed sqlmap-style by two more pairs of
//!   arithmetic identities with fresh random numbers (`a+b=<sum>` against `a+b=<sum+1>`), which
//!   only a database evaluating the input gets right every time.
//! - Time-based (only with the policy's `time_based`): a sleep of 5 s slows the answer by that
//!   much, a sleep of 0 does not, and a second sleep of 5 s does again.

use std::sync::LazyLock;
use std::time::Duration;

use aho_corasick::AhoCorasick;

use super::{factors, Evidence, Payload, Probe, Seen, Setup, Step};
use crate::insertion::Point;
use crate::profile::Profile;
use crate::{AttackType, Response};

/// DBMS error messages, lower case, with the database that writes them.
const SIGNATURES: &[(&str, &str)] = &[
    ("sqlite", "sqlite3.operationalerror"),
    ("sqlite", "sqlite_error"),
    ("sqlite", "sqlite error"),
    ("sqlite", "unrecognized token:"),
    ("sqlite", "sql logic error"),
    ("sqlite", "sqlite.exception"),
    ("mysql", "you have an error in your sql syntax"),
    ("mysql", "check the manual that corresponds to your mysql"),
    ("mysql", "warning: mysql_"),
    ("mysql", "mysqli_sql_exception"),
    ("mariadb", "mariadb server version for the right syntax"),
    ("postgresql", "unterminated quoted string at or near"),
    ("postgresql", "syntax error at or near"),
    ("postgresql", "pg_query(): query failed"),
    ("postgresql", "org.postgresql.util.psqlexception"),
    ("postgresql", "invalid input syntax for"),
    (
        "mssql",
        "unclosed quotation mark after the character string",
    ),
    ("mssql", "incorrect syntax near"),
    ("mssql", "microsoft ole db provider for sql server"),
    ("mssql", "com.microsoft.sqlserver.jdbc"),
    ("oracle", "quoted string not properly terminated"),
    ("oracle", "ora-00933"),
    ("oracle", "ora-01756"),
    ("oracle", "ora-00921"),
    ("generic", "sqlstate["),
    ("generic", "syntax error in sql statement"),
    ("generic", "odbc driver"),
    ("generic", "jdbc.sqlexception"),
];

static MATCHER: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::new(SIGNATURES.iter().map(|(_, s)| s)).expect("signatures are plain strings")
});

/// The first DBMS error message in an answer that the baseline does not show:
/// `(database, message)`.
pub fn new_error(profile: &Profile, answer: &Response) -> Option<(&'static str, &'static str)> {
    let body = answer.text().to_lowercase();
    MATCHER
        .find_iter(&body)
        .map(|m| SIGNATURES[m.pattern().as_usize()])
        .find(|(_, sig)| !profile.already_has(sig))
}

/// The SQL injection probes for a point: error-based, boolean-blind, and time-based if asked.
pub fn probes(point: &Point, setup: &Setup) -> Vec<Box<dyn Probe>> {
    let mut out: Vec<Box<dyn Probe>> = vec![
        Box::new(ErrorProbe::new(&point.value)),
        Box::new(BooleanProbe::new(&point.value)),
    ];
    if setup.time_based {
        out.push(Box::new(TimeProbe::new(&point.value)));
    }
    out
}

/// Error-based SQL injection.
pub struct ErrorProbe {
    /// (breaking payload, statement-keeping variants)
    tries: Vec<(String, Vec<String>)>,
    at: usize,
    confirming: Option<(usize, &'static str, &'static str)>,
}

impl ErrorProbe {
    /// The probe for a point holding `original`.
    pub fn new(original: &str) -> Self {
        let tries = vec![
            (
                format!("{original}'"),
                vec![format!("{original}''"), format!("{original} AND 1=1")],
            ),
            (
                format!("{original}\""),
                vec![format!("{original}\"\""), format!("{original} AND 1=1")],
            ),
            (
                format!("{original})'"),
                vec![format!("{original}''"), format!("{original} AND 1=1")],
            ),
        ];
        Self {
            tries,
            at: 0,
            confirming: None,
        }
    }
}

impl Probe for ErrorProbe {
    fn attack(&self) -> AttackType {
        AttackType::Sqli
    }

    fn next(&mut self, profile: &Profile, seen: Seen<'_>) -> Step {
        if let Seen::Answer(answer) = seen {
            match self.confirming {
                None => match new_error(profile, answer) {
                    Some((db, sig)) => self.confirming = Some((0, db, sig)),
                    None => self.at += 1,
                },
                Some((variant, db, sig)) => {
                    if new_error(profile, answer).is_none() {
                        let (broken, variants) = &self.tries[self.at];
                        return Step::Found(Evidence {
                            attack: AttackType::Sqli,
                            threat: 90,
                            title: format!("SQL injection (error-based, {db})"),
                            description: format!(
                                "The value {broken:?} made the answer show the {db} error \"{sig}\", which the baseline never shows, and {:?}, which keeps the SQL statement valid, did not.",
                                variants[variant]
                            ),
                            payload: variants[variant].clone(),
                        });
                    }
                    self.confirming = if variant + 1 < self.tries[self.at].1.len() {
                        Some((variant + 1, db, sig))
                    } else {
                        self.at += 1;
                        None
                    };
                }
            }
        }
        let Some((broken, variants)) = self.tries.get(self.at) else {
            return Step::Done;
        };
        Step::Send(Payload::Value(match self.confirming {
            None => broken.clone(),
            Some((variant, ..)) => variants[variant].clone(),
        }))
    }
}

/// One way the input can sit in a statement: how to append a condition to it.
#[derive(Debug, Clone, Copy)]
enum Context {
    Single,
    Double,
    Numeric,
}

impl Context {
    fn wrap(self, original: &str, condition: &str) -> String {
        match self {
            Self::Single => format!("{original}' AND {condition} AND 'x'='x"),
            Self::Double => format!("{original}\" AND {condition} AND \"x\"=\"x"),
            Self::Numeric => format!("{original} AND {condition}"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Single => "single-quoted string",
            Self::Double => "double-quoted string",
            Self::Numeric => "number",
        }
    }
}

/// Boolean-blind SQL injection.
pub struct BooleanProbe {
    original: String,
    contexts: Vec<Context>,
    /// Conditions for the current context, each with whether it is true.
    plan: Vec<(String, bool)>,
    at: usize,
}

impl BooleanProbe {
    /// The probe for a point holding `original`.
    pub fn new(original: &str) -> Self {
        let mut contexts = vec![Context::Single, Context::Double];
        if original.parse::<f64>().is_ok() {
            contexts.insert(0, Context::Numeric);
        }
        let mut probe = Self {
            original: original.to_owned(),
            contexts,
            plan: Vec::new(),
            at: 0,
        };
        probe.plan = Self::plan();
        probe
    }

    /// A true and a false condition, then two arithmetic identities and their false twins.
    fn plan() -> Vec<(String, bool)> {
        let (a, b) = factors();
        let (c, d) = factors();
        let n = a % 97 + 2;
        vec![
            (format!("{n}={n}"), true),
            (format!("{n}={}", n + 1), false),
            (format!("{a}+{b}={}", a + b), true),
            (format!("{a}+{b}={}", a + b + 1), false),
            (format!("{c}-{d}={}", c as i64 - d as i64), true),
            (format!("{c}-{d}={}", c as i64 - d as i64 - 1), false),
        ]
    }
}

impl Probe for BooleanProbe {
    fn attack(&self) -> AttackType {
        AttackType::Sqli
    }

    fn next(&mut self, profile: &Profile, seen: Seen<'_>) -> Step {
        if let Seen::Answer(answer) = seen {
            let (_, truth) = &self.plan[self.at];
            // A false condition must answer clearly unlike the baseline, not merely a bit off.
            let as_expected = if *truth {
                profile.matches(answer)
            } else {
                answer.status != profile.status
                    || profile.similarity(answer) < profile.floor - crate::profile::MARGIN
            };
            if as_expected {
                self.at += 1;
                if self.at == self.plan.len() {
                    let context = self.contexts[0];
                    let pairs: Vec<String> = self
                        .plan
                        .iter()
                        .map(|(c, t)| {
                            format!(
                                "{c} ({})",
                                if *t { "like the baseline" } else { "different" }
                            )
                        })
                        .collect();
                    return Step::Found(Evidence {
                        attack: AttackType::Sqli,
                        threat: 85,
                        title: format!("SQL injection (boolean-blind, in a {})", context.name()),
                        description: format!(
                            "Conditions appended to the value {:?} changed the answer as the database evaluated them: {}.",
                            self.original,
                            pairs.join(", ")
                        ),
                        payload: context.wrap(&self.original, &self.plan[self.at - 1].0),
                    });
                }
            } else {
                self.contexts.remove(0);
                self.plan = Self::plan();
                self.at = 0;
            }
        }
        let Some(context) = self.contexts.first() else {
            return Step::Done;
        };
        Step::Send(Payload::Value(
            context.wrap(&self.original, &self.plan[self.at].0),
        ))
    }
}

/// The sleep each time-based payload asks for.
pub const SLEEP: Duration = Duration::from_secs(5);

/// Time-based blind SQL injection.
pub struct TimeProbe {
    templates: Vec<String>,
    at: usize,
    /// Which of slow, fast, slow is next.
    phase: usize,
}

impl TimeProbe {
    /// The probe for a point holding `original`; `{s}` in a template is the sleep in seconds.
    pub fn new(original: &str) -> Self {
        let o = original;
        let templates = vec![
            format!("{o}' AND SLEEP({{s}}) AND 'x'='x"),
            format!("{o} AND SLEEP({{s}})"),
            format!("{o}' AND 1=(SELECT 1 FROM PG_SLEEP({{s}})) AND 'x'='x"),
            format!("{o} AND 1=(SELECT 1 FROM PG_SLEEP({{s}}))"),
            format!("{o}'; WAITFOR DELAY '0:0:{{s}}'--"),
            format!("{o}; WAITFOR DELAY '0:0:{{s}}'--"),
        ];
        Self {
            templates,
            at: 0,
            phase: 0,
        }
    }

    fn slow(&self, profile: &Profile, answer: &Response) -> bool {
        answer.elapsed >= profile.max_latency + SLEEP.mul_f64(0.9)
    }
}

impl Probe for TimeProbe {
    fn attack(&self) -> AttackType {
        AttackType::Sqli
    }

    fn next(&mut self, profile: &Profile, seen: Seen<'_>) -> Step {
        if let Seen::Answer(answer) = seen {
            let ok = if self.phase == 1 {
                !self.slow(profile, answer)
            } else {
                self.slow(profile, answer)
            };
            if ok && self.phase == 2 {
                let payload = self.templates[self.at].replace("{s}", &SLEEP.as_secs().to_string());
                return Step::Found(Evidence {
                    attack: AttackType::Sqli,
                    threat: 85,
                    title: "SQL injection (time-based)".into(),
                    description: format!(
                        "{payload:?} delayed the answer by at least {} s beyond the baseline's slowest ({} ms), twice, and the same with a sleep of 0 did not.",
                        SLEEP.as_secs(),
                        profile.max_latency.as_millis()
                    ),
                    payload,
                });
            }
            if ok {
                self.phase += 1;
            } else {
                self.phase = 0;
                self.at += 1;
            }
        }
        let Some(template) = self.templates.get(self.at) else {
            return Step::Done;
        };
        let secs = if self.phase == 1 { 0 } else { SLEEP.as_secs() };
        Step::Send(Payload::Value(template.replace("{s}", &secs.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::{run, value};
    use crate::profile::tests::answer;

    /// A fake orders page backed by a table of names; `vulnerable` builds the SQL by string
    /// concatenation, like the e2e app, and evaluates the simple conditions the probes send.
    fn orders_app(vulnerable: bool) -> impl FnMut(&Payload) -> Response {
        move |p| {
            let v = value(p);
            let page = |rows: &[&str]| {
                answer(
                    200,
                    &format!(
                        "<h1>Orders</h1><ul>{}</ul>",
                        rows.iter()
                            .map(|r| format!("<li>{r}</li>"))
                            .collect::<String>()
                    ),
                )
            };
            if !vulnerable {
                // Parameterised: the whole value is a name, and no name has a quote.
                return if v == "bob" {
                    page(&["tea", "cake"])
                } else {
                    page(&[])
                };
            }
            let Some(rest) = v.strip_prefix("bob") else {
                return page(&[]);
            };
            if rest.is_empty() || rest == "''" {
                return page(&["tea", "cake"]);
            }
            if let Some(cond) = rest
                .strip_prefix("' AND ")
                .and_then(|r| r.strip_suffix(" AND 'x'='x"))
            {
                return if eval(cond) {
                    page(&["tea", "cake"])
                } else {
                    page(&[])
                };
            }
            if rest.matches('\'').count() % 2 == 1 {
                return answer(
                    500,
                    "sqlite3.OperationalError: unrecognized token: \"'bob''\"",
                );
            }
            answer(500, "sqlite3.OperationalError: near \"AND\": syntax error")
        }
    }

    fn eval(cond: &str) -> bool {
        let (lhs, rhs) = cond.split_once('=').unwrap();
        let rhs: i64 = rhs.parse().unwrap();
        let lhs: i64 = if let Some((a, b)) = lhs.split_once('+') {
            a.parse::<i64>().unwrap() + b.parse::<i64>().unwrap()
        } else if let Some((a, b)) = lhs.split_once('-') {
            a.parse::<i64>().unwrap() - b.parse::<i64>().unwrap()
        } else {
            lhs.parse().unwrap()
        };
        lhs == rhs
    }

    fn baseline() -> Profile {
        Profile::learn(&vec![
            answer(
                200,
                "<h1>Orders</h1><ul><li>tea</li><li>cake</li></ul>"
            );
            2
        ])
        .unwrap()
    }

    #[test]
    fn error_based_is_found_and_confirmed_by_the_doubled_quote() {
        let e = run(
            &mut ErrorProbe::new("bob"),
            &baseline(),
            orders_app(true),
            |_| false,
        )
        .unwrap();
        assert!(e.title.contains("sqlite"), "{e:?}");
        assert_eq!(e.payload, "bob''");
    }

    #[test]
    fn boolean_blind_is_found_and_confirmed_by_arithmetic() {
        let e = run(
            &mut BooleanProbe::new("bob"),
            &baseline(),
            orders_app(true),
            |_| false,
        )
        .unwrap();
        assert!(e.title.contains("single-quoted"), "{e:?}");
        assert!(e.description.contains("+") && e.description.contains("-"));
    }

    #[test]
    fn a_parameterised_twin_gives_nothing() {
        assert!(run(
            &mut ErrorProbe::new("bob"),
            &baseline(),
            orders_app(false),
            |_| false
        )
        .is_none());
        assert!(run(
            &mut BooleanProbe::new("bob"),
            &baseline(),
            orders_app(false),
            |_| false
        )
        .is_none());
    }

    #[test]
    fn an_error_the_page_always_shows_is_not_credited() {
        let help = "<p>FAQ: what does 'You have an error in your SQL syntax' mean?</p>";
        let profile = Profile::learn(&[answer(200, help)]).unwrap();
        assert!(run(
            &mut ErrorProbe::new("1"),
            &profile,
            |_| answer(200, help),
            |_| false
        )
        .is_none());
    }

    #[test]
    fn a_shell_syntax_error_is_not_a_database_error() {
        // Seen on the e2e app's command injection endpoint: sh's message shares words with
        // PostgreSQL's, which is why that signature keeps its "at or near".
        let sh = answer(
            200,
            "<pre>sh: 1: Syntax error: Unterminated quoted string</pre>",
        );
        assert_eq!(new_error(&baseline(), &sh), None);
    }

    #[test]
    fn an_app_that_errors_on_any_change_is_not_boolean_injectable() {
        // Every variant answers the same error page: the true condition never looks like the
        // baseline, so nothing is claimed.
        let mut app = |_: &Payload| answer(400, "bad input");
        assert!(
            run(&mut BooleanProbe::new("7"), &baseline(), &mut app, |_| {
                false
            })
            .is_none()
        );
    }

    #[test]
    fn time_based_needs_slow_fast_slow() {
        let profile = baseline();
        let timed = |slow_for_zero: bool| {
            move |p: &Payload| {
                let v = value(p);
                let mut a = answer(200, "<h1>Orders</h1>");
                let sleeps = v.contains("SLEEP(5)") || (slow_for_zero && v.contains("SLEEP(0)"));
                if sleeps && v.starts_with("bob'") {
                    a.elapsed = Duration::from_millis(5100);
                }
                a
            }
        };
        let e = run(&mut TimeProbe::new("bob"), &profile, timed(false), |_| {
            false
        })
        .unwrap();
        assert!(e.payload.contains("SLEEP(5)"));
        // An endpoint that is slow whatever the sleep says is not a finding.
        assert!(run(&mut TimeProbe::new("bob"), &profile, timed(true), |_| false).is_none());
    }
}
