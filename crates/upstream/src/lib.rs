//! Tapedeck's upstream client: HTTP and TLS-verifying HTTPS connections to the servers that
//! recorded traffic was sent to (web PKI roots plus any extra roots). The recording proxy
//! forwards through it, connecting only where its policy allows ([`checked`]), and the FAST
//! testing phase replays baselines with it.

pub mod checked;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use thiserror::Error;

/// The upstream client could not be built.
#[derive(Debug, Error)]
pub enum UpstreamError {
    /// An extra root certificate could not be read or used.
    #[error("extra root certificate: {0}")]
    ExtraRoot(String),
    /// TLS could not be configured.
    #[error("TLS configuration: {0}")]
    Tls(String),
}

/// Connects to upstream servers over HTTP or verified HTTPS.
#[derive(Clone)]
pub struct UpstreamClient {
    tls: Arc<rustls::ClientConfig>,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// An upstream answer, read whole.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    /// Status code.
    pub status: u16,
    /// Headers in the order received; a value that is not UTF-8 is replaced lossily.
    pub headers: Vec<(String, String)>,
    /// Body bytes as received.
    pub body: Bytes,
}

/// A TCP connector for any scheme, without Nagle's delay.
fn http_connector() -> HttpConnector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // Proxied bodies are written frame by frame; Nagle would hold each small write back.
    http.set_nodelay(true);
    http
}

/// HTTPS (and plain HTTP) over `tcp`, verified with `tls`.
fn https<T>(tls: &Arc<rustls::ClientConfig>, tcp: T) -> HttpsConnector<T> {
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(rustls::ClientConfig::clone(tls))
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp)
}

impl UpstreamClient {
    /// A client that trusts the web PKI plus the PEM certificates in `extra_roots_pem`.
    pub fn new(extra_roots_pem: Option<&[u8]>) -> Result<Self, UpstreamError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = extra_roots_pem {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| UpstreamError::ExtraRoot(e.to_string()))?;
                roots
                    .add(cert)
                    .map_err(|e| UpstreamError::ExtraRoot(e.to_string()))?;
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tls = Arc::new(config);
        let client = Client::builder(TokioExecutor::new()).build(https(&tls, http_connector()));
        Ok(Self { tls, client })
    }

    /// The TLS settings of every upstream connection (the web PKI plus the extra roots), for
    /// clients built elsewhere: the proxy's WebSocket client.
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        Arc::clone(&self.tls)
    }

    /// A connector with the same TLS settings that connects only to addresses `policy` lets
    /// through, for the proxy's own client.
    pub fn checked_connector(
        &self,
        policy: Arc<dyn checked::AddressPolicy>,
    ) -> HttpsConnector<checked::CheckedConnector> {
        https(&self.tls, checked::CheckedConnector::new(policy))
    }

    /// Sends one request and reads the whole response. Redirects are not followed and `url`
    /// is sent as written (no `..` is resolved), so a test request is exactly what was planned.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<UpstreamResponse, String> {
        let mut request = hyper::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(UpstreamResponse {
            status,
            headers,
            body,
        })
    }
}
