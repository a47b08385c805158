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
