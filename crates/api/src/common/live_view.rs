//! Live view over plain HTTP and one WebSocket, so it works wherever the API does (no UDP, no
//! TURN, no extra daemon), inside an iframe too.
//!
//! - `GET /live/{id}?token=…` is the viewer page (`raw=1`: the bare screen, for embedding;
//!   `kiosk=true`: no toolbar; `readOnly=true`: watch only, whatever the token allows).
//! - `GET /live/{id}/ws?token=…` is its WebSocket. The server sends a JSON `hello`
//!   (`{type, width, height, access}`) and then each changed frame as one binary JPEG message,
//!   always the newest: a slow viewer skips frames rather than lagging. A controlling viewer
//!   sends JSON input (`move`, `down`, `up`, `wheel`, `key`, `paste`); the server injects it in
//!   order, and coalesces runs of moves to the latest. A read-only viewer's input is dropped
//!   here, by the server.
//! - `GET /live/{id}/rewind?token=…&seconds=120` scrubs back: while the session records or
//!   keeps a rewind ring, it answers `{url, seconds}`, a presigned MP4 of about its newest
//!   `seconds` (1..=600), which the viewer plays before returning to live.
//!
//! The token is the credential, signed like the CDP URLs (`token::issue_live`): it names its
//! session, access and expiry, and the session's node refuses tokens issued before a revocation.
//! Errors are Tapedeck's own `{code, message}`, as under `/v1`.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{SinkExt as _, StreamExt as _};
use hyper_tungstenite::tungstenite::Message;
use serde::Deserialize;
use tapedeck_core::{EngineError, Session};
use tapedeck_engine::{LiveInput, LiveWatch};
use time::OffsetDateTime;

use super::error::{query, CommonError};
use super::token::{self, LiveAccess, LiveGrant};
use crate::native::NativeError;
use crate::ApiState;

/// The viewer page; its script opens the WebSocket beside it.
const VIEWER_PAGE: &str = include_str!("live_view.html");
/// Most input events waiting to be injected; past it the viewer is too far ahead and closed.
const INPUT_BACKLOG: usize = 1024;
/// Longest one message to a viewer may take to go out.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Largest text a viewer may paste.
const MAX_PASTE_BYTES: usize = 256 * 1024;

/// The query of the page and of its WebSocket.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveQuery {
    token: Option<String>,
    read_only: Option<bool>,
    /// How far back a rewind reaches, in seconds.
    seconds: Option<u64>,
}

/// The furthest back a live viewer may scrub, in seconds.
const MAX_REWIND_SECS: u64 = 600;
/// How long a rewind's presigned MP4 URL works.
const REWIND_URL_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// A live-view page's URLs: the viewer, and the bare screen for embedding.
#[derive(Debug, Clone)]
pub struct LiveViewUrls {
    /// The viewer page, with its toolbar.
    pub url: String,
    /// The bare screen.
    pub raw_url: String,
    /// When the token stops working.
    pub expires_at: OffsetDateTime,
}

/// Signs live-view URLs for `session` with `access`, valid for `ttl` (never past the session's
/// end, at most 7 days); `kiosk` hides the toolbar.
pub fn urls(
    state: &ApiState,
    session: &Session,
    access: LiveAccess,
    ttl: time::Duration,
    kiosk: bool,
) -> LiveViewUrls {
    let ttl = ttl.min(token::CDP_TOKEN_TTL);
    let longest = OffsetDateTime::now_utc() + ttl;
    let expires_at = session.expires_at().map_or(longest, |end| end.min(longest));
    let token = token::issue_live(&state.signer, session, access, ttl);
    let base = format!("{}/live/{}?token={token}", state.public_url, session.id);
    LiveViewUrls {
        url: if kiosk {
            format!("{base}&kiosk=true")
        } else {
            base.clone()
        },
        raw_url: format!("{base}&raw=1"),
        expires_at,
    }
}

/// The routes `/live/{id}` and `/live/{id}/ws`, outside every dialect's auth.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/live/{id}", get(page))
        .route("/live/{id}/ws", get(socket))
        .route("/live/{id}/rewind", get(rewind))
}

