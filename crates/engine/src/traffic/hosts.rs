//! FAST's allowed-hosts patterns (nginx `server_name` style), matched against a request's Host.

use regex::Regex;
use tapedeck_core::EngineError;

/// A compiled allowed-hosts pattern.
#[derive(Debug, Clone)]
pub enum HostPattern {
    /// Empty or `*`: every host.
    Any,
    /// `.example.com`: the domain and its subdomains.
    Suffix(String),
    /// An FQDN, `(a|b)`, a regex or a substring: an unanchored, case-insensitive regex search,
    /// which is how FAST's node applies it (a plain name matches itself and any host containing
    /// it).
    Regex(Regex),
}

impl HostPattern {
    /// Compiles a pattern; an invalid regex is an input error naming the field.
    pub fn parse(pattern: &str) -> Result<Self, EngineError> {
        let pattern = pattern.trim();
        if pattern.is_empty() || pattern == "*" {
            return Ok(Self::Any);
        }
        if let Some(domain) = pattern.strip_prefix('.') {
            if !domain.is_empty() && !domain.contains(['(', '|', '*', '\\']) {
                return Ok(Self::Suffix(domain.to_ascii_lowercase()));
            }
        }
        let regex = pattern.strip_prefix('~').unwrap_or(pattern);
        Regex::new(&format!("(?i){regex}"))
            .map(Self::Regex)
            .map_err(|e| {
                EngineError::InvalidInput(format!("allowed_hosts is not a valid pattern: {e}"))
            })
    }

    /// True when `host` (without port) is to be recorded.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self {
            Self::Any => true,
            Self::Suffix(domain) => host == *domain || host.ends_with(&format!(".{domain}")),
            Self::Regex(regex) => regex.is_match(&host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, host: &str) -> bool {
        HostPattern::parse(pattern).unwrap().matches(host)
    }

    #[test]
    fn every_documented_form_matches_like_fast() {
        assert!(m("", "anything.test") && m("*", "x"));
        assert!(m(".example.local", "example.local") && m(".example.local", "a.b.example.local"));
        assert!(!m(".example.local", "badexample.local"));
        assert!(m("app.test", "APP.test") && !m("app.test", "other.test"));
        assert!(m("(node.example.local|example.com)", "example.com"));
        assert!(!m("(node.example.local|example.com)", "example.org"));
        assert!(m("appspot.com", "google-gruyere.appspot.com"));
        assert!(m("^api[0-9]+\\.test$", "api7.test") && !m("^api[0-9]+\\.test$", "xapi7.test"));
        assert!(HostPattern::parse("(unclosed").is_err());
    }
}

/// Property tests on outside input (`scripts/fuzz` runs them longer).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_pattern_compiles_or_is_an_input_error_and_then_matches_any_host(
            pattern in "[a-z.*|()~\\\\\\[\\]{}+?^$-]{0,30}",
            host in "\\PC{0,40}",
        ) {
            match HostPattern::parse(&pattern) {
                Ok(compiled) => {
                    compiled.matches(&host);
                }
                Err(e) => prop_assert!(matches!(e, EngineError::InvalidInput(_))),
            }
        }

        #[test]
        fn a_leading_dot_matches_the_domain_and_its_subdomains_only(
            domain in "[a-z]{1,10}\\.[a-z]{2,5}",
            sub in "[a-z0-9-]{1,10}",
            other in "[a-z]{1,10}",
        ) {
            let pattern = HostPattern::parse(&format!(".{domain}")).unwrap();
            prop_assert!(pattern.matches(&domain));
            let subdomain = format!("{sub}.{domain}");
            let uppercased = subdomain.to_ascii_uppercase();
            prop_assert!(pattern.matches(&uppercased));
            let lookalike = format!("{other}{domain}x");
            prop_assert!(!pattern.matches(&lookalike));
        }
    }
}
