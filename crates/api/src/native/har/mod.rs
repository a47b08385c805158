//! HAR 1.2 export of a test record (http://www.softwareishard.com/blog/har-12-spec/), readable
//! by Chrome DevTools, Burp, ZAP and mitmproxy. Tapedeck's own fields start with `_`.
//!
//! Exports are made to be shared (bug reports, DevTools), so by default they carry no
//! credentials: the values of the headers below, and of the cookies they carry, are replaced.
//! The stored baselines keep them, because a replay needs them to reach the same pages.

mod format;

use base64::Engine as _;
use tapedeck_core::{Baseline, TestRecord};

use self::format::{
    Cache, Content, Cookie, Creator, Entry, LogHead, NameValue, PostData, Request, Response,
    Timings,
};
use super::decoded::{codings, decoded_body};
use crate::common::timestamp::rfc3339;

/// Baselines do not record the HTTP version, and the proxy speaks HTTP/1.1 to clients.
const HTTP_VERSION: &str = "HTTP/1.1";

/// Headers whose values are credentials or session state.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// What a redacted header or cookie value reads.
const REDACTED: &str = "[redacted]";

/// Whether an export carries credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Values of [`SECRET_HEADERS`], and of cookies, are replaced by [`REDACTED`].
    Redacted,
    /// Headers and cookies as recorded.
    Kept,
}

impl Secrets {
    /// `value`, or [`REDACTED`] when it is secret and secrets are redacted.
    fn show(self, value: &str, secret: bool) -> String {
        match self {
            Self::Redacted if secret => REDACTED.to_owned(),
            _ => value.to_owned(),
        }
    }
}

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

/// The values of every header named `name`, in order.
fn all<'a>(headers: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The first value of header `name`, or empty.
fn first(headers: &[(String, String)], name: &str) -> String {
    all(headers, name).next().unwrap_or_default().to_owned()
}

fn headers(headers: &[(String, String)], secrets: Secrets) -> Vec<NameValue> {
    headers
        .iter()
        .map(|(name, value)| {
            let secret = SECRET_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s));
            NameValue {
                name: name.clone(),
                value: secrets.show(value, secret),
            }
        })
        .collect()
}

/// The query parameters of `url`, decoded as a form would be (`+` is a space).
fn query_string(url: &str) -> Vec<NameValue> {
    let without_fragment = url.split('#').next().unwrap_or_default();
    let query = without_fragment
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| NameValue {
            name: name.into_owned(),
            value: value.into_owned(),
        })
        .collect()
}

/// The cookies a request sent: every `name=value` pair of its `Cookie` headers.
fn request_cookies(b: &Baseline, secrets: Secrets) -> Vec<Cookie> {
    all(&b.request_headers, "cookie")
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .map(|c| Cookie {
            name: c.name().to_owned(),
            value: secrets.show(c.value(), true),
            ..Cookie::default()
        })
        .collect()
}

/// The cookies a response set: one per `Set-Cookie` header, with its attributes. A cookie
/// that only has `Max-Age` expires that long after the request started, as browsers count.
fn response_cookies(b: &Baseline, secrets: Secrets) -> Vec<Cookie> {
    all(&b.response_headers, "set-cookie")
        .filter_map(|header| cookie::Cookie::parse(header).ok())
        .map(|c| {
            let expires = c
                .expires_datetime()
                .or_else(|| c.max_age().map(|age| b.started_at + age));
            Cookie {
                name: c.name().to_owned(),
                value: secrets.show(c.value(), true),
                path: c.path().map(str::to_owned),
                domain: c.domain().map(str::to_owned),
                expires: expires.map(rfc3339),
                http_only: c.http_only(),
                secure: c.secure(),
            }
        })
        .collect()
}

fn request(b: &Baseline, secrets: Secrets) -> Request {
    let post_data = (!b.request_body.is_empty()).then(|| {
        let (text, encoding) = body_text(&b.request_body);
        PostData {
            mime_type: first(&b.request_headers, "content-type"),
            text,
            encoding,
        }
    });
    Request {
        method: b.method.clone(),
        url: b.url.split('#').next().unwrap_or_default().to_owned(),
        http_version: HTTP_VERSION,
        cookies: request_cookies(b, secrets),
        headers: headers(&b.request_headers, secrets),
        query_string: query_string(&b.url),
        post_data,
        headers_size: -1,
        body_size: b.request_body.len(),
    }
}

