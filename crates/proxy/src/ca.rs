//! Tapedeck's MITM certificate authority: created on first start, kept in the data dir.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::ProxyError;

/// The CA's signing material and its certificate.
pub struct CaMaterial {
    /// Signs the per-host leaf certificates.
    pub issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, DER, as served at `/cert.der`.
    pub cert_der: Vec<u8>,
    /// base64 SHA-256 of the CA key's SubjectPublicKeyInfo. Every intercepted leaf reuses the CA
    /// key, so Chromium trusts them all with `--ignore-certificate-errors-spki-list=<this>`.
    pub spki_sha256: String,
}

/// Reads `ca.pem` and `ca.key` from `dir`, or creates them (the key with mode 0600).
pub fn load_or_create(dir: &Path) -> Result<CaMaterial, ProxyError> {
    let cert_path = dir.join("ca.pem");
    let key_path = dir.join("ca.key");
    let ca_err = |e: rcgen::Error| ProxyError::Ca(e.to_string());
    if !(cert_path.exists() && key_path.exists()) {
        let key = KeyPair::generate().map_err(ca_err)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(ca_err)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Tapedeck recording proxy CA");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Tapedeck");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(&key).map_err(ca_err)?;
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        std::fs::write(&cert_path, cert.pem())?;
        tracing::info!(cert = %cert_path.display(), "created the recording proxy's CA");
    }
    let cert_pem = std::fs::read_to_string(&cert_path)?;
    let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path)?).map_err(ca_err)?;
    let cert_der = rustls_pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes())
        .map(|der: rustls_pki_types::CertificateDer<'static>| der.to_vec())
        .map_err(|e| ProxyError::Ca(e.to_string()))?;
    let spki_sha256 = {
        use base64::Engine as _;
        use rcgen::PublicKeyData;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(key.subject_public_key_info()))
    };
    let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(ca_err)?;
    Ok(CaMaterial {
        issuer,
        cert_der,
        spki_sha256,
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ProxyError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_then_reloads_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let second = load_or_create(dir.path()).unwrap();
        assert_eq!(first.cert_der, second.cert_der);
        assert!(first.cert_der.len() > 100);
    }
}
