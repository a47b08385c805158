//! The proxy's per-request handler: serves `/cert.der`, and tees admitted exchanges to the sink.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::Full;
use hudsucker::hyper::{header, Method, Request, Response, StatusCode};
use hudsucker::{Body, HttpContext, HttpHandler, RequestOrResponse};
use tapedeck_core::traffic::{RecordTicket, TrafficSink};
use tapedeck_core::Baseline;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::tee::{Captured, TeeBody};

/// The request half of an exchange being recorded.
struct PendingExchange {
    ticket: RecordTicket,
    started: Instant,
    started_at: OffsetDateTime,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: oneshot::Receiver<Captured>,
}

/// hudsucker clones the handler for each request, so `pending` carries one request's state
/// from `handle_request` to `handle_response`.
#[derive(Clone)]
pub struct RecordingHandler {
    sink: Arc<dyn TrafficSink>,
    ca_der: Bytes,
    body_cap: usize,
    pending: Option<Arc<std::sync::Mutex<Option<PendingExchange>>>>,
}

impl RecordingHandler {
    pub(crate) fn new(sink: Arc<dyn TrafficSink>, ca_der: Bytes, body_cap: usize) -> Self {
        Self {
            sink,
            ca_der,
            body_cap,
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
        _ctx: &HttpContext,
        req: Request<Body>,
    ) -> RequestOrResponse {
        // CONNECT opens a tunnel whose requests come through here one by one; upgrades
        // (WebSockets) are passed through unrecorded.
        if req.method() == Method::CONNECT || req.headers().contains_key(header::UPGRADE) {
            return req.into();
        }
        let plain_http = req.uri().scheme_str() == Some("http");
        if plain_http && req.method() == Method::GET && req.uri().path() == "/cert.der" {
            return self.cert_response().into();
        }
        let host = req
            .uri()
            .host()
            .map(str::to_owned)
            .or_else(|| {
                let value = req.headers().get(header::HOST)?.to_str().ok()?;
                Some(value.split(':').next().unwrap_or(value).to_owned())
            })
            .unwrap_or_default();
        let Some(ticket) = self.sink.admit(None, &host) else {
            return req.into();
        };
        let (parts, body) = req.into_parts();
        let (body, rx) = tee(body, self.body_cap);
        let pending = PendingExchange {
            ticket,
            started: Instant::now(),
            started_at: OffsetDateTime::now_utc(),
            method: parts.method.to_string(),
            url: parts.uri.to_string(),
            headers: header_pairs(&parts.headers),
            body: rx,
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
        let (body, response_rx) = tee(body, self.body_cap);
        let status = parts.status.as_u16();
        let response_headers = header_pairs(&parts.headers);
        let sink = self.sink.clone();
        tokio::spawn(async move {
            let request = pending.body.await.unwrap_or_default();
            let response = response_rx.await.unwrap_or_default();
            let baseline = Baseline {
                id: 0,
                test_record_id: pending.ticket.test_record_id,
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
            sink.submit(pending.ticket, baseline);
        });
        Response::from_parts(parts, body)
    }
}
