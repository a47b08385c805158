//! The authenticated CDP WebSocket relay: a client's WebSocket upgrade is forwarded to the
//! session's loopback DevTools port, and bytes are copied both ways. A session another node of
//! the fleet runs is reached through that node's relay.
//!
//! The relay works below WebSocket framing: it forwards the client's handshake key to Chromium
//! with hyper's HTTP/1.1 client, returns Chromium's accept, and then splices the two upgraded
//! streams. Frames, masks and large messages (screenshots) pass through untouched, and no
//! compression extension is negotiated.

use std::fmt::Display;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::Empty;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tapedeck_engine::CdpEndpoint;
use thiserror::Error;
use tokio::net::TcpStream;

use super::error::CommonError;
use super::token;
use crate::ApiState;

/// How long Chromium has to accept the upgrade. It answers at once unless it is hung, and a
/// hung browser must not hold the client's request open.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a relay could not be set up.
#[derive(Debug, Error)]
pub enum RelayError {
    /// The request is not a WebSocket upgrade.
    #[error("expected a WebSocket upgrade request")]
    NotUpgrade,
    /// Chromium refused or could not be reached.
    #[error("browser DevTools endpoint: {0}")]
    Upstream(String),
}

fn upstream(err: impl Display) -> RelayError {
    RelayError::Upstream(err.to_string())
}

impl IntoResponse for RelayError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::NotUpgrade => StatusCode::BAD_REQUEST,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
        };
        (status, self.to_string()).into_response()
    }
}

/// The query of a `cdp_ws_url`.
#[derive(Debug, Default, Deserialize)]
pub struct CdpQuery {
    /// The token issued with the URL.
    pub jwt: Option<String>,
}

/// Checks the token of a `cdp_ws_url` for session `id`, then relays the upgrade to its browser.
pub async fn open(
    state: &ApiState,
    id: &str,
    query: CdpQuery,
    request: Request,
) -> Result<Response, CommonError> {
    // The token is the credential here, and it names the session: nobody without a valid
    // one learns whether the id exists. A holder learns that its session is gone (404).
    let jwt = query.jwt.unwrap_or_default();
    let Some(grant) = token::verify(&state.signer, &jwt, id) else {
        return Err(CommonError::Unauthorized);
    };
    // The token names the node running the session: the upgrade is spliced to that node's
    // relay without looking the session up.
    if let Some(node) = &grant.node {
        if let Some(route) = state.engine.route_to_node(node).await? {
            return state.forwarder.forward(&route, None, request).await;
        }
    }
    let endpoint = state.engine.cdp_endpoint(id)?;
    Ok(relay(request, endpoint).await.into_response())
}

/// Relays the WebSocket upgrade in `request` to `endpoint`.
async fn relay(mut request: Request, endpoint: CdpEndpoint) -> Result<Response, RelayError> {
    let headers = request.headers();
    let is_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = headers.get(header::SEC_WEBSOCKET_KEY).cloned();
    let (true, Some(key)) = (is_upgrade, key) else {
        return Err(RelayError::NotUpgrade);
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    let (upstream, accept) =
        upgrade_upstream(endpoint.addr, &endpoint.path, key, HANDSHAKE_TIMEOUT).await?;

    let guard = endpoint.guard;
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(client) => {
                let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
                if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                    tracing::debug!(error = %e, "CDP relay closed with an error");
                }
            }
            Err(e) => tracing::debug!(error = %e, "CDP client upgrade failed"),
        }
        drop(guard);
    });

    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    Ok(response)
}

