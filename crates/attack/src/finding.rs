//! What a test run reports: a vulnerability, where it is, and the exchange that proves it.

use serde::Serialize;
use serde_json::{json, Value};

use crate::detect::Evidence;
use crate::insertion::{split_url, Point};
use crate::{AttackType, Request, Response};

/// A confirmed vulnerability, as a test run lists it (FAST's `vulns`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `<baseline id>-<type>-<point>`: one finding per baseline, attack and point.
    pub id: String,
    /// The kind of vulnerability.
    #[serde(rename = "type")]
    pub attack: AttackType,
    /// How bad it is, 0 to 100.
    pub threat: u8,
    /// One line for a list.
    pub title: String,
    /// What was sent, what came back, and why that proves it.
    pub description: String,
    /// The attacked host (and port when not the scheme's default).
    pub domain: String,
    /// The baseline's path, as recorded.
    pub path: String,
    /// The request method.
    pub method: String,
    /// The insertion point, in FAST's point syntax.
    pub parameter: String,
    /// The baseline the test was made from.
    pub baseline_id: i64,
    /// The payload that proves it.
    pub payload: String,
    /// The proving test request and its answer, as a HAR 1.2 entry.
    pub exchange: Value,
}

impl Finding {
    /// A finding from a probe's evidence and the exchange that proved it; `started` is when
    /// the test request was sent, as RFC 3339.
    pub fn new(
        evidence: Evidence,
        baseline: &Request,
        baseline_id: i64,
        point: &Point,
        sent: &Request,
        answer: &Response,
        started: &str,
    ) -> Self {
        let url = url::Url::parse(&baseline.url).ok();
        let domain = url
            .as_ref()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(port) => format!("{h}:{port}"),
                    None => h.to_owned(),
                })
            })
            .unwrap_or_default();
        Self {
            id: format!("{baseline_id}-{}-{}", evidence.attack.as_str(), point.name),
            attack: evidence.attack,
            threat: evidence.threat,
            title: evidence.title,
            description: evidence.description,
            domain,
            path: split_url(&baseline.url).path.to_owned(),
            method: baseline.method.clone(),
            parameter: point.name.clone(),
            baseline_id,
            payload: evidence.payload,
            exchange: har_entry(sent, answer, started),
        }
    }
}

fn headers(h: &[(String, String)]) -> Value {
    Value::Array(
        h.iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// A HAR 1.2 entry for one exchange; bodies are text (invalid UTF-8 replaced).
pub fn har_entry(request: &Request, response: &Response, started: &str) -> Value {
    let wait = response.elapsed.as_secs_f64() * 1000.0;
    let query: Vec<Value> = split_url(&request.url)
        .query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect()
        })
        .unwrap_or_default();
    let mut req = json!({
        "method": request.method,
        "url": request.url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": headers(&request.headers),
        "queryString": query,
        "headersSize": -1,
        "bodySize": request.body.len(),
    });
    if !request.body.is_empty() {
        req["postData"] = json!({
            "mimeType": header(&request.headers, "content-type"),
            "text": String::from_utf8_lossy(&request.body),
        });
    }
    json!({
        "startedDateTime": started,
        "time": wait,
        "request": req,
        "response": {
            "status": response.status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": headers(&response.headers),
            "content": {
                "size": response.body.len(),
                "mimeType": header(&response.headers, "content-type"),
                "text": String::from_utf8_lossy(&response.body),
            },
            "redirectURL": header(&response.headers, "location"),
            "headersSize": -1,
            "bodySize": response.body.len(),
        },
        "cache": {},
        "timings": {"send": 0, "wait": wait, "receive": 0},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insertion::{inject, points};
    use std::time::Duration;

    #[test]
    fn a_finding_names_its_place_and_carries_the_exact_exchange() {
        let baseline = Request {
            method: "GET".into(),
            url: "http://shop.test:8080/search?q=tea".into(),
            headers: vec![("Host".into(), "shop.test:8080".into())],
            body: vec![],
        };
        let point = points(&baseline)
            .into_iter()
            .find(|p| p.name == "GET_q")
            .unwrap();
        let sent = inject(&baseline, &point, "tea'").unwrap();
        let answer = Response {
            status: 500,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"sqlite3.OperationalError".to_vec(),
            elapsed: Duration::from_millis(12),
        };
        let evidence = Evidence {
            attack: AttackType::Sqli,
            threat: 90,
            title: "SQL injection".into(),
            description: "d".into(),
            payload: "tea'".into(),
        };
        let f = Finding::new(
            evidence,
            &baseline,
            41,
            &point,
            &sent,
            &answer,
            "2025-01-01T00:00:00Z",
        );
        assert_eq!(
            (
                f.id.as_str(),
                f.domain.as_str(),
                f.path.as_str(),
                f.parameter.as_str()
            ),
            ("41-sqli-GET_q", "shop.test:8080", "/search", "GET_q")
        );
        assert_eq!(
            f.exchange["request"]["url"],
            "http://shop.test:8080/search?q=tea%27"
        );
        assert_eq!(f.exchange["request"]["queryString"][0]["value"], "tea'");
        assert_eq!(f.exchange["response"]["status"], 500);
        assert_eq!(
            f.exchange["response"]["content"]["text"],
            "sqlite3.OperationalError"
        );
        let wire = serde_json::to_value(&f).unwrap();
        assert_eq!(wire["type"], "sqli");
        assert_eq!(wire["baseline_id"], 41);
    }
}
