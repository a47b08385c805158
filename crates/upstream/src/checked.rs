//! Connections that go only where a policy allows. The host is resolved once, every address it
//! resolves to is checked, and the connection is made to exactly those addresses, so a name
//! that resolves elsewhere a moment later (DNS rebinding) cannot slip past the check.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::rt::TokioIo;
use thiserror::Error;
use tokio::net::TcpStream;

/// Decides which addresses a client may connect to.
pub trait AddressPolicy: Send + Sync + 'static {
    /// Why the client must not connect to `addr`, or `None` when it may.
    fn refusal(&self, addr: SocketAddr) -> Option<String>;
}

/// Why a target was not connected to.
#[derive(Debug, Error)]
pub enum TargetError {
    /// The target resolves to an address the policy refuses.
    #[error("{target} is refused: {addr} is {reason}")]
    Refused {
        /// The target as asked for, `host:port`.
        target: String,
        /// The refused address it resolves to.
        addr: SocketAddr,
        /// Why, from [`AddressPolicy::refusal`].
        reason: String,
    },
    /// The target's name does not resolve.
    #[error("{target} does not resolve: {source}")]
    Unresolved {
        /// The target as asked for, `host:port`.
        target: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// No address of the target accepted the connection.
    #[error("{target}: {source}")]
    Connect {
        /// The target as asked for, `host:port`.
        target: String,
        /// The last address's error.
        source: io::Error,
    },
}

/// Every address `host` resolves to, with `port`. An IP literal (also in `[v6]` brackets) is
/// itself; anything else goes through the system resolver, which also reads the short and
/// numeric IPv4 forms (`127.1`, `2130706433`, `0x7f000001`) the way a connection would.
pub async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port)).await?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no addresses"));
    }
    Ok(addrs)
}

/// Resolves `host:port` and checks every address against `policy`: one refused address refuses
/// the target. Returns the addresses to connect to.
pub async fn check(
    policy: &dyn AddressPolicy,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, TargetError> {
    let target = || format!("{host}:{port}");
    let addrs = resolve(host, port)
        .await
        .map_err(|source| TargetError::Unresolved {
            target: target(),
            source,
        })?;
    for &addr in &addrs {
        if let Some(reason) = policy.refusal(addr) {
            return Err(TargetError::Refused {
                target: target(),
                addr,
                reason,
            });
        }
    }
    Ok(addrs)
}

/// An HTTP connector (the TCP layer under TLS) that connects only to addresses its policy lets
/// through, checked as in [`check`].
#[derive(Clone)]
pub struct CheckedConnector {
    policy: Arc<dyn AddressPolicy>,
}

impl tower_service::Service<Uri> for CheckedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = TargetError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, TargetError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connector = self.clone();
        Box::pin(async move { connector.connect(&uri).await.map(TokioIo::new) })
    }
}

impl CheckedConnector {
    /// A connector that asks `policy` before every connection.
    pub fn new(policy: Arc<dyn AddressPolicy>) -> Self {
        Self { policy }
    }

    /// Connects to `uri`'s host and port (80, or 443 for `https`/`wss`) at the first address
    /// that `policy` lets through and that answers, with Nagle off.
    ///
    /// # Errors
    /// [`TargetError`]: the host does not resolve, an address is refused, or none connects.
    pub async fn connect(&self, uri: &Uri) -> Result<TcpStream, TargetError> {
        let host = uri.host().unwrap_or_default();
        let secure = matches!(uri.scheme_str(), Some("https" | "wss"));
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let addrs = check(self.policy.as_ref(), host, port).await?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses");
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    // Proxied bodies are written frame by frame; Nagle would hold each small
                    // write back.
                    stream
                        .set_nodelay(true)
                        .map_err(|source| TargetError::Connect {
                            target: format!("{host}:{port}"),
                            source,
                        })?;
                    return Ok(stream);
                }
                Err(e) => last = e,
            }
        }
        Err(TargetError::Connect {
            target: format!("{host}:{port}"),
            source: last,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refuses loopback port 1.
    struct NotPortOne;

    impl AddressPolicy for NotPortOne {
        fn refusal(&self, addr: SocketAddr) -> Option<String> {
            (addr.ip().is_loopback() && addr.port() == 1).then(|| "port one".to_owned())
        }
    }

    #[tokio::test]
    async fn literals_and_names_resolve_as_a_connection_would() {
        let v4: SocketAddr = "127.0.0.1:8".parse().unwrap();
        let v6: SocketAddr = "[::1]:8".parse().unwrap();
        for spelling in ["127.0.0.1", "127.1", "2130706433", "0x7f000001"] {
            assert_eq!(resolve(spelling, 8).await.unwrap(), vec![v4], "{spelling}");
        }
        assert_eq!(resolve("[::1]", 8).await.unwrap(), vec![v6]);
        assert_eq!(resolve("::1", 8).await.unwrap(), vec![v6]);
        let localhost = resolve("localhost", 8).await.unwrap();
        assert!(localhost.contains(&v4), "{localhost:?}");
    }

    #[tokio::test]
    async fn one_refused_address_refuses_the_target() {
        let refused = check(&NotPortOne, "localhost", 1).await.unwrap_err();
        assert!(matches!(refused, TargetError::Refused { ref reason, .. } if reason == "port one"));
        assert_eq!(check(&NotPortOne, "127.0.0.1", 2).await.unwrap().len(), 1);
        assert!(matches!(
            check(&NotPortOne, "no-such-host.invalid", 2).await,
            Err(TargetError::Unresolved { .. })
        ));
    }

    #[tokio::test]
    async fn the_connector_connects_only_where_the_policy_allows() {
        use tower_service::Service;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut connector = CheckedConnector::new(Arc::new(NotPortOne));
        let uri: Uri = format!("http://localhost:{port}/").parse().unwrap();
        assert!(connector.call(uri).await.is_ok());
        let refused: Uri = "http://127.0.0.1:1/".parse().unwrap();
        assert!(matches!(
            connector.call(refused).await,
            Err(TargetError::Refused { .. })
        ));
    }
}
