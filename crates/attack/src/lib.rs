//! Turns a recorded baseline into security tests and judges their answers.
//!
//! Pure logic on plain data: a [`Request`] goes in, the caller sends it wherever it likes, and
//! the [`Response`] it got comes back. Nothing here opens a socket, reads a clock or knows the
//! proxy, the store or an HTTP server. The pieces, in the order a testing phase uses them:
//!
//! 1. [`policy::Policy`]: which attacks run, at which insertion points, how fast.
//! 2. [`profile::Profile`]: what a baseline's answer looks like when nothing is injected, learnt
//!    from a few replays; an unstable baseline is not attacked.
//! 3. [`insertion`]: where a payload can go in a request, named in FAST's point syntax, and the
//!    request with a payload put at one point.
//! 4. [`detect`]: one module per attack type, each a small state machine ([`detect::Probe`])
//!    that proposes payloads, reads the answers and ends with a [`detect::Evidence`] or nothing.
//! 5. [`Finding`]: what is reported, with the exact test exchange as a HAR entry.

pub mod detect;
pub mod finding;
pub mod html;
pub mod insertion;
pub mod policy;
pub mod profile;

use std::time::Duration;

pub use finding::Finding;

/// An HTTP request as plain data: what a baseline recorded and what a test sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method, upper case.
    pub method: String,
    /// Absolute URL, exactly as it goes on the wire: the sender must not normalise `..` or
    /// re-encode it.
    pub url: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The media type of the body (`Content-Type` without parameters), lower case.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }
}

/// An HTTP response as plain data. The body is decoded: no `Content-Encoding` left on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Decoded body bytes.
    pub body: Vec<u8>,
    /// Time from sending the request to the end of the body.
    pub elapsed: Duration,
}

impl Response {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The body as text, with invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A kind of attack a policy can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackType {
    /// SQL injection: error-based, boolean-blind, and time-based when allowed.
    Sqli,
    /// Reflected cross-site scripting.
    Xss,
    /// Path traversal to a well-known file.
    Ptrav,
    /// OS command injection.
    Rce,
    /// XML external entities.
    Xxe,
    /// Server-side request forgery, seen on the out-of-band canary.
    Ssrf,
    /// Open redirect.
    Redir,
    /// CRLF injection into response headers.
    Crlf,
    /// Server-side template injection.
    Ssti,
}

impl AttackType {
    /// Every attack type, in the order tests run.
    pub const ALL: [AttackType; 9] = [
        Self::Sqli,
        Self::Xss,
        Self::Ptrav,
        Self::Rce,
        Self::Xxe,
        Self::Ssrf,
        Self::Redir,
        Self::Crlf,
        Self::Ssti,
    ];

    /// The attack types a policy runs when it names none (FAST's default policy).
    pub const DEFAULT: [AttackType; 5] = [Self::Sqli, Self::Xss, Self::Ptrav, Self::Rce, Self::Xxe];

    /// The name in a policy and on a finding.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqli => "sqli",
            Self::Xss => "xss",
            Self::Ptrav => "ptrav",
            Self::Rce => "rce",
            Self::Xxe => "xxe",
            Self::Ssrf => "ssrf",
            Self::Redir => "redir",
            Self::Crlf => "crlf",
            Self::Ssti => "ssti",
        }
    }

    /// Parses a policy name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}