fn response(b: &Baseline, secrets: Secrets) -> Response {
    // HAR's content is the decoded body; bodySize stays what crossed the wire.
    let content_encoding = all(&b.response_headers, "content-encoding").next();
    let decoded = decoded_body(content_encoding, &b.response_body);
    // A body that stays encoded says so, rather than pass its compressed bytes off as the page.
    let undecoded = match decoded {
        None if !codings(content_encoding).is_empty() => content_encoding.map(str::to_owned),
        _ => None,
    };
    let content_bytes = decoded.as_deref().unwrap_or(&b.response_body);
    let (text, encoding) = body_text(content_bytes);
    Response {
        status: b.status,
        status_text: axum::http::StatusCode::from_u16(b.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or_default(),
        http_version: HTTP_VERSION,
        cookies: response_cookies(b, secrets),
        headers: headers(&b.response_headers, secrets),
        content: Content {
            size: content_bytes.len(),
            compression: decoded
                .is_some()
                .then(|| content_bytes.len() as i64 - b.response_body.len() as i64),
            mime_type: first(&b.response_headers, "content-type"),
            text,
            encoding,
            undecoded_content_encoding: undecoded,
        },
        redirect_url: first(&b.response_headers, "location"),
        headers_size: -1,
        body_size: b.response_body.len(),
    }
}

/// One baseline as a HAR entry; the native API shows baselines this way too, so both agree.
pub fn entry(b: &Baseline, secrets: Secrets) -> Entry {
    Entry {
        started_date_time: rfc3339(b.started_at),
        time: b.duration_ms,
        request: request(b, secrets),
        response: response(b, secrets),
        cache: Cache {},
        timings: Timings {
            blocked: -1,
            dns: -1,
            connect: -1,
            send: 0,
            wait: b.duration_ms,
            receive: 0,
            ssl: -1,
        },
        baseline_id: b.id,
        test_record_id: b.test_record_id,
        request_truncated: b.request_truncated,
        response_truncated: b.response_truncated,
    }
}

/// Redacts, in place, the values of [`SECRET_HEADERS`] in a HAR entry's request and response
/// headers: a security test's exchange, stored as the entry it was sent as.
pub fn redact_entry(entry: &mut serde_json::Value) {
    for side in ["request", "response"] {
        let Some(headers) = entry[side]["headers"].as_array_mut() else {
            continue;
        };
        for header in headers {
            let secret = header["name"]
                .as_str()
                .is_some_and(|n| SECRET_HEADERS.contains(&n.to_ascii_lowercase().as_str()));
            if secret {
                header["value"] = REDACTED.into();
            }
        }
    }
}

/// The head of a record's HAR document; its entries are [`entry`] for each baseline.
pub fn log_head(record: &TestRecord) -> LogHead {
    LogHead {
        version: "1.2",
        creator: Creator {
            name: "Tapedeck",
            version: env!("CARGO_PKG_VERSION"),
        },
        pages: [],
        comment: format!("test record {} ({})", record.id, record.name),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    fn baseline(url: &str, request: &[(&str, &str)], response: &[(&str, &str)]) -> Baseline {
        let pairs = |h: &[(&str, &str)]| {
            h.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Baseline {
            id: 3,
            test_record_id: 1,
            started_at: datetime!(2026-11-29 10:00:00 UTC),
            duration_ms: 12,
            method: "GET".into(),
            url: url.into(),
            request_headers: pairs(request),
            request_body: Vec::new(),
            request_truncated: false,
            status: 200,
            response_headers: pairs(response),
            response_body: Vec::new(),
            response_truncated: false,
        }
    }

    fn pair(name: &str, value: &str) -> NameValue {
        NameValue {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn query_string_is_decoded_in_order_without_the_fragment() {
        assert_eq!(
            query_string("http://h/p?q=a%20b&plus=1+2&flag&q=%C3%A9#frag?x=1"),
            [
                pair("q", "a b"),
                pair("plus", "1 2"),
                pair("flag", ""),
                pair("q", "é")
            ]
        );
        assert_eq!(query_string("http://h/p#only?fragment=1"), []);
        assert_eq!(query_string("http://h/p"), []);
    }

    #[test]
    fn request_cookies_come_from_every_cookie_header() {
        let b = baseline(
            "http://h/",
            &[("Cookie", "sid=c00kie; theme=dark"), ("cookie", "lang=en")],
            &[],
        );
        let names: Vec<_> = request_cookies(&b, Secrets::Kept)
            .into_iter()
            .map(|c| (c.name, c.value))
            .collect();
        assert_eq!(
            names,
            [
                ("sid".to_owned(), "c00kie".to_owned()),
                ("theme".to_owned(), "dark".to_owned()),
                ("lang".to_owned(), "en".to_owned())
            ]
        );
        let redacted = request_cookies(&b, Secrets::Redacted);
        assert!(redacted.iter().all(|c| c.value == REDACTED));
        assert_eq!(redacted[0].name, "sid");
    }

    #[test]
    fn response_cookies_carry_their_attributes() {
        let b = baseline(
            "http://h/",
            &[],
            &[
                ("Set-Cookie", "session=s3ss10n; HttpOnly"),
                (
                    "set-cookie",
                    "pref=1; Path=/app; Domain=example.com; Secure; \
                     Expires=Wed, 21 Oct 2026 07:28:00 GMT",
                ),
                ("Set-Cookie", "short=x; Max-Age=60"),
            ],
        );
        let cookies = response_cookies(&b, Secrets::Kept);
        assert_eq!(
            serde_json::to_value(&cookies).unwrap(),
            json!([
                {"name": "session", "value": "s3ss10n", "httpOnly": true},
                {"name": "pref", "value": "1", "path": "/app", "domain": "example.com",
                 "expires": "2026-10-21T07:28:00Z", "secure": true},
                {"name": "short", "value": "x", "expires": "2026-11-29T10:01:00Z"},
            ])
        );
        let redacted = response_cookies(&b, Secrets::Redacted);
        assert!(redacted.iter().all(|c| c.value == REDACTED));
        assert_eq!(redacted[1].path.as_deref(), Some("/app"));
    }

    #[test]
    fn a_tests_entry_loses_its_secret_header_values_only() {
        let mut e = json!({
            "request": {"headers": [{"name": "Cookie", "value": "sid=1"}, {"name": "X-A", "value": "a"}]},
            "response": {"headers": [{"name": "set-cookie", "value": "sid=2"}]},
        });
        redact_entry(&mut e);
        assert_eq!(e["request"]["headers"][0]["value"], json!(REDACTED));
        assert_eq!(e["request"]["headers"][1]["value"], json!("a"));
        assert_eq!(e["response"]["headers"][0]["value"], json!(REDACTED));
    }

    #[test]
    fn an_entry_redacts_secret_headers_and_keeps_the_extension_fields() {
        let mut b = baseline(
            "http://h/items?page=2",
            &[("Authorization", "Bearer t0ken"), ("Accept", "*/*")],
            &[("Content-Type", "text/plain")],
        );
        b.request_body = vec![0xff, 0x00];
        b.response_body = b"hi".to_vec();
        b.response_truncated = true;
        let entry = serde_json::to_value(entry(&b, Secrets::Redacted)).unwrap();
        assert_eq!(
            entry["request"]["headers"],
            json!([{"name": "Authorization", "value": "[redacted]"},
                   {"name": "Accept", "value": "*/*"}])
        );
        assert_eq!(
            entry["request"]["postData"],
            json!({"mimeType": "", "text": "/wA=", "_encoding": "base64"})
        );
        assert_eq!(
            entry["response"]["content"],
            json!({"size": 2, "mimeType": "text/plain", "text": "hi"})
        );
        assert_eq!(entry["time"], json!(12));
        assert_eq!(entry["cache"], json!({}));
        assert_eq!(entry["_baselineId"], json!(3));
        assert_eq!(entry["_responseTruncated"], json!(true));
        assert_eq!(entry["_requestTruncated"], json!(false));
    }
}
