//! The authenticated CDP WebSocket relay: a client's WebSocket upgrade is forwarded to the
//! session's loopback DevTools port, and bytes are copied both ways.
//!
//! The relay works below WebSocket framing: it forwards the client's handshake key, returns
//! Chromium's accept, and then splices the two TCP streams. Frames, masks and large messages
//! (screenshots) pass through untouched, and no compression extension is negotiated.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tapedeck_engine::CdpEndpoint;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::CommonError;
use super::token;
use crate::ApiState;

/// Longest upstream handshake response accepted.
const MAX_HANDSHAKE: usize = 16 * 1024;

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
    let session = state.engine.get_session(id, false).await?;
    let jwt = query.jwt.unwrap_or_default();
    if !token::verify(&state.signer, &jwt, &session.id) {
        return Err(CommonError::Unauthorized);
    }
    let endpoint = state.engine.cdp_endpoint(&session.id).await?;
    Ok(relay(request, endpoint).await.into_response())
}

/// Relays the WebSocket upgrade in `request` to `endpoint`.
async fn relay(mut request: Request, endpoint: CdpEndpoint) -> Result<Response, RelayError> {
    let headers = request.headers();
    let is_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (true, Some(key)) = (is_upgrade, key) else {
        return Err(RelayError::NotUpgrade);
    };
    let on_upgrade = hyper::upgrade::on(&mut request);

    let mut upstream = TcpStream::connect(endpoint.addr)
        .await
        .map_err(|e| RelayError::Upstream(e.to_string()))?;
    let handshake = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        endpoint.path, endpoint.addr
    );
    upstream
        .write_all(handshake.as_bytes())
        .await
        .map_err(|e| RelayError::Upstream(e.to_string()))?;
    let accept = read_handshake_response(&mut upstream).await?;

    let guard = endpoint.guard;
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let mut client = TokioIo::new(upgraded);
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
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).map_err(|e| RelayError::Upstream(e.to_string()))?,
    );
    Ok(response)
}

/// Reads Chromium's `101 Switching Protocols` head and returns its `Sec-WebSocket-Accept`.
///
/// It reads one byte at a time so that nothing after the head is consumed; Chromium sends no
/// frames before the client does, and the head is a few hundred bytes.
async fn read_handshake_response(upstream: &mut TcpStream) -> Result<String, RelayError> {
    let mut head = Vec::with_capacity(512);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HANDSHAKE {
            return Err(RelayError::Upstream("handshake response too long".into()));
        }
        let byte = upstream
            .read_u8()
            .await
            .map_err(|e| RelayError::Upstream(e.to_string()))?;
        head.push(byte);
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 101") {
        return Err(RelayError::Upstream(format!(
            "refused the upgrade: {status}"
        )));
    }
    lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|(_, value)| value.trim().to_owned())
        .ok_or_else(|| RelayError::Upstream("no Sec-WebSocket-Accept".into()))
}
