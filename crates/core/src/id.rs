//! Random identifiers for sessions and recordings.

use rand::distr::{Alphanumeric, SampleString};

/// Length of every generated id: 24 lowercase alphanumerics, like Kernel's session ids.
const ID_LEN: usize = 24;

/// A new random id, lowercase alphanumeric, safe to use as a path segment and in URLs.
pub fn new_id() -> String {
    Alphanumeric
        .sample_string(&mut rand::rng(), ID_LEN)
        .to_ascii_lowercase()
}

/// True when `s` has the shape of an id made by [`new_id`] (so it cannot escape a path).
pub fn is_id(s: &str) -> bool {
    s.len() == ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let a = new_id();
        let b = new_id();
        assert_ne!(a, b);
        assert!(is_id(&a), "{a}");
        assert!(!is_id("../etc/passwd"));
    }
}
