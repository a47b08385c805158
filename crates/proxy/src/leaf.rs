//! The leaf certificates the proxy shows a client for each intercepted host, signed by
//! Tapedeck's CA.
//!
//! A host's spelling decides its subject alternative name: an IP literal (`127.0.0.1`,
//! `[::1]`) gets an `iPAddress` name, which clients check IP hosts against, and a DNS name a
//! `dNSName`. (hudsucker's own authority names every host as DNS, so `https://127.0.0.1`
//! fails verification, and a host that is not ASCII panics it.)

use std::net::IpAddr;
use std::sync::Arc;

use hudsucker::certificate_authority::CertificateAuthority;
use hudsucker::hyper::http::uri::Authority;
use moka::future::Cache;
use rcgen::string::Ia5String;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::crypto::CryptoProvider;
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// How long a leaf is valid, and how long its server config is cached (half of that).
const LEAF_LIFETIME: time::Duration = time::Duration::days(365);
/// Leaves start a minute in the past, for clients whose clock is a little behind.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(1);

/// Mints and caches a TLS server config per intercepted host.
pub struct LeafAuthority {
    issuer: Issuer<'static, KeyPair>,
    /// Leaves reuse the CA's key pair: one key, no per-host key generation.
    key: PrivateKeyDer<'static>,
    cache: Cache<Authority, Arc<ServerConfig>>,
    provider: Arc<CryptoProvider>,
    /// What a host gets when its leaf cannot be minted: no certificate, so its handshake fails
    /// (hudsucker wants a config, and a panic would take the task down).
    refusing: Arc<ServerConfig>,
}

impl LeafAuthority {
    /// An authority signing with `issuer`, keeping up to `cache_size` hosts' configs.
    ///
    /// Errors: the provider supports none of rustls' safe protocol versions.
    pub fn new(
        issuer: Issuer<'static, KeyPair>,
        cache_size: u64,
        provider: CryptoProvider,
    ) -> Result<Self, rustls::Error> {
        let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(issuer.key().serialize_der()));
        let half_life = std::time::Duration::try_from(LEAF_LIFETIME / 2).unwrap_or_default();
        let provider = Arc::new(provider);
        let refusing = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(rustls::server::ResolvesServerCertUsingSni::new()));
        Ok(Self {
            issuer,
            key,
            cache: Cache::builder()
                .max_capacity(cache_size)
                .time_to_live(half_life)
                .build(),
            provider,
            refusing: Arc::new(refusing),
        })
    }

    fn leaf(&self, host: &str) -> Result<CertificateDer<'static>, rcgen::Error> {
        let mut params = CertificateParams::default();
        params.serial_number = Some(rand::random::<u64>().into());
        let not_before = time::OffsetDateTime::now_utc() - CLOCK_SKEW;
        params.not_before = not_before;
        params.not_after = not_before + LEAF_LIFETIME;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, host);
        params.distinguished_name = name;
        params.subject_alt_names.extend(subject_alt_name(host));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        Ok(params.signed_by(self.issuer.key(), &self.issuer)?.into())
    }

    fn server_config(&self, host: &str) -> Result<ServerConfig, String> {
        let leaf = self.leaf(host).map_err(|e| e.to_string())?;
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(vec![leaf], self.key.clone_key())
            .map_err(|e| e.to_string())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl CertificateAuthority for LeafAuthority {
    async fn gen_server_config(&self, authority: &Authority) -> Arc<ServerConfig> {
        if let Some(config) = self.cache.get(authority).await {
            return config;
        }
        let config = match self.server_config(authority.host()) {
            Ok(config) => Arc::new(config),
            Err(e) => {
                tracing::warn!(host = authority.host(), error = %e, "could not mint a leaf certificate");
                return Arc::clone(&self.refusing);
            }
        };
        self.cache
            .insert(authority.clone(), Arc::clone(&config))
            .await;
        config
    }
}

/// The subject alternative name `host` is checked against: `iPAddress` for an IP literal
/// (IPv6 in brackets too), `dNSName` for a name; `None` for a name that is not ASCII.
pub fn subject_alt_name(host: &str) -> Option<SanType> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(SanType::IpAddress(ip));
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    Ia5String::try_from(name).ok().map(SanType::DnsName)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_get_ip_names_and_names_get_dns_names() {
        let ip = |text: &str| Some(SanType::IpAddress(text.parse().unwrap()));
        assert_eq!(subject_alt_name("127.0.0.1"), ip("127.0.0.1"));
        assert_eq!(subject_alt_name("[::1]"), ip("::1"));
        assert_eq!(subject_alt_name("::1"), ip("::1"));
        let dns = |text: &str| Some(SanType::DnsName(Ia5String::try_from(text).unwrap()));
        assert_eq!(subject_alt_name("App.Example.COM."), dns("app.example.com"));
        assert_eq!(subject_alt_name("localhost"), dns("localhost"));
        assert_eq!(subject_alt_name("bücher.example"), None);
    }
}
