//! A minimal browser-level CDP client: one WebSocket, calls answered by id, events skipped.

use std::net::SocketAddr;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::CaptureError;

/// A browser-level CDP connection.
pub struct CdpClient {
    ws: WebSocketStream<TcpStream>,
    next_id: u64,
}

impl CdpClient {
    /// Connects to the browser's DevTools WebSocket at `addr` + `path`.
    pub async fn connect(addr: SocketAddr, path: &str) -> Result<Self, CaptureError> {
        let stream = TcpStream::connect(addr).await?;
        let url = format!("ws://{addr}{path}");
        let (ws, _) = tokio_tungstenite::client_async(url, stream)
            .await
            .map_err(|e| CaptureError::Cdp(e.to_string()))?;
        Ok(Self { ws, next_id: 1 })
    }

    /// Sends `method` (to a flattened target `session` when given) and returns its result.
    pub async fn call(
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
