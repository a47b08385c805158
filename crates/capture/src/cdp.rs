//! A minimal browser-level CDP client: one WebSocket, calls answered by id, events skipped.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::CaptureError;

/// Longest wait for the browser: to connect, and for each call's answer. A stuck or stopped
/// browser fails the call that needs it, never anything else.
pub const CDP_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `call` against the browser within [`CDP_TIMEOUT`].
async fn bounded<T>(
    call: impl std::future::Future<Output = Result<T, CaptureError>>,
) -> Result<T, CaptureError> {
    tokio::time::timeout(CDP_TIMEOUT, call)
        .await
        .unwrap_or(Err(CaptureError::TimedOut {
            program: "the browser (CDP)",
            secs: CDP_TIMEOUT.as_secs(),
        }))
}

/// A browser-level CDP connection.
pub struct CdpClient {
    ws: WebSocketStream<TcpStream>,
    next_id: u64,
}

impl CdpClient {
    /// Connects to the browser's DevTools WebSocket at `addr` + `path`.
    ///
    /// Errors: [`CaptureError::TimedOut`] past [`CDP_TIMEOUT`], [`CaptureError::Cdp`] when the
    /// handshake fails.
    pub async fn connect(addr: SocketAddr, path: &str) -> Result<Self, CaptureError> {
        bounded(async {
            let stream = TcpStream::connect(addr).await?;
            let url = format!("ws://{addr}{path}");
            let (ws, _) = tokio_tungstenite::client_async(url, stream)
                .await
                .map_err(|e| CaptureError::Cdp(e.to_string()))?;
            Ok(Self { ws, next_id: 1 })
        })
        .await
    }

    /// Sends `method` (to a flattened target `session` when given) and returns its result.
    ///
    /// Errors: [`CaptureError::TimedOut`] when no answer comes within [`CDP_TIMEOUT`],
    /// [`CaptureError::Cdp`] for an error answer or a closed connection.
    pub async fn call(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<Value, CaptureError> {
        bounded(self.exchange(method, params, session)).await
    }

    async fn exchange(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<Value, CaptureError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .map_err(|e| CaptureError::Cdp(e.to_string()))?;
        while let Some(frame) = self.ws.next().await {
            let frame = frame.map_err(|e| CaptureError::Cdp(e.to_string()))?;
            let Message::Text(text) = frame else { continue };
            let Ok(reply) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if reply["id"] != json!(id) {
                continue; // an event, or another call's reply
            }
            if let Some(error) = reply.get("error") {
                return Err(CaptureError::Cdp(format!("{method}: {error}")));
            }
            return Ok(reply["result"].clone());
        }
        Err(CaptureError::Cdp(format!("{method}: connection closed")))
    }
}
