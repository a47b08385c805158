//! The proxy's per-request handler: lets clients in ([`crate::access`]), refuses Tapedeck's own
//! endpoints as targets ([`crate::policy`]), serves `/cert.der`, and tees admitted exchanges to
//! the sink.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::Full;
use hudsucker::hyper::header::{self, HeaderMap, HeaderName};
use hudsucker::hyper::{Method, Request, Response, StatusCode, Uri};
use hudsucker::{Body, HttpContext, HttpHandler, RequestOrResponse};
use tapedeck_core::traffic::{RecordSlot, TrafficSink};
use tapedeck_core::Baseline;
use tapedeck_upstream::checked::{self, AddressPolicy};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::access::{self, Client, Denied};
use crate::failure::UpstreamFailure;
use crate::tee::{Captured, TeeBody};
use crate::websocket::{self, RelayError};

/// Headers that describe one hop (RFC 9110, 7.6.1), and the proxy's credentials: they are
/// neither forwarded upstream nor recorded.
const HOP_HEADERS: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

/// The request half of an exchange being recorded.
struct PendingExchange {
    slot: Box<dyn RecordSlot>,
    started: Instant,
    started_at: OffsetDateTime,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: oneshot::Receiver<Captured>,
    /// Bytes of each body kept: the recording run's cap, or the proxy's.
    body_cap: usize,
}

/// hudsucker clones the handler for each request, so `pending` carries one request's state
/// from `handle_request` to `handle_response`. The clone that handled a `CONNECT` serves the
/// requests inside its tunnel, so `tunnel` carries the client the `CONNECT` let in.
#[derive(Clone)]
pub struct RecordingHandler {
    sink: Arc<dyn TrafficSink>,
    policy: Arc<dyn AddressPolicy>,
    tls: Arc<rustls::ClientConfig>,
    ca_der: Bytes,
    body_cap: usize,
    tunnel: Option<Client>,
    pending: Option<Arc<std::sync::Mutex<Option<PendingExchange>>>>,
}

impl RecordingHandler {
    pub(crate) fn new(
        sink: Arc<dyn TrafficSink>,
        policy: Arc<dyn AddressPolicy>,
        tls: Arc<rustls::ClientConfig>,
        ca_der: Bytes,
        body_cap: usize,
    ) -> Self {
        Self {
            sink,
            policy,
            tls,
            ca_der,
            body_cap,
            tunnel: None,
            pending: None,
        }
    }

    fn cert_response(&self) -> Response<Body> {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/x-x509-ca-cert")
            .header(
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"cert.der\"",
            )
            .body(Body::from(Full::new(self.ca_der.clone())))
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }

    /// Checks a target before a tunnel or a WebSocket is made to it.
    async fn check_target(&self, ctx: &HttpContext, uri: &Uri) -> Result<(), Response<Body>> {
        let host = uri.host().unwrap_or_default();
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("http" | "ws") => 80,
            _ => 443,
        });
        checked::check(self.policy.as_ref(), host, port)
            .await
            .map(drop)
            .map_err(|e| upstream_failure(ctx, &e))
    }
}

/// The 407 that asks for the API key.
fn auth_refusal(ctx: &HttpContext, denied: Denied) -> Response<Body> {
    match denied {
        // Browsers send credentials only once asked, so the first 407 is routine.
        Denied::Missing => {
            tracing::debug!(client = %ctx.client_addr, "proxy credentials asked for")
        }
        Denied::Invalid => tracing::info!(client = %ctx.client_addr, "proxy credentials refused"),
    }
    let mut response = text_response(StatusCode::PROXY_AUTHENTICATION_REQUIRED, denied.message());
    response.headers_mut().insert(
        header::PROXY_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"tapedeck\""),
    );
    response
}

/// The answer to a request that could not be forwarded (see [`UpstreamFailure`]).
fn upstream_failure(
    ctx: &HttpContext,
    error: &(dyn std::error::Error + 'static),
) -> Response<Body> {
    let failure = UpstreamFailure::of(error);
    if failure.status == StatusCode::FORBIDDEN {
        tracing::info!(client = %ctx.client_addr, error = %failure.message, "proxy target refused");
    } else {
        tracing::info!(client = %ctx.client_addr, error = %failure.message, kind = failure.error_type, "proxy target unreachable");
    }
    let mut response = text_response(failure.status, &failure.body());
    if let Ok(value) = header::HeaderValue::from_str(&failure.proxy_status()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("proxy-status"), value);
    }
    response
}

fn text_response(status: StatusCode, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(Full::new(Bytes::from(text.to_owned()))))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Drops the hop-by-hop headers, those `Connection` names, and the proxy's credentials.
fn strip_hop_headers(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(&HOP_HEADERS) {
        headers.remove(name);
    }
}

