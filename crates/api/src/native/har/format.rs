//! The HAR 1.2 document, as serde types: the fields Tapedeck writes, in the spec's order, and
//! its own extension fields (names starting with `_`), which the spec allows on any object.
//!
//! These are not the `har` crate's types: those have no room for extension fields, and write
//! every time as a float.

use serde::Serialize;

/// A HAR file's `log` without its entries, which are streamed after it: who wrote it and which
/// test record it holds. The file is `{"log": {…this…, "entries": [...]}}`.
#[derive(Debug, Serialize)]
pub struct LogHead {
    /// Always `1.2`.
    pub version: &'static str,
    /// The program that exported it.
    pub creator: Creator,
    /// Always empty: Tapedeck records exchanges, not page loads.
    pub pages: [(); 0],
    /// Which test record this is.
    pub comment: String,
}

/// The program that exported a HAR file.
#[derive(Debug, Serialize)]
pub struct Creator {
    /// Its name.
    pub name: &'static str,
    /// Its version.
    pub version: &'static str,
}

/// One request and its response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// RFC 3339 time the request started.
    pub started_date_time: String,
    /// Milliseconds from the request's start to the end of the response.
    pub time: u64,
    /// The request as sent.
    pub request: Request,
    /// The response as received.
    pub response: Response,
    /// Cache use; nothing is known, so it is empty.
    pub cache: Cache,
    /// Where the time went; only the total is known, as `wait`.
    pub timings: Timings,
    /// The stored baseline this entry shows.
    #[serde(rename = "_baselineId")]
    pub baseline_id: i64,
    /// The test record the baseline belongs to.
    #[serde(rename = "_testRecordId")]
    pub test_record_id: i64,
    /// True when the request body was cut at the recording size cap.
    #[serde(rename = "_requestTruncated")]
    pub request_truncated: bool,
    /// True when the response body was cut at the recording size cap.
    #[serde(rename = "_responseTruncated")]
    pub response_truncated: bool,
}

/// A request.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// Method, e.g. `GET`.
    pub method: String,
    /// Absolute URL, without a fragment.
    pub url: String,
    /// e.g. `HTTP/1.1`.
    pub http_version: &'static str,
    /// The cookies of its `Cookie` headers.
    pub cookies: Vec<Cookie>,
    /// Headers in the order sent.
    pub headers: Vec<NameValue>,
    /// The URL's query parameters, decoded, in order.
    pub query_string: Vec<NameValue>,
    /// The body, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
    /// Always -1: header bytes were not counted.
    pub headers_size: i64,
    /// Body bytes as sent (up to the recording size cap).
    pub body_size: usize,
}

/// A response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// The status code's reason phrase.
    pub status_text: &'static str,
    /// e.g. `HTTP/1.1`.
    pub http_version: &'static str,
    /// The cookies its `Set-Cookie` headers set.
    pub cookies: Vec<Cookie>,
    /// Headers in the order received.
    pub headers: Vec<NameValue>,
    /// The body, decoded.
    pub content: Content,
    /// The `Location` header, or empty.
    #[serde(rename = "redirectURL")]
    pub redirect_url: String,
    /// Always -1: header bytes were not counted.
    pub headers_size: i64,
    /// Body bytes as received, still content-encoded (up to the recording size cap).
    pub body_size: usize,
}

/// A header or a query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameValue {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// A cookie sent (`Cookie`) or set (`Set-Cookie`); attributes are only known for the latter.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cookie {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// Its `Path` attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Its `Domain` attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// RFC 3339 expiry, from `Expires` or else `Max-Age`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Set when it carries `HttpOnly`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    /// Set when it carries `Secure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
}

/// A request body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostData {
    /// Its `Content-Type`, or empty.
    pub mime_type: String,
    /// The body as text (see `_encoding`).
    pub text: String,
    /// `base64` when the body is not UTF-8. HAR 1.2 has no encoding for request bodies;
    /// `_encoding` is the common extension.
    #[serde(rename = "_encoding", skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
}

/// A response body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// Bytes of the decoded body.
    pub size: usize,
    /// Bytes saved by the content encoding, when the body was decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<i64>,
    /// Its `Content-Type`, or empty.
    pub mime_type: String,
    /// The decoded body as text (see `encoding`).
    pub text: String,
    /// `base64` when the body is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
    /// Tapedeck: the `Content-Encoding` the body is still in, when it could not be decoded (an
    /// unknown coding, a truncated body); `text` then holds the bytes as they crossed the wire.
    #[serde(
        rename = "_undecodedContentEncoding",
        skip_serializing_if = "Option::is_none"
    )]
    pub undecoded_content_encoding: Option<String>,
}

/// Cache use: `{}`, nothing is known.
#[derive(Debug, Serialize)]
pub struct Cache {}

/// Where an exchange's time went, in milliseconds; -1 is "not known".
#[derive(Debug, Serialize)]
pub struct Timings {
    /// Waiting for a connection.
    pub blocked: i64,
    /// DNS resolution.
    pub dns: i64,
    /// Opening the connection.
    pub connect: i64,
    /// Sending the request.
    pub send: u64,
    /// Waiting for the response.
    pub wait: u64,
    /// Reading the response.
    pub receive: u64,
    /// The TLS handshake.
    pub ssl: i64,
}