/// `GET /live/{id}/rewind`: the newest `seconds` of the session's capture as a presigned MP4,
/// made by the session's node.
async fn rewind(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    q: Result<Query<LiveQuery>, QueryRejection>,
    request: Request,
) -> Result<Response, NativeError> {
    let q = query(q)?;
    let grant = grant(&state, &id, &q)?;
    if let Err(forwarded) = at_sessions_node(&state, &id, &grant, request).await? {
        return Ok(forwarded);
    }
    let seconds = q.seconds.unwrap_or(120);
    if !(1..=MAX_REWIND_SECS).contains(&seconds) {
        return Err(EngineError::InvalidInput(format!(
            "seconds {seconds} is out of range: 1 to {MAX_REWIND_SECS}"
        ))
        .into());
    }
    let key = state
        .engine
        .extract_recent_capture(&id, std::time::Duration::from_secs(seconds))
        .await?;
    let (url, _) = state.engine.presigned_url(&key, REWIND_URL_TTL).await?;
    let answer = serde_json::json!({ "url": url, "seconds": seconds });
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(answer)).into_response())
}

/// `GET /live/{id}`: the viewer page, once the token checks out (the page itself holds no
/// secret but the token in its own URL).
async fn page(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    q: Result<Query<LiveQuery>, QueryRejection>,
) -> Result<Response, NativeError> {
    grant(&state, &id, &query(q)?)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        VIEWER_PAGE,
    )
        .into_response())
}

/// The grant of a live-view request: its token's, lowered to read-only by `readOnly=true`.
fn grant(state: &ApiState, id: &str, q: &LiveQuery) -> Result<LiveGrant, CommonError> {
    let token = q.token.as_deref().unwrap_or_default();
    let mut grant =
        token::verify_live(&state.signer, token, id).ok_or(CommonError::Unauthorized)?;
    if q.read_only == Some(true) {
        grant.access = LiveAccess::Read;
    }
    Ok(grant)
}

/// `request` to serve here, on the session's node, or the answer of that node when it is
/// another; refused when the session's live views were revoked after `grant` was issued.
async fn at_sessions_node(
    state: &ApiState,
    id: &str,
    grant: &LiveGrant,
    request: Request,
) -> Result<Result<Request, Response>, NativeError> {
    if let Some(node) = &grant.node {
        if let Some(route) = state.engine.route_to_node(node).await? {
            return Ok(Err(state.forwarder.forward(&route, None, request).await?));
        }
    }
    if state.engine.live_view_revoked(id, grant.issued_at_ms) {
        return Err(CommonError::Unauthorized.into());
    }
    Ok(Ok(request))
}

/// `GET /live/{id}/ws`: the viewer's WebSocket, served by the session's node.
async fn socket(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    q: Result<Query<LiveQuery>, QueryRejection>,
    request: Request,
) -> Result<Response, NativeError> {
    let grant = grant(&state, &id, &query(q)?)?;
    let mut request = match at_sessions_node(&state, &id, &grant, request).await? {
        Ok(request) => request,
        Err(forwarded) => return Ok(forwarded),
    };
    if !hyper_tungstenite::is_upgrade_request(&request) {
        return Err(EngineError::InvalidInput("expected a WebSocket upgrade".into()).into());
    }
    let watch = state.engine.watch_live(&id).await?;
    let (response, websocket) = hyper_tungstenite::upgrade(&mut request, None)
        .map_err(|e| EngineError::InvalidInput(format!("expected a WebSocket upgrade: {e}")))?;
    tokio::spawn(async move {
        match websocket.await {
            Ok(ws) => serve(state, id, grant, watch, ws).await,
            Err(e) => tracing::debug!(error = %e, "live-view upgrade failed"),
        }
    });
    Ok(response.map(Body::new))
}

/// Streams frames to one viewer and injects its input until either side ends.
async fn serve(
    state: ApiState,
    id: String,
    grant: LiveGrant,
    mut watch: LiveWatch,
    ws: hyper_tungstenite::HyperWebsocketStream,
) {
    let (mut sink, mut stream) = ws.split();
    let access = grant.access;
    let hello = serde_json::json!({
        "type": "hello",
        "width": watch.screen.width,
        "height": watch.screen.height,
        "access": access.name(),
    });
    let mut send = async |message: Message| {
        // A viewer that stops reading is let go rather than waited on.
        matches!(
            tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await,
            Ok(Ok(()))
        )
    };
    if !send(Message::text(hello.to_string())).await {
        return;
    }
    let (inputs, mut queued) = tokio::sync::mpsc::channel::<ViewerInput>(INPUT_BACKLOG);
    let injecting = {
        let (state, id) = (state.clone(), id.clone());
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while queued.recv_many(&mut batch, INPUT_BACKLOG).await > 0 {
                for input in coalesce_moves(std::mem::take(&mut batch)) {
                    if let Err(e) = inject(&state, &id, input).await {
                        tracing::debug!(session = %id, error = %e, "live-view input not injected");
                        return;
                    }
                }
            }
        })
    };
    // The frame already there when the viewer came is its first.
    watch.frames.mark_changed();
    let mut seen = 0;
    loop {
        tokio::select! {
            changed = watch.frames.changed() => {
                if changed.is_err() {
                    break; // the display ended
                }
                let frame = watch.frames.borrow_and_update().clone();
                let Some(frame) = frame.filter(|f| f.seq > seen) else { continue };
                seen = frame.seq;
                // Every viewer sends the one encoded frame; nothing is copied per viewer.
                let jpeg = bytes::Bytes::from_owner(frame.jpeg);
                if !send(Message::binary(jpeg)).await {
                    break;
                }
            }
            revoked = watch.revoked_before.changed() => {
                if revoked.is_err() || grant.issued_at_ms < *watch.revoked_before.borrow() {
                    break; // its URL was revoked, or the session ended
                }
            }
            message = stream.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                if access == LiveAccess::Read {
                    continue; // a read-only viewer's input goes nowhere
                }
                match serde_json::from_str::<ViewerInput>(&text) {
                    Ok(input) => {
                        if inputs.try_send(input).is_err() {
                            break; // too far ahead of its own input
                        }
                    }
                    Err(e) => tracing::debug!(session = %id, error = %e, "live-view input refused"),
                }
            }
        }
    }
    drop(inputs);
    let _ = injecting.await;
    let _ = tokio::time::timeout(SEND_TIMEOUT, sink.close()).await;
}

