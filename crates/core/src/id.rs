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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let a = new_id();
        let b = new_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), ID_LEN);
        // Lowercase alphanumerics only, so an id is always a safe path segment.
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{a}"
        );
    }
}