fn header_pairs(headers: &hudsucker::hyper::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn tee(body: Body, cap: usize) -> (Body, oneshot::Receiver<Captured>) {
    let (tee, rx) = TeeBody::new(body, cap);
    (Body::from(BoxBody::new(tee)), rx)
}

impl HttpHandler for RecordingHandler {
    async fn handle_request(
        &mut self,
        ctx: &HttpContext,
        mut req: Request<Body>,
    ) -> RequestOrResponse {
        // Requests inside a tunnel were let in with its CONNECT.
        let client = match &self.tunnel {
            Some(client) => client.clone(),
            None => {
                match access::authorize(self.sink.as_ref(), ctx.client_addr, req.headers()).await {
                    Ok(client) => client,
                    Err(denied) => return auth_refusal(ctx, denied).into(),
                }
            }
        };
        req.headers_mut().remove(header::PROXY_AUTHORIZATION);
        // A tunnel is refused before it is made; its requests come through here one by one.
        // WebSocket upgrades are relayed unrecorded (`websocket`). Other requests are checked
        // as they connect (`CheckedConnector`).
        if req.method() == Method::CONNECT {
            if let Err(refusal) = self.check_target(ctx, req.uri()).await {
                return refusal.into();
            }
            self.tunnel = Some(client);
            return req.into();
        }
        if req.headers().contains_key(header::UPGRADE) {
            if let Err(refusal) = self.check_target(ctx, req.uri()).await {
                return refusal.into();
            }
            return match websocket::relay(req, self.policy.clone(), self.tls.clone()).await {
                Ok(response) => response.into(),
                Err(RelayError::NotAHandshake(why)) => {
                    text_response(StatusCode::BAD_REQUEST, &format!("{why}\n")).into()
                }
                Err(e) => upstream_failure(ctx, &e).into(),
            };
        }
        let plain_http = req.uri().scheme_str() == Some("http");
        if plain_http && req.method() == Method::GET && req.uri().path() == "/cert.der" {
            return self.cert_response().into();
        }
        strip_hop_headers(req.headers_mut());
        let host = req
            .uri()
            .host()
            .map(str::to_owned)
            .or_else(|| {
                let value = req.headers().get(header::HOST)?.to_str().ok()?;
                Some(value.split(':').next().unwrap_or(value).to_owned())
            })
            .unwrap_or_default();
        // Waits while the recording pipeline is full, so a writer that falls behind slows the
        // clients down instead of losing their exchanges.
        let Some(slot) = self.sink.admit(client.principal(), &host).await else {
            return req.into();
        };
        let (parts, body) = req.into_parts();
        let body_cap = slot.body_cap().unwrap_or(self.body_cap);
        let (body, rx) = tee(body, body_cap);
        let pending = PendingExchange {
            slot,
            started: Instant::now(),
            started_at: OffsetDateTime::now_utc(),
            method: parts.method.to_string(),
            url: parts.uri.to_string(),
            headers: header_pairs(&parts.headers),
            body: rx,
            body_cap,
        };
        self.pending = Some(Arc::new(std::sync::Mutex::new(Some(pending))));
        Request::from_parts(parts, body).into()
    }

    async fn handle_response(&mut self, _ctx: &HttpContext, res: Response<Body>) -> Response<Body> {
        let pending = self
            .pending
            .take()
            .and_then(|p| p.lock().ok().and_then(|mut p| p.take()));
        let Some(pending) = pending else {
            return res;
        };
        let (parts, body) = res.into_parts();
        let (body, response_rx) = tee(body, pending.body_cap);
        let status = parts.status.as_u16();
        let response_headers = header_pairs(&parts.headers);
        tokio::spawn(async move {
            let request = pending.body.await.unwrap_or_default();
            let response = response_rx.await.unwrap_or_default();
            let baseline = Baseline {
                id: 0,
                test_record_id: pending.slot.test_record_id(),
                started_at: pending.started_at,
                duration_ms: pending.started.elapsed().as_millis() as u64,
                method: pending.method,
                url: pending.url,
                request_headers: pending.headers,
                request_body: request.bytes,
                request_truncated: request.truncated,
                status,
                response_headers,
                response_body: response.bytes,
                response_truncated: response.truncated,
            };
            pending.slot.submit(baseline);
        });
        Response::from_parts(parts, body)
    }

    async fn handle_error(
        &mut self,
        ctx: &HttpContext,
        err: hudsucker::hyper_util::client::legacy::Error,
    ) -> Response<Body> {
        upstream_failure(ctx, &err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_headers_and_the_proxys_credentials_are_dropped() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("proxy-authorization", "Basic dTprMQ=="),
            ("proxy-connection", "Keep-Alive"),
            ("connection", "keep-alive, X-Hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("authorization", "Bearer t0ken"),
            ("cookie", "sid=1"),
            ("content-length", "3"),
        ] {
            headers.append(
                HeaderName::from_static(name),
                header::HeaderValue::from_static(value),
            );
        }
        strip_hop_headers(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["authorization", "content-length", "cookie"]);
    }
}
