//! Storage keys: `storage://tapedeck/<path>`, the one name an artifact has in every API.
//!
//! A key maps to an object path inside the store's root. The path is checked segment by segment,
//! so that no key can name anything outside the root (`..`, absolute paths, encoded separators).

use std::fmt;

use object_store::path::Path;

use crate::StoreError;

/// The scheme and bucket every key starts with.
const PREFIX: &str = "storage://tapedeck/";
/// Longest object path accepted, to keep keys usable in URLs and file systems.
const MAX_PATH_LEN: usize = 512;

/// A validated storage key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StorageKey {
    path: String,
}

impl StorageKey {
    /// A key for an object path that this server itself chose, checked like any other.
    pub fn for_path(path: &str) -> Result<Self, StoreError> {
        validate_path(path)?;
        Ok(Self {
            path: path.to_owned(),
        })
    }

    /// Parses a key a client sent.
    pub fn parse(key: &str) -> Result<Self, StoreError> {
        let path = key.strip_prefix(PREFIX).ok_or_else(|| {
            StoreError::InvalidKey(format!("storage key must start with {PREFIX}"))
        })?;
        Self::for_path(path)
    }

    /// The object path inside the store's root.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The object path as `object_store` wants it.
    pub fn object_path(&self) -> Path {
        // Validation guarantees plain segments, so this is a lossless conversion.
        Path::from(self.path.as_str())
    }
}

impl fmt::Display for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.path)
    }
}

/// Accepts `a/b/c.ext` made of `[A-Za-z0-9._-]` segments, none of them `.` or `..` or empty.
pub fn validate_path(path: &str) -> Result<(), StoreError> {
    let bad = |why: &str| Err(StoreError::InvalidKey(format!("{why}: {path:?}")));
    if path.is_empty() || path.len() > MAX_PATH_LEN {
        return bad("path is empty or too long");
    }
    for segment in path.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return bad("path escapes the store root");
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if !segment.chars().all(allowed) {
            return bad("path has a character outside [A-Za-z0-9._-/]");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips_a_recording_key() {
        let key = StorageKey::parse("storage://tapedeck/recordings/abc.mp4").unwrap();
        assert_eq!(key.path(), "recordings/abc.mp4");
        assert_eq!(key.to_string(), "storage://tapedeck/recordings/abc.mp4");
    }

    #[test]
    fn refuses_keys_that_escape_the_root() {
        for key in [
            "storage://tapedeck/../secret",
            "storage://tapedeck/a/../../b",
            "storage://tapedeck//etc/passwd",
            "storage://tapedeck/a/./b",
            "storage://tapedeck/a%2f..%2fb",
            "storage://tapedeck/a\\..\\b",
            "storage://tapedeck/",
            "storage://other/a",
            "/etc/passwd",
        ] {
            assert!(StorageKey::parse(key).is_err(), "{key} was accepted");
        }
    }
}

/// Property tests on outside input (`scripts/fuzz` runs them longer).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn an_accepted_key_stays_inside_the_root_and_reads_back(
            path in "[a-z0-9./_%\\-]{0,24}(/[a-z0-9./_-]{0,8}){0,4}",
        ) {
            let text = format!("{PREFIX}{path}");
            if let Ok(key) = StorageKey::parse(&text) {
                prop_assert!(!key.path().starts_with('/'));
                prop_assert!(key.path().split('/').all(|s| !s.is_empty() && s != "." && s != ".."));
                prop_assert_eq!(key.to_string(), text);
                let object_path = key.object_path();
                prop_assert_eq!(object_path.as_ref(), key.path());
            }
        }

        #[test]
        fn any_text_is_a_key_or_an_invalid_key_error(text in "\\PC{0,80}") {
            if let Err(e) = StorageKey::parse(&text) {
                prop_assert!(matches!(e, StoreError::InvalidKey(_)));
            }
        }
    }
}
