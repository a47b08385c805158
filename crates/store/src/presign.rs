//! HMAC-SHA256 signing with a per-install secret, and presigned download URLs built on it.
//!
//! A presigned URL is `{public_url}/files/<path>?expires=<unix>&sig=<hex>`, where `sig` signs the
//! path and the expiry together, so neither can be changed without the secret. `sig` is the last
//! query parameter (docs/recording.md, "Presigned URLs").

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;
use time::OffsetDateTime;

use crate::StorageKey;

type HmacSha256 = Hmac<Sha256>;

/// Signs and verifies messages with the install's secret.
#[derive(Clone)]
pub struct Signer {
    secret: Vec<u8>,
}

impl Signer {
    /// A signer over `secret`.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self {
            secret: secret.into(),
        }
    }

    /// A signer for one `purpose`, keyed by this one's signature of it: keys derived for
    /// different purposes sign nothing the other accepts.
    pub fn derive(&self, purpose: &str) -> Self {
        Self::new(self.sign_raw(purpose.as_bytes()))
    }

    fn mac(&self, message: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(message);
        mac
    }

    /// The raw HMAC-SHA256 of `message`.
    pub fn sign_raw(&self, message: &[u8]) -> Vec<u8> {
        self.mac(message).finalize().into_bytes().to_vec()
    }

    /// True when `sig` is the raw signature of `message`, compared in constant time.
    pub fn verify_raw(&self, message: &[u8], sig: &[u8]) -> bool {
        self.mac(message).verify_slice(sig).is_ok()
    }

    /// The hex HMAC-SHA256 of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.sign_raw(message))
    }

    /// True when `sig_hex` is the hex signature of `message`, compared in constant time.
    pub fn verify(&self, message: &[u8], sig_hex: &str) -> bool {
        hex::decode(sig_hex).is_ok_and(|sig| self.verify_raw(message, &sig))
    }
}

/// Why a presigned URL was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PresignError {
    /// The signature does not match the path and expiry.
    #[error("signature mismatch")]
    BadSignature,
    /// The URL's expiry has passed.
    #[error("URL expired")]
    Expired,
}

/// Builds and checks presigned download URLs for the local blob store.
#[derive(Clone)]
pub struct Presigner {
    signer: Signer,
    public_url: String,
}

impl Presigner {
    /// A presigner that builds URLs on `public_url` (no trailing slash needed).
    pub fn new(signer: Signer, public_url: &str) -> Self {
        Self {
            signer,
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }

    fn message(path: &str, expires: i64) -> Vec<u8> {
        format!("GET\n{path}\n{expires}").into_bytes()
    }

    /// A URL that downloads `key` without credentials until `ttl` from now.
    pub fn url(&self, key: &StorageKey, ttl: Duration) -> (String, OffsetDateTime) {
        let expires_at = OffsetDateTime::now_utc() + ttl;
        let expires = expires_at.unix_timestamp();
        let sig = self.signer.sign(&Self::message(key.path(), expires));
        let url = format!(
            "{}/files/{}?expires={expires}&sig={sig}",
            self.public_url,
            key.path()
        );
        (url, expires_at)
    }

    /// Checks a URL's signature first, then its expiry against `now`.
    pub fn verify(
        &self,
        key: &StorageKey,
        expires: i64,
        sig: &str,
        now: OffsetDateTime,
    ) -> Result<(), PresignError> {
        if !self.signer.verify(&Self::message(key.path(), expires), sig) {
            return Err(PresignError::BadSignature);
        }
        if now.unix_timestamp() > expires {
            return Err(PresignError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (i64, String) {
        let query = url.split_once('?').unwrap().1;
        let mut expires = 0;
        let mut sig = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("expires", v) => expires = v.parse().unwrap(),
                ("sig", v) => sig = v.to_owned(),
                _ => {}
            }
        }
        (expires, sig)
    }

    #[test]
    fn keys_derived_for_one_purpose_agree_across_nodes_and_differ_between_purposes() {
        let (node_a, node_b) = (Signer::new("cluster"), Signer::new("cluster"));
        let sig = node_a.derive("urls").sign(b"m");
        assert!(node_b.derive("urls").verify(b"m", &sig));
        assert!(!node_b.derive("forwarding").verify(b"m", &sig));
        assert!(!Signer::new("cluster").verify(b"m", &sig));
    }

    #[test]
    fn accepts_its_own_url_and_refuses_tampering_and_expiry() {
        let presigner = Presigner::new(Signer::new("secret"), "http://h:1/");
        let key = StorageKey::for_path("recordings/a.mp4").unwrap();
        let (url, _) = presigner.url(&key, Duration::from_secs(60));
        assert!(url.starts_with("http://h:1/files/recordings/a.mp4?expires="));
        assert!(url.contains("&sig="), "sig is the last parameter: {url}");
        let (expires, sig) = parts(&url);
        let now = OffsetDateTime::now_utc();
        assert_eq!(presigner.verify(&key, expires, &sig, now), Ok(()));

        let other = StorageKey::for_path("recordings/b.mp4").unwrap();
        assert_eq!(
            presigner.verify(&other, expires, &sig, now),
            Err(PresignError::BadSignature)
        );
        assert_eq!(
            presigner.verify(&key, expires + 3600, &sig, now),
            Err(PresignError::BadSignature)
        );
        let later = now + Duration::from_secs(120);
        assert_eq!(
            presigner.verify(&key, expires, &sig, later),
            Err(PresignError::Expired)
        );
        let foreign = Presigner::new(Signer::new("other"), "http://h:1");
        assert_eq!(
            foreign.verify(&key, expires, &sig, now),
            Err(PresignError::BadSignature)
        );
    }
}

/// Property tests on outside input (`scripts/fuzz` runs them longer).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn only_the_signature_made_for_a_url_verifies_it(
            path in "[a-z0-9_-]{1,12}(/[a-z0-9_-]{1,12}){0,3}\\.mp4",
            expires in any::<i64>(),
            forged in "\\PC{0,80}",
        ) {
            let presigner = Presigner::new(Signer::new(b"secret".to_vec()), "http://h");
            let key = StorageKey::for_path(&path).unwrap();
            let genuine = presigner.signer.sign(&Presigner::message(key.path(), expires));
            let now = OffsetDateTime::UNIX_EPOCH;
            prop_assert_eq!(
                presigner.verify(&key, expires, &genuine, now).is_ok(),
                now.unix_timestamp() <= expires
            );
            if forged != genuine {
                prop_assert_eq!(
                    presigner.verify(&key, expires, &forged, now),
                    Err(PresignError::BadSignature)
                );
            }
            // The same signature does not carry over to another expiry.
            let later = expires.wrapping_add(1);
            prop_assert_eq!(
                presigner.verify(&key, later, &genuine, now),
                Err(PresignError::BadSignature)
            );
        }
    }
}
