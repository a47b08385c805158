//! The test policy: which attacks run, at which insertion points, and how hard.
//!
//! Read from JSON; every field is optional and its default is FAST's default policy:
//!
//! ```json
//! {
//!   "attack_types": ["sqli", "xss", "ptrav", "rce", "xxe"],
//!   "insertion_points": {"include": ["GET_.*", "POST_.*", "URI", "PATH_.*", "HEADER_.*",
//!                                    "JSON_.*", "XML_.*", "COOKIE_.*"],
//!                        "exclude": []},
//!   "rps": 10,
//!   "unsafe_methods": false,
//!   "time_based": false,
//!   "threshold": 50
//! }
//! ```
//!
//! A point pattern is a regex matched against the whole point name (`GET_id` matches `GET_.*`
//! but not `GET_`); a point is attacked when an include pattern matches it and no exclude
//! pattern does.

use regex::Regex;
use serde::Deserialize;

use crate::AttackType;

/// Methods attacked without `unsafe_methods`: those a repeat does not change anything with.
pub const SAFE_METHODS: [&str; 3] = ["GET", "HEAD", "OPTIONS"];

/// Why a policy was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The text is not JSON of the policy's shape.
    #[error("the policy is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// An attack type this crate does not know.
    #[error(
        "unknown attack type {0:?}: use one of sqli, xss, ptrav, rce, xxe, ssrf, redir, crlf, ssti"
    )]
    UnknownAttackType(String),
    /// An insertion point pattern that is not a regex.
    #[error("insertion point pattern {pattern:?} is not a valid regex: {source}")]
    BadPointPattern {
        /// The pattern as given.
        pattern: String,
        /// What the regex parser said.
        #[source]
        source: Box<regex::Error>,
    },
    /// A rate that is not a positive number of requests per second.
    #[error("rps must be between 0.1 and 1000 requests per second, not {0}")]
    RpsOutOfRange(f64),
    /// A threshold outside 0..=100.
    #[error("threshold must be between 0 and 100, not {0}")]
    ThresholdOutOfRange(u8),
}

/// A parsed, checked test policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The attacks that run, in [`AttackType::ALL`] order.
    pub attack_types: Vec<AttackType>,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    /// Test requests per second, at most, for the whole run.
    pub rps: f64,
    /// Attack methods other than [`SAFE_METHODS`] too (POST, PUT, DELETE, …).
    pub unsafe_methods: bool,
    /// Run time-based tests, which hold each request for seconds.
    pub time_based: bool,
    /// Findings whose threat is below this are not reported.
    pub threshold: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    attack_types: Option<Vec<String>>,
    insertion_points: Option<WirePoints>,
    rps: Option<f64>,
    unsafe_methods: Option<bool>,
    time_based: Option<bool>,
    threshold: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WirePoints {
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
}

/// Points attacked when a policy names none.
pub const DEFAULT_INCLUDE: [&str; 8] = [
    "GET_.*",
    "POST_.*",
    "URI",
    "PATH_.*",
    "HEADER_.*",
    "JSON_.*",
    "XML_.*",
    "COOKIE_.*",
];

impl Default for Policy {
    fn default() -> Self {
        Self::from_json("{}").expect("the default policy is valid")
    }
}

