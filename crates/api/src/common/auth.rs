//! API-key checks. Each dialect renders a failure in its own error format.

use axum::http::HeaderMap;

/// True when `headers` carry `Authorization: Bearer <api_key>`.
pub fn bearer_matches(headers: &HeaderMap, api_key: &str) -> bool {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    key_matches(presented, api_key)
}

/// True when a presented key (from whichever header a dialect uses) is the API key.
pub fn key_matches(presented: Option<&str>, api_key: &str) -> bool {
    presented.is_some_and(|p| constant_time_eq(p.trim().as_bytes(), api_key.as_bytes()))
}

/// Compares without an early exit, so response timing does not reveal a key prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_exact_key() {
        let mut headers = HeaderMap::new();
        assert!(!bearer_matches(&headers, "k1"));
        headers.insert("authorization", "Bearer k1".parse().unwrap());
        assert!(bearer_matches(&headers, "k1"));
        assert!(!bearer_matches(&headers, "k2"));
        assert!(!bearer_matches(&headers, "k"));
        headers.insert("authorization", "Basic k1".parse().unwrap());
        assert!(!bearer_matches(&headers, "k1"));
    }
}
