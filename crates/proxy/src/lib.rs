//! Tapedeck's recording proxy: an explicit forward proxy for HTTP and `CONNECT` that intercepts
//! HTTPS with Tapedeck's own CA, passes every request through with streaming bodies (less the
//! hop-by-hop headers and its own credentials), and hands the exchanges a [`TrafficSink`]
//! admits to it. Upstream connections go through [`UpstreamClient`], the client replay uses
//! too.
//!
//! Clients on loopback use it as they are; any other sends an API key with
//! `Proxy-Authorization: Basic` or gets 407. It answers 403 instead of connecting to
//! Tapedeck's own endpoints: its listeners and the sessions' DevTools ports, by any name or
//! spelling of their address.

mod access;
pub mod ca;
mod failure;
mod handler;
mod leaf;
mod policy;
mod tee;
mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;

use hudsucker::Proxy;
use leaf::LeafAuthority;
use thiserror::Error;

pub use ca::CaMaterial;
use tapedeck_core::traffic::TrafficSink;
use tapedeck_upstream::UpstreamClient;

/// A failure to start or run the proxy.
#[derive(Debug, Error)]
pub enum ProxyError {
    /// The CA could not be created, read or parsed.
    #[error("proxy CA: {0}")]
    Ca(String),
    /// The listener or the proxy failed.
    #[error("proxy: {0}")]
    Serve(String),
    /// Local file I/O failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Binds the proxy's listener. Accepted connections inherit `TCP_NODELAY` from it on Linux, so
/// responses streamed frame by frame are not delayed by Nagle's algorithm.
pub fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// How the proxy runs besides its listener, CA and upstream client.
#[derive(Debug, Clone, Default)]
pub struct ProxyOptions {
    /// Most bytes of each body kept in a baseline.
    pub body_cap: usize,
    /// Tapedeck's other listeners (the API), refused as targets like the proxy's own.
    pub own_listeners: Vec<SocketAddr>,
}

/// Runs the proxy on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ca: CaMaterial,
    upstream: UpstreamClient,
    sink: Arc<dyn TrafficSink>,
    options: ProxyOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ProxyError> {
    let listen = listener.local_addr()?;
    let ca_der = bytes::Bytes::from(ca.cert_der.clone());
    let authority = LeafAuthority::new(ca.issuer, 1_000, rustls::crypto::ring::default_provider())
        .map_err(|e| ProxyError::Serve(format!("TLS for intercepted hosts: {e}")))?;
    let mut listeners = options.own_listeners;
    listeners.push(listen);
    let policy = Arc::new(policy::RefuseOwnEndpoints {
        listeners,
        sink: sink.clone(),
    });
    let handler = handler::RecordingHandler::new(
        sink,
        policy.clone(),
        upstream.tls_config(),
        ca_der,
        options.body_cap,
    );
    let proxy = Proxy::builder()
        .with_listener(listener)
        .with_ca(authority)
        .with_http_connector(upstream.checked_connector(policy))
        .with_http_handler(handler)
        .with_graceful_shutdown(shutdown)
        .build()
        .map_err(|e| ProxyError::Serve(e.to_string()))?;
    tracing::info!(%listen, "recording proxy ready");
    proxy
        .start()
        .await
        .map_err(|e| ProxyError::Serve(e.to_string()))
}
