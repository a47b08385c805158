//! WebSocket upgrades through the proxy, relayed message by message and not recorded.
//!
//! The upstream handshake comes first, so the client's `101` carries the subprotocol the
//! upstream chose (`Sec-WebSocket-Protocol`), and an upstream that refuses the upgrade is
//! answered with its own status. Extensions are not negotiated: the offer is removed before the
//! request goes upstream, so neither side compresses (`permessage-deflate`), whatever the
//! client offered. The upstream is reached through the same address policy and TLS roots as any
//! other request.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use hudsucker::hyper::header::{self, HeaderName};
use hudsucker::hyper::http::uri::Scheme;
use hudsucker::hyper::{Request, Response, Uri};
use hudsucker::tokio_tungstenite::tungstenite;
use hudsucker::tokio_tungstenite::{client_async_tls_with_config, Connector};
use hudsucker::Body;
use tapedeck_upstream::checked::{AddressPolicy, CheckedConnector};

/// How long the upstream gets to connect and answer the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an upgrade could not be relayed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RelayError {
    /// The request is not a WebSocket handshake the proxy can forward.
    #[error("not a WebSocket handshake: {0}")]
    NotAHandshake(String),
    /// The upstream could not be reached (DNS, refused, policy).
    #[error(transparent)]
    Target(#[from] tapedeck_upstream::checked::TargetError),
    /// The upstream's handshake failed (TLS, protocol).
    #[error("the upstream WebSocket handshake failed: {0}")]
    Handshake(#[source] tungstenite::Error),
    /// The upstream did not answer the handshake in time.
    #[error("the upstream did not complete the WebSocket handshake in {}s", HANDSHAKE_TIMEOUT.as_secs())]
    Timeout,
}

/// Relays the WebSocket upgrade `req` (`http:`/`https:` URI as the proxy sees it) to its
/// upstream. Answers the client's `101` with the upstream's subprotocol once the upstream has
/// accepted, or the upstream's own refusal (status and body) when it answered the handshake
/// with something else.
pub(crate) async fn relay(
    mut req: Request<Body>,
    policy: Arc<dyn AddressPolicy>,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Response<Body>, RelayError> {
    let upstream_request = upstream_request(&req)?;
    let connect = async {
        let stream = CheckedConnector::new(policy)
            .connect(upstream_request.uri())
            .await?;
        client_async_tls_with_config(upstream_request, stream, None, Some(Connector::Rustls(tls)))
            .await
            .map_err(RelayError::Handshake)
    };
    let (server, accepted) = match tokio::time::timeout(HANDSHAKE_TIMEOUT, connect).await {
        Err(_) => return Err(RelayError::Timeout),
        Ok(Err(RelayError::Handshake(tungstenite::Error::Http(refusal)))) => {
            return Ok(refusal.map(|body| Body::from(body.unwrap_or_default())));
        }
        Ok(result) => result?,
    };
    let (mut response, client) = hyper_tungstenite::upgrade(&mut req, None)
        .map_err(|e| RelayError::NotAHandshake(e.to_string()))?;
    if let Some(protocol) = accepted.headers().get(header::SEC_WEBSOCKET_PROTOCOL) {
        response
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, protocol.clone());
    }
    tokio::spawn(async move {
        let client = match client.await {
            Ok(client) => client,
            Err(e) => return tracing::debug!(error = %e, "websocket client upgrade failed"),
        };
        let (mut to_client, mut from_client) = client.split();
        let (mut to_server, mut from_server) = server.split();
        // Either side ending (a close, a reset) ends both; tungstenite answers close frames.
        tokio::select! {
            _ = to_server.send_all(&mut from_client) => {}
            _ = to_client.send_all(&mut from_server) => {}
        }
        let _ = to_server.close().await;
        let _ = to_client.close().await;
    });
    Ok(response.map(Body::from))
}

/// The handshake as it goes upstream: a `ws:`/`wss:` URI and the client's headers (its key,
/// version, subprotocols, cookies, origin), without the extensions offer and the proxy's own.
fn upstream_request(req: &Request<Body>) -> Result<Request<()>, RelayError> {
    let invalid = |e: &dyn std::fmt::Display| RelayError::NotAHandshake(e.to_string());
    let mut parts = req.uri().clone().into_parts();
    parts.scheme = Some(match req.uri().scheme_str() {
        Some("https" | "wss") => Scheme::try_from("wss").map_err(|e| invalid(&e))?,
        _ => Scheme::try_from("ws").map_err(|e| invalid(&e))?,
    });
    let mut upstream = Request::new(());
    *upstream.uri_mut() = Uri::from_parts(parts).map_err(|e| invalid(&e))?;
    for (name, value) in req.headers() {
        if !DROPPED.contains(name) {
            upstream.headers_mut().append(name, value.clone());
        }
    }
    Ok(upstream)
}

/// Headers of the client's handshake that do not go upstream.
const DROPPED: [HeaderName; 3] = [
    header::SEC_WEBSOCKET_EXTENSIONS,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake(uri: &str) -> Request<Body> {
        Request::builder()
            .uri(uri)
            .header(header::HOST, "app.test:8080")
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .header(header::SEC_WEBSOCKET_PROTOCOL, "graphql-ws, mqtt")
            .header(
                header::SEC_WEBSOCKET_EXTENSIONS,
                "permessage-deflate; client_max_window_bits",
            )
            .header("proxy-connection", "keep-alive")
            .body(Body::empty())
            .unwrap()
    }

    #[test]
    fn upstream_keeps_the_handshake_and_subprotocols_but_not_the_extensions_offer() {
        let upstream = upstream_request(&handshake("http://app.test:8080/graphql?x=1")).unwrap();
        assert_eq!(upstream.uri(), "ws://app.test:8080/graphql?x=1");
        let headers = upstream.headers();
        assert_eq!(
            headers[header::SEC_WEBSOCKET_KEY],
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        assert_eq!(headers[header::SEC_WEBSOCKET_PROTOCOL], "graphql-ws, mqtt");
        assert_eq!(headers[header::HOST], "app.test:8080");
        assert!(!headers.contains_key(header::SEC_WEBSOCKET_EXTENSIONS));
        assert!(!headers.contains_key("proxy-connection"));
    }

    #[test]
    fn an_intercepted_https_handshake_goes_upstream_as_wss() {
        let upstream = upstream_request(&handshake("https://app.test/live")).unwrap();
        assert_eq!(upstream.uri(), "wss://app.test/live");
    }
}