/// Asks Chromium's DevTools server at `addr` to upgrade `path` to a WebSocket with the client's
/// handshake `key`, within `deadline`. Returns the upgraded stream, positioned right after
/// Chromium's `101` head, and its `Sec-WebSocket-Accept`, which answers the client's key.
async fn upgrade_upstream(
    addr: SocketAddr,
    path: &str,
    key: HeaderValue,
    deadline: Duration,
) -> Result<(Upgraded, HeaderValue), RelayError> {
    let upgrade = async {
        let stream = TcpStream::connect(addr).await.map_err(upstream)?;
        // CDP answers are written in pieces; without this, each waits on a delayed ACK.
        stream.set_nodelay(true).map_err(upstream)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(upstream)?;
        let request = hyper::Request::get(path)
            .header(header::HOST, addr.to_string())
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "Upgrade")
            .header(header::SEC_WEBSOCKET_KEY, key)
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .body(Empty::<Bytes>::new())
            .map_err(upstream)?;
        // Owns `sender`, so that a refusal drops it and the connection closes instead of waiting
        // for another request.
        let exchange = async move {
            let response = sender.send_request(request).await.map_err(upstream)?;
            if response.status() != StatusCode::SWITCHING_PROTOCOLS {
                return Err(RelayError::Upstream(format!(
                    "refused the upgrade: {}",
                    response.status()
                )));
            }
            let accept = response
                .headers()
                .get(header::SEC_WEBSOCKET_ACCEPT)
                .cloned()
                .ok_or_else(|| RelayError::Upstream("no Sec-WebSocket-Accept".into()))?;
            let upgraded = hyper::upgrade::on(response).await.map_err(upstream)?;
            Ok((upgraded, accept))
        };
        // The connection reads the response, and finishes once it has handed its stream to the
        // upgrade, so both are driven together.
        let (connection, exchanged) = tokio::join!(connection.with_upgrades(), exchange);
        if let Err(e) = connection {
            tracing::debug!(error = %e, "CDP upstream connection failed");
        }
        exchanged
    };
    tokio::time::timeout(deadline, upgrade)
        .await
        .map_err(|_| RelayError::Upstream(format!("no upgrade within {deadline:?}")))?
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A DevTools server that reads one request head, answers `reply`, and hands back the
    /// request it read and its end of the connection.
    async fn devtools(
        reply: &'static [u8],
    ) -> (SocketAddr, tokio::task::JoinHandle<(String, TcpStream)>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                head.push(stream.read_u8().await.unwrap());
            }
            stream.write_all(reply).await.unwrap();
            (String::from_utf8(head).unwrap(), stream)
        });
        (addr, server)
    }

    fn key() -> HeaderValue {
        HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ==")
    }

    #[tokio::test]
    async fn splices_from_right_after_the_101_head() {
        // Bytes Chromium sends right behind its head must reach the client.
        let (addr, server) = devtools(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nearly",
        )
        .await;
        let (upgraded, accept) =
            upgrade_upstream(addr, "/devtools/browser/b1", key(), Duration::from_secs(5))
                .await
                .unwrap();
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let (request, mut chromium) = server.await.unwrap();
        let request = request.to_ascii_lowercase();
        assert!(
            request.starts_with("get /devtools/browser/b1 http/1.1\r\n"),
            "{request}"
        );
        for line in [
            "upgrade: websocket",
            "connection: upgrade",
            "sec-websocket-key: dghlihnhbxbszsbub25jzq==",
            "sec-websocket-version: 13",
            &format!("host: {addr}"),
        ] {
            assert!(request.contains(line), "{line} missing from {request}");
        }

        let mut upgraded = TokioIo::new(upgraded);
        let mut early = [0u8; 5];
        upgraded.read_exact(&mut early).await.unwrap();
        assert_eq!(&early, b"early");
        upgraded.write_all(b"frame").await.unwrap();
        let mut frame = [0u8; 5];
        chromium.read_exact(&mut frame).await.unwrap();
        assert_eq!(&frame, b"frame");
    }

    #[tokio::test]
    async fn a_refusal_is_reported_at_once() {
        let (addr, _server) =
            devtools(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
        let refused = upgrade_upstream(addr, "/nope", key(), Duration::from_secs(30));
        let refused = tokio::time::timeout(Duration::from_secs(5), refused)
            .await
            .expect("a refusal must not wait for the deadline");
        assert!(
            matches!(&refused, Err(RelayError::Upstream(m)) if m.contains("404")),
            "{:?}",
            refused.err()
        );
    }

    #[tokio::test]
    async fn a_silent_browser_times_out() {
        let (addr, _server) = devtools(b"").await;
        let silent = upgrade_upstream(addr, "/hung", key(), Duration::from_millis(200)).await;
        assert!(
            matches!(&silent, Err(RelayError::Upstream(m)) if m.contains("no upgrade within")),
            "{:?}",
            silent.err()
        );
    }
}
