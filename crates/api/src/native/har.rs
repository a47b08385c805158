//! HAR 1.2 export of a test record (http://www.softwareishard.com/blog/har-12-spec/), readable
//! by Chrome DevTools, Burp, ZAP and mitmproxy. Tapedeck's own fields start with `_`.
//!
//! Exports are made to be shared (bug reports, DevTools), so by default they carry no
//! credentials: the values of the headers below are replaced. The stored baselines keep them,
//! because a replay needs them to reach the same pages.

use base64::Engine as _;
use serde_json::{json, Value};
use tapedeck_core::{Baseline, TestRecord};

use super::decoded::decoded_body;
use crate::common::timestamp::rfc3339;

/// A body as HAR text: UTF-8 as is, anything else base64 with its encoding named.
fn body_text(bytes: &[u8]) -> (String, Option<&'static str>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), None),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(bytes),
            Some("base64"),
        ),
    }
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// Headers whose values are credentials or session state.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// What a redacted header value reads.
const REDACTED: &str = "[redacted]";

/// Whether an export carries credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Values of [`SECRET_HEADERS`] are replaced by [`REDACTED`].
    Redacted,
    /// Headers as recorded.
    Kept,
}

fn headers_json(headers: &[(String, String)], secrets: Secrets) -> Value {
    headers
        .iter()
        .map(|(name, value)| {
            let secret = SECRET_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s));
            let value = match secrets {
                Secrets::Redacted if secret => REDACTED,
                _ => value.as_str(),
            };
            json!({"name": name, "value": value})
        })
        .collect()
}

fn query_string(url: &str) -> Value {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            json!({"name": name, "value": value})
        })
        .collect()
}

fn entry(b: &Baseline, secrets: Secrets) -> Value {
    let mut request = json!({
        "method": b.method,
        "url": b.url.split('#').next().unwrap_or_default(),
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": headers_json(&b.request_headers, secrets),
        "queryString": query_string(&b.url),
        "headersSize": -1,
        "bodySize": b.request_body.len(),
    });
    if !b.request_body.is_empty() {
        let (text, encoding) = body_text(&b.request_body);
        let mut post = json!({
            "mimeType": header(&b.request_headers, "content-type").unwrap_or_default(),
            "text": text,
        });
        // HAR 1.2 has no encoding for request bodies; `_encoding` is the common extension.
        if let Some(encoding) = encoding {
            post["_encoding"] = json!(encoding);
        }
        request["postData"] = post;
    }
    // HAR's content is the decoded body; bodySize stays what crossed the wire.
    let decoded = decoded_body(
        header(&b.response_headers, "content-encoding").as_deref(),
        &b.response_body,
    );
    let content_bytes = decoded.as_deref().unwrap_or(&b.response_body);
    let (text, encoding) = body_text(content_bytes);
    let mut content = json!({
        "size": content_bytes.len(),
        "mimeType": header(&b.response_headers, "content-type").unwrap_or_default(),
        "text": text,
    });
    if let Some(encoding) = encoding {
        content["encoding"] = json!(encoding);
    }
    if decoded.is_some() {
        content["compression"] = json!(content_bytes.len() as i64 - b.response_body.len() as i64);
    }
    let status_text = axum::http::StatusCode::from_u16(b.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or_default();
    json!({
        "startedDateTime": rfc3339(b.started_at),
        "time": b.duration_ms,
        "request": request,
        "response": {
            "status": b.status,
            "statusText": status_text,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": headers_json(&b.response_headers, secrets),
            "content": content,
            "redirectURL": header(&b.response_headers, "location").unwrap_or_default(),
            "headersSize": -1,
            "bodySize": b.response_body.len(),
        },
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": b.duration_ms, "receive": 0},
        "_baselineId": b.id,
        "_testRecordId": b.test_record_id,
        "_requestTruncated": b.request_truncated,
        "_responseTruncated": b.response_truncated,
    })
}

/// The whole record as one HAR document.
pub fn document(record: &TestRecord, baselines: &[Baseline], secrets: Secrets) -> Value {
    json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "Tapedeck", "version": env!("CARGO_PKG_VERSION")},
            "pages": [],
            "entries": baselines.iter().map(|b| entry(b, secrets)).collect::<Vec<_>>(),
            "comment": format!("test record {} ({})", record.id, record.name),
        }
    })
}

/// One baseline as JSON for the native API: the HAR entry, so both views agree.
pub fn baseline_json(b: &Baseline, secrets: Secrets) -> Value {
    entry(b, secrets)
}