impl Policy {
    /// Parses and checks a policy; an empty object gives the default policy.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let wire: Wire = serde_json::from_str(text)?;
        let mut attack_types = match wire.attack_types {
            None => AttackType::DEFAULT.to_vec(),
            Some(names) => names
                .iter()
                .map(|n| {
                    AttackType::parse(n).ok_or_else(|| PolicyError::UnknownAttackType(n.clone()))
                })
                .collect::<Result<_, _>>()?,
        };
        attack_types.sort();
        attack_types.dedup();
        let points = wire.insertion_points.unwrap_or(WirePoints {
            include: None,
            exclude: None,
        });
        let include = match points.include {
            Some(p) => compile(&p)?,
            None => compile(&DEFAULT_INCLUDE.map(String::from))?,
        };
        let exclude = compile(&points.exclude.unwrap_or_default())?;
        let rps = wire.rps.unwrap_or(10.0);
        if !(0.1..=1000.0).contains(&rps) {
            return Err(PolicyError::RpsOutOfRange(rps));
        }
        let threshold = wire.threshold.unwrap_or(50);
        if threshold > 100 {
            return Err(PolicyError::ThresholdOutOfRange(threshold));
        }
        Ok(Self {
            attack_types,
            include,
            exclude,
            rps,
            unsafe_methods: wire.unsafe_methods.unwrap_or(false),
            time_based: wire.time_based.unwrap_or(false),
            threshold,
        })
    }

    /// True when the insertion point of this name is attacked.
    pub fn attacks_point(&self, name: &str) -> bool {
        self.include.iter().any(|r| r.is_match(name))
            && !self.exclude.iter().any(|r| r.is_match(name))
    }

    /// True when requests of this method are attacked.
    pub fn attacks_method(&self, method: &str) -> bool {
        self.unsafe_methods || SAFE_METHODS.iter().any(|m| m.eq_ignore_ascii_case(method))
    }

    /// True when a finding of this threat is reported.
    pub fn reports(&self, threat: u8) -> bool {
        threat >= self.threshold
    }

    /// True when this attack type runs.
    pub fn runs(&self, attack: AttackType) -> bool {
        self.attack_types.contains(&attack)
    }
}

fn compile(patterns: &[String]) -> Result<Vec<Regex>, PolicyError> {
    patterns
        .iter()
        .map(|p| {
            Regex::new(&format!("^(?:{p})$")).map_err(|e| PolicyError::BadPointPattern {
                pattern: p.clone(),
                source: Box::new(e),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_policy_is_fasts_default() {
        let p = Policy::default();
        assert_eq!(
            p.attack_types,
            [
                AttackType::Sqli,
                AttackType::Xss,
                AttackType::Ptrav,
                AttackType::Rce,
                AttackType::Xxe
            ]
        );
        assert_eq!(
            (p.rps, p.unsafe_methods, p.time_based, p.threshold),
            (10.0, false, false, 50)
        );
        for name in [
            "GET_id",
            "POST_MULTIPART_x",
            "JSON_a.b",
            "URI",
            "PATH_0",
            "COOKIE_sid",
            "HEADER_REFERER",
            "XML_a@b",
        ] {
            assert!(p.attacks_point(name), "{name}");
        }
        assert!(
            p.attacks_method("get") && !p.attacks_method("POST") && !p.attacks_method("DELETE")
        );
    }

    #[test]
    fn opt_in_attacks_and_point_patterns_are_read() {
        let p = Policy::from_json(
            r#"{"attack_types":["ssrf","xss","xss"],"insertion_points":{"include":["GET_.*","JSON_.*"],"exclude":["GET_csrf"]},
                "rps":2.5,"unsafe_methods":true,"time_based":true,"threshold":70}"#,
        )
        .unwrap();
        assert_eq!(p.attack_types, [AttackType::Xss, AttackType::Ssrf]);
        assert!(p.attacks_point("GET_id") && p.attacks_point("JSON_user.name"));
        assert!(!p.attacks_point("GET_csrf") && !p.attacks_point("POST_id"));
        // Patterns match the whole name, not a part of it.
        assert!(!p.attacks_point("XGET_id"));
        assert!(p.attacks_method("POST") && p.runs(AttackType::Ssrf) && !p.runs(AttackType::Sqli));
        assert_eq!((p.rps, p.time_based, p.threshold), (2.5, true, 70));
    }

    #[test]
    fn mistakes_are_typed_errors_that_say_what_to_fix() {
        let err = |t: &str| Policy::from_json(t).unwrap_err();
        assert!(
            matches!(err(r#"{"attack_types":["sqlx"]}"#), PolicyError::UnknownAttackType(n) if n == "sqlx")
        );
        assert!(
            matches!(err(r#"{"insertion_points":{"include":["GET_("]}}"#), PolicyError::BadPointPattern { pattern, .. } if pattern == "GET_(")
        );
        assert!(matches!(err(r#"{"rps":0}"#), PolicyError::RpsOutOfRange(_)));
        assert!(matches!(
            err(r#"{"threshold":101}"#),
            PolicyError::ThresholdOutOfRange(101)
        ));
        assert!(matches!(err(r#"{"rate":5}"#), PolicyError::Json(_)));
        assert!(err(r#"{"attack_types":["sqlx"]}"#)
            .to_string()
            .contains("use one of"));
    }
}