/// One input message of a viewer.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ViewerInput {
    /// The pointer moved to (`x`, `y`), screen pixels.
    Move { x: f64, y: f64 },
    /// A button went down: 0 left, 1 middle, 2 right (the DOM's numbering).
    Down { button: u8 },
    /// A button went up.
    Up { button: u8 },
    /// Wheel clicks, `dy` down and `dx` right.
    Wheel { dx: i8, dy: i8 },
    /// A key went down or up (`KeyboardEvent.key`).
    Key { key: String, down: bool },
    /// Text pasted into the viewer: put on the clipboard, then Ctrl+V.
    Paste { text: String },
}

/// Drops every move followed directly by another move: the latest wins, and buttons and keys
/// keep their order around them.
fn coalesce_moves(batch: Vec<ViewerInput>) -> Vec<ViewerInput> {
    let mut kept: Vec<ViewerInput> = Vec::with_capacity(batch.len());
    for input in batch {
        if matches!(input, ViewerInput::Move { .. })
            && matches!(kept.last(), Some(ViewerInput::Move { .. }))
        {
            kept.pop();
        }
        kept.push(input);
    }
    kept
}

/// Injects one viewer input on the session's display.
async fn inject(state: &ApiState, id: &str, input: ViewerInput) -> Result<(), EngineError> {
    let button = |dom: u8| match dom {
        1 => 2,
        2 => 3,
        _ => 1,
    };
    let events = match input {
        ViewerInput::Move { x, y } => vec![LiveInput::Move {
            x: x.round().clamp(0.0, f64::from(i16::MAX)) as i16,
            y: y.round().clamp(0.0, f64::from(i16::MAX)) as i16,
        }],
        ViewerInput::Down { button: b } => vec![LiveInput::Button {
            button: button(b),
            down: true,
        }],
        ViewerInput::Up { button: b } => vec![LiveInput::Button {
            button: button(b),
            down: false,
        }],
        ViewerInput::Wheel { dx, dy } => vec![LiveInput::Wheel {
            dx: dx.clamp(-10, 10),
            dy: dy.clamp(-10, 10),
        }],
        ViewerInput::Key { key, down } => vec![LiveInput::Key { key, down }],
        ViewerInput::Paste { text } => {
            if text.len() > MAX_PASTE_BYTES {
                return Err(EngineError::InvalidInput("pasted text is too long".into()));
            }
            return state.engine.live_paste(id, text).await;
        }
    };
    for event in events {
        state.engine.live_input(id, event).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_moves_keep_their_latest_and_nothing_else_moves() {
        let mv = |x: f64| ViewerInput::Move { x, y: 0.0 };
        let down = ViewerInput::Down { button: 0 };
        let batch = vec![mv(1.0), mv(2.0), mv(3.0), down.clone(), mv(4.0), mv(5.0)];
        assert_eq!(coalesce_moves(batch), vec![mv(3.0), down, mv(5.0)]);
    }

    #[test]
    fn viewer_messages_parse_and_unknown_ones_are_refused() {
        let key: ViewerInput =
            serde_json::from_str(r#"{"type":"key","key":"a","down":true}"#).unwrap();
        assert_eq!(
            key,
            ViewerInput::Key {
                key: "a".into(),
                down: true
            }
        );
        assert!(serde_json::from_str::<ViewerInput>(r#"{"type":"exec","cmd":"id"}"#).is_err());
    }
}
