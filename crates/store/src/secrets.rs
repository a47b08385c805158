//! Per-install secrets kept as files in the data directory with mode 0600.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

use crate::StoreError;

/// Reads the secret in `path`, or creates it with `len` random alphanumerics.
///
/// Returns the secret and whether it was created now, so the caller can print a new API key once.
pub fn load_or_create(path: &Path, len: usize) -> Result<(String, bool), StoreError> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => return Ok((s.trim().to_owned(), false)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let secret = random_secret(len);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    Ok((secret, true))
}

/// `len` random alphanumerics: an API key or a signing secret.
pub fn random_secret(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// The hex SHA-256 of an API key's secret: what the metadata stores and looks keys up by.
/// Keys are long random strings, so an unsalted hash cannot be reversed by guessing.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn creates_once_with_mode_0600_then_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api-key");
        let (first, created) = load_or_create(&path, 32).unwrap();
        assert!(created);
        assert_eq!(first.len(), 32);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (second, created) = load_or_create(&path, 32).unwrap();
        assert!(!created);
        assert_eq!(first, second);
    }
}
